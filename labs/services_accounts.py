"""A member's own account: changing the password, and a forgotten one reset by email.

Both doors go through the one sign-in throttle (labs.services.sign_in_attempt): a change checks the current
password as a guess; a reset request is counted like a failed guess (it proves nothing), so the same limits stop
someone mailing a person links in a loop or probing which addresses have accounts. The reset email links to the
set-password page (single use, PASSWORD_RESET_TIMEOUT), whose saving ends every other sign-in.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.mail import send_mail
from django.utils.translation import gettext as _

from labs.errors import Forbidden
from labs.services import set_password_url, sign_in_attempt, user_set_password
from labs.transactions import enqueue_after_commit

User = get_user_model()


def password_change(*, user: AbstractUser, old_password: str, new_password: str, ip: str) -> None:
    """Change the password after checking the current one under the throttle. Every sign-in ends (this one too)."""
    ok = sign_in_attempt(
        username=user.get_username(), ip=ip, check=lambda: bool(old_password) and user.check_password(old_password)
    )
    if not ok:
        raise Forbidden(_("Your current password is not right."))
    user_set_password(user=user, password=new_password)


def password_reset_request(*, email: str, ip: str) -> bool:
    """Email a set-password link to the active account with this address, if any; the answer never says which.

    Counted under the throttle as a guess at ``email`` from ``ip``; Throttled when over the limits."""
    email = (email or "").strip()

    def never_a_success() -> bool:
        return False

    sign_in_attempt(username=email.lower(), ip=ip, check=never_a_success)
    user = User.objects.filter(email__iexact=email, is_active=True).exclude(email="").first()
    if user is None:
        return False
    # Sent by a worker after commit: the answer takes as long whether or not the address has an account.
    from labs import tasks

    enqueue_after_commit(tasks.password_reset_send, user.pk)
    return True


def password_reset_send(*, user_id: int) -> bool:
    """Email the set-password link asked for with password_reset_request (a task; a retry sends a fresh link)."""
    user = User.objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None:
        return False
    days = max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)
    send_mail(
        subject=_("Choose a new password"),
        message=_(
            "Hello %(name)s,\n\nSomeone (we hope you) asked to reset the password of the account %(username)s.\n"
            "Choose a new one here (the link works once, for %(days)s days):\n%(url)s\n\n"
            "If it was not you, ignore this email: your password stays as it is.\n"
        )
        % {
            "name": user.first_name or user.get_username(),
            "username": user.get_username(),
            "days": days,
            "url": set_password_url(user),
        },
        from_email=None,
        recipient_list=[user.email],
    )
    return True
