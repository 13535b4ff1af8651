from django.db import models
from django.utils.translation import gettext_lazy as _


class CompanyKind(models.TextChoices):
    BUSINESS_MEMBER = "business_member", _("Business member")
    PARTNER = "partner", _("Partner")
    SPONSOR = "sponsor", _("Sponsor")


class Role(models.TextChoices):
    """A person's role decides which data the product collects about them and what they may do."""

    BUSINESS_MEMBER = "business_member", _("Business member representative")
    PARTNER = "partner", _("Partner")
    SPONSOR = "sponsor", _("Sponsor")
    EMPLOYEE = "employee", _("Employee")
    MENTOR = "mentor", _("Mentor")
    VISITOR = "visitor", _("Visitor or guest")
    STAFF = "staff", _("Operator staff")


# Roles that belong to a company; the others (mentor, visitor, staff) have none.
COMPANY_ROLES = frozenset({Role.BUSINESS_MEMBER, Role.PARTNER, Role.SPONSOR, Role.EMPLOYEE})
# Roles that may host a visitor.
HOST_ROLES = frozenset({Role.BUSINESS_MEMBER, Role.PARTNER, Role.SPONSOR, Role.EMPLOYEE, Role.MENTOR, Role.STAFF})
# A representative's role must match the kind of company they represent.
REPRESENTATIVE_ROLE_FOR_KIND = {
    CompanyKind.BUSINESS_MEMBER: Role.BUSINESS_MEMBER,
    CompanyKind.PARTNER: Role.PARTNER,
    CompanyKind.SPONSOR: Role.SPONSOR,
}
