"""Completing and un-completing appointments: the moment aftercare becomes owed."""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from bookings.models import Appointment, Course
from bookings.services.messaging import reminders_sync

logger = logging.getLogger(__name__)

COMPLETABLE = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED, Appointment.Status.NO_SHOW)


def appointment_complete(*, appointment: Appointment, by, now: datetime | None = None) -> Appointment:
    """Mark an appointment completed and, in the same transaction, write the messages it now owes
    (aftercare day 4/7/10 for a treatment session or touch-up). Completing twice changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locked so two technicians pressing "completed" at once write one set of messages.
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status == Appointment.Status.COMPLETED:
            return locked
        if locked.status not in COMPLETABLE:
            raise ValidationError(
                f"A {locked.get_status_display().lower()} appointment cannot be completed.",
                code="appointment_not_completable",
            )
        if locked.start > now:
            raise ValidationError(
                "An appointment cannot be completed before it has started.", code="appointment_not_started"
            )
        locked.status, locked.completed_at = Appointment.Status.COMPLETED, now
        locked.save(update_fields=["status", "completed_at", "updated_at"])
        if locked.course_id and locked.kind == Appointment.Kind.TREATMENT_SESSION:
            _course_follow(course_id=locked.course_id, now=now)
        reminders_sync(appointment=locked, now=now)
    logger.info("appointment %s completed by user %s", locked.pk, getattr(by, "pk", None))
    return locked


def appointment_uncomplete(*, appointment: Appointment, by, now: datetime | None = None) -> Appointment:
    """Undo a completion made by mistake: back to booked, and its unsent messages cancelled."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status != Appointment.Status.COMPLETED:
            raise ValidationError("Only a completed appointment can be un-completed.", code="appointment_not_completed")
        locked.status, locked.completed_at = Appointment.Status.BOOKED, None
        locked.save(update_fields=["status", "completed_at", "updated_at"])
        if locked.course_id and locked.kind == Appointment.Kind.TREATMENT_SESSION:
            _course_follow(course_id=locked.course_id, now=now)
        reminders_sync(appointment=locked, now=now)
    logger.info("appointment %s un-completed by user %s", locked.pk, getattr(by, "pk", None))
    return locked


def _course_follow(*, course_id: int, now: datetime) -> None:
    """A course is in progress once a session is done, and completed when its planned sessions are."""
    course = Course.objects.select_for_update().get(pk=course_id)
    if course.status == Course.Status.CANCELLED:
        return
    done = course.appointments.filter(
        kind=Appointment.Kind.TREATMENT_SESSION, status=Appointment.Status.COMPLETED
    ).count()
    if done >= course.planned_sessions:
        status, completed_at = Course.Status.COMPLETED, course.completed_at or now
    elif done:
        status, completed_at = Course.Status.IN_PROGRESS, None
    else:
        status, completed_at = Course.Status.PLANNED, None
    if (status, completed_at) != (course.status, course.completed_at):
        course.status, course.completed_at = status, completed_at
        course.save(update_fields=["status", "completed_at"])
