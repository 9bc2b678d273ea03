"""Logging test clients in past the second factor, as a manager would after typing a code."""

from __future__ import annotations

from django.test import Client, RequestFactory
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from smpclinic.accounts.otp import OTP_PENDING


class StaffClient(Client):
    """Django's test client whose login() passes a request, as every login page does: the
    lockout backend (django-axes) needs one to know the address, and counts failures from it."""

    def login(self, **credentials):
        credentials.setdefault("request", RequestFactory().post("/admin/login/"))
        return super().login(**credentials)


def totp_device_for(user, *, name: str = "Test phone") -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name=name, confirmed=True)


def totp_code(device: TOTPDevice) -> str:
    """The code the device's app shows now (on the travelled clock too)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def otp_verify_session(client: Client, user, device: TOTPDevice | None = None) -> TOTPDevice:
    """Mark the client's (logged-in) session as verified with the user's device (made if needed)."""
    device = device or TOTPDevice.objects.filter(user=user, confirmed=True).first() or totp_device_for(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.pop(OTP_PENDING, None)
    session.save()
    return device


def otp_verified_login(client: Client, user) -> TOTPDevice:
    """force_login, then verified as if the user had typed a code: for tests of what a manager
    does in the admin or the workspace, not of the login itself."""
    client.force_login(user)
    return otp_verify_session(client, user)


def login_as(client: Client, user) -> None:
    """force_login, and past the second factor when the user must show one (a manager): what a
    staff member has after logging in properly, for tests of what they do next."""
    from clients.access import is_manager

    client.force_login(user)
    if is_manager(user):
        otp_verify_session(client, user)
