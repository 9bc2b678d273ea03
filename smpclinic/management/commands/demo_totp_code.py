"""Print the code the demo manager's authenticator app would show now.

For `make run` without a phone at hand. It only works on the demo's published secret
(settings.DEMO_STAFF_TOTP_SECRET), which anyone can turn into codes anyway; it never reads or
prints a real device's secret.
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from smpclinic.demo import DEMO_DEVICE_NAME


class Command(BaseCommand):
    help = "Print the demo manager's current two-factor code (demo secret only)."

    def handle(self, *args, **options):
        key = base64.b32decode(settings.DEMO_STAFF_TOTP_SECRET)
        device = TOTPDevice.objects.filter(
            user__username=settings.DEMO_STAFF_USERNAME, name=DEMO_DEVICE_NAME, key=key.hex(), confirmed=True
        ).first()
        if device is None:
            raise CommandError("No demo authenticator here: run `manage.py seed_demo` first (demo databases only).")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        self.stdout.write(f"{code:06d}")
