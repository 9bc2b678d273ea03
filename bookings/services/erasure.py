"""UK GDPR erasure of a client: their record (clients), their bookings' free text and every
message still owed to them, in one transaction."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction

from bookings.models import Appointment, Course
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
    client, photo_count = client_record_erase(client=client, by=by)
    if already:
        return client
    Appointment.objects.filter(client=client).update(client_message="", staff_notes="")
    Course.objects.filter(client=client).update(notes="")
    # An erased client hears nothing more, essential aftercare included.
    cancelled = client_messages_cancel(client=client)
    logger.info("client erased client=%s photos=%s messages_cancelled=%s", client.pk, photo_count, cancelled)
    return client
