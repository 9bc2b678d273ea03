"""Claims due outbox rows and sends them, so each message goes out once.

The guarantee and its one gap are described in README.md ("Client messages: exactly once").
In short: a row is claimed (status `sending`, a fresh claim token) in a committed transaction
before anything is sent, and marked `sent` only by the holder of that token after the
mail server or SMS provider accepted the message. A second worker cannot claim a claimed
row; a claim whose worker died is taken over after REMINDERS_CLAIM_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import email.message
import email.policy
import logging
import random
import re
import sys
import time
import uuid
import weakref
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from email.headerregistry import BaseHeader, HeaderRegistry
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
    changes_superseded,
    channel_for,
    message_recipient,
    message_render,
    skip_reason,
    wordings_for_batch,
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
    _claim(now=now, limit=limit, token=token)
    return list(ClientMessage.objects.filter(claim_token=token, status=Status.SENDING).values_list("id", flat=True))


def _claim(*, now: datetime, limit: int, token: str) -> None:
    """Claim up to `limit` rows for `token` in one statement; the caller reads them back by token."""
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
        # UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n): the subquery locks
        # the rows it picks and passes over those another dispatcher holds, so concurrent
        # dispatchers each take different rows in one round trip instead of queueing on (and
        # then double-claiming) the same ones. The claim commits before anything is sent.
        with transaction.atomic():
            ClientMessage.objects.filter(id__in=rows.select_for_update(skip_locked=True).values("id")[:limit]).update(
                **claim
            )
        return
    # SQLite has no row locks: the conditional UPDATE re-checks claimability under the database
    # write lock, so of two dispatchers that picked the same candidates only one matches each row.
    candidates = list(rows.values_list("id", flat=True)[:limit])
    ClientMessage.objects.filter(claimable, id__in=candidates).update(**claim)


class _FoldedOnce(BaseHeader):
    """A header that folds once per line length, line ending and UTF-8 setting (all that
    folding reads from a policy) and keeps the result: shared headers fold once per worker."""

    def fold(self, *, policy):
        key = (policy.max_line_length, policy.linesep, policy.utf8)
        folded = self.__dict__.setdefault("_folded", {})
        text = folded.get(key)
        if text is None:
            text = folded[key] = super().fold(policy=policy)
        return text


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, each header's class made once and each header parsed once.

    The stdlib's registry builds a new class (type(...)) for every header of every message it
    parses; at a few dozen headers a message that is milliseconds each, growing as the classes
    pile up until the garbage collector runs. The classes hold no state, so one per header name
    serves every message. Most headers of a batch's e-mails are the same text (From, Subject,
    MIME-Version, each part's Content-Type and Content-Transfer-Encoding): a header object is
    a parsed, immutable string, so one made from the same name and text serves every message
    too, and folds once (_FoldedOnce)."""

    MADE_LIMIT = 4096

    def __init__(self) -> None:
        super().__init__(base_class=_FoldedOnce)
        self._classes: dict[str, type] = {}
        self._made: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._classes.get(key)
        if made is None:
            made = self._classes[key] = super().__getitem__(name)
        return made

    def __call__(self, name: str, value):
        if type(value) is not str:  # a datetime (Date) or an address object: made each time
            return super().__call__(name, value)
        key = (name, value)
        header = self._made.get(key)
        if header is None:
            if len(self._made) >= self.MADE_LIMIT:  # per-recipient headers (To, Message-ID) pass through
                self._made.clear()
            header = self._made[key] = super().__call__(name, value)
        return header


_POLICIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fast_policy(policy: email.policy.EmailPolicy) -> email.policy.EmailPolicy:
    """The mailer's policy (SMTP's, the default) with the cached header classes."""
    fast = _POLICIES.get(policy)
    if fast is None:
        fast = _POLICIES[policy] = policy.clone(header_factory=_HeaderClasses())
    return fast


# The stdlib's boundary format ("=" * 15, a random 19-digit number, "=="), drawn once per
# process for the first, second, ... multipart container of a message.
_BOUNDARIES: list[str] = []


def _boundary(n: int) -> str:
    while len(_BOUNDARIES) <= n:
        _BOUNDARIES.append("=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "==")
    return _BOUNDARIES[n]


def _share_boundaries(message: email.message.EmailMessage) -> None:
    """Give each multipart container a boundary drawn once per process, where it appears
    nowhere in the message's parts.

    The generator otherwise draws a fresh one per container per message, compiles a regular
    expression to check it against the text and re-parses the Content-Type header it lands in:
    about a third of building an e-mail. A boundary only has to be absent from the parts it
    separates, not differ between messages; with the same one each time, the Content-Type
    header is the same text too and is parsed and folded once (_HeaderClasses). Where it does
    appear in a part (or a part is not plain text), the stdlib chooses as before."""
    containers = [part for part in message.walk() if part.get_content_maintype() == "multipart"]
    texts = [part.get_payload() for part in message.walk() if not part.is_multipart()]
    if not all(isinstance(text, str) for text in texts):
        return
    for n, container in enumerate(containers):
        boundary = _boundary(n)
        if container.get_boundary() is None and not any(boundary in text for text in texts):
            container.set_boundary(boundary)


class _OutboxEmail(EmailMultiAlternatives):
    """An outbox e-mail: the same MIME message, built without a new class per header or a
    new boundary per message."""

    def message(self, *, policy=email.policy.default):
        message = super().message(policy=_fast_policy(policy))
        _share_boundaries(message)
        return message


def _mine(ids, token: str):
    return ClientMessage.objects.filter(pk__in=ids, status=Status.SENDING, claim_token=token)


class _Marks:
    """Accepted messages not yet recorded `sent`, written in groups.

    Each group is one UPDATE and one commit that waits for the disk; that commit, not the
    statement, is what a mark costs (milliseconds), so marking every message alone caps a
    worker at a few hundred messages a second however fast the mail server takes them. A group
    is written once it holds REMINDERS_MARK_GROUP messages, or once REMINDERS_MARK_WINDOW_MS
    have passed since the send of its oldest message began, whichever comes first, and always
    before the batch's closing write. So a worker killed mid-batch sends again at most the
    messages of the open group: fewer than REMINDERS_MARK_GROUP, all handed over in the last
    REMINDERS_MARK_WINDOW_MS before the send it died in. When sends are slow (a real SMTP or
    API round trip takes longer than the window) every message is marked before the next goes,
    as if there were no groups; only fast sends share a commit. REMINDERS_MARK_GROUP=1 marks
    each message alone.
    """

    def __init__(self, token: str, *, now: datetime) -> None:
        self.token = token
        self.now = now
        self.group = settings.REMINDERS_MARK_GROUP
        self.window = settings.REMINDERS_MARK_WINDOW_MS / 1000
        self.open: dict[str, list[int]] = defaultdict(list)
        self.size = 0
        self.opened_at = 0.0

    def add(self, reminder_id: int, *, channel: str, send_started: float) -> None:
        if not self.size:
            self.opened_at = send_started
        self.open[channel].append(reminder_id)
        self.size += 1
        if self.size >= self.group or time.monotonic() - self.opened_at >= self.window:
            self.write()

    def write(self) -> None:
        """Record the open group as sent: one UPDATE per channel in it (one, or two with texts),
        in autocommit, so the group is recorded before the next message is handed over."""
        if not self.size:
            return
        ops = connection.ops
        table = ops.quote_name(ClientMessage._meta.db_table)
        sent_at = ops.adapt_datetimefield_value(self.now)
        with connection.cursor() as cursor:
            for channel, ids in self.open.items():
                # One plain statement: the ORM would build the same UPDATE anew for each group.
                cursor.execute(
                    _MARK_SENT_SQL.format(table=table, ids=", ".join(["%s"] * len(ids))),
                    [Status.SENT, sent_at, channel, ops.adapt_datetimefield_value(timezone.now()),
                     *ids, Status.SENDING, self.token],
                )  # fmt: skip
                if cursor.rowcount != len(ids):
                    logger.warning(
                        "dispatch: %s claims lost before their outcome was recorded", len(ids) - cursor.rowcount
                    )
        self.open.clear()
        self.size = 0


_MARK_SENT_SQL = (
    'UPDATE {table} SET "status" = %s, "sent_at" = %s, "channel" = %s, "last_error" = \'\', '
    '"next_attempt_at" = NULL, "claim_token" = \'\', "updated_at" = %s '
    'WHERE "id" IN ({ids}) AND "status" = %s AND "claim_token" = %s'
)


def _batch_close(token: str, outcomes: dict[tuple, list[int]]) -> None:
    """Record the batch's other outcomes (the marks recorded the sent ones) in one UPDATE per
    distinct outcome, in one transaction.

    Every commit here and in each group's mark waits for the disk: a mark that a crash of the
    database server could lose would be messages sent twice.
    """
    if not outcomes:
        return
    with transaction.atomic():
        for (status, error, next_attempt_at), ids in outcomes.items():
            fields = {"status": status, "last_error": error}
            if status == Status.PENDING:
                fields["next_attempt_at"] = next_attempt_at
            done = _mine(ids, token).update(claim_token="", updated_at=timezone.now(), **fields)
            if done != len(ids):
                logger.warning("dispatch: %s claims lost before their outcome was recorded", len(ids) - done)


def _scrub(text: str) -> str:
    """An error message fit for the admin and logs: no addresses or numbers."""
    return _PHONE.sub("[number]", _EMAIL.sub("[address]", text))[:500]


def _message_id(reminder: ClientMessage) -> str:
    # Stable across retries, so a mail system that saw the first copy can recognise a second.
    host = urlsplit(settings.SITE_URL).hostname or "smpclinic.invalid"
    return f"<outbox-{reminder.pk}@{host}>"


def _channel(reminder: ClientMessage) -> str:
    # A change message was queued once per channel; a scheduled one follows the client's
    # preference at send time.
    if reminder.kind in CHANGE_KINDS | ONE_OFF_KINDS:
        return reminder.channel
    return channel_for(message_recipient(reminder))


def _deliver(reminder: ClientMessage, *, mailer, sms_backend, wordings: dict, now: datetime) -> str:
    """Send one message; return the channel used. Raises whatever the mailer or provider raises.

    E-mail goes through the batch's open connection one message at a time rather than in one
    send_messages(list): each accepted message is then recorded before the next goes, and a
    refusal is pinned on the message it belongs to. SMS providers have no batch call here."""
    client = message_recipient(reminder)
    rendered = message_render(reminder, wordings=wordings)
    channel = _channel(reminder)
    if channel == ClientMessage.Channel.SMS:
        sms_backend.send(to=str(client.phone), body=rendered["sms"], reference=f"outbox-{reminder.pk}")
        return channel
    headers = {"Message-ID": _message_id(reminder), "X-SMP-Outbox-Id": str(reminder.pk)}
    if reminder.kind not in NO_OPT_OUT_KINDS:
        headers["List-Unsubscribe"] = f"<{rendered['unsubscribe_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = _OutboxEmail(rendered["subject"], rendered["text"], to=[client.email], headers=headers)
    email.attach_alternative(rendered["html"], "text/html")
    if reminder.kind in CHANGE_KINDS:
        ics, _ = message_ics(message=reminder, manage_url=rendered["manage_url"], now=now)
        email.attach(f"{reminder.appointment.reference}.ics", ics, "text/calendar")
    if reminder.kind == ClientMessage.Kind.RECEIPT:
        from bookings.services.receipts import receipt_pdf_for_message

        # Built at send time from the payment row: the e-mail carries the receipt itself.
        attachment = receipt_pdf_for_message(reminder)
        if attachment is not None:
            email.attach(attachment[0], attachment[1], "application/pdf")
    mailer.send_messages([email])
    return channel


def _claimed(token: str) -> list[ClientMessage]:
    related = (
        "appointment__client",
        "appointment__location",
        "appointment__technician",
        "appointment__treatment",
        "appointment__course__treatment",
        # The intake reminder's send-time check (has the form been sent meanwhile?).
        "appointment__intake",
        "waitlist_entry__location",
        "waitlist_entry__treatment",
    )
    rows = ClientMessage.objects.select_related(*related).filter(status=Status.SENDING, claim_token=token)
    return list(rows.order_by("due_at", "id"))


def _failure(reminder: ClientMessage, exc: Exception, *, now: datetime) -> tuple[str, tuple]:
    """The outcome of a failed send: ('retry' or 'failed', the fields to record)."""
    error = _scrub(f"{type(exc).__name__}: {exc}")
    if reminder.attempts >= settings.REMINDERS_MAX_ATTEMPTS:
        logger.error(
            "message %s failed for good after %s attempts (%s)", reminder.pk, reminder.attempts, type(exc).__name__
        )
        return "failed", (Status.FAILED, error, None)
    delay = min(timedelta(seconds=settings.REMINDERS_RETRY_BASE_SECONDS * 2 ** (reminder.attempts - 1)), MAX_BACKOFF)
    logger.warning(
        "message %s attempt %s failed (%s); retry in %ss",
        reminder.pk,
        reminder.attempts,
        type(exc).__name__,
        int(delay.total_seconds()),
    )
    return "retry", (Status.PENDING, error, now + delay)


def _send_batch(messages: list[ClientMessage], token: str, *, now: datetime, mailer, outcomes: Counter[str]) -> None:
    """Send the rows claimed under `token` through one open mail connection and record them:
    accepted messages in small groups as they go (_Marks), the rest together at the end
    (_batch_close)."""
    wordings = wordings_for_batch(messages)
    superseded = changes_superseded(messages)
    sms_backend = None
    pending: dict[tuple, list[int]] = defaultdict(list)
    marks = _Marks(token, now=now)
    try:
        for reminder in messages:
            reason = skip_reason(reminder, now=now, superseded=superseded)
            if reason:
                pending[Status.CANCELLED, reason, None].append(reminder.pk)
                outcomes["skipped"] += 1
                continue
            send_started = time.monotonic()
            try:
                if sms_backend is None and _channel(reminder) == ClientMessage.Channel.SMS:
                    sms_backend = sms.get_backend()
                channel = _deliver(reminder, mailer=mailer, sms_backend=sms_backend, wordings=wordings, now=now)
            except Exception as exc:  # noqa: BLE001 - any failure outside us must be recorded and retried, not lose the row
                outcome, fields = _failure(reminder, exc, now=now)
                pending[fields].append(reminder.pk)
                outcomes[outcome] += 1
                continue
            marks.add(reminder.pk, channel=channel, send_started=send_started)
            outcomes["sent"] += 1
    finally:
        # Also after an unexpected error: what was decided is recorded, the rest stays claimed
        # and is taken over after the claim timeout, as a dead worker's would be.
        try:
            marks.write()
        finally:
            _batch_close(token, pending)


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
        _claim(now=current, limit=settings.REMINDERS_BATCH_SIZE, token=token)
        messages = _claimed(token)
        if not messages:
            break
        # One mail connection for the batch, opened after the claim committed.
        try:
            mailer.open()
        except Exception:  # noqa: BLE001 - each send below retries the connection and records its own error
            logger.warning("dispatch: mailer did not open; each message will record the failure")
        try:
            _send_batch(messages, token, now=current, mailer=mailer, outcomes=outcomes)
        finally:
            mailer.close()
    if outcomes:
        logger.info("dispatch: %s", ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())))
    return dict(outcomes)
