"""Every write to pigment and needle stock, and the batches a session used: checked, locked where
it matters, audited. Recalls (search, CSV, messages) are in bookings.services.recall."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from bookings.models import Appointment
from bookings.models_stock import Batch, Product, SessionBatch
from bookings.stock_selectors import batch_refusal, pigment_record
from clients.models import AuditEvent, Client, SessionNote
from clients.services import audit_record, client_export, session_note_save

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

AUDIT_SKIP = {"id", "created_at", "updated_at"}


def _changed(before: dict | None, instance) -> list[str]:
    after = model_to_dict(instance)
    if before is None:
        return [k for k, v in after.items() if k not in AUDIT_SKIP and v not in (None, "", False)]
    return [k for k in after if k not in AUDIT_SKIP and before.get(k) != after.get(k)]


def _save(instance, *, before: dict | None, by: AbstractBaseUser) -> None:
    instance.full_clean()
    instance.save()
    changed = _changed(before, instance)
    if before is None or changed:
        audit_record(
            actor=by,
            action=AuditEvent.Action.CREATE if before is None else AuditEvent.Action.UPDATE,
            object_type=instance._meta.model_name,
            object_id=instance.pk,
            client_id=None,
            fields=changed,
        )


# Products and batches -----------------------------------------------------------------------


@transaction.atomic
def product_save(*, product: Product | None = None, data: dict[str, Any], by: AbstractBaseUser) -> Product:
    """Create a product (``product`` None) or change one."""
    if product is None or product.pk is None:
        before, product = None, Product()
    else:
        product = Product.objects.select_for_update().get(pk=product.pk)
        before = model_to_dict(product)
    for name, value in data.items():
        setattr(product, name, value)
    _save(product, before=before, by=by)
    return product


@transaction.atomic
def product_delete(*, product: Product, by: AbstractBaseUser) -> None:
    """Delete a product nobody stocked (its batches protect it otherwise)."""
    if product.batches.exists():
        raise ValidationError("This product has batches: untick 'active' instead.", code="product_has_batches")
    pk = product.pk
    product.delete()
    audit_record(actor=by, action=AuditEvent.Action.DELETE, object_type="product", object_id=pk, client_id=None)


# Fields of a batch that describe the physical lot; once a session used it they are evidence.
LOT_FIELDS = ("product", "location", "lot_number", "expires_on", "received_on")


@transaction.atomic
def batch_save(*, batch: Batch | None = None, data: dict[str, Any], by: AbstractBaseUser) -> Batch:
    """Receive a batch (``batch`` None) or correct one. A batch sessions used keeps its product,
    location, lot and dates: they are what a recall searches and what clients were told."""
    if batch is None or batch.pk is None:
        before, batch = None, Batch()
    else:
        # Locked: a session recording this batch waits for the correction, and sees it.
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        before = model_to_dict(batch)
        if batch.is_legacy:
            raise ValidationError("A batch made from free text is kept as it is.", code="batch_legacy")
    if "lot_number" in data:
        data = {**data, "lot_number": " ".join(str(data["lot_number"]).split())}
    for name, value in data.items():
        setattr(batch, name, value)
    if before is not None:
        locked = [f for f in LOT_FIELDS if model_to_dict(batch).get(f) != before.get(f)]
        if locked and SessionBatch.objects.filter(batch=batch).exists():
            raise ValidationError(
                "Sessions have used this batch: its product, location, lot and dates can no longer change.",
                code="batch_used",
            )
    _save(batch, before=before, by=by)
    return batch


@transaction.atomic
def batch_delete(*, batch: Batch, by: AbstractBaseUser) -> None:
    """Delete a batch entered by mistake; one a session used is evidence and stays."""
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    if SessionBatch.objects.filter(batch=batch).exists():
        raise ValidationError("Sessions have used this batch: it cannot be deleted.", code="batch_used")
    pk = batch.pk
    batch.delete()
    audit_record(actor=by, action=AuditEvent.Action.DELETE, object_type="batch", object_id=pk, client_id=None)


@transaction.atomic
def batch_recall(*, batch: Batch, reason: str, by: AbstractBaseUser) -> Batch:
    """Mark a batch recalled: from now on no session can record it. Again changes nothing."""
    reason = " ".join(reason.split())[:200]
    if not reason:
        raise ValidationError("Give the recall's reason (e.g. the supplier's notice).", code="recall_reason_required")
    # Locked: a session note saving this batch right now either commits first or sees the recall.
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    if batch.recalled_at is not None:
        return batch
    batch.recalled_at, batch.recall_reason, batch.recalled_by = timezone.now(), reason, by
    batch.full_clean()
    batch.save(update_fields=["recalled_at", "recall_reason", "recalled_by", "updated_at"])
    audit_record(
        actor=by,
        action=AuditEvent.Action.UPDATE,
        object_type="batch",
        object_id=batch.pk,
        client_id=None,
        fields=["recalled_at", "recall_reason"],
        detail="recalled",
    )
    logger.info("batch %s recalled by user %s", batch.pk, getattr(by, "pk", None))
    return batch


@transaction.atomic
def batch_recall_withdraw(*, batch: Batch, by: AbstractBaseUser) -> Batch:
    """Undo a recall marked in error (the supplier withdrew it): the batch may be used again."""
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    if batch.recalled_at is None:
        return batch
    batch.recalled_at, batch.recall_reason, batch.recalled_by = None, "", None
    batch.save(update_fields=["recalled_at", "recall_reason", "recalled_by", "updated_at"])
    audit_record(
        actor=by,
        action=AuditEvent.Action.UPDATE,
        object_type="batch",
        object_id=batch.pk,
        client_id=None,
        fields=["recalled_at", "recall_reason"],
        detail="recall withdrawn",
    )
    return batch


# What a session used ------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchUse:
    """One batch a session used; a pigment's share of the blend in percent (None for a needle)."""

    batch: Batch | int
    share_percent: int | None = None

    @property
    def batch_id(self) -> int:
        return self.batch if isinstance(self.batch, int) else self.batch.pk


def session_note_batches_set(
    *, note: SessionNote, uses: Sequence[BatchUse], by: AbstractBaseUser
) -> list[SessionBatch]:
    """Make the note's batches exactly ``uses``. A batch new to the note must be the session
    location's, in date on the session's day and not recalled; one already listed stays listed
    (it was used, whatever has happened to it since)."""
    with transaction.atomic():
        appointment = Appointment.objects.select_related("location").get(pk=note.appointment_id)
        wanted: dict[int, int | None] = {}
        for use in uses:
            if use.batch_id in wanted:
                raise ValidationError("The same batch is listed twice.", code="batch_listed_twice")
            wanted[use.batch_id] = use.share_percent
        existing = {u.batch_id: u for u in SessionBatch.objects.select_for_update().filter(session_note=note)}
        new_ids = [pk for pk in wanted if pk not in existing]
        # Locked: a recall marked at this moment either commits first (and is refused here) or
        # waits for this note; a recalled batch never slips into a note after its recall.
        batches = {
            b.pk: b
            for b in Batch.objects.select_for_update(of=("self",)).select_related("product").filter(pk__in=new_ids)
        }
        errors = []
        for pk in new_ids:
            batch = batches.get(pk)
            if batch is None:
                errors.append(ValidationError("That batch does not exist.", code="batch_unknown"))
                continue
            refusal = batch_refusal(batch, appointment=appointment)
            if refusal is not None:
                errors.append(ValidationError(refusal[1], code=refusal[0]))
        if errors:
            raise ValidationError(errors)
        removed = [u for pk, u in existing.items() if pk not in wanted]
        changed = []
        for pk, share in wanted.items():
            row = existing.get(pk)
            if row is not None and row.share_percent != share:
                row.share_percent = share
                row.full_clean(exclude=["session_note", "batch"], validate_constraints=False)
                changed.append(row)
        created = [SessionBatch(session_note=note, batch_id=pk, share_percent=wanted[pk]) for pk in new_ids]
        for row in created:
            row.full_clean(exclude=["session_note", "batch"], validate_constraints=False)
        if removed:
            SessionBatch.objects.filter(pk__in=[u.pk for u in removed]).delete()
        if changed:
            SessionBatch.objects.bulk_update(changed, ["share_percent"])
        if created:
            SessionBatch.objects.bulk_create(created)
        if created or removed or changed:
            audit_record(
                actor=by,
                action=AuditEvent.Action.UPDATE,
                object_type="sessionnote",
                object_id=note.pk,
                client_id=appointment.client_id,
                fields=["batches"],
                detail=f"batches +{[r.batch_id for r in created]} -{[r.batch_id for r in removed]} "
                f"share {[r.batch_id for r in changed]}",
            )
        return list(SessionBatch.objects.filter(session_note=note).select_related("batch__product"))


def session_note_record(
    *, appointment: Appointment, data: dict[str, Any], uses: Sequence[BatchUse] | None, by: AbstractBaseUser
) -> SessionNote:
    """Save a session's note and the batches it used, together or not at all. ``uses`` None
    leaves the batches as they are."""
    with transaction.atomic():
        note = session_note_save(appointment=appointment, data=data, by=by)
        if uses is not None:
            session_note_batches_set(note=note, uses=uses, by=by)
    return note


# The client's data export ---------------------------------------------------------------------


def client_export_with_stock(*, client: Client, by: AbstractBaseUser) -> IO[bytes]:
    """The client's UK GDPR export (clients.services.client_export) with their pigment record:
    the products, shades, lots and needles of each session."""
    record = [session.as_dict() for session in pigment_record(client=client)]
    return client_export(client=client, by=by, extra={"pigment_record": record})
