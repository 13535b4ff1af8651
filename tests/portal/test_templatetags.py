"""portal_time: a site's zone named as a person reads it."""

import zoneinfo

import pytest

from portal.templatetags.portal_time import zone_name
from tests.factories import SiteFactory


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("Europe/Copenhagen", "Copenhagen time"),
        ("America/New_York", "New York time"),
        ("America/Argentina/Buenos_Aires", "Buenos Aires time"),
        ("UTC", "UTC"),
        ("Etc/GMT-1", "GMT-1"),
    ],
)
def test_a_zone_is_named_by_its_city(key, name):
    assert zone_name(key) == name
    assert zone_name(zoneinfo.ZoneInfo(key)) == name


def test_a_site_is_named_by_its_zone(db):
    assert zone_name(SiteFactory(timezone="Asia/Tokyo")) == "Tokyo time"
