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
