"""Shared fixtures: the three personas (member, colleague, outsider), staff, API clients, service gates."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from labs.choices import Role
from tests import services
from tests.factories import PASSWORD, CompanyFactory, PersonFactory, SiteFactory


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete_on_postgresql():
    """After each transactional test Django empties every table (``flush``). On PostgreSQL that is one TRUNCATE of
    ~100 tables, which makes new files for every table and index: ~0.7 s a test here. DELETE of the few rows a test
    wrote takes milliseconds; Django's foreign keys are DEFERRABLE INITIALLY DEFERRED and the flush is one
    transaction, so the order does not matter. Tables with triggers of their own (the append-only access decisions
    refuse DELETE) are still truncated. A flush that resets sequences keeps Django's TRUNCATE."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush
    with_triggers: set[str] = set()

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or not tables:
            return original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        if not with_triggers:
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal")
                with_triggers.update(name.strip('"') for (name,) in cursor.fetchall())
                with_triggers.add("")  # looked up once, even where there are none
        truncated = [t for t in tables if t in with_triggers]
        statements = [f"DELETE FROM {self.quote_name(t)};" for t in tables if t not in with_triggers]  # noqa: S608
        if truncated:
            statements.append(f"TRUNCATE {', '.join(self.quote_name(t) for t in truncated)} CASCADE;")
        return statements

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every person the factories make has a password: hashed with the production hasher (PBKDF2, a million rounds)
    that costs ~0.5 s here per person. Tests hash with MD5; passwords hashed by PBKDF2 still verify (and the tests
    that count on the real hasher's cost set it themselves)."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture(autouse=True)
def _unique_surnames_per_test():
    """Each test's people have surnames of their own (tests/factories.py: unique_last_name)."""
    from tests.factories import forget_last_names

    forget_last_names()


@pytest.fixture(autouse=True)
def _default_language():
    """A request in Danish leaves Danish active in the thread (LocaleMiddleware activates, nothing deactivates): each
    test starts and ends in LANGUAGE_CODE, so code called outside a request reads English."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _erasure_file_in_tmp(settings, tmp_path_factory):
    """Erasures append to a file (labs.services_privacy): a test's go to a temporary one, never to var/."""
    settings.ERASURE_LOG_FILE = str(tmp_path_factory.mktemp("erasures") / "erasures.jsonl")


@pytest.fixture(autouse=True)
def _var_dir_in_tmp(settings, tmp_path_factory):
    """What code writes under VAR_DIR at run time (the calendar fakes' tenants, keys and certificates that demo_site
    makes) goes to this test run's own folder, never to the checkout's var/: two runs side by side (CI's two legs)
    rewrote one tenant file under each other, and a test run rewrote the one ``make run``'s fakes were serving."""
    settings.VAR_DIR = tmp_path_factory.getbasetemp() / "var"


@pytest.fixture(autouse=True)
def _no_demo_history(settings):
    """demo_site runs in many tests; its 12 weeks of analytics history only where a test asks for it."""
    settings.ANALYTICS_DEMO_HISTORY = False


@pytest.fixture(autouse=True)
def _service_markers(request):
    for marker, (name, check) in {
        "postgres": ("PostgreSQL (DATABASE_URL)", services.has_postgres),
        "redis": ("Redis (REDIS_URL)", services.has_redis),
        "mosquitto": (
            "the project's Mosquitto (MQTT_URL or MOSQUITTO_TEST_URL)",
            lambda: services.project_mosquitto_url() is not None,
        ),
    }.items():
        if request.node.get_closest_marker(marker):
            services.require(name, check())


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def site(db):
    return SiteFactory(slug="cph", name="Copenhagen", timezone="Europe/Copenhagen")


@pytest.fixture
def company(site):
    return CompanyFactory(site=site, name="Acme")


@pytest.fixture
def other_company(site):
    return CompanyFactory(site=site, name="Globex")


@pytest.fixture
def member(site, company):
    """An employee of a business member."""
    return PersonFactory(user__username="member", role=Role.EMPLOYEE, company=company, site=site)


@pytest.fixture
def colleague(site, company):
    """Another employee of the member's company."""
    return PersonFactory(user__username="colleague", role=Role.EMPLOYEE, company=company, site=site)


@pytest.fixture
def outsider(site, other_company):
    """An employee of another company at the same site."""
    return PersonFactory(user__username="outsider", role=Role.EMPLOYEE, company=other_company, site=site)


@pytest.fixture
def staff(site):
    return PersonFactory(user__username="staff", role=Role.STAFF, company=None, site=site)


@pytest.fixture
def mentor(site):
    return PersonFactory(user__username="mentor", role=Role.MENTOR, company=None, site=site)


def _client_for(person) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=person.user)
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def member_client(member):
    return _client_for(member)


@pytest.fixture
def colleague_client(colleague):
    return _client_for(colleague)


@pytest.fixture
def outsider_client(outsider):
    return _client_for(outsider)


@pytest.fixture
def staff_client(staff):
    return _client_for(staff)


@pytest.fixture
def mentor_client(mentor):
    return _client_for(mentor)


@pytest.fixture
def admin_client(db, admin_user):
    """pytest-django's admin client, signed in the way the admin now requires: the password and the second factor."""
    from django.test import Client

    from tests.sign_in import signed_in

    return signed_in(Client(), admin_user, "password")
