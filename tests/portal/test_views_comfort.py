from html import unescape

import pytest
from django.test import Client

from comfort.models import Command, Preference
from labs.models import OutboxMessage
from tests.comfort import conftest as comfort_fixtures

# the comfort fixtures (a zone, desks and their devices), shared with tests/comfort
zone, desk, other_desk = comfort_fixtures.zone, comfort_fixtures.desk, comfort_fixtures.other_desk
desk_device, hvac, fan, devices = (
    comfort_fixtures.desk_device,
    comfort_fixtures.hvac,
    comfort_fixtures.fan,
    comfort_fixtures.devices,
)


@pytest.fixture
def member_browser(member):
    client = Client()
    client.force_login(member.user)
    return client


def test_the_workspace_page_shows_my_preferences_and_the_desks(member_browser, desk, devices):
    response = member_browser.get("/workspace/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "My preferences" in body and 'name="desk_sit_height_mm"' in body
    assert f'<option value="{desk.pk}">' in body
    assert 'hx-get="/workspace/live/"' in body
    assert "<script>" not in body and "style=" not in body  # strict CSP: no inline code or styles


@pytest.mark.django_db(transaction=True)  # the desk moves after the check-in commits
def test_checking_in_from_the_portal_calls_the_service(member_browser, member, desk, devices, settings):
    settings.MQTT_OUTBOX_NUDGE = False  # no broker in this test: the commands stay queued for the bridge
    response = member_browser.post("/workspace/check-in/", {"desk": desk.pk})

    assert response.status_code == 302
    assert Command.objects.filter(acts_for=member).count() == 3
    live = member_browser.get("/workspace/live/").content.decode()
    assert f'data-device="{devices["desk"].device_id}"' in live
    assert 'data-state="queued"' in live


def test_out_of_range_preferences_are_refused_in_the_portal_and_publish_nothing(member_browser, member, desk, devices):
    member_browser.post("/workspace/check-in/", {"desk": desk.pk})
    rows = OutboxMessage.objects.count()

    response = member_browser.post(
        "/workspace/preferences/",
        {"desk_sit_height_mm": 2000, "desk_stand_height_mm": 1100, "temperature_c": "22.0", "fan_speed_pct": 40},
    )

    assert response.status_code == 400
    assert OutboxMessage.objects.count() == rows
    assert not Preference.objects.filter(person=member).exists()


def test_saving_preferences_while_checked_in_applies_them(member_browser, member, desk, devices):
    member_browser.post("/workspace/check-in/", {"desk": desk.pk})

    response = member_browser.post(
        "/workspace/preferences/",
        {"desk_sit_height_mm": 900, "desk_stand_height_mm": 1100, "temperature_c": "22.0", "fan_speed_pct": 40},
    )

    assert response.status_code == 302
    assert Command.objects.filter(device=devices["desk"]).order_by("-version").first().desired == {"height_mm": 900}


def test_the_live_panel_shows_only_my_own_desk(member_browser, colleague, desk, devices):
    from comfort import services

    services.workspace_check_in(person=colleague, desk=desk)

    live = member_browser.get("/workspace/live/").content.decode()

    assert devices["desk"].device_id not in live
    assert "Check in at a desk" in live


def test_the_workspace_needs_sign_in():
    assert Client().get("/workspace/").status_code == 302


@pytest.mark.parametrize("desk_value", ["abc", "", "1.5", "-3", "99999999999999999999"])
def test_a_malformed_or_unknown_desk_is_a_404_not_a_500(member_browser, desk, devices, desk_value):
    for url in ("/workspace/check-in/", "/workspace/check-out/"):
        response = member_browser.post(url, {"desk": desk_value})
        assert response.status_code == 404
    assert not Command.objects.exists()


def test_the_workspace_says_until_when_in_the_sites_zone_never_utc(member_browser, member, desk, devices):
    from datetime import UTC, datetime

    import time_machine

    from bookings.models import Booking

    with time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), tick=False):  # 09:00 in Copenhagen
        member_browser.post("/workspace/check-in/", {"desk": desk.pk})
        body = member_browser.get("/workspace/").content.decode()

    end = Booking.objects.get(organiser=member).end  # a walk-in holds the desk to the end of the local day
    assert end == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # midnight in Copenhagen, 23:00 UTC
    assert ">24:00</time> (Copenhagen time)" in body  # the end of today, not "00:00" (this morning's midnight)
    assert "UTC" not in body and "23:00" not in body


@pytest.mark.django_db(transaction=True)  # the desk moves after the check-in commits
def test_the_live_panel_reads_in_danish_down_to_the_device_states(member_browser, member, desk, devices, hvac):
    """The command's state, what the HVAC unit says it does and why the zone has its setpoint: all in Danish."""
    member_browser.post("/workspace/check-in/", {"desk": desk.pk})
    Command.objects.filter(acts_for=member).update(state="applied")
    hvac.reported = {**(hvac.reported or {}), "setpoint_c": 21.0, "current_temp_c": 23.5, "action": "cooling"}
    hvac.save(update_fields=["reported"])
    member_browser.cookies["django_language"] = "da"

    live = unescape(member_browser.get("/workspace/live/").content.decode())

    assert 'data-state="applied">Udført<' in live and ">Applied<" not in live
    assert "23.5 °C · køler" in live or "23,5 °C · køler" in live
    assert "Zonens indstillede temperatur: medianen af 1 indtjekket persons præference." in live
    member_browser.cookies["django_language"] = "en-gb"
    english = unescape(member_browser.get("/workspace/live/").content.decode())
    assert "Zone setpoint: the median of 1 checked-in person's preference." in english and "· cooling" in english


@pytest.mark.parametrize("posted", ["²", "9" * 5000, "", "1.0"])
def test_a_desk_that_is_not_a_plain_number_is_a_404_not_a_500(member_browser, devices, posted):
    # str.isdigit is True for "²" (int() refuses it) and int() refuses more than 4,300 digits
    assert member_browser.post("/workspace/check-in/", {"desk": posted}).status_code == 404
    assert member_browser.post("/workspace/check-out/", {"desk": posted}).status_code == 404
