"""The second factor (TOTP, django-otp): who needs one, a person's authenticator, and what enrolment shows.

Reads only; every change (a code checked, an authenticator confirmed) is a service in ``labs.services`` and goes
through the one sign-in throttle. Staff (the Django admin's ``is_staff``/``is_superuser`` and people with the staff
role) need a confirmed authenticator; anyone who has one is asked for its code when signing in.
"""

from __future__ import annotations

import secrets
from base64 import b32encode
from binascii import unhexlify

import segno
from django import forms
from django.utils.translation import gettext, gettext_lazy
from django_otp.plugins.otp_totp.models import TOTPDevice

from labs.permissions import is_staff, person_of
from labs.validators import ascii_int

CODE_DIGITS = 6
ENROLMENT_KEY_SESSION = "second_factor_enrolment_key"


def second_factor_required(user) -> bool:
    """Staff must have a verified second factor before they use any page or ask for an API token."""
    if user is None or not user.is_authenticated:
        return False
    return bool(user.is_staff or user.is_superuser or is_staff(person_of(user)))


def second_factor_device(*, user) -> TOTPDevice | None:
    """The person's confirmed authenticator, if they have one."""
    if user is None or not user.is_authenticated:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def new_key() -> str:
    """A fresh 20-byte TOTP secret, hex-encoded as django-otp stores it."""
    return secrets.token_hex(20)


def key_is_valid(key: str) -> bool:
    try:
        return len(unhexlify(key)) >= 16
    except (ValueError, TypeError):
        return False


def base32_secret(key: str) -> str:
    """The secret as authenticator apps take it when typed in, in groups of four."""
    encoded = b32encode(unhexlify(key)).decode().rstrip("=")
    return " ".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def otpauth_uri(*, user, key: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans (issuer OTP_TOTP_ISSUER, the account's username)."""
    return TOTPDevice(user=user, key=key).config_url


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (no image request; nothing the strict CSP would block)."""
    return segno.make(uri, error="m", micro=False).svg_inline(
        scale=1,
        border=4,
        dark="#111111",
        light="#ffffff",
        title="QR code for your authenticator app",
        svgclass="qr__svg",
        omitsize=True,
    )


def enrolment(request) -> dict:
    """What an enrolment page shows: the secret kept in the session until confirmed, as QR, URI and text."""
    key = request.session.get(ENROLMENT_KEY_SESSION)
    if not key or not key_is_valid(key):
        key = new_key()
        request.session[ENROLMENT_KEY_SESSION] = key
    uri = otpauth_uri(user=request.user, key=key)
    return {"enrolment_key": key, "otpauth_uri": uri, "qr": qr_svg(uri), "secret": base32_secret(key)}


class OneTimeCodeForm(forms.Form):
    """The code an authenticator app shows: digits only (spaces are forgiven)."""

    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if len(code) != CODE_DIGITS or ascii_int(code) is None:
            message = gettext("Enter the %(digits)d-digit code from your authenticator app.")
            raise forms.ValidationError(message % {"digits": CODE_DIGITS})
        return code
