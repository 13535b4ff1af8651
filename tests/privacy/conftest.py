"""A member with data in every app: bookings (own, and a colleague's they attend), preferences, badges (digital and a
card), a visit hosted, an access decision, consents, a calendar event they organised on a room's calendar."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from badges import services as badge_services
from badges.choices import BadgeKind, Channel, CredentialType
from bookings.models import CalendarFeed
from comfort.models import Preference
from labs.choices import Role
from labs.models import Consent
from tests.badges.factories import DoorFactory, DoorRuleFactory, make_reader
from tests.bookings.factories import BookingFactory, RoomFactory
from tests.factories import PersonFactory

CARD_UID = "04A1B2C3D4E5F6"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def subject(site, company):
    """The person whose data is exported and erased; names unlikely to appear anywhere else."""
    return PersonFactory(
        user__username="zebediah.quill",
        user__email="zebediah.quillfeather@acme.example",
        user__first_name="Zebediah",
        user__last_name="Quillfeather",
        phone="+45 1234 9876",
        job_title="Chief Vexillologist",
        role=Role.EMPLOYEE,
        company=company,
        site=site,
    )


@pytest.fixture
def world(subject, colleague, outsider, staff, site):
    now = timezone.now()
    room = RoomFactory(site=site)
    own = BookingFactory(
        room=room,
        organiser=subject,
        title="Zebediah's roadmap",
        attendees=[colleague.user.email],
        start=now + timedelta(days=1),
    )
    past = BookingFactory(
        room=room, organiser=subject, title="Old Quillfeather sync", start=now - timedelta(days=3), status="completed"
    )
    attended = BookingFactory(
        room=room,
        organiser=colleague,
        title="Colleague's private offsite",
        attendees=[subject.user.email, outsider.user.email],
        start=now + timedelta(days=2),
    )
    Preference.objects.create(person=subject, desk_sit_height_mm=777)
    CalendarFeed.objects.create(person=subject, token_digest="f" * 64)
    digital = badge_services.badge_issue(actor=staff, person=subject, kind=BadgeKind.DIGITAL)
    card = badge_services.badge_issue(actor=staff, person=subject, kind=BadgeKind.CARD, card_uid=CARD_UID)
    visit = badge_services.visit_create(
        host=subject,
        site=site,
        name="Visiting Vera Vistula",
        email="vera.vistula@guest.example",
        start=now + timedelta(hours=1),
        end=now + timedelta(hours=3),
    )
    door = DoorFactory(site=site)
    DoorRuleFactory(door=door)
    reader, _key = make_reader(door)
    badge_services.access_decide(
        reader=reader,
        reader_ref=reader.slug,
        credential_type=CredentialType.CARD,
        value=CARD_UID,
        channel=Channel.HTTP,
    )
    Consent.objects.create(person=subject, purpose="marketing", granted=True, text_version="v1", channel="portal")
    return {"own": own, "past": past, "attended": attended, "digital": digital, "card": card, "visit": visit}
