"""Core domain: where things are (sites, floors, zones) and who people are (companies, persons and their roles)."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from labs import privacy
from labs.choices import COMPANY_ROLES, REPRESENTATIVE_ROLE_FOR_KIND, CompanyKind, Role
from labs.privacy import Category, LegalBasis, PersonalData, Purpose
from labs.validators import validate_single_line


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            gettext("%(value)s is not an IANA time zone.") % {"value": repr(value)}, code="invalid_time_zone"
        ) from None


class Site(models.Model):
    """A building or campus the operator runs; every local time is shown in its IANA time zone."""

    slug = models.SlugField(unique=True, max_length=40, verbose_name=gettext_lazy("slug"))
    name = models.CharField(max_length=120, validators=[validate_single_line], verbose_name=gettext_lazy("name"))
    timezone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        default="Europe/Copenhagen",
        verbose_name=gettext_lazy("timezone"),
    )
    address = models.CharField(
        max_length=255, blank=True, validators=[validate_single_line], verbose_name=gettext_lazy("address")
    )
    check_in_grace_minutes = models.PositiveSmallIntegerField(
        default=10,
        help_text=gettext_lazy("A booking not checked in this long after its start is released."),
        verbose_name=gettext_lazy("check in grace minutes"),
    )
    house_rules = models.TextField(
        gettext_lazy("house rules"),
        blank=True,
        help_text=gettext_lazy(
            "Shown on the reception kiosk; a walk-in visitor accepts them before registering. Empty: none."
        ),
    )

    class Meta:
        verbose_name = gettext_lazy("site")
        verbose_name_plural = gettext_lazy("sites")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Floor(models.Model):
    """One level of a site."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="floors", verbose_name=gettext_lazy("site"))
    level = models.SmallIntegerField(verbose_name=gettext_lazy("level"))
    name = models.CharField(max_length=80, validators=[validate_single_line], verbose_name=gettext_lazy("name"))
    plan_svg = models.TextField(
        blank=True,
        help_text=gettext_lazy(
            "The floor plan: an SVG drawing, sanitised on upload (labs.floor_plans); empty: no plan."
        ),
        verbose_name=gettext_lazy("plan SVG"),
    )

    class Meta:
        verbose_name = gettext_lazy("floor")
        verbose_name_plural = gettext_lazy("floors")
        ordering = ["site", "level"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "level"],
                name="floor_unique_level_per_site",
                violation_error_message=gettext_lazy("This site already has a floor at that level."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site.slug} {self.name}"


class Zone(models.Model):
    """An area of a floor served by one HVAC zone; desks sit in zones."""

    floor = models.ForeignKey(Floor, on_delete=models.CASCADE, related_name="zones", verbose_name=gettext_lazy("floor"))
    slug = models.SlugField(max_length=40, verbose_name=gettext_lazy("slug"))
    name = models.CharField(max_length=80, validators=[validate_single_line], verbose_name=gettext_lazy("name"))
    default_setpoint_c = models.DecimalField(
        max_digits=3, decimal_places=1, default=22, verbose_name=gettext_lazy("default setpoint c")
    )

    class Meta:
        verbose_name = gettext_lazy("zone")
        verbose_name_plural = gettext_lazy("zones")
        ordering = ["floor", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["floor", "slug"],
                name="zone_unique_slug_per_floor",
                violation_error_message=gettext_lazy("This floor already has a zone with that slug."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.floor} / {self.name}"

    @property
    def site(self) -> Site:
        return self.floor.site


class Company(models.Model):
    """A business member, partner or sponsor organisation; its people see only its own objects."""

    name = models.CharField(max_length=160, validators=[validate_single_line], verbose_name=gettext_lazy("name"))
    kind = models.CharField(max_length=20, choices=CompanyKind.choices, verbose_name=gettext_lazy("kind"))
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="companies", verbose_name=gettext_lazy("site")
    )
    is_active = models.BooleanField(default=True, verbose_name=gettext_lazy("is active"))

    class Meta:
        verbose_name = gettext_lazy("company")
        verbose_name_plural = gettext_lazy("companies")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "name"],
                name="company_unique_name_per_site",
                violation_error_message=gettext_lazy("A company with this name already exists at the site."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """A person known to the operator: a user account with a role, and the company they belong to if any."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person", verbose_name=gettext_lazy("user")
    )
    role = models.CharField(max_length=20, choices=Role.choices, verbose_name=gettext_lazy("role"))
    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="people",
        verbose_name=gettext_lazy("company"),
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="people", verbose_name=gettext_lazy("site"))
    phone = models.CharField(
        max_length=32, blank=True, validators=[validate_single_line], verbose_name=gettext_lazy("phone")
    )
    job_title = models.CharField(
        max_length=120, blank=True, validators=[validate_single_line], verbose_name=gettext_lazy("job title")
    )
    membership_ends_on = models.DateField(null=True, blank=True, verbose_name=gettext_lazy("membership ends on"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=gettext_lazy("created at"))
    erased_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=gettext_lazy("When the person's data was erased (labs.erasure)."),
        verbose_name=gettext_lazy("erased at"),
    )

    class Meta:
        verbose_name = gettext_lazy("person")
        verbose_name_plural = gettext_lazy("people")
        ordering = ["user__last_name", "user__first_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=sorted(COMPANY_ROLES), company__isnull=False)
                | (~Q(role__in=sorted(COMPANY_ROLES)) & Q(company__isnull=True)),
                name="person_company_matches_role",
                violation_error_message=gettext_lazy(
                    "Employees and representatives belong to a company; others to none."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    @property
    def is_staff_role(self) -> bool:
        return self.role == Role.STAFF

    def clean(self) -> None:
        # The account's names are the person's: one line each, whichever door set them (admin, API, portal).
        user = self.user if self.user_id else None
        if user is not None:
            errors = {}
            for field in ("first_name", "last_name"):
                try:
                    validate_single_line(getattr(user, field))
                except ValidationError as exc:
                    errors[field] = exc.messages
            if errors:
                raise ValidationError(errors)
        if self.role in COMPANY_ROLES and self.company_id is None:
            raise ValidationError({"company": gettext_lazy("This role belongs to a company.")}, code="company_required")
        if self.role not in COMPANY_ROLES and self.company_id is not None:
            raise ValidationError({"company": gettext_lazy("This role has no company.")}, code="company_not_allowed")
        if self.company_id and self.role != Role.EMPLOYEE:
            expected = REPRESENTATIVE_ROLE_FOR_KIND[self.company.kind]
            if self.role != expected:
                raise ValidationError(
                    {
                        "role": gettext("A representative of a %(kind)s has the role %(role)s.")
                        % {"kind": self.company.get_kind_display(), "role": expected.label}
                    },
                    code="role_kind_mismatch",
                )


class SignInCounter(models.Model):
    """Failed sign-ins in one time window for one key (a username+IP pair, or an IP); incremented atomically."""

    scope = models.CharField(max_length=16, verbose_name=gettext_lazy("scope"))  # "user_ip" or "ip"
    # SHA-256 of the key: no username or IP stored in clear
    key_digest = models.CharField(max_length=64, verbose_name=gettext_lazy("key digest"))
    window_start = models.DateTimeField(verbose_name=gettext_lazy("window start"))
    failures = models.PositiveIntegerField(default=0, verbose_name=gettext_lazy("failures"))

    class Meta:
        verbose_name = gettext_lazy("sign-in counter")
        verbose_name_plural = gettext_lazy("sign-in counters")
        constraints = [
            models.UniqueConstraint(fields=["scope", "key_digest", "window_start"], name="signin_counter_unique"),
        ]
        indexes = [models.Index(fields=["window_start"])]

    def __str__(self) -> str:
        return f"{self.scope} {self.key_digest[:8]}: {self.failures}"


_MEMBERSHIP = "while the membership or contract lasts, then deleted within 30 days"
privacy.declare(
    "auth.User",
    username=PersonalData(
        Category.CONTACT_PROFESSIONAL,
        (Purpose.IDENTIFY_CONTACT, Purpose.SECURITY),
        LegalBasis.CONTRACT,
        _MEMBERSHIP,
        30,
    ),
    first_name=PersonalData(
        Category.CONTACT_PROFESSIONAL,
        (Purpose.IDENTIFY_CONTACT, Purpose.ISSUE_BADGE, Purpose.COMMUNITY),
        LegalBasis.CONTRACT,
        _MEMBERSHIP,
        30,
    ),
    last_name=PersonalData(
        Category.CONTACT_PROFESSIONAL,
        (Purpose.IDENTIFY_CONTACT, Purpose.ISSUE_BADGE, Purpose.COMMUNITY),
        LegalBasis.CONTRACT,
        _MEMBERSHIP,
        30,
    ),
    email=PersonalData(
        Category.CONTACT_PROFESSIONAL,
        (Purpose.IDENTIFY_CONTACT, Purpose.SECURITY),
        LegalBasis.CONTRACT,
        _MEMBERSHIP,
        30,
    ),
    password=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.SECURITY,),
        LegalBasis.LEGITIMATE_INTEREST,
        "hashed; deleted with the account",
        0,
    ),
    last_login=PersonalData(
        Category.DEVICE_USAGE, (Purpose.SECURITY,), LegalBasis.LEGITIMATE_INTEREST, "deleted with the account", 0
    ),
)
privacy.declare(
    Person,
    phone=PersonalData(
        Category.CONTACT_PROFESSIONAL, (Purpose.IDENTIFY_CONTACT,), LegalBasis.CONTRACT, _MEMBERSHIP, 30
    ),
    job_title=PersonalData(
        Category.CONTACT_PROFESSIONAL,
        (Purpose.IDENTIFY_CONTACT, Purpose.COMMUNITY),
        LegalBasis.CONTRACT,
        _MEMBERSHIP,
        30,
    ),
    role=PersonalData(
        Category.CONTACT_PROFESSIONAL,
        (Purpose.IDENTIFY_CONTACT, Purpose.ISSUE_BADGE),
        LegalBasis.CONTRACT,
        _MEMBERSHIP,
        30,
    ),
    membership_ends_on=PersonalData(
        Category.CONTACT_PROFESSIONAL, (Purpose.ISSUE_BADGE, Purpose.SECURITY), LegalBasis.CONTRACT, _MEMBERSHIP, 30
    ),
)
privacy.not_personal(
    Site, name="a building's name", address="a building's street address", house_rules="the site's rules for visitors"
)
privacy.not_personal(Floor, name="a floor's name", plan_svg="a drawing of the floor")
privacy.not_personal(Zone, name="a zone's name")
privacy.not_personal(Company, name="an organisation's name, not a person's")
privacy.declare(
    SignInCounter,
    key_digest=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.SECURITY,),
        LegalBasis.LEGITIMATE_INTEREST,
        "a SHA-256 digest of a username and IP, an IP or a username; purged one day after its window",
        1,
    ),
)
# Two-factor authenticators (TOTP, django-otp; required for staff): the shared secret and when it was last used.
_WHILE_THE_ACCOUNT_EXISTS = "while the account exists; deleted with it or when staff remove the authenticator"
privacy.declare(
    "otp_totp.TOTPDevice",
    key=PersonalData(
        Category.CONTACT_VERIFICATION, (Purpose.SECURITY,), LegalBasis.LEGITIMATE_INTEREST, _WHILE_THE_ACCOUNT_EXISTS
    ),
    last_used_at=PersonalData(
        Category.DEVICE_USAGE, (Purpose.SECURITY,), LegalBasis.LEGITIMATE_INTEREST, _WHILE_THE_ACCOUNT_EXISTS
    ),
)


class OutboxMessage(models.Model):
    """An MQTT message written in the same transaction as the change it announces; the bridge publishes it.

    A row exists only if its transaction committed, and it stays unsent until a broker acknowledged it (PUBACK), so
    nothing is published for a rolled-back change and nothing is lost if a process dies between commit and publish.
    """

    topic = models.CharField(max_length=255, verbose_name=gettext_lazy("topic"))
    payload = models.JSONField(verbose_name=gettext_lazy("payload"))
    qos = models.PositiveSmallIntegerField(
        default=1, choices=[(0, "0"), (1, "1"), (2, "2")], verbose_name=gettext_lazy("QoS")
    )
    retain = models.BooleanField(default=False, verbose_name=gettext_lazy("retain"))
    created_at = models.DateTimeField(default=dj_timezone.now, verbose_name=gettext_lazy("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("sent at"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=gettext_lazy("attempts"))
    last_error = models.CharField(max_length=255, blank=True, verbose_name=gettext_lazy("last error"))

    class Meta:
        verbose_name = gettext_lazy("outbox message")
        verbose_name_plural = gettext_lazy("outbox messages")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(sent_at__isnull=True), name="outbox_unsent_idx"),
            models.Index(fields=["sent_at"], name="outbox_sent_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} ({gettext('sent') if self.sent_at else gettext('pending')})"


privacy.declare(
    OutboxMessage,
    payload=PersonalData(
        Category.OFFICE_PREFERENCES,
        (Purpose.TAILOR_WORKSPACE,),
        LegalBasis.CONTRACT,
        "a device command (e.g. a person's desk height); deleted one day after it was sent",
        1,
    ),
)
privacy.not_personal(OutboxMessage, last_error="a transport error message, e.g. 'not connected'")


class MqttCredential(models.Model):
    """The MQTT identity of one device or badge reader: its username (= client id = device id or reader slug), the
    site and kind its topics name, and the hash of the password the backend issued (labs/mqtt_credentials.py).

    It also counts the messages the bridge dropped from this identity (labs/mqtt_payloads.py): a device sending
    garbage shows up here and in the admin instead of in tracebacks."""

    KINDS = [(kind, kind) for kind in ("desk", "hvac", "fan", "reader")]

    username = models.SlugField(
        max_length=64,
        unique=True,
        help_text=gettext_lazy("Also the MQTT client id and the topic's {id}."),
        verbose_name=gettext_lazy("username"),
    )
    site = models.SlugField(
        max_length=64,
        help_text=gettext_lazy("The {site} segment of the identity's topics."),
        verbose_name=gettext_lazy("site"),
    )
    kind = models.CharField(max_length=8, choices=KINDS, verbose_name=gettext_lazy("kind"))
    secret_hash = models.CharField(max_length=128, editable=False, verbose_name=gettext_lazy("secret hash"))
    issued_at = models.DateTimeField(verbose_name=gettext_lazy("issued at"))
    dropped_messages = models.PositiveBigIntegerField(
        default=0, editable=False, verbose_name=gettext_lazy("dropped messages")
    )
    last_drop_reason = models.CharField(
        max_length=160, blank=True, editable=False, verbose_name=gettext_lazy("last drop reason")
    )
    last_dropped_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=gettext_lazy("last dropped at")
    )

    class Meta:
        verbose_name = gettext_lazy("MQTT credential")
        verbose_name_plural = gettext_lazy("MQTT credentials")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username


privacy.not_personal(
    MqttCredential,
    username="a device's or badge reader's id (its MQTT username), not a person's",
    secret_hash="the hash of a machine's random MQTT password",  # noqa: S106 - a description, not a secret
    last_drop_reason="why a device's message was refused, e.g. 'schema: data.av must be integer'",
)


# --- Data-subject rights: consents, erasures, staff access to personal data -----------------------------------


class ConsentPurpose(models.TextChoices):
    """What a person consents to, in the words the portal shows them (in their language: consent is informed)."""

    MARKETING = "marketing", gettext_lazy("Marketing: news, offers and events by email")
    COMMUNITY = (
        "community",
        gettext_lazy("Community: show my name and job title to other members in the community directory"),
    )
    PERSONALISATION = (
        "personalisation",
        gettext_lazy("Personalisation: suggest the desk I book most, from my past bookings"),
    )


class ConsentChannel(models.TextChoices):
    PORTAL = "portal", gettext_lazy("Portal")
    API = "api", gettext_lazy("API")
    ADMIN = "admin", gettext_lazy("Admin (on the person's request)")


class Consent(models.Model):
    """One grant or withdrawal of consent to one purpose: append-only, so the rows are the history and the latest
    row per purpose is the person's current choice. ``text_version`` names the consent text the person saw."""

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="consents", verbose_name=gettext_lazy("person")
    )
    purpose = models.CharField(max_length=20, choices=ConsentPurpose.choices, verbose_name=gettext_lazy("purpose"))
    granted = models.BooleanField(verbose_name=gettext_lazy("granted"))
    text_version = models.CharField(max_length=20, verbose_name=gettext_lazy("text version"))
    channel = models.CharField(max_length=10, choices=ConsentChannel.choices, verbose_name=gettext_lazy("channel"))
    at = models.DateTimeField(default=dj_timezone.now, verbose_name=gettext_lazy("at"))

    class Meta:
        verbose_name = gettext_lazy("consent")
        verbose_name_plural = gettext_lazy("consents")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["person", "purpose", "-at"], name="consent_person_purpose_idx")]

    def __str__(self) -> str:
        state = gettext("granted") if self.granted else gettext("withdrawn")
        return f"{self.person_id} {self.get_purpose_display()} {state}"


class ErasureLog(models.Model):
    """An erasure that happened: the person's id and the pseudonym that replaced them, and when. No identifier, so it
    may outlive the person; ``manage.py replay_erasures`` runs every logged erasure again on a restored backup."""

    person_id = models.BigIntegerField(db_index=True, verbose_name=gettext_lazy("person ID"))
    pseudonym = models.CharField(max_length=40, verbose_name=gettext_lazy("pseudonym"))
    erased_at = models.DateTimeField(default=dj_timezone.now, verbose_name=gettext_lazy("erased at"))
    by_staff = models.BooleanField(
        default=False,
        help_text=gettext_lazy("Erased by staff on the person's request."),
        verbose_name=gettext_lazy("by staff"),
    )

    class Meta:
        verbose_name = gettext_lazy("erasure log")
        verbose_name_plural = gettext_lazy("erasure logs")
        ordering = ["erased_at", "id"]

    def __str__(self) -> str:
        return gettext("%(pseudonym)s at %(at)s") % {
            "pseudonym": self.pseudonym,
            "at": f"{dj_timezone.localtime(self.erased_at):%Y-%m-%d %H:%M}",
        }


class PersonalDataAccess(models.Model):
    """Staff looked at another person's personal data: who, whose, through which door, when."""

    actor = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=gettext_lazy("actor")
    )
    subject = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=gettext_lazy("subject")
    )
    door = models.CharField(
        max_length=40,
        help_text=gettext_lazy("e.g. api.people.detail, api.people.export, admin.person.change"),
        verbose_name=pgettext_lazy("the route personal data was read through", "door"),
    )
    at = models.DateTimeField(default=dj_timezone.now, db_index=True, verbose_name=gettext_lazy("at"))

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = gettext_lazy("personal data access")
        verbose_name_plural = gettext_lazy("personal data accesses")

    def __str__(self) -> str:
        return gettext("%(actor)s read %(subject)s via %(door)s") % {
            "actor": self.actor_id,
            "subject": self.subject_id,
            "door": self.door,
        }


_CONSENT = PersonalData(
    Category.OTHER,
    (Purpose.MARKETING, Purpose.COMMUNITY, Purpose.TAILOR_WORKSPACE),
    LegalBasis.CONSENT,
    "while the account exists (proof of consent); deleted with it",
)
privacy.declare(Consent, purpose=_CONSENT, granted=_CONSENT, text_version=_CONSENT, at=_CONSENT, channel=_CONSENT)
privacy.not_personal(ErasureLog, pseudonym="a random pseudonym that replaced the person's identifiers")
privacy.declare(
    PersonalDataAccess,
    at=PersonalData(
        Category.DEVICE_USAGE,
        (Purpose.SECURITY,),
        LegalBasis.LEGITIMATE_INTEREST,
        "a log of staff reading another person's data; purged 365 days after",
        365,
    ),
)
privacy.declare(
    Person,
    erased_at=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.SECURITY,),
        LegalBasis.LEGAL_OBLIGATION,
        "kept with the pseudonymised record that the law requires to keep (audit rows point to it)",
    ),
)

# Declared before the product processes them (privacy.declare_planned): the policy lists them, so the record of
# processing does too, and the field checks cover the models the day they are written.
privacy.declare_planned(
    "payments.Payment",
    "no payments yet: the product takes no payment; declared now so the first payment model is covered",
    payer=PersonalData(
        Category.PAYMENT,
        (Purpose.PAYMENT,),
        LegalBasis.CONTRACT,
        "the bookkeeping law's 5 years after the financial year, then deleted",
        5 * 365 + 365,
    ),
    amount=PersonalData(
        Category.PAYMENT, (Purpose.PAYMENT,), LegalBasis.CONTRACT, "5 years after the financial year", 5 * 365 + 365
    ),
    card_last4=PersonalData(
        Category.PAYMENT,
        (Purpose.PAYMENT,),
        LegalBasis.CONTRACT,
        "only the last 4 digits (the payment provider holds the card); 5 years after the financial year",
        5 * 365 + 365,
    ),
)
privacy.declare_planned(
    "events.Attendance",
    "no events yet: the product does not run events or programmes; declared now so the first events model is covered",
    person=PersonalData(
        Category.OTHER,
        (Purpose.DELIVER_SERVICES, Purpose.COMMUNITY, Purpose.MARKETING),
        LegalBasis.CONTRACT,
        "while the membership lasts, then deleted within 30 days",
        30,
    ),
    programme=PersonalData(
        Category.OTHER,
        (Purpose.DELIVER_SERVICES, Purpose.MARKETING),
        LegalBasis.CONSENT,
        "while the membership lasts, then deleted within 30 days",
        30,
    ),
)
