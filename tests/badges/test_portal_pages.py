"""Portal pages: my badge (and its QR fragment), visitors, reception, the visitor's emailed badge page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client

from badges import selectors, services
from badges.models import Visit
from tests.badges.conftest import MONDAY
from tests.badges.factories import code_at
from tests.factories import PersonFactory
from tests.sign_in import signed_in

pytestmark = pytest.mark.django_db

START = MONDAY + timedelta(hours=2)


@pytest.fixture
def member_web(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def staff_web(client, staff):
    return signed_in(client, staff)


def test_my_badge_shows_the_current_code_as_an_svg_qr(frozen, member_web, member_badge):
    html = member_web.get("/badge/").content.decode()
    code = code_at(member_badge, MONDAY)
    assert f'data-code="{code}"' in html and "<svg" in html and 'class="qr__svg"' in html
    assert 'hx-get="/badge/qr/"' in html and "every 5s" in html
    assert "<script>" not in html and "style=" not in html  # the CSP allows neither inline


def test_my_badges_dates_are_written_in_the_readers_language(frozen, member_web, member, member_badge):
    """Days in words go through labs.dates: "2. mar. 2026" in Danish, "2 Mar 2026" in English (not "2 marts 2026")."""
    member_badge.valid_until = MONDAY + timedelta(days=30)
    member_badge.save(update_fields=["valid_until"])
    member.membership_ends_on = (MONDAY + timedelta(days=60)).date()
    member.save(update_fields=["membership_ends_on"])
    english = member_web.get("/badge/").content.decode()
    assert "2 Mar 2026, 09:00" in english and "1 Apr 2026, 09:00" in english
    member_web.cookies["django_language"] = "da"
    danish = member_web.get("/badge/").content.decode()
    assert "2. mar. 2026, 09:00" in danish and "1. apr. 2026, 09:00" in danish
    assert "1. maj 2026" in member_web.get("/").content.decode()


def test_the_qr_fragment_follows_the_steps(frozen, member_web, member_badge):
    first = member_web.get("/badge/qr/")
    assert first.status_code == 200 and "no-store" in first["Cache-Control"]
    frozen.shift(30)
    second = member_web.get("/badge/qr/").content.decode()
    assert code_at(member_badge, MONDAY + timedelta(seconds=30)) in second
    assert code_at(member_badge, MONDAY) not in second


def test_the_qr_fragment_asks_for_the_next_code_as_its_step_ends(frozen, member_web, member_badge):
    frozen.move_to(MONDAY + timedelta(seconds=12.5))
    html = member_web.get("/badge/qr/").content.decode()
    assert 'hx-trigger="load delay:17500ms, every 5s, refresh"' in html
    assert 'data-valid-ms="22500"' in html  # 17.5 s of its step and the 5 s grace


def test_a_phone_refreshing_as_the_page_says_always_shows_a_code_the_reader_takes(
    frozen, member_web, member_badge, main_reader
):
    """The phone shows each code until the fetch it was told to make (plus a second of latency): every moment of
    that, a reader accepts the code on screen, and never twice at one reader."""
    import re

    from tests.badges.conftest import decide

    frozen.move_to(MONDAY + timedelta(seconds=7.3))
    for _ in range(4):
        html = member_web.get("/badge/qr/").content.decode()
        code = re.search(r'data-code="([^"]+)"', html).group(1)
        refresh_ms = int(re.search(r"load delay:(\d+)ms", html).group(1))
        frozen.shift(refresh_ms / 1000 + 1.0)  # the phone fetches late, by a second of network and rendering
        decision = decide(main_reader, code)
        assert (decision.allow, decision.reason) == (True, "ok")
        assert decide(main_reader, code).reason == "replayed"


def test_without_a_badge_the_page_says_so(member_web):
    assert "You have no badge yet" in member_web.get("/badge/").content.decode()


def test_a_revoked_badge_shows_no_code(frozen, staff, member_web, member_badge):
    services.badge_revoke(actor=staff, badge=member_badge)
    html = member_web.get("/badge/").content.decode()
    assert "cannot open doors now (revoked)" in html and "data-code" not in html


def test_the_badge_pages_need_a_sign_in(client):
    for url in ("/badge/", "/badge/qr/", "/visitors/", "/reception/"):
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in/" in response["Location"]


def test_a_host_invites_a_visitor_in_local_time(frozen, member_web, site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = member_web.post(
            "/visitors/",
            {"name": "Vera", "email": "vera@guests.example", "site": site.pk, "start": "2026-03-02T11:00",
             "end": "2026-03-02T14:00", "purpose": "Lunch"},
        )  # fmt: skip
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert visit.start == START and visit.end == START + timedelta(hours=3)
    assert mail.outbox[0].to == ["vera@guests.example"]
    html = member_web.get("/visitors/").content.decode()
    assert (
        "Vera" in html and "11:00" in html and "Cancel" in html and "Check out" not in html
    )  # never arrived: cancel, not check out


def test_the_invite_form_proposes_the_next_quarter_hour_in_local_time(frozen, member_web):
    html = member_web.get("/visitors/").content.decode()
    assert 'value="2026-03-02T09:15"' in html and 'value="2026-03-02T11:15"' in html  # 09:00 local now


def test_an_open_ended_or_too_long_visit_is_refused_on_the_page(frozen, member_web, site):
    base = {"name": "Vera", "email": "vera@guests.example", "site": site.pk, "start": "2026-03-02T11:00"}
    assert member_web.post("/visitors/", {**base, "end": ""}).status_code == 400
    response = member_web.post("/visitors/", {**base, "end": "2026-03-03T12:00"})
    assert response.status_code == 400 and "24 hours" in response.content.decode()
    danish = member_web.post("/visitors/", {**base, "end": "2026-03-03T12:00"}, HTTP_ACCEPT_LANGUAGE="da")
    assert danish.status_code == 400 and "Højst 24 timer efter starten." in danish.content.decode()
    assert not Visit.objects.exists()


def test_a_visitor_account_cannot_invite(site, client):
    guest = PersonFactory(role="visitor", site=site, company=None)
    client.force_login(guest.user)
    assert client.get("/visitors/").status_code == 403


def test_the_host_checks_out_from_the_page_and_others_get_404(frozen, member, member_web, site, outsider):
    visit = services.visit_create(host=member, site=site, name="V", email="v@x.example", start=START,
                                  end=START + timedelta(hours=1))  # fmt: skip
    from django.test import Client

    other = Client()
    other.force_login(outsider.user)
    assert other.post(f"/visitors/{visit.pk}/check-out/").status_code == 404
    assert other.post(f"/visitors/{visit.pk}/cancel/").status_code == 404
    refused = member_web.post(f"/visitors/{visit.pk}/check-out/")  # never arrived: 409, and the page says why
    assert refused.status_code == 409 and 'data-error-code="not_arrived"' in refused.content.decode()
    Visit.objects.filter(pk=visit.pk).update(checked_in_at=START)
    assert member_web.post(f"/visitors/{visit.pk}/check-out/").status_code == 302
    visit.refresh_from_db()
    assert visit.checked_out_at is not None


def test_reception_lists_todays_visitors_and_checks_them_in(frozen, member, staff_web, site, settings):
    settings.SESSION_IDLE_STAFF = timedelta(hours=3)  # the reception page stays open while the clock jumps ahead
    today = services.visit_create(host=member, site=site, name="Today Visitor", email="t@x.example", start=START,
                                  end=START + timedelta(hours=1))  # fmt: skip
    services.visit_create(host=member, site=site, name="Tomorrow Visitor", email="m@x.example",
                          start=START + timedelta(days=1), end=START + timedelta(days=1, hours=1))  # fmt: skip
    html = staff_web.get("/reception/").content.decode()
    assert "Today Visitor" in html and "Tomorrow Visitor" not in html
    frozen.move_to(START - timedelta(minutes=10))
    assert staff_web.post(f"/reception/{today.pk}/check-in/").status_code == 302
    today.refresh_from_db()
    assert today.checked_in_at is not None


def test_reception_offers_check_in_only_from_half_an_hour_before_the_visit(frozen, member, staff_web, site, settings):
    """Before its window a visit says when check-in opens, instead of a button that answers 409."""
    settings.SESSION_IDLE_STAFF = timedelta(hours=6)  # the reception page stays open while the clock moves on
    visit = services.visit_create(host=member, site=site, name="Early Visitor", email="e@x.example",
                                  start=START + timedelta(hours=2), end=START + timedelta(hours=3))  # fmt: skip
    check_in = f'action="/reception/{visit.pk}/check-in/"'

    html = staff_web.get("/reception/").content.decode()
    assert check_in not in html
    opens = (START + timedelta(hours=1, minutes=30)).astimezone(site.tz).strftime("%H:%M")
    assert f"Check-in opens {opens}" in html

    frozen.move_to(START + timedelta(hours=1, minutes=30))
    html = staff_web.get("/reception/").content.decode()
    assert check_in in html and "Check-in opens" not in html


def test_only_staff_see_reception(member_web):
    assert member_web.get("/reception/").status_code == 403


def test_the_visitors_emailed_page_shows_their_rotating_code(frozen, member, site, client):
    visit = services.visit_create(host=member, site=site, name="Vera", email="v@x.example", start=START,
                                  end=START + timedelta(hours=1))  # fmt: skip
    badge = visit.badges.get()
    token = selectors.visitor_badge_token(badge)
    frozen.move_to(START)
    html = client.get(f"/visitor-badge/{token}/").content.decode()
    assert "Welcome, Vera" in html and f'data-code="{code_at(badge, START)}"' in html
    assert client.get(f"/visitor-badge/{token}/qr/").status_code == 200
    assert client.get(f"/visitor-badge/{token}x/").status_code == 404
    assert client.get("/visitor-badge/forged/").status_code == 404
    services.visit_cancel(actor=member, visit=visit)
    assert "data-code" not in client.get(f"/visitor-badge/{token}/").content.decode()


def test_the_nav_shows_badge_and_visitors_and_reception_only_to_staff(member_web, staff, client):
    html = member_web.get("/").content.decode()
    assert 'href="/badge/"' in html and 'href="/visitors/"' in html and 'href="/reception/"' not in html
    staff_client = signed_in(Client(), staff)
    assert 'href="/reception/"' in staff_client.get("/").content.decode()


# --- times in the site's zone, named; never UTC ----------------------------------------------------------------


def test_my_badge_shows_its_validity_in_the_sites_zone(frozen, member_web, member_badge):
    html = member_web.get("/badge/").content.decode()
    local_from = member_badge.valid_from.astimezone(MONDAY.tzinfo)
    assert f"{local_from:%H:%M}" in html and "Copenhagen time" in html and "UTC" not in html


def test_the_visitors_page_is_in_the_visits_zone_without_an_account(frozen, member, client):
    """A visitor is not signed in: the page takes the zone from the visit's site (Tokyo here, not the host's)."""
    from tests.factories import SiteFactory

    tokyo = SiteFactory(slug="tyo", name="Tokyo", timezone="Asia/Tokyo")
    start = MONDAY + timedelta(hours=3)  # 12:00 in Copenhagen = 20:00 in Tokyo
    visit = services.visit_create(host=member, site=tokyo, name="Yui", email="y@x.example", start=start,
                                  end=start + timedelta(hours=1))  # fmt: skip
    token = selectors.visitor_badge_token(visit.badges.get())
    html = client.get(f"/visitor-badge/{token}/").content.decode()
    assert 'Monday 2 March 2026, 20:00 <span class="muted">Tokyo time</span>' in html
    assert "21:00" in html and "12:00" not in html and "UTC" not in html
    danish = client.get(f"/visitor-badge/{token}/", HTTP_ACCEPT_LANGUAGE="da").content.decode()
    assert "mandag den 2. marts 2026, 20:00" in danish  # Danish writes "den" and a full stop (labs.dates)


def test_reception_and_visitors_name_the_zone_of_the_times(frozen, member, member_web, staff, site):
    from django.test import Client

    services.visit_create(host=member, site=site, name="Vera", email="v@x.example", start=START,
                          end=START + timedelta(hours=1))  # fmt: skip
    staff_web = signed_in(Client(), staff)
    reception = staff_web.get("/reception/").content.decode()
    assert "times in Copenhagen time" in reception and "11:00–12:00" in reception and "UTC" not in reception
    visitors = member_web.get("/visitors/").content.decode()
    assert "Mon 2 Mar, 11:00–12:00" in visitors and "UTC" not in visitors


def test_a_visit_past_midnight_shows_the_day_it_ends(frozen, member, member_web, site):
    late = MONDAY.replace(hour=23)
    services.visit_create(host=member, site=site, name="Nat", email="n@x.example", start=late,
                          end=late + timedelta(hours=2))  # fmt: skip
    assert "Mon 2 Mar, 23:00–Tue 3 Mar, 01:00" in member_web.get("/visitors/").content.decode()
