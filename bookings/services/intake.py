"""The intake form a client fills in before their consultation, through the link in their
confirmation (bookings.tokens.intake_token_make): the one write path for it.

`intake_submit` checks the appointment still takes an intake, locks it, and in one transaction
writes the answers (clients.intake), the consent to keep the photos (clients.services.consent_give),
the photos themselves as private "intake" photos (clients.services.photos_add, which re-encodes
them without metadata) and brings the outbox in line (the 2-day reminder is no longer owed).
Any refusal rolls all of it back, so what an earlier submission saved is kept as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from bookings.models import Appointment
from bookings.services.messaging import reminders_sync
from clients.intake import intake_record_save
from clients.models import ConsentRecord, ConsentWording, Intake, Photo
from clients.selectors import consent_is_active
from clients.services import PhotoUpload, consent_give, photos_add

logger = logging.getLogger(__name__)

INTAKE_MAX_PHOTOS = 4
OPEN_STATUSES = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED)


class IntakeClosed(Exception):
    """The appointment no longer takes an intake (cancelled, started, erased): answered with 410."""


def intake_closed_reason(appointment: Appointment, *, now: datetime) -> str:
    """Why this appointment's intake form is closed ('' while it is open)."""
    if appointment.kind != Appointment.Kind.CONSULTATION:
        return "This appointment has no intake form."
    if appointment.client.erased_at is not None:
        return "This booking's details have been erased."
    if appointment.status not in OPEN_STATUSES:
        return "This booking is no longer open: it has been cancelled or has already taken place."
    if appointment.start <= now:
        return "Your consultation has already started: bring anything you wanted to tell us with you."
    return ""


def intake_photo_count(appointment: Appointment) -> int:
    return Photo.objects.filter(appointment=appointment, phase=Photo.Phase.INTAKE).count()


def photo_consent_needed(appointment: Appointment) -> bool:
    """Whether the form must ask the client's consent before keeping their photos."""
    return not consent_is_active(client_id=appointment.client_id, kind=ConsentWording.Kind.CLINICAL_PHOTOS)


def _photo_wording() -> ConsentWording | None:
    return (
        ConsentWording.objects.filter(kind=ConsentWording.Kind.CLINICAL_PHOTOS, effective_from__lte=timezone.now())
        .order_by("-version")
        .first()
    )


def intake_submit(
    *,
    appointment: Appointment,
    data: dict[str, str],
    medical_answers: list[dict[str, str]],
    photos: Sequence[UploadedFile] = (),
    photo_consent: bool = False,
    now: datetime | None = None,
) -> Intake:
    """Store the client's intake (they may send it again until the consultation; the last answers
    win, photos add up to INTAKE_MAX_PHOTOS). Raises IntakeClosed, or ValidationError with a
    code: intake_too_many_photos, intake_photo_consent, photo_invalid (from photos_add)."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locked: two submissions at once (a double tap, two tabs) must not both add four photos.
        appointment = Appointment.objects.select_for_update().select_related("client").get(pk=appointment.pk)
        reason = intake_closed_reason(appointment, now=now)
        if reason:
            raise IntakeClosed(reason)
        room = INTAKE_MAX_PHOTOS - intake_photo_count(appointment)
        if len(photos) > room:
            raise ValidationError(
                {
                    "photos": ValidationError(
                        f"You can send up to {INTAKE_MAX_PHOTOS} photos in all; "
                        + (f"{room} more can be added." if room else "you have sent them already."),
                        code="intake_too_many_photos",
                    )
                }
            )
        client = appointment.client
        consent_needed = photo_consent_needed(appointment)
        if photos and consent_needed and not photo_consent:
            raise ValidationError(
                {
                    "photo_consent": ValidationError(
                        "Tick the box to let us keep your photos in your private record, "
                        "or send the form without photos.",
                        code="intake_photo_consent",
                    )
                }
            )
        intake = intake_record_save(
            appointment=appointment,
            client=client,
            data=data,
            medical_answers=medical_answers,
            completed_at=now,
            by=None,
        )
        wording = _photo_wording() if photos and consent_needed else None
        if wording is not None:
            consent_give(
                client=client,
                wording=wording,
                given_at=now,
                method=ConsentRecord.Method.ONLINE,
                signed_name=client.full_name,
                by=None,
            )
        if photos:
            try:
                photos_add(
                    client=client,
                    appointment=appointment,
                    uploads=[PhotoUpload(file=f, angle=Photo.Angle.CLIENT_OWN) for f in photos],
                    phase=Photo.Phase.INTAKE,
                    by=None,
                )
            except ValidationError as exc:
                # The pipeline's refusals (not a photo, too large, damaged) belong to the photos field.
                raise ValidationError({"photos": exc.error_list}) from None
        reminders_sync(appointment=appointment, now=now)
    logger.info("intake stored appointment=%s photos=%s", appointment.pk, len(photos))
    return intake
