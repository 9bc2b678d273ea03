"""The course planner: proposes free times at the treatment's spacing (same technician first)
and books a course's sessions, one at a time or all at once (all or nothing)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.forms.models import model_to_dict
from django.utils import timezone

from bookings.models import Appointment, Course, Location, Technician
from bookings.selectors import BookingRequestError, Slot, availability_compute
from bookings.services.booking import SlotTaken, appointment_book
from bookings.services.safety import patch_test_hours, patch_test_required
from bookings.zones import local, local_date
from clients.models import AuditEvent, Client
from clients.services import audit_record
from treatments.models import PriceGuide, Treatment

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

SLOTS_PER_DAY = 3
MAX_PROPOSALS = 18


@dataclass(frozen=True)
class Proposal:
    slot: Slot
    same_technician: bool
    technician_name: str

    @property
    def value(self) -> str:
        return f"{self.slot.start.isoformat()}|{self.slot.technician_id}"


class CourseBookingError(Exception):
    """One session of a course could not be booked, so none was."""

    def __init__(self, *, session_number: int, start: datetime, location: Location, message: str, alternatives=()):
        at = local(start, location)
        what = f"Session {session_number}" if session_number else "Patch test"
        super().__init__(f"{what} ({at:%a %d %b %Y %H:%M}): {message} Nothing was booked.")
        self.session_number = session_number
        self.alternatives = list(alternatives)


def _window(after: date, treatment: Treatment) -> tuple[date, int]:
    first = after + timedelta(days=treatment.spacing_days_min)
    return first, treatment.spacing_days_max - treatment.spacing_days_min + 1


def _pick(days: dict[date, list[Slot]], technician_id: int | None) -> list[Slot]:
    picked = []
    for day in sorted(days):
        slots = [s for s in days[day] if technician_id is None or s.technician_id == technician_id]
        picked.extend(slots[:SLOTS_PER_DAY])
    return picked


def next_session_proposals(*, appointment: Appointment) -> list[Proposal]:
    """Free times spacing_days_min..max after this session; this technician's first, then others'."""
    treatment = appointment.treatment or (appointment.course.treatment if appointment.course_id else None)
    if treatment is None:
        return []
    if appointment.kind == Appointment.Kind.PATCH_TEST:
        # Session 1 after the course's patch test: from the day its wait is over, for four weeks.
        start_date, days = local_date(_patch_test_over(appointment, treatment), appointment.location), 28
    else:
        start_date, days = _window(local_date(appointment.start, appointment.location), treatment)
    free = availability_compute(
        location=appointment.location,
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=treatment,
        start_date=start_date,
        days=days,
        apply_notice=False,
    )
    if appointment.kind == Appointment.Kind.PATCH_TEST:
        over = _patch_test_over(appointment, treatment)
        free = {day: [s for s in slots if s.start >= over] for day, slots in free.items()}
    own = _pick(free, appointment.technician_id)
    others = [s for s in _pick(free, None) if s.technician_id != appointment.technician_id]
    names = dict(
        Technician.objects.filter(pk__in={s.technician_id for s in own + others}).values_list("pk", "display_name")
    )
    return [
        Proposal(
            slot=s,
            same_technician=s.technician_id == appointment.technician_id,
            technician_name=names.get(s.technician_id, ""),
        )
        for s in (own + others)[:MAX_PROPOSALS]
    ]


def _patch_test_over(appointment: Appointment, treatment: Treatment) -> datetime:
    return appointment.start + timedelta(hours=patch_test_hours(treatment))


def parse_proposal(value: str) -> tuple[datetime, int]:
    try:
        raw_start, raw_technician = value.split("|")
        start = datetime.fromisoformat(raw_start)
        technician_id = int(raw_technician)
    except ValueError:
        raise ValidationError("Choose one of the proposed times.", code="time_not_proposed") from None
    if timezone.is_naive(start):
        raise ValidationError("Choose one of the proposed times.", code="time_not_proposed")
    return start, technician_id


def _check_spacing(previous: date, start: datetime, treatment: Treatment, *, location: Location, label: str) -> None:
    """Spacing counts the location's calendar days (a 19:00 New York session is the next day in UTC)."""
    gap = (local_date(start, location) - previous).days
    if not treatment.spacing_days_min <= gap <= treatment.spacing_days_max:
        raise ValidationError(
            f"{label} is {gap} days after the previous session; {treatment.name} needs "
            f"{treatment.spacing_days_min}-{treatment.spacing_days_max} days between sessions.",
            code="session_spacing",
        )


@dataclass(frozen=True)
class NextSessionBlock:
    """Why no next session is booked from this appointment; ``later`` is the session to book it from."""

    code: str
    message: str
    later: Appointment | None = None


def next_session_blocked(*, appointment: Appointment, course: Course) -> NextSessionBlock | None:
    """Every planned session booked, or a later session of the course booked already: the next one
    counts its spacing from that later session and takes the number after it, so it is booked from there."""
    booked = course.appointments.exclude(status=Appointment.Status.CANCELLED)
    last = booked.aggregate(n=Max("session_number"))["n"] or 0
    if last >= course.planned_sessions:
        return NextSessionBlock(
            "course_fully_booked", f"All {course.planned_sessions} planned sessions of this course are booked."
        )
    later = booked.filter(start__gt=appointment.start).select_related("location").order_by("-start").first()
    if later is not None:
        what = f"Session {later.session_number}" if later.session_number else "A later appointment of this course"
        return NextSessionBlock(
            "not_latest_session",
            f"{what} is already booked after this one, on {local(later.start, later.location):%a %d %b %Y}: "
            "book the next session from it.",
            later,
        )
    return None


def next_session_book(
    *, appointment: Appointment, start: datetime, technician: Technician, by: AbstractBaseUser
) -> Appointment:
    """Book the course's next session after this one (the course's latest)."""
    course = appointment.course
    if course is None:
        raise ValidationError("This appointment is not part of a course: plan a course first.", code="not_in_course")
    if appointment.kind != Appointment.Kind.PATCH_TEST:
        # After the course's patch test, the patch-test rule (appointment_book) sets the wait instead.
        _check_spacing(
            local_date(appointment.start, appointment.location),
            start,
            course.treatment,
            location=appointment.location,
            label="The next session",
        )
    with transaction.atomic():
        # Lock the course: two devices booking "the next session" at once must not both take number n+1.
        course = Course.objects.select_for_update().get(pk=course.pk)
        if (blocked := next_session_blocked(appointment=appointment, course=course)) is not None:
            raise ValidationError(blocked.message, code=blocked.code)
        last = course.appointments.exclude(status=Appointment.Status.CANCELLED).aggregate(n=Max("session_number"))["n"]
        number = (last or 0) + 1
        booked = appointment_book(
            client=appointment.client,
            location=appointment.location,
            kind=Appointment.Kind.TREATMENT_SESSION,
            start=start,
            treatment=course.treatment,
            technician=technician,
            course=course,
            session_number=number,
            channel=Appointment.Channel.STAFF,
        )
    logger.info("next session booked course=%s ref=%s", course.pk, booked.reference)
    return booked


def course_plan(
    *, location: Location, treatment: Treatment, technician: Technician, first_date: date, sessions: int
) -> list[Slot | None]:
    """A first free time for each session: session 1 from first_date, each next one within the spacing window
    after the previous, this technician only (None where the technician has nothing free)."""
    plan: list[Slot | None] = []
    day, days = first_date, 14
    for _ in range(sessions):
        free = availability_compute(
            location=location,
            kind=Appointment.Kind.TREATMENT_SESSION,
            treatment=treatment,
            start_date=day,
            days=days,
            technician=technician,
            apply_notice=False,
        )
        slot = next(iter(_pick(free, technician.pk)), None)
        plan.append(slot)
        anchor = local_date(slot.start, location) if slot else day
        day, days = _window(anchor, treatment)
    return plan


@dataclass(frozen=True)
class CoursePlan:
    """A course's proposed times: the patch test first when one is due, then a time per session.

    ``patch_test_refusal`` says why no session can be planned yet (the last patch test showed a
    reaction); ``patch_test_booked`` is a patch test already booked in time for session 1."""

    sessions: list[Slot | None]
    patch_test: Slot | None = None
    patch_test_due: bool = False
    patch_test_refusal: str = ""
    patch_test_booked: Appointment | None = None


def patch_test_due(*, client: Client, treatment: Treatment, start: datetime) -> tuple[bool, str]:
    """(due, refusal): a first session at ``start`` needs a patch test booked first (due), or
    cannot be planned at all (the refusal: the latest test showed a reaction)."""
    status = patch_test_required(client=client, treatment=treatment, start=start)
    if status is None or status.ok:
        return False, ""
    if status.code == "patch_test_reaction":
        return False, status.message
    return True, ""


def _patch_test_booked(*, client: Client, before: datetime) -> Appointment | None:
    """A patch-test appointment still to happen, in time for a session starting at ``before``."""
    return (
        Appointment.objects.filter(
            client=client,
            kind=Appointment.Kind.PATCH_TEST,
            status__in=HELD_STATUSES,
            start__gte=timezone.now(),
            start__lte=before,
        )
        .order_by("start")
        .first()
    )


def course_plan_with_patch_test(
    *,
    client: Client,
    location: Location,
    treatment: Treatment,
    technician: Technician,
    first_date: date,
    sessions: int,
) -> CoursePlan:
    """course_plan, with the patch test first when the client needs one: the first free patch-test
    time from today (this technician's, else anyone's at the location), and session 1 no sooner
    than the treatment's patch-test hours after it."""
    plan = course_plan(
        location=location, treatment=treatment, technician=technician, first_date=first_date, sessions=sessions
    )
    if not plan or plan[0] is None:
        return CoursePlan(sessions=plan)
    due, refusal = patch_test_due(client=client, treatment=treatment, start=plan[0].start)
    if refusal:
        return CoursePlan(sessions=plan, patch_test_refusal=refusal)
    if not due:
        return CoursePlan(sessions=plan)
    hours = timedelta(hours=patch_test_hours(treatment))
    booked = _patch_test_booked(client=client, before=plan[0].start - hours)
    if booked is not None:
        return CoursePlan(sessions=plan, patch_test_due=True, patch_test_booked=booked)
    today = local_date(timezone.now(), location)
    patch = _first_patch_test_slot(location=location, technician=technician, start_date=today)
    if patch is None:
        return CoursePlan(sessions=plan, patch_test_due=True)
    if plan[0].start < patch.start + hours:
        # The wait pushes the course back: session 1 from the day after the wait is over.
        plan = course_plan(
            location=location,
            treatment=treatment,
            technician=technician,
            first_date=local_date(patch.start + hours, location) + timedelta(days=1),
            sessions=sessions,
        )
    return CoursePlan(sessions=plan, patch_test=patch, patch_test_due=True)


def _first_patch_test_slot(*, location: Location, technician: Technician, start_date: date) -> Slot | None:
    free = availability_compute(
        location=location,
        kind=Appointment.Kind.PATCH_TEST,
        start_date=start_date,
        days=14,
        apply_notice=False,
    )
    return next(iter(_pick(free, technician.pk)), None) or next(iter(_pick(free, None)), None)


@transaction.atomic
def course_create_and_book(
    *,
    client: Client,
    treatment: Treatment,
    location: Location,
    technician: Technician,
    planned_sessions: int,
    price_band: str,
    price_agreed_minor: int | None,
    starts: Sequence[datetime],
    by: AbstractBaseUser,
    patch_test_start: datetime | None = None,
) -> Course:
    """Create the course and book every session in one transaction: if any time is taken, nothing is kept.

    When the client needs a patch test before session 1 and has no clear one in time, the patch
    test is booked first (``patch_test_start``, at least the treatment's patch-test hours before
    session 1, part of the course) and the sessions are not: a first session is booked only once
    the result is recorded clear (next_session_book from the patch test's page)."""
    _check_sessions_range(treatment, planned_sessions)
    if len(starts) != planned_sessions:
        raise ValidationError(f"Give a time for each of the {planned_sessions} sessions.", code="course_times_count")
    due, refusal = patch_test_due(client=client, treatment=treatment, start=starts[0])
    if refusal:
        raise ValidationError(refusal, code="patch_test_reaction")
    if due:
        hours = patch_test_hours(treatment)
        if patch_test_start is None:
            pending = _patch_test_booked(client=client, before=starts[0] - timedelta(hours=hours))
            if pending is not None:
                raise ValidationError(
                    f"A patch test is booked for {local(pending.start, location):%a %d %b %Y %H:%M}: book the "
                    "sessions from its page once its result is recorded clear.",
                    code="patch_test_pending",
                )
            raise ValidationError(
                f"{treatment.name} needs a clear patch test at least {hours} hours before the first session: "
                "propose times again to book the patch test first.",
                code="patch_test_required",
            )
        if patch_test_start > starts[0] - timedelta(hours=hours):
            raise ValidationError(
                f"The patch test must be at least {hours} hours before session 1.", code="patch_test_too_late"
            )
    for number in range(1, len(starts)):
        _check_spacing(
            local_date(starts[number - 1], location),
            starts[number],
            treatment,
            location=location,
            label=f"Session {number + 1}",
        )
    course = course_create(
        data={
            "client": client,
            "treatment": treatment,
            "planned_sessions": planned_sessions,
            "price_band": price_band,
            "price_agreed_minor": price_agreed_minor,
        },
        by=by,
    )
    if due:
        try:
            patch = appointment_book(
                client=client,
                location=location,
                kind=Appointment.Kind.PATCH_TEST,
                start=patch_test_start,
                treatment=treatment,
                course=course,
                channel=Appointment.Channel.STAFF,
            )
        except SlotTaken as exc:
            raise CourseBookingError(
                session_number=0, start=patch_test_start, location=location, message=exc.message
            ) from exc
        audit_record(
            actor=by,
            action=AuditEvent.Action.CREATE,
            object_type="appointment",
            object_id=patch.pk,
            client_id=client.pk,
            fields=["kind", "start", "course"],
            detail="patch test booked by the course planner",
        )
        logger.info("course patch test booked course=%s ref=%s", course.pk, patch.reference)
        return course
    for number, start in enumerate(starts, start=1):
        try:
            appointment_book(
                client=client,
                location=location,
                kind=Appointment.Kind.TREATMENT_SESSION,
                start=start,
                treatment=treatment,
                technician=technician,
                course=course,
                session_number=number,
                channel=Appointment.Channel.STAFF,
            )
        except SlotTaken as exc:
            raise CourseBookingError(
                session_number=number,
                start=start,
                location=location,
                message=exc.message,
                alternatives=exc.alternatives,
            ) from exc
        except BookingRequestError as exc:
            raise CourseBookingError(
                session_number=number, start=start, location=location, message=exc.message
            ) from exc
    logger.info("course booked course=%s sessions=%s", course.pk, planned_sessions)
    return course


def price_guide_for(*, treatment: Treatment, band: str, location: Location) -> PriceGuide | None:
    """The guide price for a stage or area: the location's own, else the clinic-wide one."""
    if not band:
        return None
    guides = PriceGuide.objects.filter(treatment=treatment, band=band).filter(
        Q(location=location) | Q(location__isnull=True)
    )
    return min(guides, key=lambda g: g.location_id is None, default=None)


# A course's own record (the admin's course page calls these) ----------------------------------

# What staff may set on a course. The client is fixed once it exists (its sessions are theirs);
# completed_at follows the status.
COURSE_CREATE_FIELDS = frozenset(
    {"client", "treatment", "planned_sessions", "price_band", "price_agreed_minor", "notes"}
)
COURSE_UPDATE_FIELDS = frozenset(
    {"treatment", "planned_sessions", "price_band", "price_agreed_minor", "status", "notes"}
)
# The sessions that hold a technician's time: a course cannot be cancelled or cut below them.
HELD_STATUSES = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED, Appointment.Status.ARRIVED)


def _check_sessions_range(treatment: Treatment, planned_sessions: int) -> None:
    if not treatment.sessions_min <= planned_sessions <= treatment.sessions_max:
        raise ValidationError(
            {
                "planned_sessions": ValidationError(
                    f"{treatment.name} is planned as {treatment.sessions_min}-{treatment.sessions_max} sessions.",
                    code="course_sessions_range",
                )
            }
        )


def _check_fields(data: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        # A programming error, not staff input: name the fields, never their values.
        raise ValueError(f"not a course field staff may set: {sorted(unknown)}")


def _session_counts(course: Course) -> tuple[int, int]:
    """(treatment sessions completed, sessions still holding a technician's time)."""
    counts = course.appointments.aggregate(
        done=Count("pk", filter=Q(kind=Appointment.Kind.TREATMENT_SESSION, status=Appointment.Status.COMPLETED)),
        # A course's patch test is not one of its sessions.
        held=Count("pk", filter=Q(status__in=HELD_STATUSES) & ~Q(kind=Appointment.Kind.PATCH_TEST)),
    )
    return counts["done"], counts["held"]


def _status_from_sessions(course: Course, done: int) -> str:
    """What _course_follow keeps a course at: planned, in progress once a session is done, completed
    when the planned sessions are."""
    if done >= course.planned_sessions:
        return Course.Status.COMPLETED
    return Course.Status.IN_PROGRESS if done else Course.Status.PLANNED


@transaction.atomic
def course_create(*, data: dict[str, Any], by: AbstractBaseUser) -> Course:
    """A new course with no sessions yet (they are booked from the workspace or the admin)."""
    _check_fields(data, COURSE_CREATE_FIELDS)
    course = Course(**data, status=Course.Status.PLANNED)
    if course.treatment_id is not None:
        _check_sessions_range(course.treatment, course.planned_sessions)
    course.full_clean()
    course.save()
    audit_record(
        actor=by,
        action=AuditEvent.Action.CREATE,
        object_type="course",
        object_id=course.pk,
        client_id=course.client_id,
        fields=[f for f, value in data.items() if value not in (None, "")],
    )
    logger.info("course created course=%s", course.pk)
    return course


@transaction.atomic
def course_update(*, course: Course, data: dict[str, Any], by: AbstractBaseUser) -> Course:
    """Change a course's plan, price, notes or status, under the course's lock.

    The status follows the sessions (see _course_follow): staff may cancel a course that has no
    session still booked, and reopen a cancelled one, which takes the status its sessions give
    it. The planned sessions stay within the treatment's range and never below the sessions
    already booked or done; the treatment is fixed once a session is booked or done."""
    _check_fields(data, COURSE_UPDATE_FIELDS)
    # Locked: a session completed at the same moment (_course_follow) must see this plan.
    course = Course.objects.select_for_update().select_related("treatment").get(pk=course.pk)
    before = model_to_dict(course)
    for field, value in data.items():
        setattr(course, field, value)
    edited = model_to_dict(course)
    changed = {f for f in data if before.get(f) != edited.get(f)}
    if not changed:
        return course
    done, held = _session_counts(course)
    errors: dict[str, list[ValidationError]] = {}

    def refuse(field: str, message: str, code: str) -> None:
        errors.setdefault(field, []).append(ValidationError(message, code=code))

    if "treatment" in changed and done + held:
        refuse(
            "treatment",
            "Sessions of this course are booked or done: cancel them, or plan a new course for another treatment.",
            "course_treatment_fixed",
        )
    if {"treatment", "planned_sessions"} & changed:
        try:
            _check_sessions_range(course.treatment, course.planned_sessions)
        except ValidationError as exc:
            errors.setdefault("planned_sessions", []).extend(exc.error_dict["planned_sessions"])
        if course.planned_sessions < done + held:
            refuse(
                "planned_sessions",
                f"{done + held} sessions of this course are booked or done: cancel sessions before planning fewer.",
                "course_sessions_below_booked",
            )
    previous, target = before["status"], course.status
    following = _status_from_sessions(course, done)
    if target == Course.Status.CANCELLED:
        if "status" not in changed:
            pass
        elif previous == Course.Status.COMPLETED:
            refuse("status", "A completed course is not cancelled.", "course_transition_not_allowed")
        elif held:
            refuse(
                "status",
                f"{held} session(s) of this course are still booked: cancel them first (the client is told).",
                "course_has_booked_sessions",
            )
    elif "status" in changed and target != following:
        refuse(
            "status",
            f"The status follows the sessions: {done} of {course.planned_sessions} done, so this course is "
            f"{Course.Status(following).label.lower()}.",
            "course_status_follows_sessions",
        )
    if errors:
        raise ValidationError(errors)
    if course.status != Course.Status.CANCELLED:
        # A new plan can finish a course or open it again (4 planned where 3 were done).
        course.status = following
    course.completed_at = (course.completed_at or timezone.now()) if course.status == Course.Status.COMPLETED else None
    course.full_clean()
    course.save()
    after = model_to_dict(course)
    audit_record(
        actor=by,
        action=AuditEvent.Action.UPDATE,
        object_type="course",
        object_id=course.pk,
        client_id=course.client_id,
        fields=[f for f in after if f != "id" and before.get(f) != after.get(f)],
    )
    logger.info("course updated course=%s", course.pk)
    return course
