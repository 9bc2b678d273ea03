"""UK GDPR erasure of a client: their record (clients), their bookings' free text and every
message still owed to them, in one transaction."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bookings.models import Appointment, ClientMessage, Course, WaitlistEntry, WaitlistOffer
from bookings.services.messaging import client_messages_cancel
from clients.models import Client
from clients.services import client_record_erase

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


@transaction.atomic
def client_erase(*, client: Client, by: AbstractBaseUser) -> Client:
    """Erase the client's personal data; idempotent. The treatment record stays, anonymous."""
    already = Client.objects.filter(pk=client.pk, erased_at__isnull=False).exists()
    # Read before the record is blanked: the waiting list knows the client by their address.
    email = Client.objects.filter(pk=client.pk).values_list("email", flat=True).first() or ""
    client, photo_count = client_record_erase(client=client, by=by)
    if already:
        return client
    Appointment.objects.filter(client=client).update(client_message="", staff_notes="")
    Course.objects.filter(client=client).update(notes="")
    # An erased client hears nothing more, essential aftercare included.
    cancelled = client_messages_cancel(client=client)
    entries = _waitlist_erase(client=client, email=email)
    logger.info(
        "client erased client=%s photos=%s messages_cancelled=%s waitlist_entries=%s",
        client.pk,
        photo_count,
        cancelled,
        entries,
    )
    return client


def _waitlist_erase(*, client: Client, email: str) -> int:
    """The waiting list's copies of the client's name, e-mail and phone: the entry that booked one
    of their appointments and any other under their address. No offer or message goes to them
    any more. Returns how many entries were erased."""
    match = Q(appointment__client=client) | (Q(email__iexact=email) if email else Q(pk__in=[]))
    ids = list(WaitlistEntry.objects.filter(match).values_list("pk", flat=True))
    if not ids:
        return 0
    now = timezone.now()
    WaitlistOffer.objects.filter(entry_id__in=ids, status=WaitlistOffer.Status.OFFERED).update(
        status=WaitlistOffer.Status.EXPIRED
    )
    ClientMessage.objects.filter(waitlist_entry_id__in=ids, status=ClientMessage.Status.PENDING).update(
        status=ClientMessage.Status.CANCELLED, updated_at=now
    )
    WaitlistEntry.objects.filter(pk__in=ids, status=WaitlistEntry.Status.WAITING).update(
        status=WaitlistEntry.Status.WITHDRAWN
    )
    WaitlistEntry.objects.filter(pk__in=ids).update(
        first_name="Erased", last_name="client", email="", phone="", updated_at=now
    )
    return len(ids)
