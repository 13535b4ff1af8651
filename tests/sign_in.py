"""Signing in the way a person does: the password, then the code their authenticator app shows.

Staff need a second factor for every page, so tests that use staff pages or the admin sign in through these helpers
instead of ``client.force_login``.
"""

from __future__ import annotations

import time

from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from labs.second_factor import second_factor_required
from tests.factories import PASSWORD, AuthenticatorFactory


def totp_code(device, *, at: float | None = None) -> str:
    """The code the device's authenticator app shows now (or at the Unix time ``at``)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if at is None else at
    return f"{totp.token():0{device.digits}d}"


def authenticator_for(user):
    """The user's confirmed authenticator, set up on first use."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first() or AuthenticatorFactory(user=user)


def portal_sign_in(client: Client, username: str, password: str = PASSWORD, *, device=None, next: str | None = None):
    """The portal's sign-in form, then (for an account with an authenticator) its code form; the last response."""
    query = f"?next={next}" if next else ""
    response = client.post(f"/sign-in/{query}", {"username": username, "password": password})
    if device is not None and response.status_code == 302 and response["Location"].startswith("/sign-in/code/"):
        response = client.post(response["Location"], {"code": totp_code(device)})
    return response


def admin_sign_in(client: Client, username: str, password: str = PASSWORD, *, device=None):
    """The admin's login form with the authenticator's code; the response."""
    data = {"username": username, "password": password, "next": "/admin/"}
    if device is not None:
        data["code"] = totp_code(device)
    return client.post("/admin/login/?next=/admin/", data)


def signed_in(client: Client, person_or_user, password: str = PASSWORD) -> Client:
    """``client`` signed in through the portal as a person would; staff first get an authenticator if they have none."""
    user = getattr(person_or_user, "user", person_or_user)
    device = authenticator_for(user) if second_factor_required(user) else None
    response = portal_sign_in(client, user.get_username(), password, device=device)
    assert response.status_code == 302, response.content.decode()[:500]
    assert client.session.get("_auth_user_id") == str(user.pk)
    return client
