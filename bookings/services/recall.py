"""A recalled lot: every client treated with it (bookings.stock_selectors.recall_search), as a CSV
for the clinic's records, and one message to each through the outbox in wording staff edit.

Only holders of bookings.recall_batch (the Manager role) may do either; each export and each
send leaves an audit row."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from bookings.exports import csv_lines
from bookings.models import ClientMessage
from bookings.models_stock import Batch, RecallNotice
from bookings.services import messaging
from bookings.stock_selectors import RecallUse, lot_key, recall_counts, recall_export_rows, recall_recipients
from clients.models import AuditEvent
from clients.services import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

PERMISSION = "bookings.recall_batch"

DEFAULT_SUBJECT = "About a pigment batch used in your treatment at {{ clinic_name }}"
DEFAULT_BODY = (
    "Hello {{ first_name }},\n\n"
    "The maker of one of the batches we used in your scalp micropigmentation (lot {{ lot_number }}) "
    "has recalled it. We are contacting everyone treated with it.\n\n"
    "Most people need do nothing. If you have noticed redness, swelling, itching or anything unusual "
    "in the treated area, please call us on {{ location_phone }} and we will see you.\n\n"
    "{{ clinic_name }}"
)
MAX_SUBJECT, MAX_BODY = 200, 2000


def require_recall(user: AbstractBaseUser) -> None:
    if not (user.is_authenticated and user.has_perm(PERMISSION)):
        raise PermissionDenied("Only a manager may search, export or message a recall.")


CSV_HEADER = [
    "client_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "postcode",
    "preferred_channel",
    "session_date",
    "session_reference",
    "session_location",
    "technician",
    "product",
    "lot_number",
    "batch_location",
    "share_of_blend_percent",
    "notified_at",
]
_DAY, _NOTIFIED = RecallUse._fields.index("day"), RecallUse._fields.index("notified_at")


def _csv_rows(lot: str, batch_ids: list[int]) -> Iterator[list]:
    """One row per client and session, streamed (plain values, a chunk of rows in memory)."""
    localtime = timezone.localtime
    for use in recall_export_rows(lot, batch_ids):
        row = list(use)  # RecallUse's fields are CSV_HEADER's columns, in its order
        row[_DAY] = use.day.isoformat()
        row[_NOTIFIED] = localtime(use.notified_at).isoformat(timespec="minutes") if use.notified_at else ""
        yield row


@dataclass(frozen=True)
class RecallExport:
    lot: str
    batch_count: int
    client_count: int


def recall_csv_export(*, lot: str, by: AbstractBaseUser) -> tuple[RecallExport, Iterator[str]]:
    """Check the permission, count, write the audit row, and return the counts and the CSV's
    lines (one per client and session), generated from one streamed query as they are sent."""
    require_recall(by)
    key = lot_key(lot)
    if not key:
        raise ValidationError("Type the lot number to search for.", code="lot_required")
    batch_ids = list(Batch.objects.filter(lot_number__iexact=key, is_legacy=False).values_list("pk", flat=True))
    client_count = recall_counts(batch_ids)[1] if batch_ids else 0
    export = RecallExport(lot=key, batch_count=len(batch_ids), client_count=client_count)
    audit_record(
        actor=by,
        action=AuditEvent.Action.EXPORT,
        object_type="batch_recall_csv",
        object_id=key[:40],
        client_id=None,
        fields=CSV_HEADER,
        detail=f"csv lot={key} batches={len(batch_ids)} clients={client_count}",
    )
    logger.info("recall csv exported by user %s: %s clients", getattr(by, "pk", None), client_count)
    return export, csv_lines(CSV_HEADER, _csv_rows(key, batch_ids))


@dataclass(frozen=True)
class RecallSent:
    queued: int
    already: int
    unreachable: int


def wording_validate(*, subject: str, body: str) -> None:
    """Staff's wording must render (the sandbox's template syntax) and fit."""
    errors = {}
    if not subject.strip():
        errors["subject"] = ValidationError("Write the message's subject.", code="subject_required")
    elif len(subject) > MAX_SUBJECT:
        errors["subject"] = ValidationError(f"At most {MAX_SUBJECT} characters.", code="subject_too_long")
    if not body.strip():
        errors["body"] = ValidationError("Write the message.", code="body_required")
    elif len(body) > MAX_BODY:
        errors["body"] = ValidationError(f"At most {MAX_BODY} characters.", code="body_too_long")
    if errors:
        raise ValidationError(errors)
    try:
        messaging.wording_check({"subject": subject, "body": body})
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None


def recall_message_send(*, lot: str, subject: str, body: str, by: AbstractBaseUser) -> RecallSent:
    """Queue one message, in staff's wording, to every client treated with the lot who has not
    had one about it yet: running it again for the same lot sends nobody a second message.

    Each message hangs on the client's latest session that used the lot (its location's name and
    phone fill the wording) and goes by the client's preferred channel, whatever their reminder
    settings: it is about their safety. Erased clients get nothing."""
    require_recall(by)
    wording_validate(subject=subject, body=body)
    key = lot_key(lot)
    if not key:
        raise ValidationError("Type the lot number to search for.", code="lot_required")
    with transaction.atomic():
        # Locked: two managers sending the same recall at once queue one message per client, the
        # second finding the first one's notices once it commits.
        locked = list(Batch.objects.select_for_update().filter(lot_number__iexact=key, is_legacy=False).values("pk"))
        if not locked:
            raise ValidationError(f"No batch has lot number {key}.", code="lot_unknown")
        now = timezone.now()
        payload = {"lot_number": key, "subject": subject, "body": body}
        todo, already, unreachable = [], 0, 0
        for recipient in recall_recipients(key):
            if recipient.notified:
                already += 1
            elif recipient.erased or not (recipient.email or recipient.phone):
                unreachable += 1
            else:
                todo.append(recipient)
        messages = ClientMessage.objects.bulk_create(
            ClientMessage(
                appointment_id=recipient.appointment_id,
                kind=ClientMessage.Kind.BATCH_RECALL,
                channel=messaging.channel_for(recipient),
                due_at=now,
                payload=payload,
            )
            for recipient in todo
        )
        RecallNotice.objects.bulk_create(
            RecallNotice(lot_number=key, client_id=recipient.client_id, message=message, sent_by=by)
            for recipient, message in zip(todo, messages, strict=True)
        )
        audit_record(
            actor=by,
            action=AuditEvent.Action.CREATE,
            object_type="batch_recall_message",
            object_id=key[:40],
            client_id=None,
            fields=["subject", "body"],
            detail=f"lot={key} queued={len(todo)} already={already} unreachable={unreachable}",
        )
        if todo:
            transaction.on_commit(messaging.wake_dispatcher)
    logger.info("recall messages queued by user %s: %s (already %s)", getattr(by, "pk", None), len(todo), already)
    return RecallSent(queued=len(todo), already=already, unreachable=unreachable)
