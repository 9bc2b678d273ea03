"""The diary: one location's day or week as a grid, technicians as columns and 15-minute rows.

``diary_grid`` reads everything in a fixed number of queries (technicians, appointments with
their clients, working hours, breaks, time off, closures, opening hours, the booking policy),
whatever the number of technicians or appointments, and returns plain objects the template
walks: rows of cells, each cell spanning the rows it covers (an appointment, a break, hours off),
free cells one row each so every free quarter hour can be booked.

A free quarter hour is offered as a gap only where the booking engine would take the shortest
appointment reception can book (``shortest_booking``) for that technician from that time, or,
while moving one, that appointment: the engine (``availability.free_slots``, the one the
booking service asks) is run over the schedules read here, without another query. A free
quarter hour too short for either (before the next appointment and its clean-up, at the end of
the day) is shaded "Too short" instead of offering a booking that would fail.

Rows are instants, not wall-clock labels: a day starts at the location's opening on its own
clock and steps 15 minutes in real time, so on the day the clocks go forward the skipped hour
has no rows and on the day they go back the repeated hour has two sets (labelled with the
zone's abbreviation). In the week view every day's rows are merged by (wall time, fold) in the
order the days themselves give, so a time one day lacks is a cell saying so, not a shift.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q

from .availability import Rules, TechnicianSchedule, WeeklyTime, free_slots, local_instant
from .models import (
    MAX_APPOINTMENT_LENGTH,
    Appointment,
    BookingPolicy,
    Break,
    Closure,
    Location,
    OpeningHours,
    Technician,
    TimeOff,
    WorkingHours,
)
from .selectors import BookingRequestError, availability_schedules, booking_policy_for, client_attendance_counts

ROW = timedelta(minutes=15)
# Hours shown when a location has neither opening hours nor anyone working in the period.
DEFAULT_OPEN, DEFAULT_CLOSE = 9 * 60, 17 * 60
DAY_MINUTES = 24 * 60
# What the grid places as blocks: the statuses that hold a technician's time, which the exclusion
# constraint keeps from overlapping. A no-show or a cancellation released its time (another
# booking may sit there), so they are listed under the grid instead of drawn over it.
GRID_STATUSES = Appointment.ACTIVE_STATUSES
RELEASED_STATUSES = (Appointment.Status.NO_SHOW, Appointment.Status.CANCELLED)


class CellKind:
    FREE = "free"
    PAST = "past"
    APPOINTMENT = "appointment"
    ELSEWHERE = "elsewhere"  # the technician's appointment at another location
    CLEAN_UP = "clean-up"
    BREAK = "break"
    TIME_OFF = "time-off"
    CLOSURE = "closure"
    OFF = "off"
    NO_SUCH_TIME = "no-such-time"
    TOO_SHORT = "too-short"  # free, but nothing bookable fits before the next thing


LABELS = {
    CellKind.PAST: "Past",
    CellKind.CLEAN_UP: "Clean-up",
    CellKind.BREAK: "Break",
    CellKind.TIME_OFF: "Time off",
    CellKind.CLOSURE: "Closed",
    CellKind.OFF: "Not working here",
    CellKind.NO_SUCH_TIME: "No such time (clock change)",
    CellKind.TOO_SHORT: "Too short",
}


@dataclass
class Cell:
    kind: str
    start: datetime | None  # the first row's instant (UTC); None where the time does not exist
    end: datetime | None = None
    rowspan: int = 1
    label: str = ""
    appointment: Appointment | None = None
    technician: Technician | None = None
    day: date | None = None
    first_of_day: bool = False  # the first technician's column of a day (the week view marks it)
    # The client's no-shows, for the badge on a block (wired in by the no-show counts).
    client_no_shows: int | None = None

    @property
    def bookable(self) -> bool:
        return self.kind == CellKind.FREE


@dataclass
class Row:
    key: tuple[time, int]
    label: str
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Column:
    day: date
    technician: Technician
    first_of_day: bool


@dataclass
class Diary:
    location: Location
    days: list[date]
    technicians: list[Technician]
    columns: list[Column]
    rows: list[Row]
    released: dict[date, list[Appointment]]
    appointment_count: int
    closures: dict[date, str]
    now: datetime
    shortest_minutes: int = 15  # the shortest booking a free cell must fit to be offered

    @property
    def no_show_count(self) -> int:
        return sum(a.status == Appointment.Status.NO_SHOW for items in self.released.values() for a in items)

    @property
    def cancelled_count(self) -> int:
        return sum(a.status == Appointment.Status.CANCELLED for items in self.released.values() for a in items)


# The kinds reception books into a gap with no treatment chosen, in the order the booking form
# prefers them (a treatment session needs a treatment, which the grid does not read).
USUAL_KINDS = (Appointment.Kind.CONSULTATION, Appointment.Kind.PATCH_TEST, Appointment.Kind.TOUCH_UP)


def usual_minutes(kind: str, policy: BookingPolicy) -> int:
    return {
        Appointment.Kind.CONSULTATION: policy.consultation_minutes,
        Appointment.Kind.PATCH_TEST: policy.patch_test_minutes,
        Appointment.Kind.TOUCH_UP: policy.touch_up_minutes,
    }[kind]


def shortest_booking(policy: BookingPolicy) -> timedelta:
    """The shortest appointment reception can book into a gap, at its usual length."""
    return timedelta(minutes=min(usual_minutes(kind, policy) for kind in USUAL_KINDS))


def gap_kinds(
    *, location: Location, technician: Technician, start: datetime, policy: BookingPolicy, now: datetime
) -> list[str] | None:
    """The kinds (of USUAL_KINDS, at their usual length) the technician can be booked for at
    ``start``, as the booking engine judges it; None where it will not judge (too far away)."""
    lengths = {kind: usual_minutes(kind, policy) for kind in USUAL_KINDS}
    day = start.astimezone(location.tz).date()
    try:
        # One read of the technician's day, long enough for the longest kind; each kind is then
        # the engine's pure function over it.
        _, schedules = availability_schedules(
            location=location,
            kind=Appointment.Kind.CONSULTATION,
            start_date=day,
            days=1,
            technician_ids=[technician.pk],
            length_minutes=max(lengths.values()),
            apply_notice=False,
            policy=policy,
            now=now,
        )
    except BookingRequestError:
        return None
    fits = []
    for kind, minutes in lengths.items():
        rules = Rules(
            length=timedelta(minutes=minutes),
            step=timedelta(minutes=policy.slot_step_minutes),
            buffer_before=timedelta(minutes=policy.buffer_before_minutes),
            buffer_after=timedelta(minutes=policy.buffer_after_minutes),
            earliest=now,
            tz=location.tz,
        )
        slots = free_slots(schedules=schedules.values(), start_date=day, days=1, rules=rules)
        if any(slot.start == start for slot in slots[day]):
            fits.append(kind)
    return fits


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _day_instants(day: date, first: int, last: int, tz) -> list[datetime]:
    """The row instants of one day: from ``first`` to ``last`` (minutes on the wall clock) in
    15-minute steps of real time."""
    lo = local_instant(day, _clock(first), tz=tz)
    hi = (
        local_instant(day + timedelta(days=1), time(0), tz=tz)
        if last >= DAY_MINUTES
        else local_instant(day, _clock(last), tz=tz, later=True)
    )
    instants, at = [], lo
    while at < hi:
        instants.append(at)
        at += ROW
    return instants


def _key(instant: datetime, tz) -> tuple[time, int]:
    wall = instant.astimezone(tz)
    return (wall.time().replace(second=0, microsecond=0), wall.fold)


def _merge_orders(sequences: list[list[tuple[time, int]]]) -> list[tuple[time, int]]:
    """One order of row keys that keeps every day's own order (a topological sort of the days'
    sequences, earliest wall time first where they leave a choice)."""
    following: dict[tuple, set] = defaultdict(set)
    waiting: dict[tuple, int] = {}
    for sequence in sequences:
        for key in sequence:
            waiting.setdefault(key, 0)
        for before, after in itertools.pairwise(sequence):
            if after not in following[before]:
                following[before].add(after)
                waiting[after] += 1
    ready = [key for key, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        key = heapq.heappop(ready)
        order.append(key)
        for after in following[key]:
            waiting[after] -= 1
            if waiting[after] == 0:
                heapq.heappush(ready, after)
    return order


def _bounds(
    *, days: list[date], opening: list[tuple[int, time, time]], hours: list, appointments: list, tz
) -> tuple[int, int]:
    """First and last minute of the wall clock the grid shows: the opening hours and anyone's
    working hours on the days shown, stretched to any appointment outside them."""
    weekdays = {d.weekday() for d in days}
    spans = [(_minutes(o), _minutes(c)) for weekday, o, c in opening if weekday in weekdays]
    spans += [(_minutes(h.start_time), _minutes(h.end_time)) for h in hours if h.weekday in weekdays]
    first_day, last_day = days[0], days[-1]
    for appointment in appointments:
        start, end = appointment.start.astimezone(tz), appointment.end.astimezone(tz)
        lo = _minutes(start.time()) if start.date() >= first_day else 0
        hi = _minutes(end.time()) if end.date() <= last_day and end.date() == start.date() else DAY_MINUTES
        spans.append((lo, hi))
    if not spans:
        return DEFAULT_OPEN, DEFAULT_CLOSE
    first = min(s for s, _ in spans) // 15 * 15
    last = -(-max(e for _, e in spans) // 15) * 15
    return first, min(last, DAY_MINUTES)


def _hhmm(instant: datetime, tz) -> str:
    return f"{instant.astimezone(tz):%H:%M}"


def diary_grid(
    *, location: Location, first_day: date, days: int, now: datetime, moving: Appointment | None = None
) -> Diary:
    """The location's diary for ``days`` days from ``first_day`` (1 for a day, 7 for a week);
    with ``moving``, the free times offered are those that appointment fits into."""
    tz = location.tz
    day_list = [first_day + timedelta(days=n) for n in range(days)]
    range_start = local_instant(first_day, time(0), tz=tz)
    range_end = local_instant(first_day + timedelta(days=days), time(0), tz=tz)

    technicians = list(Technician.objects.filter(is_active=True, locations=location).order_by("display_name", "pk"))
    ids = [t.pk for t in technicians]
    # This location's appointments (whoever took them) and, for the technicians shown, their
    # appointments elsewhere: a technician cannot be in two clinics at once.
    appointments = list(
        # Held bookings too (not drawn): the engine keeps them off the technician's time.
        Appointment.objects.filter(
            Q(location=location) | Q(technician_id__in=ids, status__in=Appointment.SLOT_STATUSES)
        )
        # The lower bound on start (the longest appointment) lets the (location, start) and
        # (technician, start) indexes find the range instead of every appointment of the clinic.
        .filter(start__lt=range_end, start__gt=range_start - MAX_APPOINTMENT_LENGTH, end__gt=range_start)
        .select_related("client", "technician", "location", "intake")
        # The grid shows the client's name: their phone (parsed into a PhoneNumber on every
        # load, a tenth of a busy week's render), address and notes stay in the database.
        .defer("client__phone", "client__address", "client__staff_notes")
        .order_by("start", "pk")
    )
    known = set(ids)
    for appointment in appointments:
        # An appointment here with a technician no longer listed here still needs a column.
        here = appointment.location_id == location.pk and appointment.status in GRID_STATUSES
        if here and appointment.technician_id not in known:
            known.add(appointment.technician_id)
            technicians.append(appointment.technician)
    technicians.sort(key=lambda t: (t.display_name, t.pk))
    ids = [t.pk for t in technicians]

    hours = list(WorkingHours.objects.filter(location=location, technician_id__in=ids))
    breaks = list(Break.objects.filter(technician_id__in=ids))
    time_off = list(TimeOff.objects.filter(technician_id__in=ids, start__lt=range_end, end__gt=range_start))
    closures = list(
        Closure.objects.filter(
            Q(location=location) | Q(location__isnull=True),
            start_date__lte=day_list[-1],
            end_date__gte=first_day,
        )
    )
    opening = list(OpeningHours.objects.filter(location=location).values_list("weekday", "opens", "closes"))
    policy = booking_policy_for(location)
    clean_up = timedelta(minutes=policy.buffer_before_minutes + policy.buffer_after_minutes)

    closed: dict[date, str] = {}
    for closure in closures:
        for day in day_list:
            if closure.start_date <= day <= closure.end_date:
                closed.setdefault(day, closure.reason)

    on_grid = [a for a in appointments if a.status in GRID_STATUSES]
    first, last = _bounds(
        days=day_list,
        opening=opening,
        hours=hours,
        appointments=[a for a in on_grid if a.location_id == location.pk],
        tz=tz,
    )
    instants = {day: _day_instants(day, first, last, tz) for day in day_list}
    keyed = {day: {_key(at, tz): at for at in instants[day]} for day in day_list}
    order = _merge_orders([[_key(at, tz) for at in instants[day]] for day in day_list])
    present = set(order)
    rows = []
    for key in order:
        label = f"{key[0]:%H:%M}"
        if (key[0], 1 - key[1]) in present:
            # The hour the clocks go back: each reading of it says which one it is.
            sample = next(keyed[d][key] for d in day_list if key in keyed[d])
            label += f" {sample.astimezone(tz):%Z}"
        rows.append(Row(key=key, label=label))

    hours_by = defaultdict(list)
    for h in hours:
        hours_by[(h.technician_id, h.weekday)].append(h)
    breaks_by = defaultdict(list)
    for b in breaks:
        breaks_by[(b.technician_id, b.weekday)].append(b)
    off_by = defaultdict(list)
    for t in time_off:
        off_by[t.technician_id].append(t)
    appointments_by = defaultdict(list)
    for a in on_grid:
        appointments_by[a.technician_id].append(a)
    starts = _bookable_starts(
        technicians=technicians,
        first_day=first_day,
        days=days,
        hours=hours,
        breaks=breaks,
        time_off=time_off,
        appointments=[a for a in appointments if a.status in Appointment.SLOT_STATUSES],
        closed=set(closed),
        policy=policy,
        now=now,
        moving=moving,
        tz=tz,
    )

    columns = []
    for day in day_list:
        for n, technician in enumerate(technicians):
            columns.append(Column(day=day, technician=technician, first_of_day=n == 0))
            cells = _column_cells(
                day=day,
                technician=technician,
                rows=rows,
                keyed=keyed[day],
                tz=tz,
                now=now,
                closure=closed.get(day),
                hours=hours_by[(technician.pk, day.weekday())],
                breaks=breaks_by[(technician.pk, day.weekday())],
                time_off=off_by[technician.pk],
                appointments=appointments_by[technician.pk],
                location=location,
                clean_up=clean_up,
                starts=starts[technician.pk],
            )
            for index, cell in cells:
                cell.first_of_day = n == 0
                rows[index].cells.append(cell)

    # Reception sees a repeat no-show before the client is in the chair: one query for the grid.
    attendance = client_attendance_counts(a.client_id for a in on_grid if a.location_id == location.pk)
    for row in rows:
        for cell in row.cells:
            if cell.kind == CellKind.APPOINTMENT and cell.appointment.client_id in attendance:
                cell.client_no_shows = attendance[cell.appointment.client_id].no_shows or None

    released: dict[date, list[Appointment]] = {}
    for appointment in appointments:
        if appointment.location_id == location.pk and appointment.status in RELEASED_STATUSES:
            day = appointment.start.astimezone(tz).date()
            if day in instants:
                appointment.local_start = appointment.start.astimezone(tz)
                released.setdefault(day, []).append(appointment)

    return Diary(
        location=location,
        days=day_list,
        technicians=technicians,
        columns=columns,
        rows=rows,
        released=released,
        appointment_count=sum(1 for a in on_grid if a.location_id == location.pk),
        closures=closed,
        now=now,
        shortest_minutes=int(shortest_booking(policy).total_seconds() // 60),
    )


def _bookable_starts(
    *,
    technicians: list[Technician],
    first_day: date,
    days: int,
    hours: list[WorkingHours],
    breaks: list[Break],
    time_off: list[TimeOff],
    appointments: list[Appointment],
    closed: set[date],
    policy: BookingPolicy,
    now: datetime,
    moving: Appointment | None,
    tz,
) -> dict[int, set[datetime]]:
    """Per technician, the instants the booking engine would book the shortest appointment at
    (or move ``moving`` to), from the rows already read: the same rule the booking service
    applies (working hours here, breaks, time off, closures, other appointments with the
    clean-up between them, the start-time step), as staff book it (no notice, never the past)."""
    schedules = {t.pk: TechnicianSchedule(t.pk, [], [], [], []) for t in technicians}
    for h in hours:
        schedules[h.technician_id].working_hours.append(WeeklyTime(h.weekday, h.start_time, h.end_time))
    for b in breaks:
        schedules[b.technician_id].breaks.append(WeeklyTime(b.weekday, b.start_time, b.end_time))
    for t in time_off:
        schedules[t.technician_id].time_off.append((t.start, t.end))
    for a in appointments:
        if a.technician_id in schedules and (moving is None or a.pk != moving.pk):
            schedules[a.technician_id].appointments.append((a.start, a.end))
    rules = Rules(
        length=moving.end - moving.start if moving is not None else shortest_booking(policy),
        step=timedelta(minutes=policy.slot_step_minutes),
        buffer_before=timedelta(minutes=policy.buffer_before_minutes),
        buffer_after=timedelta(minutes=policy.buffer_after_minutes),
        earliest=now,
        tz=tz,
    )
    slots = free_slots(schedules=schedules.values(), start_date=first_day, days=days, rules=rules, closed_dates=closed)
    starts: dict[int, set[datetime]] = {t.pk: set() for t in technicians}
    for day_slots in slots.values():
        for slot in day_slots:
            starts[slot.technician_id].add(slot.start)
    return starts


def _within(spans, lo: datetime, hi: datetime):
    return next((span for span in spans if span[0] < hi and span[1] > lo), None)


def _column_cells(
    *,
    day: date,
    technician: Technician,
    rows: list[Row],
    keyed: dict,
    tz,
    now: datetime,
    closure: str | None,
    hours: list[WorkingHours],
    breaks: list[Break],
    time_off: list[TimeOff],
    appointments: list[Appointment],
    location: Location,
    clean_up: timedelta,
    starts: set[datetime],
) -> list[tuple[int, Cell]]:
    """The cells of one technician's day, each with the index of the row it starts on; runs of
    the same thing (one appointment, one break, hours off) become one cell spanning their rows."""
    working = [
        (local_instant(day, h.start_time, tz=tz), local_instant(day, h.end_time, tz=tz, later=True)) for h in hours
    ]
    breaking = [
        (local_instant(day, b.start_time, tz=tz), local_instant(day, b.end_time, tz=tz, later=True), b) for b in breaks
    ]
    away = [(t.start, t.end, t) for t in time_off]
    booked = [(a.start, a.end, a) for a in appointments]
    tidying = [(a.end, a.end + clean_up, a) for a in appointments if a.location_id == location.pk and clean_up]

    out: list[tuple[int, Cell]] = []
    current: Cell | None = None
    identity = None
    for index, row in enumerate(rows):
        at = keyed.get(row.key)
        if at is None:
            kind, what = CellKind.NO_SUCH_TIME, None
        else:
            kind, what = _state(
                at=at,
                now=now,
                closure=closure,
                working=working,
                breaking=breaking,
                away=away,
                booked=booked,
                tidying=tidying,
                location=location,
                starts=starts,
            )
        this = (kind, id(what) if what is not None else None)
        if current is not None and kind != CellKind.FREE and this == identity:
            current.rowspan += 1
            if at is not None:
                current.end = at + ROW
            continue
        current = Cell(
            kind=kind,
            start=at,
            end=at + ROW if at is not None else None,
            technician=technician,
            day=day,
        )
        _describe(current, what, tz=tz, closure=closure)
        identity = this
        out.append((index, current))
    return out


def _state(*, at, now, closure, working, breaking, away, booked, tidying, location, starts):
    hi = at + ROW
    hit = _within(booked, at, hi)
    if hit is not None:
        appointment = hit[2]
        kind = CellKind.APPOINTMENT if appointment.location_id == location.pk else CellKind.ELSEWHERE
        return kind, appointment
    if closure is not None:
        return CellKind.CLOSURE, closure
    hit = _within(away, at, hi)
    if hit is not None:
        return CellKind.TIME_OFF, hit[2]
    hit = _within(breaking, at, hi)
    if hit is not None:
        return CellKind.BREAK, hit[2]
    if not any(lo <= at and hi <= end for lo, end in working):
        return CellKind.OFF, None
    hit = _within(tidying, at, hi)
    if hit is not None:
        return CellKind.CLEAN_UP, hit[2]
    if at < now:
        return CellKind.PAST, None
    return (CellKind.FREE if at in starts else CellKind.TOO_SHORT), None


def _describe(cell: Cell, what, *, tz, closure: str | None) -> None:
    kind = cell.kind
    if kind in (CellKind.APPOINTMENT, CellKind.ELSEWHERE):
        appointment: Appointment = what
        cell.appointment = appointment
        appointment.local_start = appointment.start.astimezone(tz)
        appointment.local_end = appointment.end.astimezone(tz)
        if kind == CellKind.ELSEWHERE:
            cell.label = f"At {appointment.location.name}"
    elif kind == CellKind.CLOSURE:
        cell.label = f"Closed: {closure}"
    elif kind == CellKind.TIME_OFF:
        cell.label = f"Time off{': ' + what.reason if what.reason else ''}"
    else:
        cell.label = LABELS.get(kind, "")


def utc_param(instant: datetime) -> str:
    """An instant as the diary's links carry it: UTC to the minute, readable and URL-safe."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
