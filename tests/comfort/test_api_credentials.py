"""POST /api/v1/devices/{id}/credentials/: staff issue (and rotate) a device's MQTT credentials, shown once."""

from __future__ import annotations

import pytest

from labs.models import MqttCredential
from labs.mqtt_credentials import mqtt_credential_authenticate, mqtt_credential_issue
from tests.comfort.conftest import free_port
from tests.comfort.factories import DeviceFactory, FloorFactory, ZoneFactory
from tests.factories import SiteFactory


@pytest.fixture(autouse=True)
def _no_broker(settings):
    """These tests check the API and the stored hash; the brokers' side is tests/labs/test_mqtt_identities.py."""
    settings.MQTT_DYNSEC = False


def _url(device) -> str:
    return f"/api/v1/devices/{device.device_id}/credentials/"


def test_staff_get_the_username_and_a_password_shown_once(staff_client, devices):
    device = devices["desk"]
    response = staff_client.post(_url(device))

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"username", "password"} and body["username"] == device.device_id
    assert len(body["password"]) >= 43  # 32 random bytes
    assert "no-store" in response["Cache-Control"]
    stored = MqttCredential.objects.get(username=device.device_id)
    assert body["password"] not in stored.secret_hash and stored.secret_hash.startswith("labs_sha256$")
    assert (stored.site, stored.kind) == (device.site.slug, "desk")
    identity = mqtt_credential_authenticate(username=device.device_id, password=body["password"])
    assert identity.may_publish(device.topic("ack")) and identity.may_subscribe(device.topic("desired"))


def test_issuing_again_rotates_and_the_old_password_stops_working(staff_client, devices):
    device = devices["hvac"]
    first = staff_client.post(_url(device)).json()["password"]
    second = staff_client.post(_url(device)).json()["password"]

    assert first != second
    assert mqtt_credential_authenticate(username=device.device_id, password=first) is None
    assert mqtt_credential_authenticate(username=device.device_id, password=second) is not None
    assert MqttCredential.objects.filter(username=device.device_id).count() == 1


def test_a_member_who_sees_the_device_may_not_take_its_identity(member, member_client, desk, devices):
    assert member_client.post(f"/api/v1/desks/{desk.pk}/check-in/").status_code == 200
    assert member_client.get(f"/api/v1/devices/{devices['desk'].device_id}/").status_code == 200

    response = member_client.post(_url(devices["desk"]))

    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert not MqttCredential.objects.exists()


def test_an_outsider_and_staff_of_another_site_get_404(outsider_client, devices):
    other_site = SiteFactory(slug="osl")
    other_site_device = DeviceFactory(kind="fan", zone=ZoneFactory(floor=FloorFactory(site=other_site, level=1)))
    assert outsider_client.post(_url(devices["desk"])).status_code == 404
    from labs.choices import Role
    from tests.factories import PersonFactory

    other_staff = PersonFactory(role=Role.STAFF, company=None, site=other_site_device.site)
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user=other_staff.user)
    assert client.post(_url(devices["desk"])).status_code == 404
    assert not MqttCredential.objects.exists()


def test_anonymous_callers_are_refused(anon_client, devices):
    assert anon_client.post(_url(devices["desk"])).status_code in (401, 403)


def test_an_unreachable_broker_is_a_503_and_the_old_password_stays(staff_client, devices, settings):
    device = devices["fan"]
    first = staff_client.post(_url(device)).json()["password"]
    settings.MQTT_DYNSEC = True
    settings.MQTT_URL = f"mqtt://backend:x@127.0.0.1:{free_port()}"

    response = staff_client.post(_url(device))

    assert response.status_code == 503 and response.json()["code"] == "broker_unavailable"
    assert mqtt_credential_authenticate(username=device.device_id, password=first) is not None


def test_a_reader_and_a_device_cannot_share_a_username(db, devices):
    device = devices["desk"]
    from labs.errors import Conflict

    mqtt_credential_issue(username=device.device_id, site=device.site.slug, kind="desk")
    with pytest.raises(Conflict):
        mqtt_credential_issue(username=device.device_id, site=device.site.slug, kind="reader")


def test_the_devices_api_shows_the_dropped_message_count(staff_client, devices):
    device = devices["desk"]
    staff_client.post(_url(device))
    MqttCredential.objects.filter(username=device.device_id).update(dropped_messages=7)

    by_id = {d["id"]: d for d in staff_client.get("/api/v1/devices/").json()["results"]}

    assert by_id[device.device_id]["dropped_messages"] == 7
    assert by_id[devices["fan"].device_id]["dropped_messages"] == 0
