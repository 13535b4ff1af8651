from io import StringIO

from comfort import demo
from comfort.models import Device, Preference
from tests.comfort.factories import DeskFactory


def test_seed_gives_each_desk_a_frame_each_zone_hvac_and_fan_and_people_preferences(site, zone, member, colleague):
    DeskFactory(zone=zone, label="A1")
    DeskFactory(zone=zone, label="A2")
    out = StringIO()

    demo.seed(site=site, stdout=out)

    assert Device.objects.filter(site=site, kind="desk").count() == 2
    assert Device.objects.filter(site=site, kind="hvac", zone=zone).count() == 1
    assert Device.objects.filter(site=site, kind="fan", zone=zone).count() == 1
    assert Preference.objects.filter(person__in=[member, colleague]).count() == 2
    for preference in Preference.objects.all():
        preference.full_clean()  # inside the contract's ranges
    assert "comfort: 4 devices" in out.getvalue()


def test_seed_is_idempotent(site, zone, member):
    DeskFactory(zone=zone, label="A1")
    demo.seed(site=site)
    Preference.objects.filter(person=member).update(fan_speed_pct=1)

    assert demo.seed(site=site) == {"devices": 0, "preferences": 0}
    assert Device.objects.count() == 3
    assert Preference.objects.get(person=member).fan_speed_pct == 1  # a person's own choice is kept
