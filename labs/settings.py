"""Settings for the labs backend, read from the environment.

With no variables set the project runs on a bare machine: SQLite (IMMEDIATE transactions), Celery on a
filesystem broker (or eagerly in tests), and an embedded amqtt MQTT broker. ``DATABASE_URL``, ``REDIS_URL`` /
``CELERY_BROKER_URL`` and ``MQTT_URL`` select the real services. ``.env.example`` lists every variable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from labs.env import env_bool, env_choice, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LABS_VAR_DIR", str(BASE_DIR / "var")))

LABS_ENV = env_str("LABS_ENV", "development")
if LABS_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"LABS_ENV={LABS_ENV!r} must be 'development' or 'production'.")
PRODUCTION = LABS_ENV == "production"

DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG cannot be true when LABS_ENV=production.")

_DEV_SECRET = "dev-only-insecure-key-never-use-in-production-0123456789abcdefghijklmnop"  # noqa: S105
SECRET_KEY = env_str("DJANGO_SECRET_KEY", None if PRODUCTION else _DEV_SECRET, required=PRODUCTION)
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY == _DEV_SECRET):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a fresh random value of at least 50 characters.")

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "labs.apps.LabsAdminConfig",  # django.contrib.admin with labs.admin_site.LabsAdminSite as admin.site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files: the CSP allows no CDN
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "labs",
    "bookings",
    "comfort",
    "badges",
    "calendars",
    "analytics",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "labs.middleware.RejectNulBytesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the switcher's cookie, else the browser's Accept-Language, else LANGUAGE_CODE (docs/portal.md).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "labs.middleware.SessionIdleTimeoutMiddleware",
    "labs.middleware.SecondFactorMiddleware",
    "labs.middleware.SiteTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "labs.middleware.ContentSecurityPolicyMiddleware",  # django-csp's, the policy built once
    "labs.middleware.PersonalDataNoStoreMiddleware",
]

ROOT_URLCONF = "labs.urls"
WSGI_APPLICATION = "labs.wsgi.application"
ASGI_APPLICATION = "labs.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", None, schemes={"postgres", "postgresql", "sqlite"})
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "labs.sqlite3")),
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so two writers serialise instead of failing mid-way.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": env_str("SQLITE_TEST_PATH", str(VAR_DIR / "test.sqlite3"))},
        }
    }
USES_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if USES_POSTGRES:
    # Django's backend with a health check that needs no round trip while the connection is quiet (labs/backends).
    DATABASES["default"]["ENGINE"] = "labs.backends.postgresql"
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env_str("DATABASE_TEST_NAME", None)
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        # Parameters bound by the server instead of quoted into the SQL by Python, so psycopg can prepare a statement
        # a connection has run DATABASE_PREPARE_THRESHOLD times: PostgreSQL then skips parsing and planning it. The
        # hot paths run the same few statements again and again (a booking create: 9.4 -> 7.4 ms of Python and
        # 12.9 -> 9.0 ms end to end; docs/scaling.md "Prepared statements"). Django leaves both off for connection
        # poolers in transaction mode: behind a PgBouncer older than 1.21 (or without max_prepared_statements) set
        # DATABASE_PREPARED_STATEMENTS=false.
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True,
            prepare_threshold=env_int("DATABASE_PREPARE_THRESHOLD", 5, minimum=0, maximum=1000),
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery ------------------------------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", None, schemes={"redis", "rediss"})
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

_CELERY_FS = VAR_DIR / "celery"
# The filesystem transport ignores the host; without one kombu warns "No hostname was supplied" at every connection.
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    REDIS_URL or "filesystem://localhost/",
    schemes={"redis", "rediss", "amqp", "filesystem", "memory"},
)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_CELERY_FS / "out"),
        "data_folder_out": str(_CELERY_FS / "out"),
        "processed_folder": str(_CELERY_FS / "processed"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_S", 3600, minimum=1, maximum=86_400),
        # How many of kombu's restore ticks (every 10 s) pass between two looks for messages a dead worker held past
        # the visibility timeout: kombu's default 10 means up to 100 s more; a look is one ZRANGE.
        "unacked_restore_throttle": env_int("CELERY_UNACKED_RESTORE_THROTTLE", 10, minimum=1, maximum=1000),
    }
)
# Tasks marked acks_late (docs/scaling.md "Celery") stay on the broker until they finish; a task a dead worker held
# is delivered again once the visibility timeout passes, so it must stay above the longest task: every task is
# killed at CELERY_TASK_TIME_LIMIT (30 min), half the default timeout. One message reserved per worker process.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 1800, minimum=2, maximum=86_400)
CELERY_TASK_SOFT_TIME_LIMIT = max(1, int(CELERY_TASK_TIME_LIMIT * 0.95))
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
if not CELERY_BROKER_URL.startswith("filesystem") and (
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= CELERY_TASK_TIME_LIMIT
):
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT_S must be above CELERY_TASK_TIME_LIMIT (docs/scaling.md)")
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("out", "processed"):
        (_CELERY_FS / _folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"

# --- MQTT ---------------------------------------------------------------------------------------------------
# Without MQTT_URL the embedded amqtt broker (`manage.py mqtt_broker`) listens here; 1883 is left to a real broker.
MQTT_EMBEDDED_PORT = env_int("MQTT_EMBEDDED_PORT", 18830, minimum=1, maximum=65535)
MQTT_EMBEDDED = env_str("MQTT_URL") is None
MQTT_CLIENT_PREFIX = env_str("MQTT_CLIENT_PREFIX", "labs-backend")
# After commit, the committing process publishes its outbox rows itself (labs/outbox.py); the bridge drains the rest
# once they are older than MQTT_OUTBOX_GRACE_MS (0 when the nudge is off).
MQTT_OUTBOX_NUDGE = env_bool("MQTT_OUTBOX_NUDGE", default=True)
MQTT_OUTBOX_NUDGE_TIMEOUT = 2.0
# A nudge of at least this many messages (a fan-out's chunk) hands the waiting for PUBACKs to a bookkeeper thread.
MQTT_OUTBOX_NUDGE_HAND_OFF = env_int("MQTT_OUTBOX_NUDGE_HAND_OFF", 500, minimum=1, maximum=1_000_000)
MQTT_OUTBOX_GRACE_MS = env_int("MQTT_OUTBOX_GRACE_MS", 1000, minimum=0, maximum=60_000)
# The bridge (labs/mqtt_bridge.py, docs/scaling.md): device messages are handled in batches of at most
# MQTT_BRIDGE_BATCH messages (what is queued; MQTT_BRIDGE_BATCH_MS > 0 waits that long for more: it delays every scan
# by as much), one transaction per batch. On a broker with
# MQTT 5 (Mosquitto; not the embedded amqtt) it subscribes through shared subscriptions `$share/GROUP/...`, so N
# bridges split the device messages and each is handled once; a stable MQTT_BRIDGE_ID per bridge (e.g. bridge-1)
# lets a restarted bridge resume its persistent session (kept MQTT_BRIDGE_SESSION_EXPIRY_S by the broker).
MQTT_BRIDGE_BATCH = env_int("MQTT_BRIDGE_BATCH", 500, minimum=1, maximum=10_000)
MQTT_BRIDGE_BATCH_MS = env_int("MQTT_BRIDGE_BATCH_MS", 0, minimum=0, maximum=5_000)
MQTT_BRIDGE_SHARED = env_bool("MQTT_BRIDGE_SHARED", default=not MQTT_EMBEDDED)
MQTT_SHARED_GROUP = env_str("MQTT_SHARED_GROUP", "labs")
MQTT_BRIDGE_ID = env_str("MQTT_BRIDGE_ID", "")
MQTT_BRIDGE_SESSION_EXPIRY_S = env_int("MQTT_BRIDGE_SESSION_EXPIRY_S", 300, minimum=0, maximum=86_400)

# --- MQTT identities and limits (docs/mqtt.md "Identity and limits", docs/operations.md "Mosquitto") ------------
# No anonymous client anywhere. The backend's own account is MQTT_URL's user:password (mqtt://backend:SECRET@host);
# production requires both. The embedded default (no MQTT_URL) derives the secret from DJANGO_SECRET_KEY, so every
# local process (web, worker, bridge, broker, simulators) agrees on it without a shared file.
MQTT_EMBEDDED_BACKEND_PASSWORD = hmac.new(SECRET_KEY.encode(), b"labs.mqtt.backend", hashlib.sha256).hexdigest()
if MQTT_EMBEDDED:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "LABS_ENV=production needs MQTT_URL=mqtt://backend:SECRET@host:1883 (the embedded broker is for dev)"
        )
    MQTT_URL = f"mqtt://backend:{MQTT_EMBEDDED_BACKEND_PASSWORD}@127.0.0.1:{MQTT_EMBEDDED_PORT}"
else:
    MQTT_URL = env_url("MQTT_URL", None, schemes={"mqtt", "mqtts"})
    _mqtt_parts = urlsplit(MQTT_URL)
    if PRODUCTION and not (_mqtt_parts.username and _mqtt_parts.password):
        raise ImproperlyConfigured(
            "MQTT_URL must carry the backend's account in production: mqtt://backend:SECRET@host."
        )
# Device and reader credentials are provisioned into the broker when they are issued: into Mosquitto's
# dynamic-security plugin over $CONTROL (labs/mqtt_dynsec.py) when MQTT_URL names the project's Mosquitto, while the
# embedded broker reads their hashes from the database at connect time.
MQTT_DYNSEC = env_bool("MQTT_DYNSEC", default=not MQTT_EMBEDDED)
# Every device message is checked before it touches the database (labs/mqtt_payloads.py): at most this many bytes
# (mosquitto.conf's message_size_limit is the same), strict JSON, this nesting depth, then the leaf's JSON Schema.
MQTT_PAYLOAD_MAX_BYTES = env_int("MQTT_PAYLOAD_MAX_BYTES", 65536, minimum=1024, maximum=1_048_576)
MQTT_PAYLOAD_MAX_DEPTH = env_int("MQTT_PAYLOAD_MAX_DEPTH", 8, minimum=2, maximum=32)

# --- Bookings and comfort: tunables -------------------------------------------------------------------------
# Check-in opens this long before a booking starts (a site's grace period, if longer, applies to desks).
BOOKINGS_CHECK_IN_AHEAD = timedelta(minutes=env_int("BOOKINGS_CHECK_IN_AHEAD_MINUTES", 15, minimum=0, maximum=240))
# A recurring booking loses its future occurrences after this many released (no-show) occurrences in a row.
BOOKINGS_MISSES_BEFORE_SERIES_ENDS = env_int("BOOKINGS_MISSES_BEFORE_SERIES_ENDS", 3, minimum=1, maximum=100)
# A desk goes back to this height when nobody is checked in at it.
# Erasures are also appended (person id, pseudonym, time: no identifier) to this JSON-lines file after commit, kept
# apart from the database's backups, so that `manage.py replay_erasures` can erase again after a restore.
ERASURE_LOG_FILE = env_str("ERASURE_LOG_FILE", str(VAR_DIR / "erasures.jsonl"))
# Role-limited collection (the privacy policy): a visitor's calendar data and office preferences are kept only for a
# stay (their account's start to its membership end) of at least this many days (labs.permissions.role_allows).
VISITOR_EXTENDED_DATA_MIN_DAYS = env_int("VISITOR_EXTENDED_DATA_MIN_DAYS", 5, minimum=1, maximum=365)
COMFORT_DESK_DEFAULT_HEIGHT_MM = env_int("COMFORT_DESK_DEFAULT_HEIGHT_MM", 740, minimum=620, maximum=1270)
# A zone's setpoint stays within this many tenths of a degree of its policy (Zone.default_setpoint_c).
COMFORT_ZONE_BAND_C = Decimal(env_int("COMFORT_ZONE_BAND_DECI_C", 20, minimum=0, maximum=140)) / 10
COMFORT_ZONE_MODE = env_choice("COMFORT_ZONE_MODE", "auto", choices=("off", "auto", "cool", "heat", "fan_only"))
COMFORT_ZONE_HVAC_FAN = env_choice("COMFORT_ZONE_HVAC_FAN", "auto", choices=("auto", "low", "medium", "high"))
# With nobody checked in, a zone's fan runs at this speed (0: off).
_IDLE_FAN_PCT = env_int("COMFORT_ZONE_IDLE_FAN_PCT", 0, minimum=0, maximum=100)
COMFORT_ZONE_IDLE_FAN = {"on": _IDLE_FAN_PCT > 0, "speed_pct": _IDLE_FAN_PCT}
# An online device has this long to answer a command (once moving: its eta plus the grace) before the command is
# published again; after COMFORT_MAX_ATTEMPTS publications it is timed out.
COMFORT_ACK_TIMEOUT = timedelta(seconds=env_int("COMFORT_ACK_TIMEOUT_S", 10, minimum=1, maximum=3600))
COMFORT_PROGRESS_GRACE = timedelta(seconds=env_int("COMFORT_PROGRESS_GRACE_S", 10, minimum=0, maximum=3600))
COMFORT_MAX_ATTEMPTS = env_int("COMFORT_MAX_ATTEMPTS", 3, minimum=1, maximum=20)
# A command without a natural end (a zone policy) is valid this long.
COMFORT_COMMAND_VALIDITY = timedelta(hours=env_int("COMFORT_COMMAND_VALIDITY_HOURS", 12, minimum=1, maximum=168))
# Finished commands and zone decisions are deleted this long after they were issued (their retention).
COMFORT_HISTORY_RETENTION = timedelta(days=env_int("COMFORT_HISTORY_RETENTION_DAYS", 30, minimum=1, maximum=3650))

# --- Calendars (shared/contracts/CALENDAR.md) and secrets at rest -------------------------------------------
# Fernet keys of labs.crypto (calendar credentials, OAuth tokens), comma-separated: the first encrypts, all decrypt.
# Required in production; in development derived from DJANGO_SECRET_KEY. `python -c "import labs.crypto as c;
# print(c.generate_key())"` makes one.
LABS_ENCRYPTION_KEYS = env_list("LABS_ENCRYPTION_KEY", [])
if not LABS_ENCRYPTION_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured("LABS_ENCRYPTION_KEY must be set in production (a Fernet key; see labs/crypto.py).")
    LABS_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(b"labs.crypto/v1:" + SECRET_KEY.encode()).digest()).decode()
    ]
for _key in LABS_ENCRYPTION_KEYS:
    try:
        if len(base64.urlsafe_b64decode(_key.encode())) != 32:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured("LABS_ENCRYPTION_KEY holds a value that is not a Fernet key.") from None
# The project's own address (push-notification URLs) and the providers' endpoints; unset: the real providers.
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", "http://127.0.0.1:8000", schemes={"http", "https"}).rstrip("/")
GOOGLE_API_ENDPOINT = env_url("GOOGLE_API_ENDPOINT", None, schemes={"http", "https"})
GOOGLE_ADMIN_API_ENDPOINT = env_url("GOOGLE_ADMIN_API_ENDPOINT", None, schemes={"http", "https"})
MS_GRAPH_ENDPOINT = env_url("MS_GRAPH_ENDPOINT", "https://graph.microsoft.com/v1.0", schemes={"http", "https"})
MS_AUTHORITY_HOST = env_url("MS_AUTHORITY_HOST", "https://login.microsoftonline.com", schemes={"https"})
MS_CA_BUNDLE = env_str("MS_CA_BUNDLE", None)
# The sync window: every event from this many days ago to this many days ahead is a booking.
CALENDAR_SYNC_PAST_DAYS = env_int("CALENDAR_SYNC_PAST_DAYS", 1, minimum=0, maximum=30)
CALENDAR_SYNC_FUTURE_DAYS = env_int("CALENDAR_SYNC_FUTURE_DAYS", 180, minimum=1, maximum=366)
# Events per page asked of a provider (Google allows up to 2500).
CALENDAR_PAGE_SIZE = env_int("CALENDAR_PAGE_SIZE", 1000, minimum=1, maximum=2500)
# Push channels are asked for this long and renewed when less than half of it is left.
CALENDAR_WATCH_HOURS = env_int("CALENDAR_WATCH_HOURS", 168, minimum=1, maximum=720)
# A rate-limited request (429, 403 rateLimitExceeded) is retried in place this many times, waiting its Retry-After
# up to this long; past that the sync task is retried later, from where its sync token stood.
CALENDAR_RETRY_ATTEMPTS = env_int("CALENDAR_RETRY_ATTEMPTS", 4, minimum=0, maximum=10)
CALENDAR_RETRY_MAX_WAIT = env_int("CALENDAR_RETRY_MAX_WAIT_S", 30, minimum=0, maximum=600)
# A running sync holds its calendar this long at most (a worker that died frees it after this).
CALENDAR_SYNC_LEASE = timedelta(seconds=env_int("CALENDAR_SYNC_LEASE_S", 900, minimum=30, maximum=86_400))
# Provider HTTP timeout (seconds).
CALENDAR_HTTP_TIMEOUT = env_int("CALENDAR_HTTP_TIMEOUT_S", 30, minimum=1, maximum=300)
# Personal calendars (CALENDAR.md "Personal calendars"): the operator's OAuth clients. Google's URLs default to
# Google's; Microsoft's authorize and token endpoints are under MS_AUTHORITY_HOST/organizations (multi-tenant app).
GOOGLE_OAUTH_CLIENT_ID = env_str("GOOGLE_OAUTH_CLIENT_ID", "")
GOOGLE_OAUTH_CLIENT_SECRET = env_str("GOOGLE_OAUTH_CLIENT_SECRET", "")
GOOGLE_OAUTH_AUTHORIZE_URL = env_url(
    "GOOGLE_OAUTH_AUTHORIZE_URL", "https://accounts.google.com/o/oauth2/v2/auth", schemes={"http", "https"}
)
GOOGLE_OAUTH_TOKEN_URL = env_url(
    "GOOGLE_OAUTH_TOKEN_URL", "https://oauth2.googleapis.com/token", schemes={"http", "https"}
)
GOOGLE_OAUTH_REVOKE_URL = env_url(
    "GOOGLE_OAUTH_REVOKE_URL", "https://oauth2.googleapis.com/revoke", schemes={"http", "https"}
)
MS_OAUTH_CLIENT_ID = env_str("MS_OAUTH_CLIENT_ID", "")
MS_OAUTH_CLIENT_SECRET = env_str("MS_OAUTH_CLIENT_SECRET", "")
# Every room's booking address is <site>-<room>-<id>@CALENDAR_BOOKING_DOMAIN: invite it from your own calendar.
CALENDAR_BOOKING_DOMAIN = env_str("CALENDAR_BOOKING_DOMAIN", "book.labs.localhost")

# --- Analytics -----------------------------------------------------------------------------------------------
# `manage.py demo_site` adds 12 weeks of past bookings and an analytics run to the demo site (off in the test suite,
# which runs demo_site many times; the tests of the history turn it on).
ANALYTICS_DEMO_HISTORY = env_bool("ANALYTICS_DEMO_HISTORY", default=True)

# --- Periodic tasks: every one, in one place (Celery beat; seconds) -----------------------------------------
CELERY_BEAT_SCHEDULE = {
    # Retention: one idempotent task runs every app's registered purge (labs.rights.register_purge): sign-in
    # counters, sent outbox messages, expired sessions, badge code uses, visits, access decisions, comfort history,
    # booking titles (30 days) and bookings (13 months), room calendar organisers, ended memberships (erased).
    "labs-retention-purge": {"task": "labs.tasks.retention_purge", "schedule": 600.0},
    "bookings-release-no-shows": {"task": "bookings.tasks.release_no_shows", "schedule": 60.0},
    "bookings-complete-ended": {"task": "bookings.tasks.complete_ended", "schedule": 60.0},
    "comfort-commands-sweep": {"task": "comfort.tasks.commands_sweep", "schedule": 5.0},
    "comfort-workspace-reconcile": {"task": "comfort.tasks.workspace_reconcile", "schedule": 60.0},
    "badges-sweep": {"task": "badges.tasks.badges_sweep", "schedule": 60.0},
    "calendars-reconcile": {"task": "calendars.tasks.calendars_reconcile", "schedule": 300.0},
    "calendars-watches-renew": {"task": "calendars.tasks.watches_renew", "schedule": 900.0},
    "calendars-personal-reconcile": {"task": "calendars.tasks.personal_reconcile", "schedule": 300.0},
    # Analytics: every site's last 12 weeks, nightly at 02:30 UTC (only the days whose bookings changed).
    "analytics-nightly": {"task": "analytics.tasks.nightly", "schedule": crontab(hour=2, minute=30)},
    "analytics-runs-purge": {"task": "analytics.tasks.runs_purge", "schedule": 86400.0},
    "analytics-runs-sweep": {"task": "analytics.tasks.runs_sweep", "schedule": 300.0},
}

# --- Auth, API ----------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:sign-in"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "portal:sign-in"

# --- Sign-in doors, throttle, second factor, idle sessions (docs/security.md) ---------------------------------
# One throttle for every door (API token, portal, admin, second-factor codes): labs.services.sign_in_attempt reserves
# a slot per (username, IP) and per IP before a guess is checked, so concurrent guesses never pass the limits.
SIGN_IN_WINDOW = timedelta(minutes=env_int("SIGN_IN_WINDOW_MINUTES", 15, minimum=1))
SIGN_IN_MAX_FAILURES_PER_USER_IP = env_int("SIGN_IN_MAX_FAILURES_PER_USER_IP", 5, minimum=1)
SIGN_IN_MAX_FAILURES_PER_IP = env_int("SIGN_IN_MAX_FAILURES_PER_IP", 20, minimum=1)
# Wrong second-factor codes per account from any address (only reachable with the right password).
SIGN_IN_MAX_CODE_FAILURES_PER_USER = env_int("SIGN_IN_MAX_CODE_FAILURES_PER_USER", 10, minimum=1)
# Number of reverse proxies in front of the app whose X-Forwarded-For entries are trusted (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
# TOTP (django-otp): staff need a confirmed authenticator; the portal's sign-in asks for its code after the password.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Labs")
OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's per-device back-off is off: every code goes through the one throttle
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a device's secret or its QR code once saved
SECOND_FACTOR_ENROL_URL = "portal:two-factor"
SECOND_FACTOR_PENDING = timedelta(minutes=5)  # between the right password and the code on the portal
# Idle timeout, enforced on the server: a session unused for longer is signed out at its next request.
SESSION_IDLE_STAFF = timedelta(minutes=env_int("SESSION_IDLE_MINUTES_STAFF", 30, minimum=1))
SESSION_IDLE = timedelta(minutes=env_int("SESSION_IDLE_MINUTES", 480, minimum=1))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "labs.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "labs.api.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["labs.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "labs.api.exceptions.exception_handler",
    "DATETIME_INPUT_FORMATS": ["iso-8601"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Labs operations API",
    "DESCRIPTION": "Sites, bookings, comfort devices and badges for coworking and startup-lab operators.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/v1/docs/ (labs.urls) loads Swagger UI from the project's own static files, under the strict CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets whose field names collide across apps ("kind", "state"...) get explicit component names.
    "ENUM_NAME_OVERRIDES": {
        "DeviceKindEnum": "comfort.choices.DeviceKind",
        "CommandStateEnum": "comfort.choices.CommandState",
        "BadgeKindEnum": "badges.choices.BadgeKind",
        "BadgeStatusEnum": "badges.choices.BadgeStatus",
        "BookingStatusEnum": "bookings.choices.BookingStatus",
    },
}

# --- Internationalisation -----------------------------------------------------------------------------------
# English (British formats) and Danish; the portal and the admin follow the browser or the switcher. Translations:
# locale/<lang>/LC_MESSAGES/django.po, compiled .mo committed (docs/portal.md: "Languages").
LANGUAGE_CODE = "en-gb"
LANGUAGES = [("en-gb", "English"), ("da", "Dansk")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_SECURE = PRODUCTION
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
WHITENOISE_USE_FINDERS = DEBUG  # development serves app static files without collectstatic

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "labs@localhost")
# Absolute links in emails (a visitor's badge page). Badges: the key of the card-UID digests (default: derived from
# DJANGO_SECRET_KEY; set it so rotating the secret key does not orphan registered cards).
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000")
BADGE_CARD_UID_KEY = env_str("BADGE_CARD_UID_KEY", None)
# Badges: how long a QR code of the previous 30 s step is still accepted after the step changed, and a code of the next
# step before it starts (clock skew between servers); docs/badges.md has the threat model.
BADGE_CODE_GRACE_SECONDS = env_int("BADGE_CODE_GRACE_SECONDS", 5, minimum=0, maximum=15)
# Reception kiosk: hours a walk-in visit (and its badge) lasts from registration; days a kiosk device stays set up.
KIOSK_WALK_IN_HOURS = env_int("KIOSK_WALK_IN_HOURS", 4, minimum=1, maximum=24)
KIOSK_COOKIE_DAYS = env_int("KIOSK_COOKIE_DAYS", 180, minimum=1, maximum=400)
KIOSK_WALK_INS_PER_10_MINUTES = env_int("KIOSK_WALK_INS_PER_10_MINUTES", 20, minimum=1, maximum=1000)

# --- Security -----------------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} must be DEBUG, INFO, WARNING or ERROR.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"amqtt": {"level": "WARNING"}, "transitions": {"level": "WARNING"}, "gmqtt": {"level": "WARNING"}},
}
CSRF_FAILURE_VIEW = "labs.views.csrf_failure"
