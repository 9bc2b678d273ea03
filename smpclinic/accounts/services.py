"""Every change to a staff member's login protection: adding or removing an authenticator app,
checking a code, unlocking a locked-out login. Each change leaves an audit event."""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

from axes.models import AccessAttempt
from django.core.exceptions import ValidationError
from django.db import transaction
from django_otp.models import Device, VerifyNotAllowed
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from clients.access import require_manager
from clients.models import AuditEvent
from clients.services import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.db.models import QuerySet

logger = logging.getLogger(__name__)

TOKEN = re.compile(r"^[0-9]{6}$")


def _token_clean(token: str) -> str:
    """The six digits, forgiving the spaces and dashes some apps show in the middle."""
    cleaned = re.sub(r"[\s-]", "", token or "")
    if not TOKEN.match(cleaned):
        raise ValidationError("Enter the 6-digit code your authenticator app shows.", code="token_format")
    return cleaned


def totp_device_enrol(*, user: AbstractBaseUser, key: str, token: str, name: str) -> TOTPDevice:
    """Add an authenticator app once the user has typed a code it made from ``key``.

    The code is checked before anything is saved, so an app set up wrongly never becomes a
    device its owner cannot produce codes for.
    """
    token = _token_clean(token)
    device = TOTPDevice(user=user, name=(name or "").strip() or "Authenticator app", key=key, confirmed=True)
    device.full_clean(exclude=["user"])
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if not totp.verify(int(token), device.tolerance):
        raise ValidationError(
            "That code does not match. Check the app shows this clinic's account and try the newest code.",
            code="invalid_token",
        )
    # The code just used must not open the next login as well.
    device.last_t = totp.t()
    with transaction.atomic():
        device.save()
        audit_record(
            actor=user, action=AuditEvent.Action.CREATE, object_type="totp_device", object_id=device.pk, client_id=None
        )
    logger.info("second factor added: device %s for user %s", device.pk, user.pk)
    return device


def totp_verify(*, user: AbstractBaseUser, device_id: str, token: str) -> Device:
    """The user's device that accepts ``token``; ValidationError (code: token_format, throttled,
    invalid_token or device) otherwise. Failures slow the next try down (django-otp's throttle)."""
    token = _token_clean(token)
    error: ValidationError | None = None
    # Locked while checked: two requests with one code cannot both pass (last_t moves on).
    with transaction.atomic():
        device = Device.from_persistent_id(device_id, for_verify=True) if device_id else None
        if device is None or device.user_id != user.pk or not device.confirmed:
            raise ValidationError("Choose one of your authenticator apps.", code="device")
        allowed, extra = device.verify_is_allowed()
        if not allowed:
            if extra.get("reason") == VerifyNotAllowed.N_FAILED_ATTEMPTS:
                error = ValidationError(
                    "Too many wrong codes: wait a minute, then try the newest code.", code="throttled"
                )
            else:
                error = ValidationError("Codes cannot be checked for this app just now.", code="throttled")
        elif not device.verify_token(token):
            # verify_token saved the failure count; it must survive, so no exception inside the block.
            error = ValidationError("That code is not right. Try the newest one your app shows.", code="invalid_token")
    if error is not None:
        logger.info("second factor refused for user %s (%s)", user.pk, error.code)
        raise error
    return device


def totp_device_remove(*, device: TOTPDevice, by: AbstractBaseUser) -> None:
    """A manager removes a staff member's app (a lost or replaced phone)."""
    require_manager(by)
    with transaction.atomic():
        audit_record(
            actor=by,
            action=AuditEvent.Action.DELETE,
            object_type="totp_device",
            object_id=device.pk,
            client_id=None,
            detail=f"of user {device.user_id}",
        )
        device.delete()


def login_attempts_unlock(*, attempts: QuerySet[AccessAttempt], by: AbstractBaseUser) -> int:
    """A manager clears failed-login records, so the usernames and addresses may log in again."""
    require_manager(by)
    with transaction.atomic():
        rows = list(attempts.select_for_update().only("pk"))
        for attempt in rows:
            audit_record(
                actor=by,
                action=AuditEvent.Action.DELETE,
                object_type="login_lockout",
                object_id=attempt.pk,
                client_id=None,
                detail="unlocked",
            )
        AccessAttempt.objects.filter(pk__in=[attempt.pk for attempt in rows]).delete()
    logger.info("login lockout cleared: %s record(s) by user %s", len(rows), by.pk)
    return len(rows)
