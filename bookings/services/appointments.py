"""An appointment's status as one set of transitions: who may make each, and what follows.

    booked ──confirm──▶ confirmed ──arrive──▶ arrived ──complete──▶ completed
      │ ▲                   │                   │                      │
      │ └──────undo─────────┴──────undo─────────┘◀──────uncomplete─────┘
      ├──mark_no_show──▶ no-show ──undo_no_show──▶ booked
      └──cancel────────▶ cancelled ──undo_cancel──▶ booked

TRANSITIONS below is the whole table; every change of status anywhere (the admin, the staff
workspace, a list action) goes through one of these functions, which checks the permission of
``by``, locks the appointment, writes the audit row and re-syncs the client's messages in one
transaction. A refused transition is a ValidationError with a code; a user without the right is
PermissionDenied.

Who may do what (Django permissions, so a manager can adjust a role in the admin):
- confirm, arrive, undo an arrival, mark a no-show, cancel: ``bookings.change_appointment``
  (reception, technicians, managers);
- complete: also ``clients.view_clinical`` (the technician who did the session, or a manager):
  completing writes aftercare and moves the course on;
- undo a no-show, a cancellation or a completion: ``bookings.undo_appointment_status``
  (managers): each rewrites history the client may already have been told about.

A no-show keeps who marked it and when (``no_show_marked_by``/``_at``) and a cancellation who
made it, through what and whether it was late; their undos clear them, so the client's count
(``bookings.selectors.client_attendance_counts``) follows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import Appointment, ClientMessage, Course, Technician
from bookings.services.booking import appointment_book, appointment_cancel, appointment_reschedule
from bookings.services.deposits import Outcome, deposit_settle
from bookings.services.messaging import client_message_queue, reminder_resend, reminders_sync
from bookings.services.safety import first_session_id_check
from clients.models import AuditEvent
from clients.services import audit_record

logger = logging.getLogger(__name__)

Status = Appointment.Status

CHANGE = "bookings.change_appointment"
CLINICAL = "clients.view_clinical"
UNDO = "bookings.undo_appointment_status"

# Statuses a transition back to booked must re-claim the technician's time for.
RELEASED = (Status.CANCELLED, Status.NO_SHOW)


def _require(by, *perms: str, what: str) -> None:
    if by is None or not by.is_authenticated or not by.is_active or not all(by.has_perm(p) for p in perms):
        raise PermissionDenied(f"You may not {what}.")


def _locked(appointment: Appointment) -> Appointment:
    # Locked: two people changing one appointment's status at once must not both apply.
    return Appointment.objects.select_for_update(of=("self",)).get(pk=appointment.pk)


def _refuse(appointment: Appointment, target: str) -> ValidationError:
    allowed = ", ".join(str(Status(t).label).lower() for t in allowed_targets(appointment.status)) or "nothing"
    return ValidationError(
        f"A {appointment.get_status_display().lower()} appointment cannot become "
        f"{str(Status(target).label).lower()} (it can become: {allowed}).",
        code="transition_not_allowed",
    )


def _set_status(
    appointment: Appointment, *, status: str, by, now: datetime, previous: str, extra: dict | None = None
) -> Appointment:
    """Write the new status with who and when, audit it and bring the client's messages in line."""
    changes = {"status": status, "status_changed_at": now, "status_changed_by": by, **(extra or {})}
    for field, value in changes.items():
        setattr(appointment, field, value)
    try:
        with transaction.atomic():
            appointment.save(update_fields=[*changes, "updated_at"])
    except IntegrityError as exc:
        # The exclusion constraint: only a transition that re-claims the time can meet it.
        if "appointment_no_technician_overlap" not in str(exc):
            raise
        raise _time_taken() from exc
    audit_record(
        actor=by,
        action=AuditEvent.Action.UPDATE,
        object_type="appointment",
        object_id=appointment.pk,
        client_id=appointment.client_id,
        fields=sorted(changes),
        detail=f"status {previous} -> {status}",
    )
    reminders_sync(appointment=appointment, now=now)
    logger.info("appointment %s status %s -> %s by user %s", appointment.pk, previous, status, getattr(by, "pk", None))
    return appointment


def _time_taken() -> ValidationError:
    return ValidationError(
        "The technician's time has since been given to another appointment: book a new time instead.",
        code="slot_taken",
    )


def _reclaim_time(appointment: Appointment) -> None:
    """Hold the technician's time again for an appointment that had released it.

    Only the clash with another active appointment is checked: working hours, notice and the
    horizon are booking rules, and a no-show undone is about a slot that may well be past.
    """
    # Lock the technician: bookings and moves for them queue here (as in appointment_book), so
    # the check below sees every appointment committed before ours.
    Technician.objects.select_for_update().get(pk=appointment.technician_id)
    clash = (
        Appointment.objects.filter(
            technician_id=appointment.technician_id,
            status__in=Appointment.ACTIVE_STATUSES,
            start__lt=appointment.end,
            end__gt=appointment.start,
        )
        .exclude(pk=appointment.pk)
        .exists()
    )
    if clash:
        raise _time_taken()


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


def _follow_course(appointment: Appointment, now: datetime) -> None:
    if appointment.course_id and appointment.kind == Appointment.Kind.TREATMENT_SESSION:
        _course_follow(course_id=appointment.course_id, now=now)


# The transitions -------------------------------------------------------------------------


def appointment_confirm(*, appointment: Appointment, by, now: datetime | None = None) -> Appointment:
    """The client has confirmed they are coming (confirming twice changes nothing)."""
    return _apply(appointment=appointment, target=Status.CONFIRMED, by=by, now=now)


def appointment_arrive(*, appointment: Appointment, by, now: datetime | None = None) -> Appointment:
    """The client is in the clinic; the technician's time stays held."""
    return _apply(appointment=appointment, target=Status.ARRIVED, by=by, now=now)


def appointment_undo_arrive(*, appointment: Appointment, by, now: datetime | None = None) -> Appointment:
    """An arrival marked on the wrong appointment: back to booked (it never released its time)."""
    return _apply(appointment=appointment, target=Status.BOOKED, by=by, now=now, expect=Status.ARRIVED)


def appointment_complete(*, appointment: Appointment, by, now: datetime | None = None) -> Appointment:
    """Mark an appointment completed and, in the same transaction, write the messages it now owes
    (aftercare day 4/7/10 for a treatment session or touch-up). Completing twice changes nothing."""
    return _apply(appointment=appointment, target=Status.COMPLETED, by=by, now=now)


def appointment_uncomplete(*, appointment: Appointment, by, now: datetime | None = None) -> Appointment:
    """Undo a completion made by mistake: back to booked, and its unsent messages cancelled."""
    return _apply(appointment=appointment, target=Status.BOOKED, by=by, now=now, expect=Status.COMPLETED)


def appointment_mark_no_show(*, appointment: Appointment, by, now: datetime | None = None) -> Appointment:
    """The client did not come: the technician's time is released and the reminder withdrawn."""
    return _apply(appointment=appointment, target=Status.NO_SHOW, by=by, now=now)


def appointment_undo_no_show(*, appointment: Appointment, by, now: datetime | None = None) -> Appointment:
    """A no-show marked by mistake: back to booked, re-claiming the time even if it is past."""
    return _apply(appointment=appointment, target=Status.BOOKED, by=by, now=now, expect=Status.NO_SHOW)


def appointment_undo_cancel(*, appointment: Appointment, by, now: datetime | None = None) -> Appointment:
    """A cancellation made by mistake: back to booked if the technician's time is still free."""
    return _apply(appointment=appointment, target=Status.BOOKED, by=by, now=now, expect=Status.CANCELLED)


def appointment_staff_cancel(*, appointment: Appointment, by, now: datetime | None = None) -> Appointment:
    """Staff cancel: the booking service's cancel (and the message it owes), with who and the audit row."""
    return _apply(appointment=appointment, target=Status.CANCELLED, by=by, now=now)


def _cancel(appointment: Appointment, *, by, now: datetime, previous: str) -> Appointment:
    cancelled = appointment_cancel(appointment=appointment, by_client=False, by=by, now=now)
    # appointment_cancel recorded how it was cancelled; named here so the audit row lists them
    # (late_cancellation only when it is one, so the row alone tells a late cancellation).
    recorded = ["cancelled_at", "cancelled_by", "cancelled_via"]
    if cancelled.late_cancellation:
        recorded.append("late_cancellation")
    how = {f: getattr(cancelled, f) for f in recorded}
    return _set_status(cancelled, status=Status.CANCELLED, by=by, now=now, previous=previous, extra=how)


def _complete(appointment: Appointment, *, by, now: datetime, previous: str) -> Appointment:
    if appointment.start > now:
        raise ValidationError("An appointment cannot be completed before it has started.", code="not_started")
    first_session_id_check(appointment=appointment)
    done = _set_status(
        appointment, status=Status.COMPLETED, by=by, now=now, previous=previous, extra={"completed_at": now}
    )
    _follow_course(done, now)
    return done


def _not_before_start(appointment: Appointment, *, by, now: datetime, previous: str) -> Appointment:
    if appointment.start > now:
        raise ValidationError("A client cannot miss an appointment that has not started yet.", code="not_started")
    marked = {"no_show_marked_at": now, "no_show_marked_by": by}
    missed = _set_status(appointment, status=Status.NO_SHOW, by=by, now=now, previous=previous, extra=marked)
    # The deposit's no-show share is kept (recorded with the reason), any rest refunded.
    deposit_settle(appointment=missed, outcome=Outcome.NO_SHOW, by=by, now=now)
    return missed


def _back_to_booked(appointment: Appointment, *, by, now: datetime, previous: str) -> Appointment:
    extra: dict = {}
    if previous in RELEASED:
        _reclaim_time(appointment)
    rebooked = previous == Status.CANCELLED and appointment.start > now
    if previous == Status.CANCELLED:
        extra.update(cancelled_at=None, late_cancellation=False, cancelled_by=None, cancelled_via="")
    if previous == Status.NO_SHOW:
        # Not a no-show after all: it leaves the client's count (the audit trail keeps the mark).
        extra.update(no_show_marked_at=None, no_show_marked_by=None)
    if rebooked:
        # The client was sent a calendar CANCEL: a fresh confirmation at a higher SEQUENCE puts
        # the same event back in their calendar.
        extra["ics_sequence"] = appointment.ics_sequence + 1
    if previous == Status.COMPLETED:
        extra["completed_at"] = None
    booked = _set_status(appointment, status=Status.BOOKED, by=by, now=now, previous=previous, extra=extra)
    if previous == Status.COMPLETED:
        _follow_course(booked, now)
    if rebooked:
        client_message_queue(appointment=booked, kind=ClientMessage.Kind.CONFIRMATION, now=now)
    return booked


def _plain(target: str) -> Callable[..., Appointment]:
    def apply(appointment: Appointment, *, by, now: datetime, previous: str) -> Appointment:
        return _set_status(appointment, status=target, by=by, now=now, previous=previous)

    return apply


@dataclass(frozen=True)
class Transition:
    name: str
    perms: tuple[str, ...]
    apply: Callable[..., Appointment]


# The whole table: (from, to) -> who may, and what it does. Anything missing is refused.
TRANSITIONS: dict[tuple[str, str], Transition] = {
    (Status.BOOKED, Status.CONFIRMED): Transition("confirm", (CHANGE,), _plain(Status.CONFIRMED)),
    (Status.BOOKED, Status.ARRIVED): Transition("arrive", (CHANGE,), _plain(Status.ARRIVED)),
    (Status.CONFIRMED, Status.ARRIVED): Transition("arrive", (CHANGE,), _plain(Status.ARRIVED)),
    (Status.ARRIVED, Status.BOOKED): Transition("undo the arrival", (CHANGE,), _back_to_booked),
    (Status.BOOKED, Status.COMPLETED): Transition("complete", (CHANGE, CLINICAL), _complete),
    (Status.CONFIRMED, Status.COMPLETED): Transition("complete", (CHANGE, CLINICAL), _complete),
    (Status.ARRIVED, Status.COMPLETED): Transition("complete", (CHANGE, CLINICAL), _complete),
    (Status.COMPLETED, Status.BOOKED): Transition("undo the completion", (CHANGE, UNDO), _back_to_booked),
    (Status.BOOKED, Status.NO_SHOW): Transition("mark a no-show", (CHANGE,), _not_before_start),
    (Status.CONFIRMED, Status.NO_SHOW): Transition("mark a no-show", (CHANGE,), _not_before_start),
    (Status.NO_SHOW, Status.BOOKED): Transition("undo a no-show", (CHANGE, UNDO), _back_to_booked),
    (Status.BOOKED, Status.CANCELLED): Transition("cancel", (CHANGE,), _cancel),
    (Status.CONFIRMED, Status.CANCELLED): Transition("cancel", (CHANGE,), _cancel),
    (Status.CANCELLED, Status.BOOKED): Transition("undo a cancellation", (CHANGE, UNDO), _back_to_booked),
}


def allowed_targets(status: str) -> list[str]:
    return [to for (frm, to) in TRANSITIONS if frm == status]


def transition_for(*, current: str, target: str) -> Transition | None:
    return TRANSITIONS.get((current, target))


def may_transition(*, by, current: str, target: str) -> bool:
    transition = transition_for(current=current, target=target)
    return transition is not None and by is not None and all(by.has_perm(p) for p in transition.perms)


def appointment_status_change(*, appointment: Appointment, target: str, by, now: datetime | None = None) -> Appointment:
    """Move to ``target`` by whichever transition the table has (the admin's status field)."""
    return _apply(appointment=appointment, target=target, by=by, now=now)


def _apply(
    *, appointment: Appointment, target: str, by, now: datetime | None, expect: str | None = None
) -> Appointment:
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(appointment)
        if expect is not None and locked.status != expect:
            raise ValidationError(
                f"This appointment is {locked.get_status_display().lower()}, not "
                f"{str(Status(expect).label).lower()}: there is nothing to undo.",
                code="transition_not_allowed",
            )
        if locked.status == target:
            return locked  # already there: pressing the button twice changes nothing
        transition = TRANSITIONS.get((locked.status, target))
        if transition is None:
            raise _refuse(locked, target)
        _require(by, *transition.perms, what=f"{transition.name} an appointment")
        return transition.apply(locked, by=by, now=now, previous=locked.status)


# Staff writes that are not status changes -------------------------------------------------

# Fields staff may edit on an appointment without moving it or changing its status.
DETAIL_FIELDS = ("course", "session_number", "channel", "client_message", "staff_notes")
STAFF_CHANNELS = (Appointment.Channel.PHONE, Appointment.Channel.IN_PERSON, Appointment.Channel.STAFF)


def _audit_appointment(appointment: Appointment, *, by, action: str, fields, detail: str = "") -> None:
    audit_record(
        actor=by,
        action=action,
        object_type="appointment",
        object_id=appointment.pk,
        client_id=appointment.client_id,
        fields=fields,
        detail=detail,
    )


def appointment_staff_book(
    *, by, channel: str = Appointment.Channel.STAFF, staff_notes: str = "", **booking
) -> Appointment:
    """Staff book through appointment_book (same engine, lock and messages, no online notice),
    with the audit row the online form does not write."""
    _require(by, "bookings.add_appointment", what="book an appointment")
    if channel not in STAFF_CHANNELS:
        raise ValidationError({"channel": "Staff book by phone, in person or in the admin."}, code="bad_channel")
    with transaction.atomic():
        appointment = appointment_book(channel=channel, **booking)
        if staff_notes:
            appointment.staff_notes = staff_notes
            appointment.save(update_fields=["staff_notes", "updated_at"])
        fields = ["client", "technician", "location", "kind", "start", "end", "channel", "status"]
        fields += [f for f in ("treatment", "course", "session_number", "staff_notes") if getattr(appointment, f)]
        _audit_appointment(appointment, by=by, action=AuditEvent.Action.CREATE, fields=fields, detail=f"{channel}")
    return appointment


def appointment_record_completed(
    *,
    by,
    client,
    location,
    kind: str,
    start: datetime,
    end: datetime,
    technician: Technician,
    treatment=None,
    course=None,
    session_number: int | None = None,
    channel: str = Appointment.Channel.STAFF,
    staff_notes: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Record a session already done (entered after the event): it takes the technician's time
    as it was, without the booking rules for the future, then completes (aftercare, course)."""
    now = now or timezone.now()
    _require(by, "bookings.add_appointment", CHANGE, CLINICAL, what="record a completed appointment")
    if start > now:
        raise ValidationError("An appointment cannot be completed before it has started.", code="not_started")
    with transaction.atomic():
        appointment = Appointment(
            client=client,
            location=location,
            kind=kind,
            start=start,
            end=end,
            technician=technician,
            treatment=treatment,
            course=course,
            session_number=session_number,
            channel=channel,
            staff_notes=staff_notes,
        )
        _reclaim_time(appointment)
        appointment.full_clean(exclude=["reference"])
        try:
            with transaction.atomic():
                appointment.save()
        except IntegrityError as exc:
            if "appointment_no_technician_overlap" not in str(exc):
                raise
            raise _time_taken() from exc
        _audit_appointment(
            appointment, by=by, action=AuditEvent.Action.CREATE, fields=["start", "end", "technician"], detail=channel
        )
        return _complete(appointment, by=by, now=now, previous=Status.BOOKED)


def appointment_staff_move(
    *, appointment: Appointment, start: datetime, technician: Technician | None = None, by
) -> Appointment:
    """Staff move an appointment through appointment_reschedule (technician lock, engine without
    the online notice, re-timed messages), with the audit row."""
    _require(by, CHANGE, what="move an appointment")
    if appointment.status not in (Status.BOOKED, Status.CONFIRMED):
        raise ValidationError(
            f"A {appointment.get_status_display().lower()} appointment cannot be moved.", code="not_movable"
        )
    with transaction.atomic():
        before = (appointment.start, appointment.technician_id)
        moved = appointment_reschedule(appointment=appointment, start=start, technician=technician)
        fields = [
            f
            for f, old, new in (("start", before[0], moved.start), ("technician", before[1], moved.technician_id))
            if old != new
        ]
        _audit_appointment(
            moved,
            by=by,
            action=AuditEvent.Action.UPDATE,
            fields=[*fields, "end"] if "start" in fields else fields,
            detail="moved",
        )
    return moved


def appointment_details_update(*, appointment: Appointment, data: dict, by) -> Appointment:
    """Edit what is neither the time nor the status (course, notes, channel): saved and audited."""
    _require(by, CHANGE, what="change an appointment")
    unknown = set(data) - set(DETAIL_FIELDS)
    if unknown:
        raise ValidationError(f"These fields are not changed here: {', '.join(sorted(unknown))}.", code="not_a_detail")
    with transaction.atomic():
        locked = _locked(appointment)
        changed = [f for f, value in data.items() if getattr(locked, f) != value]
        if not changed:
            return locked
        for field in changed:
            setattr(locked, field, data[field])
        locked.full_clean(exclude=["reference"])
        locked.save(update_fields=[*changed, "updated_at"])
        _audit_appointment(locked, by=by, action=AuditEvent.Action.UPDATE, fields=changed)
    return locked


def appointment_confirmation_resend(
    *, appointment: Appointment, by, now: datetime | None = None
) -> list[ClientMessage]:
    """Send the booking confirmation (its time, calendar file and manage link) again on every
    channel the client has: the confirmation rows of the appointment's current calendar
    sequence go back to pending, or are queued if a move left none at this sequence. A row
    already waiting or being sent is left alone, so pressing the button twice sends it once."""
    _require(by, CHANGE, what="resend a confirmation")
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(appointment)
        if locked.status not in (Status.BOOKED, Status.CONFIRMED) or locked.start <= now:
            raise ValidationError(
                "Only a booked or confirmed appointment still to come has a confirmation to send.",
                code="not_confirmable",
            )
        rows = client_message_queue(appointment=locked, kind=ClientMessage.Kind.CONFIRMATION, now=now)
        if not rows:
            raise ValidationError("This client has no e-mail address or phone number to send to.", code="no_channel")
        again = [
            reminder_resend(reminder=row, by=by, now=now)
            if row.status in (ClientMessage.Status.SENT, ClientMessage.Status.FAILED, ClientMessage.Status.CANCELLED)
            else row
            for row in rows
        ]
        _audit_appointment(
            locked, by=by, action=AuditEvent.Action.UPDATE, fields=["messages"], detail="confirmation resent"
        )
    return again
