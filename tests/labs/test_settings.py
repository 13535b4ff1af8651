"""Settings are read strictly from the environment: a bad value stops start-up with a clear message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from labs import env

ROOT = Path(__file__).resolve().parents[2]


def _start(**overrides) -> subprocess.CompletedProcess:
    # Start from this environment without the service URLs and without the browser tests' async-unsafe switch
    # (check --deploy rightly warns about DJANGO_ALLOW_ASYNC_UNSAFE).
    dropped = {"DATABASE_URL", "REDIS_URL", "MQTT_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment = {k: v for k, v in os.environ.items() if k not in dropped}
    environment.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG='maybe' is not a boolean"),
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL='mysql://db/x' must start with one of"),
        ("MQTT_URL", "mqtt://:notaport", "MQTT_URL='mqtt://:notaport'"),
        ("SIGN_IN_MAX_FAILURES_PER_IP", "ten", "SIGN_IN_MAX_FAILURES_PER_IP='ten' is not a whole number"),
        ("SESSION_IDLE_MINUTES_STAFF", "0", "SESSION_IDLE_MINUTES_STAFF=0 is below the minimum 1"),
        ("LABS_ENV", "staging", "LABS_ENV='staging' must be 'development' or 'production'"),
    ],
)
def test_a_bad_value_stops_start_up_with_a_clear_message(name, value, message):
    result = _start(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_needs_a_secret_key():
    result = _start(LABS_ENV="production", DJANGO_SECRET_KEY="", DJANGO_ALLOWED_HOSTS="labs.example.com")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


PRODUCTION = {
    "LABS_ENV": "production",
    "DJANGO_SECRET_KEY": "k" * 20 + "-a-long-random-production-secret-value-123",
    "DJANGO_ALLOWED_HOSTS": "labs.example.com",
    "LABS_ENCRYPTION_KEY": "Vq0CRnUvVd7wtSzYBpNz8hfIBK3Zy6v2r4GmV3oPc2k=",
}


def test_production_needs_an_encryption_key():
    result = _start(**{**PRODUCTION, "LABS_ENCRYPTION_KEY": ""}, MQTT_URL="mqtt://backend:a-long-mqtt-secret@m:1883")
    assert result.returncode != 0
    assert "LABS_ENCRYPTION_KEY must be set in production" in result.stderr


def test_an_encryption_key_that_is_not_a_fernet_key_stops_start_up():
    result = _start(LABS_ENCRYPTION_KEY="not-a-key")
    assert result.returncode != 0
    assert "LABS_ENCRYPTION_KEY holds a value that is not a Fernet key" in result.stderr


def test_production_settings_pass_check_deploy_without_warnings():
    result = _start(**PRODUCTION, MQTT_URL="mqtt://backend:a-long-mqtt-secret@mosquitto:1883")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("raw,expected", [("true", True), ("0", False), ("Yes", True), ("off", False)])
def test_booleans_accept_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("LABS_TEST_FLAG", raw)
    assert env.env_bool("LABS_TEST_FLAG", default=not expected) is expected


def test_integers_respect_bounds(monkeypatch):
    monkeypatch.setenv("LABS_TEST_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum 1"):
        env.env_int("LABS_TEST_INT", 5, minimum=1)


def test_an_empty_variable_means_the_default(monkeypatch):
    monkeypatch.setenv("LABS_TEST_URL", "  ")
    assert env.env_url("LABS_TEST_URL", "redis://x:6379", schemes={"redis"}) == "redis://x:6379"


def test_env_example_lists_every_variable_the_settings_read():
    import re

    from django.conf import settings

    source = (settings.BASE_DIR / "labs" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|int|bool|url|list|choice)\(\s*"([A-Z][A-Z0-9_]*)"', source))
    example = (settings.BASE_DIR / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))

    assert read, "the settings read no variables? the pattern above is out of date"
    assert read - listed == set()


@pytest.mark.parametrize(
    "mqtt_url,message",
    [
        (None, "LABS_ENV=production needs MQTT_URL=mqtt://backend:SECRET@host:1883"),
        ("mqtt://mosquitto:1883", "MQTT_URL must carry the backend's account in production"),
        ("mqtt://backend@mosquitto:1883", "MQTT_URL must carry the backend's account in production"),
    ],
)
def test_production_needs_the_backends_mqtt_secret(mqtt_url, message):
    result = _start(**PRODUCTION, **({"MQTT_URL": mqtt_url} if mqtt_url else {}))
    assert result.returncode != 0
    assert message in result.stderr


def test_the_embedded_celery_broker_connects_without_kombus_hostname_warning():
    # Without REDIS_URL the broker is the filesystem transport; "filesystem://" alone made kombu warn "No hostname
    # was supplied" at every connection, in every process that queues a task.
    code = (
        "import django, logging; django.setup(); logging.basicConfig()\n"
        "from django.conf import settings; from kombu import Connection\n"
        "print(settings.CELERY_BROKER_URL)\n"
        "Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS).info()\n"
    )
    environment = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    environment["DJANGO_SETTINGS_MODULE"] = "labs.settings"
    done = subprocess.run(  # noqa: S603 - our own fixed code, in our interpreter
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.startswith("filesystem://")
    assert "No hostname was supplied" not in done.stderr
