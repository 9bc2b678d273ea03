"""Property-based tests: whatever the schedule, the engine never offers a time it must not."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings.availability import Rules, TechnicianSchedule, WeeklyTime, free_slots, local_instant

# Two zones whose clocks change on different dates: each draws from its own four clock-change
# weeks and an ordinary one.
ZONES = {
    "Europe/London": [date(2026, 3, 27), date(2026, 10, 23), date(2027, 3, 26), date(2027, 10, 29), date(2026, 12, 1)],
    "America/New_York": [date(2026, 3, 6), date(2026, 10, 30), date(2027, 3, 12), date(2027, 11, 5), date(2026, 12, 1)],
}
DAYS = 4


@st.composite
def weekly_spans(draw, *, min_quarters=1, max_quarters=40):
    """A local span on some weekday, on a 15-minute grid between 00:00 and 23:45."""
    weekday = draw(st.integers(0, 6))
    start_q = draw(st.integers(0, 95 - min_quarters))
    length_q = draw(st.integers(min_quarters, min(max_quarters, 95 - start_q)))
    start = time(start_q // 4, (start_q % 4) * 15)
    end_q = start_q + length_q
    end = time(end_q // 4, (end_q % 4) * 15)
    return WeeklyTime(weekday, start, end)


@st.composite
def instants_spans(draw, *, base: datetime):
    offset = draw(st.integers(0, DAYS * 24 * 4)) * timedelta(minutes=15) - timedelta(hours=6)
    length = draw(st.integers(1, 24)) * timedelta(minutes=15)
    start = base + offset
    return (start, start + length)


@st.composite
def scenarios(draw):
    zone = draw(st.sampled_from(sorted(ZONES)))
    tz = ZoneInfo(zone)
    start_date = draw(st.sampled_from(ZONES[zone]))
    base = datetime.combine(start_date, time(0), tzinfo=tz).astimezone(UTC)
    schedules = []
    for tech_id in range(1, draw(st.integers(1, 3)) + 1):
        schedules.append(
            TechnicianSchedule(
                tech_id,
                working_hours=draw(st.lists(weekly_spans(min_quarters=4), min_size=1, max_size=4)),
                breaks=draw(st.lists(weekly_spans(max_quarters=6), max_size=3)),
                time_off=draw(st.lists(instants_spans(base=base), max_size=2)),
                appointments=draw(st.lists(instants_spans(base=base), max_size=8)),
            )
        )
    rules = Rules(
        length=draw(st.sampled_from([15, 30, 45, 60, 120, 180, 300])) * timedelta(minutes=1),
        step=draw(st.sampled_from([5, 15, 30, 60])) * timedelta(minutes=1),
        buffer_before=draw(st.sampled_from([0, 10, 15])) * timedelta(minutes=1),
        buffer_after=draw(st.sampled_from([0, 15, 30])) * timedelta(minutes=1),
        tz=tz,
    )
    closed = set(draw(st.lists(st.sampled_from([start_date + timedelta(days=n) for n in range(DAYS)]), max_size=2)))
    return start_date, schedules, rules, closed


def _overlap(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


def _local_span(day: date, span: WeeklyTime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return local_instant(day, span.start, tz=tz), local_instant(day, span.end, tz=tz, later=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_engine_never_offers_a_forbidden_time(scenario):
    start_date, schedules, rules, closed = scenario
    result = free_slots(schedules=schedules, start_date=start_date, days=DAYS, rules=rules, closed_dates=closed)
    by_id = {s.technician_id: s for s in schedules}
    for day, slots in result.items():
        for slot in slots:
            schedule = by_id[slot.technician_id]
            assert slot.end - slot.start == rules.length
            # On a day that is not closed, and on that local day.
            assert day not in closed
            assert slot.start.astimezone(rules.tz).date() == day
            # Inside one of the technician's working windows that weekday.
            windows = [_local_span(day, w, rules.tz) for w in schedule.working_hours if w.weekday == day.weekday()]
            assert any(ws <= slot.start and slot.end <= we for ws, we in windows)
            for br in schedule.breaks:
                if br.weekday == day.weekday():
                    assert not _overlap(slot.start, slot.end, *_local_span(day, br, rules.tz))
            for off_start, off_end in schedule.time_off:
                assert not _overlap(slot.start, slot.end, off_start, off_end)
            for appt_start, appt_end in schedule.appointments:
                assert not _overlap(
                    slot.start - rules.buffer_before,
                    slot.end + rules.buffer_after,
                    appt_start - rules.buffer_before,
                    appt_end + rules.buffer_after,
                )


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_every_free_grid_time_is_offered(scenario):
    """The converse, on a simple schedule: nothing blocked means every grid time is offered."""
    start_date, schedules, rules, _ = scenario
    bare = [TechnicianSchedule(s.technician_id, working_hours=s.working_hours) for s in schedules]
    result = free_slots(schedules=bare, start_date=start_date, days=DAYS, rules=rules)
    for schedule in bare:
        for n in range(DAYS):
            day = start_date + timedelta(days=n)
            offered = {s.start for s in result[day] if s.technician_id == schedule.technician_id}
            for window in schedule.working_hours:
                if window.weekday != day.weekday():
                    continue
                ws, we = _local_span(day, window, rules.tz)
                if ws + rules.length <= we:
                    assert ws in offered


def _naive(start_date, schedules, rules, closed) -> dict[date, set[tuple[datetime, int]]]:
    """The rules written the slow, obvious way: every grid time against every blocker."""
    out: dict[date, set[tuple[datetime, int]]] = {}
    for n in range(DAYS):
        day = start_date + timedelta(days=n)
        out[day] = set()
        if day in closed:
            continue
        for schedule in schedules:
            breaks = [_local_span(day, b, rules.tz) for b in schedule.breaks if b.weekday == day.weekday()]
            for window in schedule.working_hours:
                if window.weekday != day.weekday():
                    continue
                start, end = _local_span(day, window, rules.tz)
                candidate = start
                while candidate + rules.length <= end:
                    finish = candidate + rules.length
                    if (
                        not any(_overlap(candidate, finish, *b) for b in breaks)
                        and not any(_overlap(candidate, finish, *t) for t in schedule.time_off)
                        and not any(
                            _overlap(
                                candidate - rules.buffer_before,
                                finish + rules.buffer_after,
                                a_start - rules.buffer_before,
                                a_end + rules.buffer_after,
                            )
                            for a_start, a_end in schedule.appointments
                        )
                    ):
                        out[day].add((candidate, schedule.technician_id))
                    candidate += rules.step
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_engine_offers_exactly_what_the_naive_rules_offer(scenario):
    start_date, schedules, rules, closed = scenario
    result = free_slots(schedules=schedules, start_date=start_date, days=DAYS, rules=rules, closed_dates=closed)
    expected = _naive(start_date, schedules, rules, closed)
    for day, slots in result.items():
        assert {(s.start, s.technician_id) for s in slots} == expected[day]
