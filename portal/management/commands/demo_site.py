"""`manage.py demo_site`: a demo site with floors, zones, companies and people, then each app's own demo data.

Idempotent: running it again creates nothing new and prints the same. The six demo sign-ins get the password
``demo`` (deliberately weak, set without the password validators); everyone else has an unusable password, which
keeps the bulk fast (no password hashing). Staff need a second factor: the demo's ``staff`` gets an authenticator
with the published secret DEMO_TOTP_SECRET, whose current code ``manage.py demo_totp`` prints. Refuses to run with
LABS_ENV=production: the password and the secret are public.
"""

from __future__ import annotations

import importlib
import importlib.util
import random
from base64 import b32decode
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from django_otp.plugins.otp_totp.models import TOTPDevice

from labs import services
from labs.choices import REPRESENTATIVE_ROLE_FOR_KIND, CompanyKind, Role
from labs.models import Company, Floor, Person, Site, Zone

DEMO_PASSWORD = "demo"  # noqa: S105 - the documented password of the demo sign-ins
# The documented TOTP secret of the demo staff's authenticator (base32, as authenticator apps take it).
DEMO_TOTP_SECRET = "LABSDEMOTOTPSECRETNOTFORPRODUCTN"  # noqa: S105 - published on purpose, refused in production
DEMO_TOTP_KEY = b32decode(DEMO_TOTP_SECRET).hex()
DEMO_TOTP_DEVICE = "Demo authenticator"
PRODUCTION_REFUSAL = (
    "The demo's password and two-factor secret are public: {command} refuses to run in LABS_ENV=production."
)
STAFF_GROUP = "Operator staff"
# Apps whose models the demo staff may manage in the Django admin (plus viewing and editing user accounts).
STAFF_ADMIN_APPS = ("labs", "bookings", "comfort", "badges", "calendars", "analytics")
APP_DEMOS = (
    "bookings.demo",
    "comfort.demo",
    "badges.demo",
    "calendars.demo",
    "calendars.demo_microsoft",
    "analytics.demo",
)

SITE = {
    "slug": "cph",
    "name": "Copenhagen",
    "timezone": "Europe/Copenhagen",
    "address": "Havnegade 12, 1058 København K, Denmark",
    # Shown on the reception kiosk; a walk-in visitor accepts them (staff edit them in the admin's Site page).
    "house_rules": (
        "Wear your visitor badge where it can be seen.\n"
        "Your host meets you at reception and accompanies you in the labs and workshops.\n"
        "Photos only in the lounge and the meeting rooms.\n"
        "In an alarm, leave by the nearest exit and meet at the harbour front."
    ),
}
FLOORS = [(1, "Floor 1"), (2, "Floor 2")]
ZONES = [("north", "North wing"), ("south", "South wing"), ("atrium", "Atrium")]

COMPANIES = {
    CompanyKind.BUSINESS_MEMBER: [
        "Nordlys Robotics",
        "Fjord Analytics",
        "Havn Bio",
        "Kvadrat Labs",
        "Tidevand Energy",
    ],
    CompanyKind.PARTNER: [
        "Baltic Accounting",
        "Øresund Design Studio",
        "Lighthouse Legal",
        "Spire Cloud Services",
        "Nørrebro Print",
    ],
    CompanyKind.SPONSOR: [
        "Northwind Bank",
        "Polaris Foundation",
        "Greenfield Capital",
        "Bright Harbour Insurance",
        "Aurora Telecom",
    ],
}
# Employees per company (besides its representative), by kind of company.
EMPLOYEES_PER_COMPANY = {CompanyKind.BUSINESS_MEMBER: 12, CompanyKind.PARTNER: 5, CompanyKind.SPONSOR: 3}
MENTORS = 15
VISITORS = 12
STAFF = 8


@dataclass(frozen=True)
class DemoSignIn:
    username: str
    first_name: str
    last_name: str
    role: str
    company: str | None
    description: str
    job_title: str = ""


# The named sign-ins; `member` and `colleague` share a company, `outsider` works for another.
SIGN_INS = [
    DemoSignIn("staff", "Anna", "Holm", Role.STAFF, None, "operator staff; also the Django admin", "Community manager"),
    DemoSignIn(
        "member", "Maja", "Jensen", Role.EMPLOYEE, "Nordlys Robotics", "employee of Nordlys Robotics", "Engineer"
    ),
    DemoSignIn(
        "colleague", "Lars", "Nielsen", Role.EMPLOYEE, "Nordlys Robotics", "Maja's colleague at Nordlys Robotics", "CTO"
    ),
    DemoSignIn(
        "outsider", "Sofie", "Hansen", Role.EMPLOYEE, "Fjord Analytics", "employee of another company", "Data scientist"
    ),
    DemoSignIn("mentor", "Henrik", "Larsen", Role.MENTOR, None, "mentor (no company)", "Startup mentor"),
    DemoSignIn(
        "sponsor", "Ida", "Pedersen", Role.SPONSOR, "Northwind Bank", "representative of Northwind Bank", "Partnerships"
    ),
]

FIRST_NAMES = [
    "Emil", "Freja", "Oliver", "Clara", "William", "Alma", "Noah", "Ella", "Lucas", "Agnes", "Victor", "Karla",
    "Oscar", "Josefine", "Carl", "Sofia", "Magnus", "Ida", "Aksel", "Luna", "Elias", "Nora", "August", "Emma",
    "Felix", "Asta", "Anton", "Lea", "Johan", "Mille", "Mikkel", "Signe", "Rasmus", "Astrid", "Jonas", "Thea",
]  # fmt: skip
LAST_NAMES = [
    "Andersen", "Christensen", "Sørensen", "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen",
    "Thomsen", "Christiansen", "Poulsen", "Johansen", "Møller", "Mortensen", "Knudsen", "Jakobsen", "Mikkelsen",
    "Lund", "Holm", "Schmidt", "Eriksen", "Kjær", "Bach", "Dahl", "Berg", "Vestergaard", "Lauridsen", "Winther",
]  # fmt: skip
JOB_TITLES = [
    "Software engineer", "Product designer", "Founder", "Researcher", "Sales lead", "Operations manager",
    "Marketing lead", "Data engineer", "Hardware engineer", "Account manager", "Analyst", "Intern",
]  # fmt: skip


def _demo_password_hash(encoded: str) -> str | None:
    """A fresh hash of the demo password, or None when ``encoded`` already is one."""
    return None if check_password(DEMO_PASSWORD, encoded) else make_password(DEMO_PASSWORD)


def _slug(text: str) -> str:
    table = str.maketrans({"ø": "oe", "å": "aa", "æ": "ae", "Ø": "Oe", "Å": "Aa", "Æ": "Ae"})
    return "".join(ch if ch.isalnum() else "-" for ch in text.translate(table).lower()).strip("-")


class Command(BaseCommand):
    help = "Create (or complete) the demo site: floors, zones, companies, ~150 people and each app's demo data."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError(PRODUCTION_REFUSAL.format(command="demo_site"))
        site, counts = self.seed_core()
        seeded = self.seed_apps(site)
        self.report(site, counts, seeded)

    # --- core ---------------------------------------------------------------------------------------------------
    @transaction.atomic
    def seed_core(self) -> tuple[Site, dict[str, int]]:
        site = self.ensure_site()
        floors = [self.ensure_floor(site, level, name) for level, name in FLOORS]
        for floor in floors:
            for slug, name in ZONES:
                self.ensure_zone(floor, f"f{floor.level}-{slug}", name)
        companies = {name: self.ensure_company(site, kind, name) for kind, names in COMPANIES.items() for name in names}
        existing = set(get_user_model().objects.values_list("username", flat=True))
        for sign_in in SIGN_INS:
            self.ensure_sign_in(site, companies, sign_in, existing)
        self.ensure_sign_in_accounts()
        for spec in self.bulk_people(companies):
            if spec["username"] not in existing:
                services.person_create(site=site, **spec)
                existing.add(spec["username"])
        counts = {
            "floors": Floor.objects.filter(site=site).count(),
            "zones": Zone.objects.filter(floor__site=site).count(),
            "companies": Company.objects.filter(site=site).count(),
            "people": Person.objects.filter(site=site).count(),
        }
        return site, counts

    def ensure_site(self) -> Site:
        site = Site.objects.filter(slug=SITE["slug"]).first()
        if site is None:
            site = Site(**SITE)
            site.full_clean()
            site.save()
        return site

    def ensure_floor(self, site: Site, level: int, name: str) -> Floor:
        floor = Floor.objects.filter(site=site, level=level).first()
        if floor is None:
            floor = Floor(site=site, level=level, name=name)
            floor.full_clean()
            floor.save()
        return floor

    def ensure_zone(self, floor: Floor, slug: str, name: str) -> Zone:
        zone = Zone.objects.filter(floor=floor, slug=slug).first()
        if zone is None:
            zone = Zone(floor=floor, slug=slug, name=f"{floor.name} {name}")
            zone.full_clean()
            zone.save()
        return zone

    def ensure_company(self, site: Site, kind: str, name: str) -> Company:
        company = Company.objects.filter(site=site, name=name).first()
        if company is None:
            company = Company(site=site, kind=kind, name=name)
            company.full_clean()
            company.save()
        return company

    def ensure_sign_in(self, site: Site, companies: dict[str, Company], spec: DemoSignIn, existing: set[str]) -> None:
        if spec.username in existing:
            return
        company = companies[spec.company] if spec.company else None
        domain = f"{_slug(company.name)}.example" if company else "labs.example"
        services.person_create(
            site=site,
            username=spec.username,
            role=spec.role,
            company=company,
            email=f"{spec.username}@{domain}",
            first_name=spec.first_name,
            last_name=spec.last_name,
            job_title=spec.job_title,
        )
        existing.add(spec.username)

    def ensure_sign_in_accounts(self) -> None:
        """The demo password on the six sign-ins (restored if changed) and the admin for `staff` alone."""
        users = list(get_user_model().objects.filter(username__in=[s.username for s in SIGN_INS]))
        # Deliberately weak and documented: set directly, not through the password validators. Checking and hashing
        # are pure computation (PBKDF2 releases the GIL), so the six run side by side instead of one after another.
        with ThreadPoolExecutor(max_workers=len(users)) as pool:
            new_hashes = list(pool.map(_demo_password_hash, [user.password for user in users]))
        roles = {s.username: s.role for s in SIGN_INS}
        for user, new_hash in zip(users, new_hashes, strict=True):
            changed = []
            if new_hash is not None:
                user.password = new_hash
                changed.append("password")
            is_staff = roles[user.username] == Role.STAFF
            if user.is_staff != is_staff:
                user.is_staff = is_staff
                changed.append("is_staff")
            if changed:
                user.save(update_fields=changed)
            if is_staff:
                user.groups.add(self.ensure_staff_group())
                self.ensure_demo_authenticator(user)

    def ensure_demo_authenticator(self, user) -> None:
        """Staff need a second factor: the demo staff's authenticator has the published DEMO_TOTP_SECRET."""
        device = TOTPDevice.objects.filter(user=user, name=DEMO_TOTP_DEVICE).first()
        if device is not None and device.key == DEMO_TOTP_KEY and device.confirmed:
            return
        device = device or TOTPDevice(user=user, name=DEMO_TOTP_DEVICE)
        device.key, device.confirmed = DEMO_TOTP_KEY, True
        device.full_clean()
        device.save()

    def ensure_staff_group(self) -> Group:
        group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
        permissions = Permission.objects.filter(
            Q(content_type__app_label__in=STAFF_ADMIN_APPS)
            | Q(content_type__app_label="auth", codename__in=["view_user", "change_user", "add_user"])
        )
        group.permissions.add(*permissions)
        return group

    def bulk_people(self, companies: dict[str, Company]) -> list[dict]:
        """The other ~144 people, the same on every run (a fixed seed)."""
        rng = random.Random(20240601)  # noqa: S311 - demo names, not security
        used = {s.username for s in SIGN_INS}
        people = []

        def person(role: str, company: Company | None, domain: str, job_title: str = "") -> None:
            while True:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                username = f"{_slug(first)}.{_slug(last)}"
                if username not in used:
                    break
            used.add(username)
            people.append(
                {
                    "username": username,
                    "role": role,
                    "company": company,
                    "email": f"{username}@{domain}",
                    "first_name": first,
                    "last_name": last,
                    "job_title": job_title,
                }
            )

        for kind, names in COMPANIES.items():
            for name in names:
                company = companies[name]
                domain = f"{_slug(name)}.example"
                named = [s for s in SIGN_INS if s.company == name]
                if not any(s.role != Role.EMPLOYEE for s in named):
                    person(REPRESENTATIVE_ROLE_FOR_KIND[kind], company, domain, "Managing director")
                employees = EMPLOYEES_PER_COMPANY[kind] - sum(s.role == Role.EMPLOYEE for s in named)
                for _ in range(employees):
                    person(Role.EMPLOYEE, company, domain, rng.choice(JOB_TITLES))
        for _ in range(MENTORS - 1):
            person(Role.MENTOR, None, "mentors.example", "Mentor")
        for _ in range(VISITORS):
            person(Role.VISITOR, None, "guests.example")
        for _ in range(STAFF - 1):
            person(Role.STAFF, None, "labs.example", rng.choice(["Front desk", "Facilities", "Community manager"]))
        return people

    # --- the apps' demo data ------------------------------------------------------------------------------------
    def seed_apps(self, site: Site) -> list[tuple[str, bool]]:
        seeded = []
        for name in APP_DEMOS:
            if importlib.util.find_spec(name) is None:
                seeded.append((name, False))
                continue
            module = importlib.import_module(name)
            module.seed(site=site, stdout=self.stdout)
            seeded.append((name, True))
        return seeded

    # --- output -------------------------------------------------------------------------------------------------
    def report(self, site: Site, counts: dict[str, int], seeded: list[tuple[str, bool]]) -> None:
        out = self.stdout
        out.write(self.style.SUCCESS(f"Demo site ready: {site.name} ({site.slug}), {site.timezone}"))
        out.write(
            f"  {counts['floors']} floors, {counts['zones']} zones, {counts['companies']} companies, "
            f"{counts['people']} people"
        )
        for name, done in seeded:
            out.write(f"  {name}: {'seeded' if done else 'not present, skipped'}")
        out.write("")
        out.write(f'Sign in with password "{DEMO_PASSWORD}":')
        width = max(len(s.username) for s in SIGN_INS)
        for sign_in in SIGN_INS:
            out.write(f"  {sign_in.username:<{width}}  {sign_in.first_name} {sign_in.last_name}, {sign_in.description}")
        out.write("")
        out.write("  staff also enters a code from an authenticator (staff need two-factor authentication):")
        out.write("    python manage.py demo_totp     prints the current code, or add the demo secret to an app:")
        secret = " ".join(DEMO_TOTP_SECRET[i : i + 4] for i in range(0, len(DEMO_TOTP_SECRET), 4))
        out.write(f"    {secret}   (time-based, 6 digits, 30 s; a demo secret, refused in production)")
        out.write("")
        out.write("  Portal    http://127.0.0.1:8000/")
        out.write("  Admin     http://127.0.0.1:8000/admin/   (as staff)")
        out.write("  API docs  http://127.0.0.1:8000/api/v1/docs/")
