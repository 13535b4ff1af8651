from decimal import Decimal

import pytest

from comfort import services
from comfort.models import Command, Preference
from labs.models import OutboxMessage
from tests.comfort.factories import DeskFactory, DeviceFactory, PreferenceFactory, ZoneFactory

# Check-in and check-out commit, and the occupancy event moves the desk after commit: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

PREFS = "/api/v1/me/preferences/"


def check_in_url(desk):
    return f"/api/v1/desks/{desk.pk}/check-in/"


def check_out_url(desk):
    return f"/api/v1/desks/{desk.pk}/check-out/"


# --- preferences ----------------------------------------------------------------------------------------------


def test_preferences_default_until_set(member_client):
    response = member_client.get(PREFS)

    assert response.status_code == 200
    assert response.json()["desk_sit_height_mm"] == 720
    assert response.json()["temperature_c"] == 22.0
    assert not Preference.objects.exists()  # a read writes nothing


def test_put_sets_my_preferences(member_client, member):
    body = {"desk_sit_height_mm": 690, "desk_stand_height_mm": 1120, "temperature_c": 21.5, "fan_speed_pct": 35}

    response = member_client.put(PREFS, body, format="json")

    assert response.status_code == 200
    assert Preference.objects.get(person=member).temperature_c == Decimal("21.5")


@pytest.mark.parametrize(
    "field,value",
    [
        ("desk_sit_height_mm", 619),
        ("desk_sit_height_mm", 1271),
        ("desk_stand_height_mm", 5000),
        ("temperature_c", 15.5),
        ("temperature_c", 30.5),
        ("temperature_c", 21.3),
        ("temperature_c", 21.25),
        ("fan_speed_pct", 101),
        ("fan_speed_pct", -1),
        ("fan_speed_pct", "fast"),
    ],
)
def test_out_of_range_preferences_are_a_400_and_publish_nothing(member_client, member, desk, devices, field, value):
    services.workspace_check_in(person=member, desk=desk)
    rows = OutboxMessage.objects.count()

    response = member_client.patch(PREFS, {field: value}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert OutboxMessage.objects.count() == rows
    assert not Preference.objects.filter(person=member).exists()


def test_a_standing_height_below_the_sitting_height_is_a_400(member_client):
    response = member_client.patch(PREFS, {"desk_sit_height_mm": 1000, "desk_stand_height_mm": 900}, format="json")

    assert response.status_code == 400
    assert "desk_stand_height_mm" in response.json()


def test_preferences_need_a_signed_in_person(anon_client):
    assert anon_client.get(PREFS).status_code in (401, 403)


def test_my_preferences_are_mine_alone(member_client, outsider):
    PreferenceFactory(person=outsider, fan_speed_pct=99)

    assert member_client.get(PREFS).json()["fan_speed_pct"] == 40


# --- check-in and check-out -----------------------------------------------------------------------------------


def test_check_in_answers_the_commands(member_client, member, desk, devices):
    PreferenceFactory(person=member, desk_sit_height_mm=1000)

    response = member_client.post(check_in_url(desk))

    assert response.status_code == 200
    commands = response.json()["commands"]
    assert {c["device"] for c in commands} == {d.device_id for d in devices.values()}
    assert all(c["state"] == "queued" and c["id"] for c in commands)
    assert response.json()["booking"]


def test_a_walk_in_on_a_day_the_site_is_closed_is_a_422_and_moves_nothing(member_client, member, desk, devices):
    """A walk-in is a booking (rule ``closed``, bookings.services.rules.closure_check); staff's booking of that day,
    made with a recorded reason, is still checked in."""
    from django.utils import timezone

    from bookings.models import Booking, Closure
    from comfort.models import Command

    today = timezone.localtime(timezone.now(), desk.site.tz).date()
    Closure.objects.create(site=desk.site, day=today, reason="Fire drill")

    response = member_client.post(check_in_url(desk))

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "rule_violation" and body["rule"] == "closed" and body["days"] == [str(today)]
    assert "Fire drill" in body["detail"]
    assert not Booking.objects.filter(desk=desk).exists() and not Command.objects.exists()
    Closure.objects.all().delete()
    assert member_client.post(check_in_url(desk)).status_code == 200  # open again: the walk-in is made


def test_check_in_at_a_taken_desk_is_a_409(member_client, colleague, desk, devices):
    services.workspace_check_in(person=colleague, desk=desk)

    response = member_client.post(check_in_url(desk))

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_check_in_at_a_desk_of_another_site_is_a_404(member_client):
    elsewhere = DeskFactory(zone=ZoneFactory())

    assert member_client.post(check_in_url(elsewhere)).status_code == 404


def test_check_out_returns_to_defaults(member_client, member, desk, devices):
    member_client.post(check_in_url(desk))

    response = member_client.post(check_out_url(desk))

    assert response.status_code == 200
    desk_command = next(c for c in response.json()["commands"] if c["device"] == devices["desk"].device_id)
    assert Command.objects.get(pk=desk_command["id"]).desired == {"height_mm": 740}


def test_check_out_when_not_checked_in_is_a_404(member_client, desk):
    assert member_client.post(check_out_url(desk)).status_code == 404


def test_an_outsider_cannot_check_out_someone_else(member, outsider_client, desk, devices):
    services.workspace_check_in(person=member, desk=desk)

    assert outsider_client.post(check_out_url(desk)).status_code == 404


# --- devices and commands -------------------------------------------------------------------------------------


def test_staff_see_every_device_of_their_site(staff_client, devices, django_assert_max_num_queries):
    for _ in range(5):
        DeviceFactory(kind="desk", desk=DeskFactory(zone=devices["hvac"].zone))

    with django_assert_max_num_queries(6):
        response = staff_client.get("/api/v1/devices/")

    assert response.status_code == 200
    assert response.json()["count"] == 8


def test_members_see_only_the_devices_of_their_checked_in_desk_and_zone(member_client, member, desk, devices):
    elsewhere = DeviceFactory(kind="hvac", zone=ZoneFactory(floor=devices["hvac"].zone.floor))
    assert member_client.get("/api/v1/devices/").json()["count"] == 0

    services.workspace_check_in(person=member, desk=desk)
    response = member_client.get("/api/v1/devices/")

    ids = {d["id"] for d in response.json()["results"]}
    assert ids == {d.device_id for d in devices.values()}
    assert elsewhere.device_id not in ids
    assert response.json()["results"][0]["last_command"]["state"] == "queued"


def test_an_outsider_gets_404_for_a_device_at_my_desk(member, outsider_client, desk, devices):
    services.workspace_check_in(person=member, desk=desk)

    assert outsider_client.get(f"/api/v1/devices/{devices['desk'].device_id}/").status_code == 404
    assert outsider_client.get("/api/v1/devices/").json()["count"] == 0


def test_staff_read_a_device_by_id(staff_client, devices):
    response = staff_client.get(f"/api/v1/devices/{devices['hvac'].device_id}/")

    assert response.status_code == 200
    assert response.json()["kind"] == "hvac"


def test_a_command_is_visible_to_the_person_it_acts_for_and_staff_only(
    member_client, member, staff_client, outsider_client, desk, devices
):
    result = services.workspace_check_in(person=member, desk=desk)
    command = result.commands[0]

    mine = member_client.get(f"/api/v1/commands/{command.pk}/")
    assert mine.status_code == 200
    assert mine.json()["state"] == "queued" and mine.json()["device"] == command.device.device_id
    assert staff_client.get(f"/api/v1/commands/{command.pk}/").status_code == 200
    assert outsider_client.get(f"/api/v1/commands/{command.pk}/").status_code == 404


def test_a_zone_command_is_visible_to_a_colleague_checked_in_in_that_zone(
    member, colleague, colleague_client, desk, other_desk, devices
):
    first = services.workspace_check_in(person=member, desk=desk)
    hvac_command = next(c for c in first.commands if c.device.kind == "hvac")
    assert colleague_client.get(f"/api/v1/commands/{hvac_command.pk}/").status_code == 404

    services.workspace_check_in(person=colleague, desk=other_desk)

    assert colleague_client.get(f"/api/v1/commands/{hvac_command.pk}/").status_code == 200


def test_the_command_list_pins_its_queries(staff_client, member, desk, devices, django_assert_max_num_queries):
    services.workspace_check_in(person=member, desk=desk)
    services.workspace_check_out(person=member, desk=desk)

    with django_assert_max_num_queries(5):
        response = staff_client.get("/api/v1/commands/?state=queued")

    assert response.json()["count"] == 3
