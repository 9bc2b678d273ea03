"""Reads for bookings: the booking policy, appointment lengths and free times.

``availability_compute`` loads everything the engine needs in a fixed number of queries
whatever the window, the number of technicians or the number of appointments: the policy, the
technicians, then their working hours, breaks, time off, appointments and the closures (one
UNION ALL on PostgreSQL, five queries elsewhere).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.postgres.fields import DateTimeRangeField
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.db.models import Count, F, Func, Max, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from clients.models import Client
from treatments.models import Treatment

from . import zones
from .availability import Rules, Slot, TechnicianSchedule, WeeklyTime, free_slots, local_instant
from .models import Appointment, BookingPolicy, Break, Closure, Location, Technician, TimeOff, WorkingHours

__all__ = [
    "BookingRequestError",
    "Slot",
    "appointment_length",
    "availability_compute",
    "booking_policy_for",
    "booking_window_check",
]

MAX_DAYS = 92
# How far from today a window may start: further is a typing mistake, and near the calendar's
# ends (year 1, year 9999) the window's arithmetic would overflow into a 500.
MAX_YEARS_AWAY = 5
OUT_OF_WINDOW = f"Choose a time within {MAX_YEARS_AWAY} years of today."


class BookingRequestError(ValueError):
    """A request the engine cannot answer; ``field`` names the offending parameter."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def booking_window_check(*, instant: datetime, now: datetime | None = None, field: str = "start") -> None:
    """BookingRequestError unless ``instant`` is an aware time within MAX_YEARS_AWAY of now.

    Checked before any time zone conversion: near year 1 or 9999 ``astimezone`` itself overflows.
    Subtracting two aware datetimes yields a timedelta without building a datetime, so it cannot.
    """
    if timezone.is_naive(instant):
        raise BookingRequestError(field, "The start time must carry a time zone.")
    if abs(instant - (now or timezone.now())) > timedelta(days=MAX_YEARS_AWAY * 366):
        raise BookingRequestError(field, OUT_OF_WINDOW)


def booking_policy_for(location: Location | None) -> BookingPolicy:
    """The location's own policy, else the clinic-wide one, else the defaults (unsaved)."""
    query = Q(location__isnull=True)
    if location is not None:
        query |= Q(location=location)
    policies = list(BookingPolicy.objects.filter(query))
    policies.sort(key=lambda p: p.location_id is None)
    return policies[0] if policies else BookingPolicy(location=None)


def appointment_length(
    *, kind: str, policy: BookingPolicy, treatment: Treatment | None = None, length_minutes: int | None = None
) -> timedelta:
    """How long an appointment of this kind lasts.

    A consultation lasts the policy's consultation length; a treatment session lasts the
    treatment's longest session unless a length within its range is chosen (long sessions
    must fit whole); a touch-up lasts a touch-up treatment's session or the policy's length.
    """
    if kind == Appointment.Kind.CONSULTATION:
        minutes = length_minutes or policy.consultation_minutes
    elif kind == Appointment.Kind.PATCH_TEST:
        minutes = length_minutes or policy.patch_test_minutes
    elif kind == Appointment.Kind.TREATMENT_SESSION:
        if treatment is None:
            raise BookingRequestError("treatment", "A treatment session needs a treatment.")
        minutes = length_minutes or treatment.session_minutes_max
        if not treatment.session_minutes_min <= minutes <= treatment.session_minutes_max:
            raise BookingRequestError(
                "length_minutes",
                f"A {treatment.name} session lasts {treatment.session_minutes_min}-"
                f"{treatment.session_minutes_max} minutes.",
            )
    elif kind == Appointment.Kind.TOUCH_UP:
        if length_minutes:
            minutes = length_minutes
        elif treatment is not None and treatment.category == Treatment.Category.TOUCH_UP:
            minutes = treatment.session_minutes_max
        else:
            minutes = policy.touch_up_minutes
    else:
        raise BookingRequestError("kind", f"Unknown kind {kind!r}: use one of {', '.join(Appointment.Kind.values)}.")
    if minutes < 15 or minutes > 12 * 60:
        raise BookingRequestError("length_minutes", "An appointment lasts between 15 minutes and 12 hours.")
    return timedelta(minutes=minutes)


def technician_candidates(
    *, location: Location, kind: str, treatment: Treatment | None = None, technician: Technician | None = None
):
    """The technicians who may take this kind of appointment at the location (a queryset of ids)."""
    technicians = Technician.objects.filter(is_active=True, locations=location)
    # Any technician at the location sees consultations and applies patch tests.
    if kind not in (Appointment.Kind.CONSULTATION, Appointment.Kind.PATCH_TEST) and treatment is not None:
        technicians = technicians.filter(treatments=treatment)
    if technician is not None:
        technicians = technicians.filter(pk=technician.pk)
    return technicians.values_list("pk", flat=True).distinct()


def availability_compute(
    *,
    location: Location,
    kind: str,
    treatment: Treatment | None = None,
    start_date: date,
    days: int,
    technician: Technician | None = None,
    length_minutes: int | None = None,
    apply_notice: bool = True,
    exclude_appointment_id: int | None = None,
    policy: BookingPolicy | None = None,
    now: datetime | None = None,
) -> dict[date, list[Slot]]:
    """Free times per local day, as online clients see them by default (notice and horizon applied).

    The one way to ask for free times: the public pages, the admin, the planner and the booking
    service all call it. ``apply_notice=False`` (staff bookings) drops the minimum notice and the horizon but
    never offers the past; ``exclude_appointment_id`` ignores the appointment being moved.
    """
    ids = list(technician_candidates(location=location, kind=kind, treatment=treatment, technician=technician))
    slots, _ = availability_schedules(
        location=location,
        kind=kind,
        treatment=treatment,
        start_date=start_date,
        days=days,
        technician_ids=ids,
        length_minutes=length_minutes,
        apply_notice=apply_notice,
        exclude_appointment_id=exclude_appointment_id,
        policy=policy,
        now=now,
    )
    return slots


def availability_schedules(
    *,
    location: Location,
    kind: str,
    treatment: Treatment | None = None,
    start_date: date,
    days: int,
    technician_ids: list[int],
    length_minutes: int | None = None,
    apply_notice: bool = True,
    exclude_appointment_id: int | None = None,
    policy: BookingPolicy | None = None,
    now: datetime | None = None,
) -> tuple[dict[date, list[Slot]], dict[int, TechnicianSchedule]]:
    """availability_compute for technicians already chosen (the booking service passes the ones
    it has locked), with the schedules it was computed from (for booked_minutes)."""
    if not 1 <= days <= MAX_DAYS:
        raise BookingRequestError("days", f"days must be between 1 and {MAX_DAYS}.")
    policy = policy or booking_policy_for(location)
    length = appointment_length(kind=kind, policy=policy, treatment=treatment, length_minutes=length_minutes)
    now = now or timezone.now()
    tz = location.tz
    if abs((start_date - zones.local_date(now, location)).days) > MAX_YEARS_AWAY * 366:
        raise BookingRequestError("start", f"start must be within {MAX_YEARS_AWAY} years of today.")
    rules = Rules(
        length=length,
        step=timedelta(minutes=policy.slot_step_minutes),
        buffer_before=timedelta(minutes=policy.buffer_before_minutes),
        buffer_after=timedelta(minutes=policy.buffer_after_minutes),
        earliest=now + timedelta(hours=policy.minimum_notice_hours) if apply_notice else now,
        latest=now + timedelta(days=policy.horizon_days) if apply_notice else None,
        tz=tz,
    )
    last_date = start_date + timedelta(days=days - 1)
    range_start = local_instant(start_date, time(0), tz=tz)
    range_end = local_instant(last_date + timedelta(days=1), time(0), tz=tz)

    ids = list(technician_ids)
    if not ids:
        return {start_date + timedelta(days=n): [] for n in range(days)}, {}

    margin = rules.buffer_before + rules.buffer_after
    # Every appointment reaching into the window's days, at least: booked_minutes relies on it.
    schedules, closed = _schedules_load(
        location=location,
        ids=ids,
        start_date=start_date,
        last_date=last_date,
        range_start=range_start,
        range_end=range_end,
        appointments_from=range_start - margin,
        appointments_to=range_end + length + margin,
        exclude_appointment_id=exclude_appointment_id,
    )

    slots = free_slots(schedules=schedules.values(), start_date=start_date, days=days, rules=rules, closed_dates=closed)
    return slots, schedules


def _schedules_load(
    *,
    location: Location,
    ids: list[int],
    start_date: date,
    last_date: date,
    range_start: datetime,
    range_end: datetime,
    appointments_from: datetime,
    appointments_to: datetime,
    exclude_appointment_id: int | None,
) -> tuple[dict[int, TechnicianSchedule], set[date]]:
    """What free_slots needs for these technicians and days: their working hours at the location,
    breaks, time off and appointments reaching into the window, and the closed dates.

    On PostgreSQL in one round trip (the booking computes it while holding the technicians'
    locks, so each query there is time every competing booking waits); elsewhere one query each.
    Both read the same rows under the same conditions.
    """
    load = _schedule_rows_postgresql if connection.vendor == "postgresql" else _schedule_rows_orm
    rows = load(
        location=location,
        ids=ids,
        start_date=start_date,
        last_date=last_date,
        range_start=range_start,
        range_end=range_end,
        appointments_from=appointments_from,
        appointments_to=appointments_to,
        exclude_appointment_id=exclude_appointment_id,
    )
    schedules = {pk: TechnicianSchedule(pk, [], [], [], []) for pk in ids}
    closed: set[date] = set()
    for source, tech_id, weekday, start, end in rows:
        if source == _WORKING_HOURS:
            schedules[tech_id].working_hours.append(WeeklyTime(weekday, start, end))
        elif source == _BREAK:
            schedules[tech_id].breaks.append(WeeklyTime(weekday, start, end))
        elif source == _TIME_OFF:
            schedules[tech_id].time_off.append((start, end))
        elif source == _APPOINTMENT:
            schedules[tech_id].appointments.append((start, end))
        else:
            day = max(start, start_date)
            while day <= min(end, last_date):
                closed.add(day)
                day += timedelta(days=1)
    return schedules, closed


_WORKING_HOURS, _BREAK, _TIME_OFF, _APPOINTMENT, _CLOSURE = range(5)


def _schedule_rows_orm(
    *,
    location: Location,
    ids: list[int],
    start_date: date,
    last_date: date,
    range_start: datetime,
    range_end: datetime,
    appointments_from: datetime,
    appointments_to: datetime,
    exclude_appointment_id: int | None,
) -> Iterable[tuple]:
    weekly = ("technician_id", "weekday", "start_time", "end_time")
    for row in WorkingHours.objects.filter(location=location, technician_id__in=ids).values_list(*weekly):
        yield (_WORKING_HOURS, *row)
    for row in Break.objects.filter(technician_id__in=ids).values_list(*weekly):
        yield (_BREAK, *row)
    time_off = TimeOff.objects.filter(technician_id__in=ids, start__lt=range_end, end__gt=range_start)
    for tech_id, start, end in time_off.values_list("technician_id", "start", "end"):
        yield (_TIME_OFF, tech_id, None, start, end)
    appointments = _overlapping(
        Appointment.objects.filter(technician_id__in=ids, status__in=Appointment.SLOT_STATUSES),
        lo=appointments_from,
        hi=appointments_to,
    )
    if exclude_appointment_id is not None:
        appointments = appointments.exclude(pk=exclude_appointment_id)
    for tech_id, start, end in appointments.order_by().values_list("technician_id", "start", "end"):
        yield (_APPOINTMENT, tech_id, None, start, end)
    closures = Closure.objects.filter(
        Q(location=location) | Q(location__isnull=True), start_date__lte=last_date, end_date__gte=start_date
    )
    for first, last in closures.values_list("start_date", "end_date"):
        yield (_CLOSURE, None, None, first, last)


def _schedule_rows_postgresql(
    *,
    location: Location,
    ids: list[int],
    start_date: date,
    last_date: date,
    range_start: datetime,
    range_end: datetime,
    appointments_from: datetime,
    appointments_to: datetime,
    exclude_appointment_id: int | None,
) -> list[tuple]:
    """_schedule_rows_orm's five queries as one UNION ALL. The appointments' condition is the
    exclusion constraint's own range expression and status list, so its GiST index answers it.
    Each kind of time has its own typed columns: weekly times in t_start/t_end, instants in
    at_start/at_end, closure dates in d_start/d_end."""
    tables = {
        "wh": WorkingHours._meta.db_table,
        "br": Break._meta.db_table,
        "to": TimeOff._meta.db_table,
        "ap": Appointment._meta.db_table,
        "cl": Closure._meta.db_table,
    }
    exclude = " AND id <> %(exclude)s" if exclude_appointment_id is not None else ""
    sql = f"""
        SELECT {_WORKING_HOURS} AS source, technician_id, weekday, start_time AS t_start, end_time AS t_end,
               NULL::timestamptz AS at_start, NULL::timestamptz AS at_end, NULL::date AS d_start, NULL::date AS d_end
          FROM {tables["wh"]} WHERE location_id = %(location)s AND technician_id IN %(ids)s
        UNION ALL
        SELECT {_BREAK}, technician_id, weekday, start_time, end_time, NULL, NULL, NULL, NULL
          FROM {tables["br"]} WHERE technician_id IN %(ids)s
        UNION ALL
        SELECT {_TIME_OFF}, technician_id, NULL, NULL, NULL, start, "end", NULL, NULL
          FROM {tables["to"]}
         WHERE technician_id IN %(ids)s AND start < %(range_end)s AND "end" > %(range_start)s
        UNION ALL
        SELECT {_APPOINTMENT}, technician_id, NULL, NULL, NULL, start, "end", NULL, NULL
          FROM {tables["ap"]}
         WHERE technician_id IN %(ids)s AND status IN %(statuses)s
           AND TSTZRANGE(start, "end") && TSTZRANGE(%(ap_from)s, %(ap_to)s, '[)'){exclude}
        UNION ALL
        SELECT {_CLOSURE}, NULL, NULL, NULL, NULL, NULL, NULL, start_date, end_date
          FROM {tables["cl"]}
         WHERE (location_id = %(location)s OR location_id IS NULL)
           AND start_date <= %(last_date)s AND end_date >= %(start_date)s
        ORDER BY source, technician_id, weekday, t_start
    """  # noqa: S608 (model tables and constants; every value is a parameter)
    params = {
        "location": location.pk,
        "ids": tuple(ids),
        "range_start": range_start,
        "range_end": range_end,
        "statuses": tuple(str(status) for status in Appointment.SLOT_STATUSES),
        "ap_from": appointments_from,
        "ap_to": appointments_to,
        "exclude": exclude_appointment_id,
        "start_date": start_date,
        "last_date": last_date,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    rows = []
    for source, tech_id, weekday, t_start, t_end, at_start, at_end, d_start, d_end in fetched:
        if source in (_WORKING_HOURS, _BREAK):
            rows.append((source, tech_id, weekday, t_start, t_end))
        elif source in (_TIME_OFF, _APPOINTMENT):
            rows.append((source, tech_id, None, at_start, at_end))
        else:
            rows.append((source, None, None, d_start, d_end))
    return rows


def _overlapping(appointments: QuerySet, *, lo: datetime, hi: datetime) -> QuerySet:
    """The appointments reaching into [lo, hi).

    On PostgreSQL as a range overlap, the very expression the exclusion constraint's GiST index
    holds (with its status condition), so it finds the few rows near the window instead of
    filtering every appointment the technicians ever had; elsewhere as plain comparisons.
    """
    if connection.vendor != "postgresql":
        return appointments.filter(start__lt=hi, end__gt=lo)
    span = Func(F("start"), F("end"), function="TSTZRANGE", output_field=DateTimeRangeField())
    return appointments.alias(span=span).filter(span__overlap=DateTimeTZRange(lo, hi, "[)"))


def booked_minutes(*, schedules: dict[int, TechnicianSchedule], day: date, location: Location) -> dict[int, int]:
    """Minutes each technician has booked, anywhere, on a calendar day of the location being
    booked (for fair assignment), from the schedules availability_schedules loaded for that
    location and a window that includes the day."""
    day_start = local_instant(day, time(0), tz=location.tz)
    day_end = local_instant(day + timedelta(days=1), time(0), tz=location.tz)
    minutes: dict[int, int] = defaultdict(int)
    for tech_id, schedule in schedules.items():
        for start, end in schedule.appointments:
            if start < day_end and end > day_start:
                minutes[tech_id] += int((min(end, day_end) - max(start, day_start)).total_seconds() // 60)
    return {pk: minutes.get(pk, 0) for pk in schedules}


def local_date(instant: datetime, location: Location) -> date:
    """The location's date of an instant; an instant beyond the calendar's ends is bad input, not a crash."""
    try:
        return zones.local_date(instant, location)
    except OverflowError:
        raise BookingRequestError("start", OUT_OF_WINDOW) from None


def utc(instant: datetime) -> datetime:
    try:
        return instant.astimezone(UTC)
    except OverflowError:
        raise BookingRequestError("start", OUT_OF_WINDOW) from None


# Reception's day board -----------------------------------------------------------------

# The statuses a client walking in can be in; a cancelled appointment is nobody's arrival.
BOARD_STATUSES = (
    Appointment.Status.BOOKED,
    Appointment.Status.CONFIRMED,
    Appointment.Status.ARRIVED,
    Appointment.Status.COMPLETED,
    Appointment.Status.NO_SHOW,
)
# Still expected: a client in one of these whose start has passed is late.
EXPECTED_STATUSES = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED)


def day_board(*, location: Location, day: date, now: datetime) -> list[Appointment]:
    """The location's appointments on its own calendar day, in start order, in one query.

    Each carries ``local_start`` (the location's wall clock) and ``late_minutes``: on the
    location's today, whole minutes since the start of a client still expected, else None (on
    another day "late by 1,500 min" tells reception nothing).
    """
    tz = location.tz
    # Midnight to midnight on the location's clock: a clock-change day is 23 or 25 hours long.
    lo = datetime.combine(day, time.min, tzinfo=tz)
    hi = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    rows = list(
        Appointment.objects.filter(location=location, start__gte=lo, start__lt=hi, status__in=BOARD_STATUSES)
        .select_related("client", "technician")
        .order_by("start", "pk")
    )
    today = zones.local_today(location, now=now) == day
    for row in rows:
        row.local_start = zones.local(row.start, location)
        late = today and row.status in EXPECTED_STATUSES and row.start < now
        row.late_minutes = int((now - row.start).total_seconds() // 60) if late else None
    return rows


# Attendance: no-shows and late cancellations ----------------------------------------------


@dataclass(frozen=True)
class AttendanceCounts:
    """A client's missed appointments, for a badge beside their name."""

    no_shows: int = 0
    late_cancellations: int = 0
    last_no_show: datetime | None = None

    def __bool__(self) -> bool:
        return bool(self.no_shows or self.late_cancellations)

    @property
    def label(self) -> str:
        """ "2 no-shows, 1 late cancellation", or "" when there is nothing to say."""
        parts = []
        if self.no_shows:
            parts.append(f"{self.no_shows} no-show{'s' if self.no_shows != 1 else ''}")
        if self.late_cancellations:
            n = self.late_cancellations
            parts.append(f"{n} late cancellation{'s' if n != 1 else ''}")
        return ", ".join(parts)


NO_ATTENDANCE_ISSUES = AttendanceCounts()
# Recorded late by the cancel service (within the booking policy's late-cancellation window): the
# attendance counts, the online no-show limit and the managers' dashboard all count this flag.
LATE_CANCELLATION = Q(status=Appointment.Status.CANCELLED, late_cancellation=True)
_MISSED = Q(status=Appointment.Status.NO_SHOW) | LATE_CANCELLATION


def _attendance_aggregates() -> dict:
    no_show = Q(status=Appointment.Status.NO_SHOW)
    return {
        "no_shows": Count("pk", filter=no_show),
        "late_cancellations": Count("pk", filter=LATE_CANCELLATION),
        "last_no_show": Max("start", filter=no_show),
    }


def client_attendance_counts(client_ids: Iterable[int]) -> dict[int, AttendanceCounts]:
    """Each client's no-shows and late cancellations (at every location), in one query however
    many clients: for lists, which look a client up with ``.get(pk, NO_ATTENDANCE_ISSUES)``.
    Clients with neither are left out of the dict."""
    ids = {int(pk) for pk in client_ids}
    if not ids:
        return {}
    rows = (
        Appointment.objects.filter(_MISSED, client_id__in=ids)
        .values("client_id")
        .annotate(**_attendance_aggregates())
        .order_by()
    )
    return {
        row["client_id"]: AttendanceCounts(row["no_shows"], row["late_cancellations"], row["last_no_show"])
        for row in rows
    }


@dataclass(frozen=True)
class ContactOnRecord:
    """What the clinic holds under an e-mail address and a phone number typed on the public form."""

    # The client who holds the address (any case); a record flagged as a possible match of
    # another never does.
    holder_id: int | None
    # Every record under the address or the number, matches included.
    client_ids: tuple[int, ...]

    def attendance(self) -> AttendanceCounts:
        """The no-shows and late cancellations of all of them: no query when there are none."""
        if not self.client_ids:
            return NO_ATTENDANCE_ISSUES
        counts = client_attendance_counts(self.client_ids).values()
        return AttendanceCounts(
            sum(c.no_shows for c in counts),
            sum(c.late_cancellations for c in counts),
            max((c.last_no_show for c in counts if c.last_no_show), default=None),
        )


def contact_on_record(*, email: str, phone: str) -> ContactOnRecord:
    """The records under this e-mail (any case) or phone number, in one query: the online form
    cannot tell who is typing, only what they typed. The address's condition repeats the unique
    index's on lower(email) so PostgreSQL reads it instead of scanning."""
    email_lower = email.lower()
    people = Q(email_lower=email_lower) & ~Q(email="") if email else Q(pk__in=[])
    if phone:
        people |= Q(phone=phone)
    rows = (
        Client.objects.annotate(email_lower=Lower("email"))
        .filter(people)
        .values_list("pk", "email_lower", "match_of_id")
        .order_by("pk")
    )
    holder_id, ids = None, []
    for pk, address, match_of_id in rows:
        ids.append(pk)
        if holder_id is None and email and address == email_lower and match_of_id is None:
            holder_id = pk
    return ContactOnRecord(holder_id=holder_id, client_ids=tuple(ids))


# Intake ---------------------------------------------------------------------------------------

INTAKE_DONE, INTAKE_MISSING = "done", "missing"
_INTAKE_EXPECTED = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED, Appointment.Status.ARRIVED)


def intake_state(appointment: Appointment, *, now: datetime | None = None) -> str:
    """'done' when the client sent the consultation's intake form, 'missing' when a consultation
    not yet over has none, '' otherwise. No query when the appointment came with
    select_related("intake")."""
    if appointment.kind != Appointment.Kind.CONSULTATION:
        return ""
    try:
        done = appointment.intake.completed_at is not None
    except ObjectDoesNotExist:
        done = False
    if done:
        return INTAKE_DONE
    still_to_come = appointment.end > (now or timezone.now())
    return INTAKE_MISSING if appointment.status in _INTAKE_EXPECTED and still_to_come else ""


def intake_missing_q(*, now: datetime | None = None) -> Q:
    """Consultations not yet over whose intake form has not been sent (for list filters)."""
    return Q(kind=Appointment.Kind.CONSULTATION, status__in=_INTAKE_EXPECTED, end__gt=now or timezone.now()) & (
        Q(intake__isnull=True) | Q(intake__completed_at__isnull=True)
    )
