"""Book, move and cancel appointments without ever double-booking a technician.

Two layers keep one technician from holding two overlapping appointments:
1. the service locks the rows of the technicians who could take the booking (SELECT ... FOR
   UPDATE) before computing the day's availability for them, so bookings that could compete
   queue up and each sees everything committed before it; on SQLite the IMMEDIATE write
   transaction does the same by letting one writer in at a time;
2. PostgreSQL's exclusion constraint (appointment_no_technician_overlap) refuses whatever
   slips past (a staff edit in the admin, say); the service turns it into SlotTaken.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings import booking_refdata, zones
from bookings.availability import Slot, nearest
from bookings.models import Appointment, BookingPolicy, ClientMessage, Course, Location, Technician, generate_reference
from bookings.payments.selectors import DepositOnCancel, deposit_amount, deposit_on_cancel
from bookings.selectors import (
    BookingRequestError,
    ContactOnRecord,
    appointment_length,
    availability_compute,
    availability_schedules,
    booked_minutes,
    booking_policy_for,
    booking_window_check,
    contact_on_record,
    local_date,
    technician_candidates,
)
from bookings.services.deposits import Outcome, deposit_pending_create, deposit_settle, hold_expiry
from bookings.services.messaging import appointment_messages_new, client_message_queue, reminders_sync
from bookings.services.safety import booking_safety_check
from bookings.services.waitlist_hooks import waitlist_notify_freed
from clients.ages import under_age_message
from clients.models import AuditEvent, Client, ConsentRecord, ConsentWording
from clients.services import audit_event, audit_records_create
from treatments.models import Treatment

logger = logging.getLogger(__name__)

# The exclusion constraint's name, and the code of the ValidationError it raises in full_clean.
OVERLAP_CONSTRAINT = "appointment_no_technician_overlap"
REFERENCE_ATTEMPTS = 5
# What a concurrent booking (or a repeated random reference) makes the database refuse, and a
# fresh attempt of online_book gets right: the address taken a moment ago (this record then
# becomes its possible match), the appointment's reference drawn twice. SQLite names neither
# constraint in its error the same way: its texts are matched instead.
_RETRIED_CONSTRAINTS = frozenset({"client_email_unique_ci", "bookings_appointment_reference_key"})
_RETRIED_SQLITE_TEXTS = ("client_email_unique_ci", "bookings_appointment.reference")
ONLINE_ATTEMPTS = REFERENCE_ATTEMPTS


class SlotTaken(Exception):
    """The time is no longer free; ``alternatives`` are the nearest free times."""

    def __init__(self, message: str = "That time was just taken.", *, alternatives: list[Slot] | None = None):
        super().__init__(message)
        self.message = message
        self.alternatives = alternatives or []


class ChangeWindowNotAccepted(BookingRequestError):
    """An online booking inside the policy's change window (the client could not then move or
    cancel it online) that the client has not been told about and accepted."""

    def __init__(self, message: str):
        super().__init__("late_change_accepted", message)


class AlreadyThatTime(BookingRequestError):
    """A client asked to move a booking to the time it already has: nothing to move."""

    def __init__(self):
        super().__init__("start", "That is already your booking's time. Choose another time to move it to.")


def in_change_window(*, start: datetime, policy: BookingPolicy, now: datetime | None = None) -> bool:
    """True when a booking starting then could no longer be moved or cancelled online (the rule
    client_may_change applies), so the client must be told before booking it."""
    return start - (now or timezone.now()) < timedelta(hours=policy.change_notice_hours)


def change_window_notice(*, location: Location, policy: BookingPolicy) -> str:
    return (
        f"This time is less than {policy.change_notice_hours} hours away: once booked it can't be moved or "
        f"cancelled online. To change it you would need to call {location.name} on {location.phone}."
    )


class ChangeNotAllowed(Exception):
    """A client may not change this booking online (too close, already over or cancelled)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _is_overlap_violation(exc: BaseException) -> bool:
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None) == OVERLAP_CONSTRAINT:
        return True
    return OVERLAP_CONSTRAINT in str(exc)


def _alternatives(
    *,
    location: Location,
    kind: str,
    treatment: Treatment | None,
    start: datetime,
    technician: Technician | None,
    length_minutes: int | None,
    apply_notice: bool,
    exclude_appointment_id: int | None,
    policy: BookingPolicy,
) -> list[Slot]:
    day = local_date(start, location)
    first = max(day - timedelta(days=3), zones.local_today(location))
    slots = availability_compute(
        location=location,
        kind=kind,
        treatment=treatment,
        start_date=first,
        days=(day - first).days + 8,
        technician=technician,
        length_minutes=length_minutes,
        apply_notice=apply_notice,
        exclude_appointment_id=exclude_appointment_id,
        policy=policy,
    )
    return nearest((s for day_slots in slots.values() for s in day_slots), start, count=3)


def _claim_technician(
    *,
    location: Location,
    kind: str,
    treatment: Treatment | None,
    start: datetime,
    technician: Technician | None,
    length_minutes: int | None,
    apply_notice: bool,
    policy: BookingPolicy,
    exclude_appointment_id: int | None = None,
    prefer_id: int | None = None,
    with_alternatives: bool = True,
) -> Technician:
    """Lock and return a technician free at ``start``; SlotTaken if none is.

    Call inside transaction.atomic: the row locks are held until the booking commits.
    ``with_alternatives=False`` raises SlotTaken without the other times, for a caller that
    finds them once its transaction has let the locks go (online_book).
    """
    day = local_date(start, location)
    candidates = technician_candidates(location=location, kind=kind, treatment=treatment, technician=technician)
    # Lock every technician who could take it, in id order (two bookings never wait on each
    # other crosswise): bookings that could compete for them queue here, and the one
    # availability computation below then sees every appointment committed before ours
    # (READ COMMITTED reads afresh after the wait).
    locked = {t.pk: t for t in Technician.objects.select_for_update().filter(pk__in=candidates).order_by("pk")}
    slots, schedules = availability_schedules(
        location=location,
        kind=kind,
        treatment=treatment,
        start_date=day,
        days=1,
        technician_ids=list(locked),
        length_minutes=length_minutes,
        apply_notice=apply_notice,
        exclude_appointment_id=exclude_appointment_id,
        policy=policy,
    )
    free_ids = [s.technician_id for s in slots[day] if s.start == start]
    if free_ids:
        if technician is None:
            # Fair: the technician with the fewest booked minutes that day, then the lowest id;
            # when moving a booking, its own technician first so the client keeps them.
            booked = booked_minutes(schedules=schedules, day=day, location=location)
            free_ids.sort(key=lambda pk: (pk != prefer_id, booked[pk], pk))
        return locked[free_ids[0]]
    if not with_alternatives:
        raise SlotTaken()
    raise SlotTaken(
        alternatives=_alternatives(
            location=location,
            kind=kind,
            treatment=treatment,
            start=start,
            technician=technician,
            length_minutes=length_minutes,
            apply_notice=apply_notice,
            exclude_appointment_id=exclude_appointment_id,
            policy=policy,
        )
    )


def _constraint_error(exc: IntegrityError, model) -> ValidationError | None:
    """The coded error of the model constraint the database refused, as full_clean would raise it."""
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None) or ""
    for constraint in model._meta.constraints:
        if constraint.name == name or (not name and constraint.name in str(exc)):
            error = ValidationError(constraint.get_violation_error_message(), code=constraint.violation_error_code)
            return ValidationError({NON_FIELD_ERRORS: [error]})
    return None


# Checked by the database (foreign keys, deferred to the commit) or by it at the insert
# (unique reference, check and exclusion constraints): validating them here first would cost
# a query each and still leave the race the database settles.
_DATABASE_CHECKED = ("client", "technician", "location", "treatment", "course", "status_changed_by")


def _save_claimed(appointment: Appointment, *, on_conflict, savepoint: bool = True) -> None:
    """Validate the fields and save; the database enforces the constraints, and an overlap it
    refuses becomes SlotTaken, any other constraint its coded ValidationError.

    References are random (30^5 of them), so with tens of thousands of appointments a new
    one occasionally repeats an old one: draw again rather than fail the booking.

    ``savepoint=False`` saves without the savepoint that makes those answers possible inside
    the transaction: the IntegrityError goes to the caller, which rolls its whole transaction
    back and retries or answers it (online_book).
    """
    new_reference = appointment._state.adding
    appointment.full_clean(exclude=_DATABASE_CHECKED, validate_unique=False, validate_constraints=False)
    if not savepoint:
        appointment.save(force_insert=new_reference)
        return
    for attempt in range(REFERENCE_ATTEMPTS):
        try:
            with transaction.atomic():
                appointment.save()
        except IntegrityError as exc:
            if _is_overlap_violation(exc):
                raise on_conflict() from exc
            if new_reference and "reference" in str(exc) and attempt < REFERENCE_ATTEMPTS - 1:
                appointment.reference = generate_reference()
                continue
            error = _constraint_error(exc, Appointment)
            if error is not None:
                raise error from exc
            raise
        return


def appointment_book(
    *,
    client: Client,
    location: Location,
    kind: str,
    start: datetime,
    treatment: Treatment | None = None,
    technician: Technician | None = None,
    course: Course | None = None,
    session_number: int | None = None,
    length_minutes: int | None = None,
    channel: str,
    client_message: str = "",
    notify: bool = True,
    policy: BookingPolicy | None = None,
    hold_until: datetime | None = None,
) -> Appointment:
    """Book a free time; with no technician, the fairest free one is chosen.

    Online bookings respect the policy's minimum notice and horizon; staff channels may book
    any free time from now on. Raises SlotTaken (with alternatives) when the time is gone and
    BookingRequestError for a request that can never succeed (bad kind or length).

    The client's confirmation (with its calendar file and manage link) is queued in the same
    transaction whatever the channel: a booking made by phone or at the desk leaves the client
    nothing written otherwise, and later moves and cancels update the calendar event it adds.
    `notify=False` is for callers that tell the client themselves; ``policy`` saves a caller
    that has just read the location's policy reading it again.

    ``hold_until`` books it held for a deposit (status pending_payment): the time is taken as
    firmly as any booking's, but the client is told nothing until the payment confirms it
    (bookings.services.deposits), and it is released if unpaid by then.
    """
    return _appointment_book(
        client=client,
        location=location,
        kind=kind,
        start=start,
        treatment=treatment,
        technician=technician,
        course=course,
        session_number=session_number,
        length_minutes=length_minutes,
        channel=channel,
        client_message=client_message,
        notify=notify,
        policy=policy,
        hold_until=hold_until,
        savepoints=True,
    )


def _appointment_book(
    *,
    client: Client,
    location: Location,
    kind: str,
    start: datetime,
    treatment: Treatment | None,
    technician: Technician | None,
    course: Course | None,
    session_number: int | None,
    length_minutes: int | None,
    channel: str,
    client_message: str,
    notify: bool,
    policy: BookingPolicy | None,
    hold_until: datetime | None,
    savepoints: bool,
) -> Appointment:
    """appointment_book; ``savepoints=False`` (online_book, inside its own transaction, which it
    retries whole) writes without savepoints and leaves a refused INSERT's IntegrityError to the
    caller, and a taken time's other times too: found after the transaction, not while the
    technicians' locks make competing bookings wait."""
    booking_window_check(instant=start)
    start = start.astimezone(UTC)
    policy = policy or booking_policy_for(location)
    length = appointment_length(kind=kind, policy=policy, treatment=treatment, length_minutes=length_minutes)
    apply_notice = channel == Appointment.Channel.ONLINE
    minutes = int(length.total_seconds() // 60)
    claim = {
        "location": location,
        "kind": kind,
        "treatment": treatment,
        "start": start,
        "length_minutes": minutes,
        "apply_notice": apply_notice,
        "policy": policy,
    }
    with transaction.atomic(savepoint=savepoints):
        # Age and patch test: the one place every booking path passes (public form, workspace,
        # planner, admin).
        booking_safety_check(client=client, kind=kind, treatment=treatment, start=start, location=location)
        chosen = _claim_technician(technician=technician, with_alternatives=savepoints, **claim)
        appointment = Appointment(
            kind=kind,
            client=client,
            technician=chosen,
            location=location,
            treatment=treatment,
            course=course,
            session_number=session_number,
            start=start,
            end=start + length,
            channel=channel,
            client_message=client_message,
        )
        if hold_until is not None:
            appointment.status = Appointment.Status.PENDING_PAYMENT
            appointment.hold_expires_at = hold_until
        _save_claimed(
            appointment,
            on_conflict=lambda: SlotTaken(
                alternatives=_alternatives(technician=technician, exclude_appointment_id=None, **claim)
            ),
            savepoint=savepoints,
        )
        if hold_until is None:
            appointment_messages_new(appointment=appointment, confirm=notify and appointment.start > timezone.now())
    logger.info("appointment booked ref=%s technician=%s channel=%s", appointment.reference, chosen.pk, channel)
    return appointment


def client_may_change(*, appointment: Appointment, policy: BookingPolicy, now: datetime | None = None) -> str | None:
    """None if the client may move or cancel online, else the reason they may not."""
    now = now or timezone.now()
    if appointment.status == Appointment.Status.CANCELLED:
        return "This booking has been cancelled."
    if appointment.status == Appointment.Status.PENDING_PAYMENT:
        return "This booking is held until its deposit is paid."
    if appointment.status == Appointment.Status.HOLD_RELEASED:
        return "This booking was not confirmed: the deposit was not paid in time, so the time was released."
    if not appointment.is_active or appointment.status == Appointment.Status.COMPLETED or appointment.start <= now:
        return "This appointment has already taken place."
    if appointment.start - now < timedelta(hours=policy.change_notice_hours):
        return (
            f"Bookings can't be moved or cancelled online within {policy.change_notice_hours} hours of the "
            f"appointment. Please call {appointment.location.name} on {appointment.location.phone}."
        )
    return None


def appointment_reschedule(
    *,
    appointment: Appointment,
    start: datetime,
    technician: Technician | None = None,
    by_client: bool = False,
    notify: bool = True,
) -> Appointment:
    """Move an appointment to another free time, keeping its length.

    With no technician, the appointment keeps its technician if they are free then, else the
    fairest free one. ``by_client`` applies the policy's notice for changes and for bookings.
    A new time raises the calendar sequence and queues the "moved" message (old and new time).
    """
    booking_window_check(instant=start)
    start = start.astimezone(UTC)
    with transaction.atomic():
        # Lock the appointment: a move and a cancel of one booking must not interleave.
        appointment = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("location", "treatment", "technician")
            .get(pk=appointment.pk)
        )
        policy = booking_policy_for(appointment.location)
        if by_client:
            reason = client_may_change(appointment=appointment, policy=policy)
            if reason:
                raise ChangeNotAllowed(reason)
            # Staff may keep the time to change the technician; a client's same time changes nothing.
            if start == appointment.start:
                raise AlreadyThatTime()
            _check_course_spacing(appointment=appointment, start=start)
        elif not appointment.is_active or appointment.status == Appointment.Status.COMPLETED:
            raise ChangeNotAllowed("Only booked or confirmed appointments can be moved.")
        booking_safety_check(
            client=appointment.client,
            kind=appointment.kind,
            treatment=appointment.treatment,
            start=start,
            location=appointment.location,
            exclude_appointment_id=appointment.pk,
        )
        claim = {
            "location": appointment.location,
            "kind": appointment.kind,
            "treatment": appointment.treatment,
            "start": start,
            "length_minutes": appointment.duration_minutes,
            "apply_notice": by_client,
            "policy": policy,
        }
        chosen = _claim_technician(
            technician=technician,
            exclude_appointment_id=appointment.pk,
            prefer_id=appointment.technician_id,
            **claim,
        )
        length = appointment.end - appointment.start
        previous_start, previous_end = appointment.start, appointment.end
        appointment.technician = chosen
        appointment.start = start
        appointment.end = start + length
        time_changed = appointment.start != previous_start
        if time_changed:
            appointment.ics_sequence += 1
        _save_claimed(
            appointment,
            on_conflict=lambda: SlotTaken(
                alternatives=_alternatives(technician=technician, exclude_appointment_id=appointment.pk, **claim)
            ),
        )
        reminders_sync(appointment=appointment)
        if time_changed:
            waitlist_notify_freed(appointment=appointment, start=previous_start)
        if notify and time_changed:
            client_message_queue(
                appointment=appointment,
                kind=ClientMessage.Kind.MOVED,
                payload={"previous_start": previous_start.isoformat(), "previous_end": previous_end.isoformat()},
            )
    logger.info("appointment moved ref=%s technician=%s", appointment.reference, chosen.pk)
    return appointment


def course_spacing_window(*, appointment: Appointment) -> tuple[date, date] | None:
    """The dates (the location's calendar days) a course session may move to and keep the treatment's spacing from the
    sessions either side of it (None when it is not a course session)."""
    if not (appointment.course_id and appointment.session_number and appointment.treatment_id):
        return None
    treatment = appointment.treatment
    siblings = (
        Appointment.objects.filter(
            course_id=appointment.course_id, status__in=Appointment.ACTIVE_STATUSES, session_number__isnull=False
        )
        .exclude(pk=appointment.pk)
        .only("start", "session_number")
    )
    earliest, latest = date.min, date.max
    for other in siblings:
        day = zones.local_date(other.start, appointment.location)
        if other.session_number < appointment.session_number:
            earliest = max(earliest, day + timedelta(days=treatment.spacing_days_min))
            latest = min(latest, day + timedelta(days=treatment.spacing_days_max))
        elif other.session_number > appointment.session_number:
            latest = min(latest, day - timedelta(days=treatment.spacing_days_min))
    return earliest, latest


def _check_course_spacing(*, appointment: Appointment, start: datetime) -> None:
    window = course_spacing_window(appointment=appointment)
    if window is None:
        return
    earliest, latest = window
    day = zones.local_date(start, appointment.location)
    if earliest <= day <= latest:
        return
    if earliest > latest:
        raise ChangeNotAllowed(
            f"This session can't be moved online without breaking the time your scalp needs between sessions. "
            f"Please call {appointment.location.name} on {appointment.location.phone}."
        )
    bounds = []
    if earliest != date.min:
        bounds.append(f"from {earliest:%d/%m/%Y}")
    if latest != date.max:
        bounds.append(f"until {latest:%d/%m/%Y}")
    raise BookingRequestError(
        "start",
        "This session is part of your course and must keep its spacing from your other sessions: choose a day "
        + " ".join(bounds)
        + f", or call {appointment.location.name} on {appointment.location.phone}.",
    )


def cancellation_is_late(*, start: datetime, at: datetime, policy: BookingPolicy) -> bool:
    """Late: less than the policy's late-cancellation notice before the start, counted in elapsed
    hours (across a clock change 24 hours' notice is not "the same time the day before")."""
    return start - at < timedelta(hours=policy.late_cancellation_hours)


@dataclass(frozen=True)
class CancellationOutcome:
    """What a client's cancellation now would record, for the confirmation step: whether it is
    late (and whether late ones count towards the online booking's limit) and the deposit's fate."""

    late: bool
    late_cancellation_hours: int
    counts_towards_limit: bool
    limit: int | None
    deposit: DepositOnCancel | None


def cancellation_outcome(
    *, appointment: Appointment, policy: BookingPolicy, now: datetime | None = None
) -> CancellationOutcome:
    """The rules appointment_cancel applies, read without cancelling."""
    now = now or timezone.now()
    late = cancellation_is_late(start=appointment.start, at=now, policy=policy)
    return CancellationOutcome(
        late=late,
        late_cancellation_hours=policy.late_cancellation_hours,
        counts_towards_limit=late and bool(policy.no_show_limit) and policy.late_cancellations_count,
        limit=policy.no_show_limit,
        deposit=deposit_on_cancel(appointment=appointment, at=now),
    )


def appointment_cancel(
    *,
    appointment: Appointment,
    by_client: bool,
    notify: bool = True,
    by=None,
    now: datetime | None = None,
) -> Appointment:
    """Cancel an appointment (idempotent); a client must respect the policy's notice.

    Records how: ``by`` (the staff user, None for the client's own link), the channel, and
    whether it came within the policy's late-cancellation notice. Raises the calendar sequence
    and, for an appointment still ahead, queues the "cancelled" message whose calendar file
    removes the event."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the appointment: a move and a cancel of one booking must not interleave.
        appointment = (
            Appointment.objects.select_for_update(of=("self",)).select_related("location").get(pk=appointment.pk)
        )
        if appointment.status == Appointment.Status.CANCELLED:
            return appointment
        policy = booking_policy_for(appointment.location)
        if by_client:
            reason = client_may_change(appointment=appointment, policy=policy, now=now)
            if reason:
                raise ChangeNotAllowed(reason)
        elif not appointment.is_active or appointment.status == Appointment.Status.COMPLETED:
            raise ChangeNotAllowed("Only booked or confirmed appointments can be cancelled.")
        appointment.status = Appointment.Status.CANCELLED
        appointment.cancelled_at = now
        appointment.late_cancellation = cancellation_is_late(start=appointment.start, at=now, policy=policy)
        appointment.cancelled_by = None if by_client else by
        via = Appointment.CancelledVia
        appointment.cancelled_via = via.CLIENT_LINK if by_client else via.STAFF
        appointment.ics_sequence += 1
        appointment.save(
            update_fields=[
                "status",
                "cancelled_at",
                "late_cancellation",
                "cancelled_by",
                "cancelled_via",
                "ics_sequence",
                "updated_at",
            ]
        )
        reminders_sync(appointment=appointment)
        # The deposit follows its policy: refunded when cancelled in time, else kept (its share).
        deposit_settle(appointment=appointment, outcome=Outcome.CANCELLED, by=by, now=now)
        if notify and appointment.start > appointment.cancelled_at:
            client_message_queue(appointment=appointment, kind=ClientMessage.Kind.CANCELLED)
        waitlist_notify_freed(appointment=appointment, start=appointment.start, now=now)
    logger.info(
        "appointment cancelled ref=%s by_client=%s late=%s",
        appointment.reference,
        by_client,
        appointment.late_cancellation,
    )
    return appointment


def _client_for_booking(
    *,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    date_of_birth: date | None = None,
    holder_id: int | None,
) -> tuple[Client, AuditEvent]:
    """A new record holding the details exactly as given on the public form, and its audit row
    (unsaved: online_book writes the booking's audit rows together).

    Never the existing client with this e-mail: anyone may type anyone's address, so the booking
    must not change that client's details, consent or opt-in, nor let the technician who sees the
    booking open their record. When a client holds the address already, the new record is flagged
    as its possible match, for the address's owner (the link sent to it) or reception to settle
    (bookings.services.identity).

    Call inside online_book's transaction, with no savepoint: when another booking takes the
    address a moment before this INSERT, the unique index refuses it and online_book retries
    the whole transaction, which then finds that holder and makes this one its possible match.
    """
    client = Client(
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        date_of_birth=date_of_birth,
        match_of_id=holder_id,
        match_status=Client.MatchStatus.PENDING if holder_id else "",
    )
    client.save(force_insert=True)
    fields = [
        "first_name",
        "last_name",
        "email",
        "phone",
        *(["date_of_birth"] if date_of_birth else []),
        *(["match_of"] if holder_id else []),
    ]
    return client, _online_audit_event(action=AuditEvent.Action.CREATE, object_type="client", obj=client, fields=fields)


def _online_audit_event(*, action: str, object_type: str, obj, fields) -> AuditEvent:
    """Changes the client makes through the online booking form, in the same audit trail as staff's."""
    client_id = obj.pk if isinstance(obj, Client) else obj.client_id
    return audit_event(
        actor=None,
        action=action,
        object_type=object_type,
        object_id=obj.pk,
        client_id=client_id,
        fields=fields,
        detail="online booking form",
    )


def online_booking_refusal(*, location: Location, policy: BookingPolicy, contact: ContactOnRecord) -> str | None:
    """Why the online form should ask this person to call instead of booking, or None.

    The location's booking policy (else the clinic-wide one) sets how many no-shows (and, if it
    says so, late cancellations) at any location under this e-mail or phone number send them to
    the phone. The wording is the same for everyone it stops: whoever types an address learns
    only that the clinic would like a call, never what the address's owner did.
    """
    if not policy.no_show_limit:
        return None
    counts = contact.attendance()
    missed = counts.no_shows + (counts.late_cancellations if policy.late_cancellations_count else 0)
    if missed < policy.no_show_limit:
        return None
    logger.info("online booking referred to the phone by the attendance policy location=%s", location.pk)
    return (
        f"We can't take this booking online. Please call {location.name} on {location.phone} "
        "and we'll book your consultation with you."
    )


def online_consultation_book(**details) -> Appointment:
    """A client books a consultation online (free unless the location's deposit policy asks one)."""
    return online_book(kind=Appointment.Kind.CONSULTATION, **details)


def online_book(
    *,
    kind: str,
    location: Location,
    start: datetime,
    treatment: Treatment | None,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    description: str,
    health_consent: bool,
    marketing_opt_in: bool,
    date_of_birth: date | None = None,
    late_change_accepted: bool = False,
    policy: BookingPolicy | None = None,
) -> Appointment:
    """A client books online: a new record for the details as given, consent to keep the health
    data they typed recorded on it, and a booking with any technician. All or nothing. The
    marketing opt-in waits for the address's owner to confirm through the link (double opt-in:
    bookings.services.identity.booking_identity_confirm).

    When a deposit policy asks a deposit for online bookings of this kind, treatment and
    location (a session, say; a consultation only if the location says so), the booking is held
    (pending_payment, PAYMENT_HOLD_MINUTES) with its deposit pending: the caller sends the client
    to the provider's checkout (bookings.services.deposits.deposit_checkout_start) and the
    signed webhook confirms it.

    A time inside the policy's change window (it could not then be moved or cancelled online)
    is booked only with ``late_change_accepted``: the page showed the client that notice first;
    otherwise ChangeWindowNotAccepted, and the page asks."""
    if kind != Appointment.Kind.CONSULTATION and treatment is None:
        raise BookingRequestError("treatment", "Choose the treatment you are booking.")
    if not health_consent:
        raise BookingRequestError("health_consent", "We need your consent to keep your health information.")
    if date_of_birth is not None:
        # Before any record is made: an under-18's details are not kept (appointment_book checks too).
        refusal = under_age_message(born=date_of_birth, day=zones.local_date(start, location))
        if refusal:
            logger.info("online booking refused: under 18 location=%s", location.pk)
            raise BookingRequestError("date_of_birth", refusal)
    policy = policy or booking_refdata.booking_policy(location)
    booking_window_check(instant=start)
    if not late_change_accepted and in_change_window(start=start, policy=policy):
        raise ChangeWindowNotAccepted(change_window_notice(location=location, policy=policy))
    now = timezone.now()
    wording = booking_refdata.consent_wording_in_force(kind=ConsentWording.Kind.HEALTH_DATA, now=now)
    if wording is None:
        logger.error("online booking refused: no health-data consent wording is in force")
        raise BookingRequestError("health_consent", "Online booking is unavailable right now: please call us.")
    deposit_policy = booking_refdata.deposit_policy(kind=kind, location=location, treatment=treatment)
    deposit = None
    if deposit_policy is not None and deposit_policy.required_online:
        deposit = deposit_amount(policy=deposit_policy, treatment=treatment, location=location)
    hold_until = hold_expiry(now) if deposit is not None else None
    details = {
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "phone": phone,
        "date_of_birth": date_of_birth,
        "description": description,
        "marketing_opt_in": marketing_opt_in,
    }
    for attempt in range(ONLINE_ATTEMPTS):
        try:
            return _online_book_once(
                kind=kind,
                location=location,
                start=start,
                treatment=treatment,
                policy=policy,
                wording=wording,
                now=now,
                deposit_policy=deposit_policy,
                deposit=deposit,
                hold_until=hold_until,
                **details,
            )
        except SlotTaken as exc:
            if exc.alternatives:
                raise
            # Rolled back, the locks released: now the nearest other times.
            raise SlotTaken(
                alternatives=_online_alternatives(
                    location=location, kind=kind, treatment=treatment, start=start, policy=policy
                )
            ) from exc
        except IntegrityError as exc:
            # The transaction is rolled back whole: nothing of this attempt was kept.
            if _is_overlap_violation(exc):
                raise SlotTaken(
                    alternatives=_online_alternatives(
                        location=location, kind=kind, treatment=treatment, start=start, policy=policy
                    )
                ) from exc
            if attempt < ONLINE_ATTEMPTS - 1 and _retryable(exc):
                logger.info("online booking retried after %s", _constraint_name(exc) or "a unique constraint")
                continue
            error = _constraint_error(exc, Appointment)
            if error is not None:
                raise error from exc
            raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _online_alternatives(
    *, location: Location, kind: str, treatment: Treatment | None, start: datetime, policy: BookingPolicy
) -> list[Slot]:
    length = appointment_length(kind=kind, policy=policy, treatment=treatment)
    return _alternatives(
        location=location,
        kind=kind,
        treatment=treatment,
        start=start.astimezone(UTC),
        technician=None,
        length_minutes=int(length.total_seconds() // 60),
        apply_notice=True,
        exclude_appointment_id=None,
        policy=policy,
    )


def _constraint_name(exc: IntegrityError) -> str:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) or ""


def _retryable(exc: IntegrityError) -> bool:
    name = _constraint_name(exc)
    if name:
        return name in _RETRIED_CONSTRAINTS
    return any(text in str(exc) for text in _RETRIED_SQLITE_TEXTS)


def _online_book_once(
    *,
    kind: str,
    location: Location,
    start: datetime,
    treatment: Treatment | None,
    policy: BookingPolicy,
    wording: ConsentWording,
    now: datetime,
    deposit_policy,
    deposit,
    hold_until: datetime | None,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    date_of_birth: date | None,
    description: str,
    marketing_opt_in: bool,
) -> Appointment:
    """One attempt at online_book's writes, in one transaction without savepoints: a row the
    database refuses rolls it all back, and online_book decides whether to try again."""
    with transaction.atomic():
        # One read for both: the attendance policy (nothing written yet if it refuses) and the
        # address's holder, read again by a retry after another booking took the address.
        contact = contact_on_record(email=email, phone=phone)
        refusal = online_booking_refusal(location=location, policy=policy, contact=contact)
        if refusal:
            raise BookingRequestError(NON_FIELD_ERRORS, refusal)
        client, client_audit = _client_for_booking(
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            date_of_birth=date_of_birth,
            holder_id=contact.holder_id,
        )
        # The consent before the booking: appointment_book locks the location's technicians until
        # this transaction commits, so whatever needs no appointment is written before the lock.
        consent = ConsentRecord.objects.create(
            client=client,
            wording=wording,
            given_at=now,
            method=ConsentRecord.Method.ONLINE,
            signed_name=f"{first_name} {last_name}".strip(),
        )
        audit_records_create(
            [
                client_audit,
                _online_audit_event(
                    action=AuditEvent.Action.CREATE, object_type="consentrecord", obj=consent, fields=["wording"]
                ),
            ]
        )
        appointment = _appointment_book(
            client=client,
            location=location,
            kind=kind,
            start=start,
            treatment=treatment,
            technician=None,
            course=None,
            session_number=None,
            length_minutes=None,
            channel=Appointment.Channel.ONLINE,
            client_message=description,
            notify=True,
            policy=policy,
            hold_until=hold_until,
            savepoints=False,
        )
        if deposit is not None:
            deposit_pending_create(appointment=appointment, policy=deposit_policy, amount=deposit)
        # The link goes only where there is something to confirm: a booking to link to the
        # address's holder, or a marketing opt-in (double opt-in).
        if client.match_of_id or marketing_opt_in:
            client_message_queue(
                appointment=appointment,
                kind=ClientMessage.Kind.IDENTITY_CONFIRM,
                payload={"marketing_opt_in": bool(marketing_opt_in)},
            )
    return appointment
