"""Badges, doors, readers, visits and the append-only audit log of access decisions."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from badges.choices import LIVE_STATUSES, BadgeKind, BadgeStatus, Channel, CredentialType, Reason, Weekday
from labs import privacy
from labs.choices import Role
from labs.privacy import Category, LegalBasis, PersonalData, Purpose
from labs.validators import validate_single_line

VISIT_MAX_LENGTH = timedelta(hours=24)
VISIT_EARLY_ENTRY = timedelta(minutes=30)
VISIT_RETENTION_DAYS = 30
VISIT_STATE_LABELS = {
    "expected": gettext_lazy("Expected"),
    "checked_in": gettext_lazy("Checked in"),
    "checked_out": gettext_lazy("Checked out"),
    "ended": gettext_lazy("Ended"),
    "cancelled": gettext_lazy("Cancelled"),
}
AUDIT_RETENTION_DAYS = 365  # also written into the append-only triggers (migration 0002)
ALL_WEEKDAYS = [day.value for day in Weekday]


def all_weekdays() -> list[int]:
    return list(ALL_WEEKDAYS)


class Door(models.Model):
    """A door (or gate, turnstile) of a site; who may pass it when is decided by its rules."""

    site = models.ForeignKey(
        "labs.Site", on_delete=models.PROTECT, related_name="doors", verbose_name=gettext_lazy("site")
    )
    slug = models.SlugField(max_length=40, verbose_name=gettext_lazy("slug"))
    name = models.CharField(max_length=120, validators=[validate_single_line], verbose_name=gettext_lazy("name"))
    allows_visitors = models.BooleanField(
        default=False,
        help_text=gettext_lazy("Visitor badges open this door (during their visit, within the rules' hours)."),
        verbose_name=gettext_lazy("allows visitors"),
    )
    is_active = models.BooleanField(default=True, verbose_name=gettext_lazy("is active"))

    class Meta:
        verbose_name = gettext_lazy("door")
        verbose_name_plural = gettext_lazy("doors")
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "slug"],
                name="door_unique_slug_per_site",
                violation_error_message=gettext_lazy("This site already has a door with that slug."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site.slug}/{self.slug}"


def _validate_roles(value) -> None:
    if not isinstance(value, list) or any(role not in Role.values for role in value):
        raise ValidationError(f"Roles must be a list of {', '.join(Role.values)}.", code="invalid_roles")


def _validate_weekdays(value) -> None:
    if not isinstance(value, list) or not value or any(day not in ALL_WEEKDAYS for day in value):
        raise ValidationError(
            gettext_lazy("Weekdays must be a non-empty list of 1 (Monday) to 7 (Sunday)."), code="invalid_days"
        )


class DoorRule(models.Model):
    """Who may pass a door when: roles (none listed: every role), companies (none listed: anyone's), local hours.

    Hours are in the site's time zone; with neither ``opens_at`` nor ``closes_at`` the rule holds all day. A window
    whose ``closes_at`` is not after ``opens_at`` runs past midnight and belongs to the weekday it opened on.
    """

    door = models.ForeignKey(Door, on_delete=models.CASCADE, related_name="rules", verbose_name=gettext_lazy("door"))
    roles = models.JSONField(default=list, blank=True, validators=[_validate_roles], verbose_name=gettext_lazy("roles"))
    companies = models.ManyToManyField(
        "labs.Company", blank=True, related_name="+", verbose_name=gettext_lazy("companies")
    )
    weekdays = models.JSONField(
        default=all_weekdays, validators=[_validate_weekdays], verbose_name=gettext_lazy("weekdays")
    )
    opens_at = models.TimeField(null=True, blank=True, verbose_name=gettext_lazy("opens at"))
    closes_at = models.TimeField(null=True, blank=True, verbose_name=gettext_lazy("closes at"))
    is_active = models.BooleanField(default=True, verbose_name=gettext_lazy("is active"))

    class Meta:
        verbose_name = gettext_lazy("door rule")
        verbose_name_plural = gettext_lazy("door rules")
        ordering = ["door", "id"]

    def __str__(self) -> str:
        labels = dict(Role.choices)
        roles = ", ".join(str(labels.get(role, role)) for role in self.roles) if self.roles else gettext("every role")
        if self.opens_at and self.closes_at:
            hours = f"{self.opens_at:%H:%M}-{self.closes_at:%H:%M}"
        else:
            hours = gettext("all day")
        return f"{self.door}: {roles}, {hours}"

    def clean(self) -> None:
        if (self.opens_at is None) != (self.closes_at is None):
            raise ValidationError(
                gettext_lazy("Give both opening and closing times, or neither (all day)."), code="half_hours"
            )


class Reader(models.Model):
    """A badge reader at a door. It authenticates with its own API key (HTTP) or MQTT identity (its slug)."""

    slug = models.SlugField(
        max_length=64,
        unique=True,
        help_text=gettext_lazy("Also its MQTT client id and username."),
        verbose_name=gettext_lazy("slug"),
    )
    site = models.ForeignKey(
        "labs.Site", on_delete=models.PROTECT, related_name="readers", verbose_name=gettext_lazy("site")
    )
    door = models.ForeignKey(Door, on_delete=models.PROTECT, related_name="readers", verbose_name=gettext_lazy("door"))
    name = models.CharField(
        max_length=120, blank=True, validators=[validate_single_line], verbose_name=gettext_lazy("name")
    )
    key_digest = models.CharField(max_length=64, blank=True, editable=False, verbose_name=gettext_lazy("key digest"))
    key_rotated_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=gettext_lazy("key rotated at")
    )
    is_active = models.BooleanField(default=True, verbose_name=gettext_lazy("is active"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=gettext_lazy("created at"))

    class Meta:
        verbose_name = gettext_lazy("reader")
        verbose_name_plural = gettext_lazy("readers")
        ordering = ["site", "slug"]

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        if self.door_id and self.site_id and self.door.site_id != self.site_id:
            raise ValidationError({"door": gettext_lazy("The door must be at the reader's site.")}, code="door_site")


class Visit(models.Model):
    """A visitor registered by a host: name and email, the site, a start and an end of at most 24 hours."""

    host = models.ForeignKey(
        "labs.Person", on_delete=models.CASCADE, related_name="hosted_visits", verbose_name=gettext_lazy("host")
    )
    site = models.ForeignKey(
        "labs.Site", on_delete=models.PROTECT, related_name="visits", verbose_name=gettext_lazy("site")
    )
    name = models.CharField(max_length=160, validators=[validate_single_line], verbose_name=gettext_lazy("name"))
    email = models.EmailField(validators=[validate_single_line], verbose_name=gettext_lazy("email"))
    purpose = models.CharField(
        max_length=200, blank=True, validators=[validate_single_line], verbose_name=gettext_lazy("purpose")
    )
    start = models.DateTimeField(verbose_name=gettext_lazy("start"))
    end = models.DateTimeField(verbose_name=gettext_lazy("end"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=gettext_lazy("created at"))
    checked_in_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("checked in at"))
    checked_in_by = models.ForeignKey(
        "labs.Person",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=gettext_lazy("Empty: by scan."),
        verbose_name=gettext_lazy("checked in by"),
    )
    checked_out_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("checked out at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("cancelled at"))
    ended_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("When the visit ended early (check-out, cancellation); the purge uses it."),
        verbose_name=gettext_lazy("ended at"),
    )
    host_notified_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("host notified at"))
    walk_in = models.BooleanField(
        default=False,
        help_text=gettext_lazy("Registered by the visitor at the reception kiosk."),
        verbose_name=gettext_lazy("walk in"),
    )
    house_rules_accepted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("When the visitor accepted the site's house rules (at the kiosk)."),
        verbose_name=gettext_lazy("house rules accepted at"),
    )
    visitor_notified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("When the badge link was emailed."),
        verbose_name=gettext_lazy("visitor notified at"),
    )

    class Meta:
        verbose_name = gettext_lazy("visit")
        verbose_name_plural = gettext_lazy("visits")
        ordering = ["start"]
        indexes = [models.Index(fields=["site", "start"]), models.Index(fields=["end"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")),
                name="visit_end_after_start",
                violation_error_message=gettext_lazy("A visit ends after it starts."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.start:%Y-%m-%d})"

    def clean(self) -> None:
        if self.start and self.end:
            if self.end <= self.start:
                raise ValidationError({"end": gettext_lazy("A visit ends after it starts.")}, code="end_before_start")
            if self.end - self.start > VISIT_MAX_LENGTH:
                raise ValidationError({"end": gettext_lazy("A visit lasts at most 24 hours.")}, code="too_long")

    @property
    def is_over(self) -> bool:
        return self.ended_at is not None or self.end <= timezone.now()

    @property
    def check_in_from(self) -> datetime:
        """Reception checks the visitor in from this moment (VISIT_EARLY_ENTRY before the start) to the end."""
        return self.start - VISIT_EARLY_ENTRY

    @property
    def check_in_open(self) -> bool:
        """Whether reception can check the visitor in now: the page offers the button only then."""
        return self.state == "expected" and self.check_in_from <= timezone.now()

    @property
    def state(self) -> str:
        if self.cancelled_at:
            return "cancelled"
        if self.checked_out_at:
            return "checked_out"
        if self.end <= timezone.now():
            return "ended"
        if self.checked_in_at:
            return "checked_in"
        return "expected"

    @property
    def state_label(self) -> str:
        return str(VISIT_STATE_LABELS.get(self.state, self.state))


class Kiosk(models.Model):
    """A reception tablet where walk-in visitors register themselves (docs/portal.md: "Reception kiosk").

    Staff of the site set a device up from the reception page: the device gets a signed cookie naming this row and
    no staff session. Revoking the row (or deactivating its site's staff) closes it at once; it opens nothing else.
    """

    site = models.ForeignKey(
        "labs.Site", on_delete=models.CASCADE, related_name="kiosks", verbose_name=gettext_lazy("site")
    )
    name = models.CharField(max_length=80, validators=[validate_single_line], verbose_name=gettext_lazy("name"))
    created_by = models.ForeignKey(
        "labs.Person",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("created by"),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=gettext_lazy("created at"))
    last_seen_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=gettext_lazy("last seen at")
    )
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("revoked at"))

    class Meta:
        verbose_name = gettext_lazy("kiosk")
        verbose_name_plural = gettext_lazy("kiosks")
        ordering = ["site", "name"]

    def __str__(self) -> str:
        return f"{self.site.slug}/{self.name}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Badge(models.Model):
    """A person's or a visit's credential: a digital badge (rotating QR code) or a physical card.

    Exactly one of ``person`` and ``visit``. A digital badge has a secret; a card only the keyed digest of its UID.
    """

    person = models.ForeignKey(
        "labs.Person",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="badges",
        verbose_name=gettext_lazy("person"),
    )
    visit = models.ForeignKey(
        Visit,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="badges",
        verbose_name=gettext_lazy("visit"),
    )
    kind = models.CharField(max_length=10, choices=BadgeKind.choices, verbose_name=gettext_lazy("kind"))
    status = models.CharField(
        max_length=10, choices=BadgeStatus.choices, default=BadgeStatus.ACTIVE, verbose_name=gettext_lazy("status")
    )
    public_id = models.CharField(max_length=16, unique=True, editable=False, verbose_name=gettext_lazy("public ID"))
    secret = models.BinaryField(
        max_length=32, null=True, blank=True, editable=False, verbose_name=gettext_lazy("secret")
    )
    card_uid_digest = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        editable=False,
        db_index=True,
        verbose_name=gettext_lazy("card UID digest"),
    )
    card_uid_hint = models.CharField(
        max_length=8,
        blank=True,
        editable=False,
        help_text=gettext_lazy("Last 4 hex digits."),
        verbose_name=gettext_lazy("card UID hint"),
    )
    valid_from = models.DateTimeField(default=timezone.now, verbose_name=gettext_lazy("valid from"))
    valid_until = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("valid until"))
    issued_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=gettext_lazy("issued at"))
    issued_by = models.ForeignKey(
        "labs.Person",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("issued by"),
    )
    suspended_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("suspended at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("revoked at"))
    status_reason = models.CharField(max_length=64, blank=True, verbose_name=gettext_lazy("status reason"))

    class Meta:
        verbose_name = gettext_lazy("badge")
        verbose_name_plural = gettext_lazy("badges")
        ordering = ["-issued_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False, visit__isnull=True) | Q(person__isnull=True, visit__isnull=False),
                name="badge_for_person_or_visit",
                violation_error_message=gettext_lazy("A badge belongs to a person or to a visit."),
            ),
            models.CheckConstraint(
                condition=Q(kind=BadgeKind.DIGITAL, secret__isnull=False)
                | Q(kind=BadgeKind.CARD, card_uid_digest__isnull=False),
                name="badge_credential_matches_kind",
                violation_error_message=gettext_lazy("A digital badge has a secret; a card has a UID."),
            ),
            models.UniqueConstraint(
                fields=["card_uid_digest"],
                condition=Q(status__in=LIVE_STATUSES),
                name="badge_unique_live_card",
                violation_error_message=gettext_lazy("This card is already registered to a live badge."),
            ),
            models.UniqueConstraint(
                fields=["person", "kind"],
                condition=Q(status__in=LIVE_STATUSES, person__isnull=False),
                name="badge_one_live_per_person_and_kind",
                violation_error_message=gettext_lazy("This person already has a live badge of this kind."),
            ),
            models.UniqueConstraint(
                fields=["visit", "kind"],
                condition=Q(status__in=LIVE_STATUSES, visit__isnull=False),
                name="badge_one_live_per_visit_and_kind",
                violation_error_message=gettext_lazy("This visit already has a live badge of this kind."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.public_id}"

    def clean(self) -> None:
        if self.valid_until and self.valid_from and self.valid_until <= self.valid_from:
            raise ValidationError(
                {"valid_until": gettext_lazy("A badge ends after it starts.")}, code="until_before_from"
            )


class BadgeCodeUse(models.Model):
    """A rotating code accepted at a reader: (badge, reader, step) is unique, so the same code never opens twice."""

    badge = models.ForeignKey(Badge, on_delete=models.CASCADE, related_name="+", verbose_name=gettext_lazy("badge"))
    reader = models.ForeignKey(Reader, on_delete=models.CASCADE, related_name="+", verbose_name=gettext_lazy("reader"))
    step = models.BigIntegerField(verbose_name=gettext_lazy("step"))
    used_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=gettext_lazy("used at"))

    class Meta:
        verbose_name = gettext_lazy("badge code use")
        verbose_name_plural = gettext_lazy("badge code uses")
        constraints = [
            models.UniqueConstraint(fields=["badge", "reader", "step"], name="badge_code_used_once_per_reader"),
        ]

    def __str__(self) -> str:
        return gettext("%(badge)s@%(reader)s step %(step)s") % {
            "badge": self.badge_id,
            "reader": self.reader_id,
            "step": self.step,
        }


class AuditLogImmutable(Exception):
    """Raised on any attempt to change or delete an access decision from the application."""


class AccessDecisionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogImmutable("Access decisions are append-only.")

    def delete(self):
        raise AuditLogImmutable("Access decisions are append-only.")

    update.queryset_only = True
    delete.queryset_only = True


class AccessDecision(models.Model):
    """One access decision: which credential, which reader and door, when (UTC), allowed or not and why.

    Append-only: the model refuses to save an existing row or delete one, the queryset refuses ``update()`` and
    ``delete()``, and database triggers (PostgreSQL and SQLite, migration 0002) reject UPDATE and any DELETE of a
    row younger than the retention period. The references are plain ids (no foreign-key constraint): deleting a
    badge, a visit or an erased person never touches the log.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=gettext_lazy("at"))
    channel = models.CharField(max_length=8, choices=Channel.choices, verbose_name=gettext_lazy("channel"))
    site = models.ForeignKey(
        "labs.Site",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("site"),
    )
    reader = models.ForeignKey(
        Reader,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("reader"),
    )
    reader_ref = models.CharField(
        max_length=64,
        help_text=gettext_lazy("The reader as the scan named it."),
        verbose_name=gettext_lazy("reader ref"),
    )
    door = models.ForeignKey(
        Door,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("door"),
    )
    credential_type = models.CharField(
        max_length=8, choices=CredentialType.choices, verbose_name=gettext_lazy("credential type")
    )
    badge = models.ForeignKey(
        Badge,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("badge"),
    )
    person = models.ForeignKey(
        "labs.Person",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("person"),
    )
    visit = models.ForeignKey(
        Visit,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("visit"),
    )
    allow = models.BooleanField(verbose_name=gettext_lazy("allow"))
    reason = models.CharField(max_length=20, choices=Reason.choices, verbose_name=gettext_lazy("reason"))
    scan_id = models.CharField(max_length=64, blank=True, verbose_name=gettext_lazy("scan ID"))

    objects = AccessDecisionQuerySet.as_manager()

    class Meta:
        verbose_name = gettext_lazy("access decision")
        verbose_name_plural = gettext_lazy("access decisions")
        ordering = ["-at", "-id"]
        default_permissions = ("view",)  # nobody may add, change or delete rows through the admin
        indexes = [models.Index(fields=["person", "at"]), models.Index(fields=["door", "at"])]

    def __str__(self) -> str:
        verdict = gettext("allow") if self.allow else gettext("deny")
        return (
            f"{timezone.localtime(self.at):%Y-%m-%d %H:%M:%S} {self.reader_ref} {verdict} {self.get_reason_display()}"
        )

    def save(self, *args, **kwargs):
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise AuditLogImmutable("Access decisions are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogImmutable("Access decisions are append-only.")


# --- privacy ---------------------------------------------------------------------------------------------------
_WITH_HOLDER = "while the badge is held; deleted with the person's account, or with the visit 30 days after it ended"
_VISIT = "until 30 days after the visit ended (end, check-out or cancellation), then deleted"
_AUDIT = "365 days after the decision, then purged (the database refuses earlier deletion)"

privacy.not_personal(Door, name="a door's name", slug="a door's identifier")
privacy.not_personal(Reader, name="a device's name", slug="a device's identifier", key_digest="a device's key digest")
privacy.declare(
    Visit,
    name=PersonalData(
        Category.VISITOR_IDENTITY,
        (Purpose.ISSUE_BADGE, Purpose.IDENTIFY_CONTACT),
        LegalBasis.LEGITIMATE_INTEREST,
        _VISIT,
        VISIT_RETENTION_DAYS,
        roles=(Role.VISITOR.value,),
    ),
    email=PersonalData(
        Category.VISITOR_IDENTITY,
        (Purpose.ISSUE_BADGE, Purpose.IDENTIFY_CONTACT),
        LegalBasis.LEGITIMATE_INTEREST,
        _VISIT,
        VISIT_RETENTION_DAYS,
        roles=(Role.VISITOR.value,),
    ),
    purpose=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.SECURITY,),
        LegalBasis.LEGITIMATE_INTEREST,
        _VISIT,
        VISIT_RETENTION_DAYS,
        roles=(Role.VISITOR.value,),
    ),
    checked_in_at=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.SECURITY, Purpose.IDENTIFY_CONTACT),
        LegalBasis.LEGITIMATE_INTEREST,
        _VISIT,
        VISIT_RETENTION_DAYS,
        roles=(Role.VISITOR.value,),
    ),
    checked_out_at=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.SECURITY,),
        LegalBasis.LEGITIMATE_INTEREST,
        _VISIT,
        VISIT_RETENTION_DAYS,
        roles=(Role.VISITOR.value,),
    ),
    house_rules_accepted_at=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.SECURITY,),
        LegalBasis.LEGITIMATE_INTEREST,
        _VISIT,
        VISIT_RETENTION_DAYS,
        roles=(Role.VISITOR.value,),
    ),
)
privacy.not_personal(Kiosk, name="a device's name")
privacy.declare(
    Badge,
    public_id=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.ISSUE_BADGE, Purpose.SECURITY),
        LegalBasis.LEGITIMATE_INTEREST,
        _WITH_HOLDER,
        VISIT_RETENTION_DAYS,
    ),
    secret=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.ISSUE_BADGE, Purpose.SECURITY),
        LegalBasis.LEGITIMATE_INTEREST,
        _WITH_HOLDER,
        VISIT_RETENTION_DAYS,
    ),
    card_uid_digest=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.ISSUE_BADGE, Purpose.SECURITY),
        LegalBasis.LEGITIMATE_INTEREST,
        "a keyed digest of the card's UID (never the UID); " + _WITH_HOLDER,
        VISIT_RETENTION_DAYS,
    ),
    card_uid_hint=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.ISSUE_BADGE,),
        LegalBasis.LEGITIMATE_INTEREST,
        "the UID's last 4 hex digits, for staff to tell cards apart; " + _WITH_HOLDER,
        VISIT_RETENTION_DAYS,
    ),
)
privacy.not_personal(Badge, status_reason="why a badge was suspended or revoked: a code such as role_changed")
privacy.declare(
    BadgeCodeUse,
    used_at=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.SECURITY,),
        LegalBasis.LEGITIMATE_INTEREST,
        "kept only to refuse replays: purged 10 minutes after use",
        1,
    ),
)
privacy.declare(
    AccessDecision,
    person=PersonalData(
        Category.CONTACT_VERIFICATION, (Purpose.SECURITY,), LegalBasis.LEGITIMATE_INTEREST, _AUDIT, AUDIT_RETENTION_DAYS
    ),
    visit=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.SECURITY,),
        LegalBasis.LEGITIMATE_INTEREST,
        _AUDIT,
        AUDIT_RETENTION_DAYS,
        roles=(Role.VISITOR.value,),
    ),
    at=PersonalData(
        Category.CONTACT_VERIFICATION, (Purpose.SECURITY,), LegalBasis.LEGITIMATE_INTEREST, _AUDIT, AUDIT_RETENTION_DAYS
    ),
)
privacy.not_personal(
    AccessDecision,
    reader_ref="a device identifier as presented by the scan",
    scan_id="a reader's message id, e.g. r1-000123",
)
