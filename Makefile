# The two commands of the README: `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run test venv lint fmt check migrate demo bench-bookings bench-comfort bench-access bench-calendar bench-analytics bench-bridge bench-soak clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# The calendar fakes (manage.py calendar_fakes, in the Procfile): make run points the providers' endpoints at them.
CALENDAR_FAKES_ENV := GOOGLE_API_ENDPOINT=http://127.0.0.1:9101/calendar/v3/ GOOGLE_ADMIN_API_ENDPOINT=http://127.0.0.1:9101/ \
	MS_AUTHORITY_HOST=https://127.0.0.1:9102 MS_GRAPH_ENDPOINT=https://127.0.0.1:9102/v1.0 \
	MS_CA_BUNDLE=$(CURDIR)/var/calendar-fakes/microsoft/ca.pem \
	GOOGLE_OAUTH_CLIENT_ID=labs-demo-portal.apps.googleusercontent.com GOOGLE_OAUTH_CLIENT_SECRET=labs-demo-portal-secret \
	GOOGLE_OAUTH_AUTHORIZE_URL=http://127.0.0.1:9101/o/oauth2/v2/auth GOOGLE_OAUTH_TOKEN_URL=http://127.0.0.1:9101/token \
	GOOGLE_OAUTH_REVOKE_URL=http://127.0.0.1:9101/revoke \
	MS_OAUTH_CLIENT_ID=3c0b1f7e-6d2a-4b9e-8f1c-2a5d7e9b0c41 MS_OAUTH_CLIENT_SECRET=labs-demo-portal-secret

## make run: set up and start the whole system (web, worker+beat, MQTT broker, bridge, simulators, fakes).
run: venv
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(CALENDAR_FAKES_ENV) $(PY) manage.py demo_site
	$(CALENDAR_FAKES_ENV) $(BIN)/honcho --procfile Procfile start

## make test: the test suite (embedded defaults, or the real services named by DATABASE_URL/REDIS_URL/MQTT_URL).
test: venv
	@mkdir -p var
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: venv
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	LABS_ENV=production DJANGO_SECRET_KEY=$$($(PY) -c "import secrets; print(secrets.token_urlsafe(60))") \
		MQTT_URL=mqtt://backend:$$($(PY) -c "import secrets; print(secrets.token_urlsafe(24))")@mosquitto:1883 \
		LABS_ENCRYPTION_KEY=$$($(PY) -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())") \
		DJANGO_ALLOWED_HOSTS=labs.example.com $(PY) manage.py check --deploy --fail-level WARNING

migrate: venv
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo_site

bench-bookings: venv
	$(PY) bench/bookings.py

bench-comfort: venv
	$(PY) bench/comfort.py

bench-access: venv
	$(PY) bench/access.py

bench-calendar: venv
	$(PY) bench/calendar_sync.py

bench-analytics: venv
	$(PY) bench/analytics.py

bench-bridge: venv
	$(PY) bench/bridge.py

## make bench-soak: bookings, device messages and badge scans together (SOAK_SECONDS, default 600).
bench-soak: venv
	$(PY) bench/soak.py

clean:
	rm -rf var
