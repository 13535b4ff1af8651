"""My workspace in a real browser, with the whole loop running: the live server (web), the MQTT bridge and the
device simulator, on the embedded amqtt broker (no Mosquitto needed)."""

from decimal import Decimal

import pytest

from labs import mqtt
from tests.comfort import conftest as comfort_fixtures
from tests.comfort.conftest import live, sim_devices_for
from tests.comfort.factories import PreferenceFactory

pytestmark = pytest.mark.browser

# the comfort fixtures (a zone, a desk, its devices, the embedded broker), shared with tests/comfort
zone, desk, desk_device = comfort_fixtures.zone, comfort_fixtures.desk, comfort_fixtures.desk_device
hvac, fan, devices, amqtt_broker = (
    comfort_fixtures.hvac,
    comfort_fixtures.fan,
    comfort_fixtures.devices,
    comfort_fixtures.amqtt_broker,
)


@pytest.fixture
def embedded_mqtt(settings, amqtt_broker):
    """The web process (the live server) publishes after commit to the same broker as the bridge and the devices."""
    settings.MQTT_URL = amqtt_broker
    settings.MQTT_OUTBOX_NUDGE = True
    mqtt.publisher_close()
    yield amqtt_broker
    mqtt.publisher_close()


def test_checking_in_moves_my_desk_to_my_height_live_on_the_page(
    page, live_server, sign_in, member, password, desk, devices, embedded_mqtt
):
    PreferenceFactory(person=member, desk_sit_height_mm=1040, temperature_c=Decimal("21.0"), fan_speed_pct=55)
    # 350 mm/s: the move from 740 to 1040 mm takes about a second, so the page shows it happening
    with live(embedded_mqtt, sim_devices_for(devices.values(), speed_mm_s=350.0)):
        sign_in(page, live_server, "member", password)
        page.goto(f"{live_server.url}/workspace/")
        page.get_by_role("combobox", name="Desk").select_option(str(desk.pk))
        page.get_by_role("button", name="Check in").click()

        page.get_by_text(f"You are checked in at desk {desk.label}").wait_for()
        desk_panel = page.locator(f'[data-device="{devices["desk"].device_id}"]')
        # no reload: htmx polls the live panel and the height arrives
        desk_panel.locator('[data-field="height_mm"]', has_text="1040 mm").wait_for(timeout=15_000)
        desk_panel.locator('[data-state="applied"]').wait_for()
        page.locator('[data-field="setpoint_c"]', has_text="21.0 °C").wait_for()
        page.locator('[data-field="speed_pct"]', has_text="on at 55 %").wait_for()
    assert page.console_errors == []


@pytest.mark.parametrize(
    ("viewport", "locale", "desk_label", "check_in", "expected"),
    [
        ("phone", "da-DK", "Skrivebord", "Tjek ind", "er lukket"),
        ("desktop", "en-GB", "Desk", "Check in", "is closed on"),
    ],
)
def test_a_walk_in_on_a_closed_day_is_refused_with_the_reason_in_my_language(
    browser,
    live_server,
    transactional_db,
    member,
    password,
    desk,
    devices,
    tmp_path,
    viewport,
    locale,
    desk_label,
    check_in,
    expected,
):
    """The portal's door to a walk-in keeps the closed-day rule (bookings.services.rules.closure_check): the page says
    why, in the site's local day and the person's language, and nothing is booked or moved."""
    import os
    from pathlib import Path

    from django.utils import timezone

    from bookings.models import Booking, Closure
    from comfort.models import Command
    from tests.browser.conftest import DESKTOP, PHONE, sign_in

    today = timezone.localtime(timezone.now(), desk.site.tz).date()
    Closure.objects.create(site=desk.site, day=today, reason="Fire drill")
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE if viewport == "phone" else DESKTOP,
        locale=locale,
        timezone_id="Europe/Copenhagen",
    )
    page = context.new_page()
    try:
        if locale == "da-DK":  # the sign-in form in Danish, as this browser gets it
            page.goto(f"{live_server.url}/sign-in/")
            page.get_by_label("Brugernavn").fill("member")
            page.get_by_label("Adgangskode").fill(password)
            with page.expect_navigation():
                page.get_by_role("button", name="Log ind").click()
        else:
            sign_in(page, live_server, "member", password)
        page.goto(f"{live_server.url}/workspace/")
        page.get_by_role("combobox", name=desk_label).select_option(str(desk.pk))
        page.get_by_role("button", name=check_in, exact=True).click()
        alert = page.locator(".alert--error")
        alert.wait_for()
        text = alert.inner_text()
        assert expected in text and "Fire drill" in text and str(today.year) in text
        assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
        shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"workspace-closed-{viewport}-{locale}.png"), full_page=True)
    finally:
        context.close()
    assert not Booking.objects.filter(desk=desk).exists() and not Command.objects.exists()
