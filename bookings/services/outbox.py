"""Claims due outbox rows and sends them, so each message goes out once.

The guarantee and its one gap are described in README.md ("Client messages: exactly once").
In short: a row is claimed (status `sending`, a fresh claim token) in a committed transaction
before anything is sent, and marked `sent` only by the holder of that token after the
mail server or SMS provider accepted the message. A second worker cannot claim a claimed
row; a claim whose worker died is taken over after REMINDERS_CLAIM_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from bookings import sms
from bookings.models import ClientMessage
from bookings.services.ics import message_ics
from bookings.services.messaging import (
    CHANGE_KINDS,
    NO_OPT_OUT_KINDS,
    ONE_OFF_KINDS,
    channel_for,
    message_render,
    skip_reason,
)

logger = logging.getLogger(__name__)

Status = ClientMessage.Status
MAX_BACKOFF = timedelta(hours=6)
_EMAIL = re.compile(r"[^\s<>\"',;]+@[^\s<>\"',;]+")
_PHONE = re.compile(r"\+?\d[\d ()-]{6,}\d")


def _due(now: datetime) -> Q:
    return Q(status=Status.PENDING, due_at__lte=now) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def _stale(now: datetime) -> Q:
    return Q(status=Status.SENDING, claimed_at__lt=now - timedelta(seconds=settings.REMINDERS_CLAIM_TIMEOUT_SECONDS))


def reminders_claim(*, now: datetime, limit: int, token: str) -> list[int]:
    """Claim up to `limit` due rows (and rows whose worker died) for this token; return their ids."""
    # A dead worker's row that already used every attempt stops here, kept for staff to look at.
    ClientMessage.objects.filter(_stale(now), attempts__gte=settings.REMINDERS_MAX_ATTEMPTS).update(
        status=Status.FAILED,
        claim_token="",
        last_error="The worker stopped while sending, on the last allowed attempt.",
        updated_at=timezone.now(),
    )
    claimable = _due(now) | _stale(now)
    claim = {
        "status": Status.SENDING,
        "claim_token": token,
        "claimed_at": now,
        "attempts": F("attempts") + 1,
        "updated_at": timezone.now(),
    }
    rows = ClientMessage.objects.filter(claimable).order_by("due_at", "id")
    if connection.vendor == "postgresql":
        with transaction.atomic():
            # SKIP LOCKED: concurrent dispatchers each take different rows instead of queueing
            # on (and then double-claiming) the same ones.
            ids = list(rows.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
            ClientMessage.objects.filter(id__in=ids).update(**claim)
        return ids
    # SQLite has no row locks: the conditional UPDATE re-checks claimability under the database
    # write lock, so of two dispatchers that picked the same candidates only one matches each row.
    candidates = list(rows.values_list("id", flat=True)[:limit])
    ClientMessage.objects.filter(claimable, id__in=candidates).update(**claim)
    return list(ClientMessage.objects.filter(claim_token=token, status=Status.SENDING).values_list("id", flat=True))


def _finish(reminder_id: int, token: str, **fields) -> bool:
    """Write the outcome only if the claim is still ours (it was not taken over as stale)."""
    done = ClientMessage.objects.filter(pk=reminder_id, status=Status.SENDING, claim_token=token).update(
        claim_token="", updated_at=timezone.now(), **fields
    )
    if not done:
        logger.warning("message %s: claim lost before its outcome was recorded", reminder_id)
    return bool(done)


def _scrub(text: str) -> str:
    """An error message fit for the admin and logs: no addresses or numbers."""
    return _PHONE.sub("[number]", _EMAIL.sub("[address]", text))[:500]


def _message_id(reminder: ClientMessage) -> str:
    # Stable across retries, so a mail system that saw the first copy can recognise a second.
    host = urlsplit(settings.SITE_URL).hostname or "smpclinic.invalid"
    return f"<outbox-{reminder.pk}@{host}>"


def _deliver(reminder: ClientMessage, *, mailer, wordings: dict, now: datetime) -> str:
    """Send one message; return the channel used. Raises whatever the mailer or provider raises."""
    client = reminder.appointment.client
    rendered = message_render(reminder, wordings=wordings)
    # A change message was queued once per channel; a scheduled one follows the client's
    # preference at send time.
    channel = reminder.channel if reminder.kind in CHANGE_KINDS | ONE_OFF_KINDS else channel_for(client)
    if channel == ClientMessage.Channel.SMS:
        sms.send_sms(to=str(client.phone), body=rendered["sms"], reference=f"outbox-{reminder.pk}")
        return channel
    headers = {"Message-ID": _message_id(reminder), "X-SMP-Outbox-Id": str(reminder.pk)}
    if reminder.kind not in NO_OPT_OUT_KINDS:
        headers["List-Unsubscribe"] = f"<{rendered['unsubscribe_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(rendered["subject"], rendered["text"], to=[client.email], headers=headers)
    email.attach_alternative(rendered["html"], "text/html")
    if reminder.kind in CHANGE_KINDS:
        ics, _ = message_ics(message=reminder, manage_url=rendered["manage_url"], now=now)
        email.attach(f"{reminder.appointment.reference}.ics", ics, "text/calendar")
    mailer.send_messages([email])
    return channel


def _claimed(ids: list[int], token: str) -> list[ClientMessage]:
    related = (
        "appointment__client",
        "appointment__location",
        "appointment__technician",
        "appointment__treatment",
        "appointment__course__treatment",
    )
    rows = ClientMessage.objects.select_related(*related).filter(pk__in=ids, status=Status.SENDING, claim_token=token)
    return list(rows.order_by("due_at", "id"))


def reminder_send(*, reminder: ClientMessage, token: str, now: datetime, mailer, wordings: dict) -> str:
    """Send one claimed row and record the outcome: 'sent', 'skipped', 'retry' or 'failed'."""
    reminder_id = reminder.pk
    reason = skip_reason(reminder, now=now)
    if reason:
        _finish(reminder_id, token, status=Status.CANCELLED, last_error=reason)
        return "skipped"
    try:
        channel = _deliver(reminder, mailer=mailer, wordings=wordings, now=now)
    except Exception as exc:  # noqa: BLE001 - any failure outside us must be recorded and retried, not lose the row
        error = _scrub(f"{type(exc).__name__}: {exc}")
        if reminder.attempts >= settings.REMINDERS_MAX_ATTEMPTS:
            _finish(reminder_id, token, status=Status.FAILED, last_error=error)
            logger.error(
                "message %s failed for good after %s attempts (%s)", reminder_id, reminder.attempts, type(exc).__name__
            )
            return "failed"
        delay = min(
            timedelta(seconds=settings.REMINDERS_RETRY_BASE_SECONDS * 2 ** (reminder.attempts - 1)), MAX_BACKOFF
        )
        _finish(reminder_id, token, status=Status.PENDING, last_error=error, next_attempt_at=now + delay)
        logger.warning(
            "message %s attempt %s failed (%s); retry in %ss",
            reminder_id,
            reminder.attempts,
            type(exc).__name__,
            int(delay.total_seconds()),
        )
        return "retry"
    _finish(reminder_id, token, status=Status.SENT, sent_at=now, channel=channel, last_error="", next_attempt_at=None)
    return "sent"


def reminders_dispatch(*, now: datetime | None = None) -> dict[str, int]:
    """Claim and send due messages in batches until none is left or the run's budget is spent.

    `now` fixes the clock for every batch (tests move it forward); by default each batch
    uses the real time.
    """
    started = time.monotonic()
    outcomes: Counter[str] = Counter()
    # Built before claiming: a misconfigured mailer must fail the run, not strand claimed rows.
    mailer = mailers.default
    while time.monotonic() - started < settings.REMINDERS_DISPATCH_BUDGET_SECONDS:
        current = now or timezone.now()
        token = uuid.uuid4().hex
        ids = reminders_claim(now=current, limit=settings.REMINDERS_BATCH_SIZE, token=token)
        if not ids:
            break
        try:
            mailer.open()
        except Exception:  # noqa: BLE001 - each send below retries the connection and records its own error
            logger.warning("dispatch: mailer did not open; each message will record the failure")
        try:
            wordings: dict = {}
            for reminder in _claimed(ids, token):
                outcome = reminder_send(reminder=reminder, token=token, now=current, mailer=mailer, wordings=wordings)
                outcomes[outcome] += 1
        finally:
            mailer.close()
    if outcomes:
        logger.info("dispatch: %s", ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())))
    return dict(outcomes)
