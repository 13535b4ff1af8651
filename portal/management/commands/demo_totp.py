"""`manage.py demo_totp [username]`: the current two-factor code of a demo account (default: ``staff``).

Only for the authenticator `demo_site` gave the demo staff (its published secret); refused in LABS_ENV=production.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from labs.second_factor import otpauth_uri
from portal.management.commands.demo_site import DEMO_TOTP_KEY, PRODUCTION_REFUSAL


class Command(BaseCommand):
    help = "Print the current two-factor code of a demo account (the demo staff's published secret only)."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", default="staff")

    def handle(self, *args, username: str, **options):
        if settings.PRODUCTION:
            raise CommandError(PRODUCTION_REFUSAL.format(command="demo_totp"))
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account {username!r}: run `manage.py demo_site` first.")
        device = TOTPDevice.objects.filter(user=user, confirmed=True, key=DEMO_TOTP_KEY).first()
        if device is None:
            raise CommandError(f"{username!r} has no demo authenticator: run `manage.py demo_site` first.")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
        now = time.time()
        totp.time = now
        seconds_left = device.step - int(now - device.t0) % device.step
        self.stdout.write(f"{totp.token():0{device.digits}d}")
        self.stdout.write(f"  the code for {username}, valid for {seconds_left} more seconds; each code signs in once.")
        self.stdout.write(f"  For an authenticator app instead: {otpauth_uri(user=user, key=device.key)}")
