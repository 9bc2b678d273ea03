"""Who booked online: a booking under an e-mail another client holds waits to be matched.

The public form proves nothing about who is typing, so a booking never reaches an existing
record on the strength of an e-mail address alone. It gets a record of its own, flagged as a
possible match (Client.match_of), and one of two things links it to the existing client:
the owner of the address confirming through the signed link sent to it
(`booking_identity_confirm`), or reception deciding in the admin (`client_match_merge`,
`client_match_separate`). See docs/booking.md, "Who booked".
"""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from bookings.models import Appointment
from bookings.services.messaging import reminders_sync
from bookings.tokens import IdentityClaim, TokenInvalid
from clients.models import AuditEvent, Client
from clients.services import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

# Blank details of the record kept that the merged one may fill; what the kept record already
# holds is never overwritten by details typed into a public form.
FILL_BLANKS = ("phone",)


class Confirmed(enum.StrEnum):
    NOW = "now"
    ALREADY = "already"


def _lock_pair(a: Client, b: Client) -> tuple[Client, Client]:
    # Lock both records in id order: a merge and a confirmation of the same pair must not
    # interleave, and two merges locking in opposite orders would deadlock.
    locked = {c.pk: c for c in Client.objects.select_for_update().filter(pk__in=sorted({a.pk, b.pk})).order_by("pk")}
    if a.pk not in locked or b.pk not in locked:
        raise ValidationError("One of these clients no longer exists.", code="client_gone")
    return locked[a.pk], locked[b.pk]


def _merge(*, provisional: Client, into: Client, by: AbstractBaseUser | None, detail: str) -> Client:
    """Move everything of `provisional` to `into` and delete it. Both rows locked by the caller."""
    if provisional.pk == into.pk:
        raise ValidationError("A client cannot be merged into itself.", code="same_client")
    if provisional.match_status != Client.MatchStatus.PENDING:
        raise ValidationError("Only an online booking waiting to be matched can be merged.", code="not_pending")
    if into.erased_at is not None:
        raise ValidationError("That client's data was erased: book them afresh instead.", code="erased")
    if into.match_status == Client.MatchStatus.PENDING:
        raise ValidationError("Merge into a client's own record, not another booking to match.", code="into_pending")
    moved: list[str] = []
    # Every row that points at a client, whatever app holds it (appointments, courses, consents,
    # assessments, photos, other bookings waiting on this one): none is left behind or deleted.
    for relation in Client._meta.related_objects:
        if not relation.one_to_many:
            continue
        field = relation.field
        count = relation.related_model._base_manager.filter(**{field.name: provisional}).update(**{field.name: into})
        if count:
            moved.append(relation.get_accessor_name())
    filled = [name for name in FILL_BLANKS if not getattr(into, name) and getattr(provisional, name)]
    for name in filled:
        setattr(into, name, getattr(provisional, name))
    if filled:
        into.save(update_fields=[*filled, "updated_at"])
    provisional_id = provisional.pk
    provisional.delete()
    audit_record(
        actor=by,
        action=AuditEvent.Action.MERGE,
        object_type="client",
        object_id=into.pk,
        client_id=into.pk,
        fields=[*moved, *filled],
        detail=f"client #{provisional_id} merged in: {detail}",
    )
    audit_record(
        actor=by,
        action=AuditEvent.Action.MERGE,
        object_type="client",
        object_id=provisional_id,
        client_id=provisional_id,
        detail=f"merged into client #{into.pk}: {detail}",
    )
    # The kept record's channel and reminder choices now decide what the moved bookings send.
    for appointment in Appointment.objects.filter(client=into, status__in=Appointment.ACTIVE_STATUSES):
        reminders_sync(appointment=appointment)
    logger.info("client merged provisional=%s into=%s by=%s", provisional_id, into.pk, getattr(by, "pk", None))
    return into


def client_match_merge(*, provisional: Client, into: Client, by: AbstractBaseUser) -> Client:
    """Reception: the online booking's client is `into` after all. Its bookings, consents and
    the rest move to `into` (whose details are kept); the duplicate record goes."""
    with transaction.atomic():
        provisional, into = _lock_pair(provisional, into)
        return _merge(provisional=provisional, into=into, by=by, detail="reception")


def client_match_separate(*, provisional: Client, by: AbstractBaseUser) -> Client:
    """Reception: a different person who shares the e-mail (a couple, say). The record stays
    its own, still pointing at the client it shares the address with."""
    with transaction.atomic():
        provisional = Client.objects.select_for_update().get(pk=provisional.pk)
        if provisional.match_status != Client.MatchStatus.PENDING:
            raise ValidationError("Only an online booking waiting to be matched can be separated.", code="not_pending")
        provisional.match_status = Client.MatchStatus.SEPARATE
        provisional.save(update_fields=["match_status", "updated_at"])
        audit_record(
            actor=by,
            action=AuditEvent.Action.UPDATE,
            object_type="client",
            object_id=provisional.pk,
            client_id=provisional.pk,
            fields=["match_status"],
            detail="reception: a different person sharing the e-mail",
        )
    return provisional


def _owner_is_holder(*, provisional: Client, claim: IdentityClaim) -> bool:
    """Whether confirming the address proves the booking is the holder's: the holder still has
    the address the link went to, and nobody is known to share it."""
    holder = provisional.match_of
    if holder is None or holder.erased_at is not None or not claim.names_address(holder.email):
        return False
    return not holder.possible_matches.filter(match_status=Client.MatchStatus.SEPARATE).exists()


def booking_identity_confirm(*, claim: IdentityClaim) -> Confirmed:
    """The owner of the address confirmed it through the link (double opt-in).

    A booking under an address another client holds is merged into that client; the marketing
    opt-in asked for on the form takes effect now. Idempotent: a second use changes nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        # Lock the booking: two clicks (or a link opened twice) confirm once.
        appointment = (
            Appointment.objects.select_for_update(of=("self",))
            .filter(pk=claim.appointment_id, reference=claim.reference)
            .first()
        )
        if appointment is None:
            raise TokenInvalid
        if appointment.email_confirmed_at is not None:
            return Confirmed.ALREADY
        client = Client.objects.select_for_update().get(pk=appointment.client_id)
        if client.match_status == Client.MatchStatus.PENDING and client.pk == claim.client_id:
            holder = Client.objects.filter(pk=client.match_of_id).first()
            if holder is not None and _owner_is_holder(provisional=client, claim=claim):
                client, holder = _lock_pair(client, holder)
                client = _merge(provisional=client, into=holder, by=None, detail="confirmed by the e-mail's owner")
            else:
                # The address is shared or has moved on: proof of the mailbox is not proof of the
                # person, so the booking waits for reception as before.
                logger.info("identity confirmed, left for reception ref=%s", appointment.reference)
        # The opt-in is the address owner's: it lands only on a record that holds that address.
        owns_address = client.erased_at is None and claim.names_address(client.email)
        if claim.marketing_opt_in and owns_address and not client.marketing_email_opt_in:
            client.marketing_email_opt_in = True
            client.save(update_fields=["marketing_email_opt_in", "updated_at"])
            audit_record(
                actor=None,
                action=AuditEvent.Action.UPDATE,
                object_type="client",
                object_id=client.pk,
                client_id=client.pk,
                fields=["marketing_email_opt_in"],
                detail="confirmed through the e-mail link",
            )
        appointment.email_confirmed_at = now
        appointment.save(update_fields=["email_confirmed_at", "updated_at"])
    logger.info("identity confirmed ref=%s client=%s", appointment.reference, client.pk)
    return Confirmed.NOW
