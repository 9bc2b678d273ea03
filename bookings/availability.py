"""The availability engine: free start times from schedules, with no database access.

Everything here is a pure function of its inputs, so it can be tested exhaustively
(see tests/test_availability_properties.py) and reused by the booking service, the
API and course planning alike.

Working hours and breaks are wall-clock times in the zone of the location being booked
(``Rules.tz``, which the caller always gives: there is no default zone); appointments,
time off and the results are aware instants. All arithmetic on instants is done in
UTC: adding a timedelta to a datetime carrying a ZoneInfo is wall-clock arithmetic
in Python, which is wrong across a clock change.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, order=True)
class Slot:
    """A bookable time: start and end are aware datetimes (UTC)."""

    start: datetime
    end: datetime
    technician_id: int


@dataclass(frozen=True)
class WeeklyTime:
    """A recurring local wall-clock span on one weekday (0 = Monday)."""

    weekday: int
    start: time
    end: time


@dataclass
class TechnicianSchedule:
    """What the engine needs to know about one technician.

    ``working_hours`` are at the location being booked; ``appointments`` and ``time_off``
    are everywhere (a technician cannot be in two clinics at once).
    """

    technician_id: int
    working_hours: Sequence[WeeklyTime] = ()
    breaks: Sequence[WeeklyTime] = ()
    time_off: Sequence[tuple[datetime, datetime]] = ()
    appointments: Sequence[tuple[datetime, datetime]] = ()


@dataclass(frozen=True)
class Rules:
    length: timedelta
    step: timedelta = timedelta(minutes=15)
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    earliest: datetime | None = None  # now + minimum notice
    latest: datetime | None = None  # now + horizon: no start after this
    tz: ZoneInfo = field(kw_only=True)  # the location's zone: hours and days are read on its clock


def local_instant(day: date, at: time, *, tz: ZoneInfo, later: bool = False) -> datetime:
    """The UTC instant of a local wall-clock time on a day, deliberate about clock changes.

    - A time that does not exist (the spring-forward gap: 01:00-02:00 on the last Sunday of
      March in London, 02:00-03:00 on the second Sunday of March in New York) becomes the first
      instant after the gap: a shift starting at 01:30 in London starts when the clocks read 02:00.
    - A time that happens twice (01:00-02:00 on London's last Sunday of October, on New York's
      first Sunday of November) is taken at its first occurrence, or with ``later=True`` at its
      second: window ends pass later=True so a window covers its whole wall-clock span.
    """
    naive = datetime.combine(day, at)
    offset = tz.utcoffset(naive)
    if offset == tz.utcoffset(naive.replace(fold=1)):
        # The same offset either way: a wall-clock time that happens once (every time of the
        # year but those in a clock change's gap or repeated hour, PEP 495).
        return (naive - offset).replace(tzinfo=UTC)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    first_utc = first.astimezone(UTC)
    second_utc = second.astimezone(UTC)
    if first_utc.astimezone(tz).replace(tzinfo=None) != naive:
        # Nonexistent: the two readings (pre-gap and post-gap offsets) straddle the
        # transition, and the transition is the first instant after the gap.
        return _transition_after(min(first_utc, second_utc), tz)
    if first_utc != second_utc:
        return second_utc if later else first_utc
    return first_utc


def _transition_after(after: datetime, tz: ZoneInfo) -> datetime:
    """The first UTC instant after ``after`` where the zone's offset changes (minute precision)."""
    offset = after.astimezone(tz).utcoffset()
    low, high = after, after + timedelta(hours=6)
    while high - low > timedelta(minutes=1):
        mid = low + (high - low) / 2
        if mid.astimezone(tz).utcoffset() == offset:
            low = mid
        else:
            high = mid
    return high.replace(second=0, microsecond=0)


def _utc(instant: datetime) -> datetime:
    # The database hands back UTC already: converting every appointment again costs a call each.
    return instant if instant.tzinfo is UTC else instant.astimezone(UTC)


class _Intervals:
    """Intervals sorted by start, for finding those that reach into a time range."""

    def __init__(self, items: Iterable[tuple[datetime, datetime]]):
        pairs = sorted((_utc(s), _utc(e)) for s, e in items if e > s)
        self.pairs = pairs
        self.starts = [s for s, _ in pairs]
        self.max_len = max((e - s for s, e in pairs), default=timedelta(0))

    def within(self, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
        """The intervals overlapping [lo, hi): only those starting after lo - max_len can."""
        first = bisect.bisect_right(self.starts, lo - self.max_len)
        last = bisect.bisect_left(self.starts, hi)
        return [(s, e) for s, e in self.pairs[first:last] if e > lo]


def _merge(forbidden: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Sort and merge open intervals of forbidden start times; touching ones stay apart,
    since the shared end point itself is allowed."""
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(forbidden):
        if merged and lo < merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _next_on_grid(origin: datetime, at_least: datetime, step: timedelta) -> datetime:
    """The first time origin + k * step (k >= 0) that is not before ``at_least``."""
    if at_least <= origin:
        return origin
    steps = -((origin - at_least) // step)  # ceiling division on timedeltas
    return origin + steps * step


def free_slots(
    *,
    schedules: Iterable[TechnicianSchedule],
    start_date: date,
    days: int,
    rules: Rules,
    closed_dates: Iterable[date] = (),
) -> dict[date, list[Slot]]:
    """Free start times per local day, for every technician, sorted by start then technician.

    A start time is offered when the appointment [start, start + length):
    - lies inside one of the technician's working windows that day;
    - overlaps none of their breaks or time off, and the day is not a closure;
    - with buffers, [start - before, end + after] overlaps no existing appointment's
      [start - before, end + after] (so two appointments are at least after + before apart);
    - starts no earlier than ``rules.earliest`` and no later than ``rules.latest``.
    Candidate starts step from each window's start by ``rules.step`` in real time.

    Each blocker becomes an open interval of forbidden *start* times (a break [b0, b1) forbids
    starts in (b0 - length, b1)); the candidates then sweep the merged intervals once, jumping
    over each, instead of testing every candidate against every blocker.
    """
    closed = set(closed_dates)
    dates = [start_date + timedelta(days=n) for n in range(days)]
    result: dict[date, list[Slot]] = {d: [] for d in dates}
    length, step = rules.length, rules.step
    before, after = rules.buffer_before, rules.buffer_after
    gap = before + after
    earliest = rules.earliest.astimezone(UTC) if rules.earliest else None
    latest = rules.latest.astimezone(UTC) if rules.latest else None
    if length <= timedelta(0) or step <= timedelta(0):
        raise ValueError("length and step must be positive")
    instants: dict[tuple[date, time, bool], datetime] = {}

    def at(day: date, wall: time, later: bool = False) -> datetime:
        # Technicians mostly share their hours: each day's local times are converted once.
        key = (day, wall, later)
        found = instants.get(key)
        if found is None:
            found = instants[key] = local_instant(day, wall, tz=rules.tz, later=later)
        return found

    for schedule in schedules:
        hours_by_day: dict[int, list[WeeklyTime]] = {}
        for wh in schedule.working_hours:
            hours_by_day.setdefault(wh.weekday, []).append(wh)
        breaks_by_day: dict[int, list[WeeklyTime]] = {}
        for br in schedule.breaks:
            breaks_by_day.setdefault(br.weekday, []).append(br)
        time_off = _Intervals(schedule.time_off)
        booked = _Intervals(schedule.appointments)

        for day in dates:
            if day in closed:
                continue
            windows = hours_by_day.get(day.weekday())
            if not windows:
                continue
            spans = [(at(day, w.start), at(day, w.end, later=True)) for w in windows]
            day_lo = min(s for s, _ in spans)
            day_hi = max(e for _, e in spans)
            forbidden = [
                (at(day, br.start) - length, at(day, br.end, later=True)) for br in breaks_by_day.get(day.weekday(), ())
            ]
            forbidden += [(s - length, e) for s, e in time_off.within(day_lo, day_hi)]
            forbidden += [(s - gap - length, e + gap) for s, e in booked.within(day_lo - gap, day_hi + gap)]
            blocks = _merge(forbidden)
            seen: set[datetime] = set()
            for w_start, w_end in spans:
                last_start = w_end - length
                if latest is not None and latest < last_start:
                    last_start = latest
                candidate = w_start if earliest is None else _next_on_grid(w_start, earliest, step)
                i = 0
                while candidate <= last_start:
                    while i < len(blocks) and blocks[i][1] <= candidate:
                        i += 1
                    if i < len(blocks) and blocks[i][0] < candidate:
                        candidate = _next_on_grid(w_start, blocks[i][1], step)
                        continue
                    if candidate not in seen:
                        seen.add(candidate)
                        result[day].append(Slot(candidate, candidate + length, schedule.technician_id))
                    candidate += step
    for slots in result.values():
        slots.sort()
    return result


def nearest(slots: Iterable[Slot], target: datetime, *, count: int = 3) -> list[Slot]:
    """The ``count`` distinct start times nearest the target (one slot per start time)."""
    by_start: dict[datetime, Slot] = {}
    for slot in sorted(slots):
        by_start.setdefault(slot.start, slot)
    ranked = sorted(by_start.values(), key=lambda s: (abs(s.start - target), s.start))
    return sorted(ranked[:count])
