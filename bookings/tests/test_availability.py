"""The availability engine and the selector that feeds it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings.availability import (
    Rules,
    Slot,
    TechnicianSchedule,
    WeeklyTime,
    free_slots,
    local_instant,
    nearest,
)
from bookings.models import Appointment
from bookings.selectors import BookingRequestError, appointment_length, availability_compute, booking_policy_for
from bookings.tests.factories import (
    AppointmentFactory,
    BookingPolicyFactory,
    BreakFactory,
    ClosureFactory,
    LocationFactory,
    TimeOffFactory,
    technician_working,
)
from treatments.tests.factories import TreatmentFactory

LONDON = ZoneInfo("Europe/London")
CLOCK_CHANGE_DAYS = [date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31)]


def _rules(**kwargs) -> Rules:
    return Rules(**{"length": timedelta(minutes=45), "step": timedelta(minutes=15), "tz": LONDON, **kwargs})


def _nine_to_five(weekday: int) -> list[WeeklyTime]:
    return [WeeklyTime(weekday, time(9), time(17))]


@pytest.mark.parametrize("day", CLOCK_CHANGE_DAYS)
def test_working_day_starts_at_nine_local_on_clock_change_days(day):
    schedule = TechnicianSchedule(1, working_hours=_nine_to_five(day.weekday()))
    slots = free_slots(schedules=[schedule], start_date=day, days=1, rules=_rules())[day]
    first, last = slots[0], slots[-1]
    assert first.start.astimezone(LONDON).time() == time(9)
    assert last.end.astimezone(LONDON).time() == time(17)
    # 8 hours of real time, every 15 minutes, for a 45-minute appointment: 09:00 to 16:15.
    assert len(slots) == 30
    expected_offset = timedelta(hours=1) if day.month == 3 else timedelta(0)
    assert first.start.astimezone(LONDON).utcoffset() == expected_offset


def test_a_start_in_the_spring_gap_moves_to_the_end_of_the_gap():
    assert local_instant(date(2026, 3, 29), time(1, 30), tz=LONDON) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert local_instant(date(2027, 3, 28), time(1, 0), tz=LONDON) == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


def test_an_ambiguous_autumn_time_is_the_first_occurrence_unless_asked_for_the_later():
    day = date(2026, 10, 25)
    assert local_instant(day, time(1, 30), tz=LONDON) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert local_instant(day, time(1, 30), tz=LONDON, later=True) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


ODD_ZONES = ["Europe/London", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata"]


def _clock_change_days(tz: ZoneInfo) -> list[date]:
    days, day = [], date(2026, 1, 1)
    while day < date(2028, 1, 1):
        if tz.utcoffset(datetime.combine(day, time.min)) != tz.utcoffset(datetime.combine(day, time.max)):
            days.append(day)
        day += timedelta(days=1)
    return days


@pytest.mark.parametrize("zone", ODD_ZONES)
def test_every_local_time_is_the_instant_the_zone_shows_it_at(zone):
    # Whatever shortcut local_instant takes, its answer is the definition: the instant the clock
    # reads that time (the later reading of a repeated hour if asked), or the end of a gap.
    # Every quarter hour of every clock-change day (Lord Howe moves by half an hour) and of a
    # plain day either side.
    tz = ZoneInfo(zone)
    changes = _clock_change_days(tz)
    assert len(changes) == (0 if zone == "Asia/Kolkata" else 4)
    for day in [date(2026, 6, 1), date(2026, 12, 1), *changes]:
        for minutes in range(0, 24 * 60, 15):
            wall = datetime.combine(day, time(minutes // 60, minutes % 60))
            readings = {wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)}
            exists = sorted(r for r in readings if r.astimezone(tz).replace(tzinfo=None) == wall)
            for later in (False, True):
                instant = local_instant(day, wall.time(), tz=tz, later=later)
                assert instant.utcoffset() == timedelta(0)
                if exists:
                    assert instant == (exists[-1] if later else exists[0]), (wall, later)
                else:
                    # In a gap: the first instant after it, when the clock already reads past it.
                    assert instant.astimezone(tz).replace(tzinfo=None) > wall, wall
                    assert (instant - timedelta(minutes=1)).astimezone(tz).replace(tzinfo=None) < wall, wall


def test_night_window_across_the_autumn_change_covers_the_whole_wall_clock_span():
    day = date(2026, 10, 25)
    schedule = TechnicianSchedule(1, working_hours=[WeeklyTime(day.weekday(), time(0, 30), time(2, 30))])
    rules = _rules(length=timedelta(minutes=60), step=timedelta(minutes=30))
    slots = free_slots(schedules=[schedule], start_date=day, days=1, rules=rules)[day]
    # 00:30 BST (23:30 UTC) to 02:30 GMT (02:30 UTC) is three real hours: starts every 30 minutes.
    assert next(s.start for s in slots) == datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    assert slots[-1].end == datetime(2026, 10, 25, 2, 30, tzinfo=UTC)
    assert len(slots) == 5


def test_night_window_across_the_spring_change_is_an_hour_shorter():
    day = date(2026, 3, 29)
    schedule = TechnicianSchedule(1, working_hours=[WeeklyTime(day.weekday(), time(0, 30), time(3, 30))])
    rules = _rules(length=timedelta(minutes=60), step=timedelta(minutes=30))
    slots = free_slots(schedules=[schedule], start_date=day, days=1, rules=rules)[day]
    # 00:30 GMT to 03:30 BST is two real hours.
    assert slots[0].start == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert slots[-1].end == datetime(2026, 3, 29, 2, 30, tzinfo=UTC)
    assert len(slots) == 3


def test_it_skips_breaks_time_off_and_buffered_appointments():
    day = date(2026, 12, 1)  # a Tuesday
    at = lambda h, m=0: datetime.combine(day, time(h, m), tzinfo=LONDON)  # noqa: E731
    schedule = TechnicianSchedule(
        7,
        working_hours=_nine_to_five(day.weekday()),
        breaks=[WeeklyTime(day.weekday(), time(13), time(13, 45))],
        time_off=[(at(15), at(17))],
        appointments=[(at(10), at(10, 45))],
    )
    rules = _rules(buffer_after=timedelta(minutes=15))
    starts = [
        s.start.astimezone(LONDON).strftime("%H:%M")
        for s in free_slots(schedules=[schedule], start_date=day, days=1, rules=rules)[day]
    ]
    assert "09:00" in starts
    # 09:00-09:45 + 15 min clean-up ends at 10:00, when the 10:00 appointment begins: allowed.
    assert "09:15" not in starts  # its clean-up would run into the 10:00 appointment
    assert "10:45" not in starts
    assert "11:00" in starts
    assert "12:15" in starts
    assert "12:30" not in starts
    assert "13:00" not in starts
    assert "13:45" in starts
    assert "14:15" in starts
    assert "14:30" not in starts
    assert all(
        s.start.tzinfo is not None for s in free_slots(schedules=[schedule], start_date=day, days=1, rules=rules)[day]
    )


def test_long_sessions_must_fit_whole():
    day = date(2026, 12, 1)
    schedule = TechnicianSchedule(1, working_hours=_nine_to_five(day.weekday()))
    slots = free_slots(schedules=[schedule], start_date=day, days=1, rules=_rules(length=timedelta(hours=5)))[day]
    assert slots[-1].start.astimezone(LONDON).time() == time(12)
    assert free_slots(schedules=[schedule], start_date=day, days=1, rules=_rules(length=timedelta(hours=9)))[day] == []


def test_closed_days_notice_and_horizon_are_respected():
    day = date(2026, 12, 1)
    schedule = TechnicianSchedule(1, working_hours=[WeeklyTime(d, time(9), time(17)) for d in range(7)])
    earliest = datetime.combine(day, time(12), tzinfo=LONDON)
    latest = datetime.combine(day + timedelta(days=2), time(10), tzinfo=LONDON)
    result = free_slots(
        schedules=[schedule],
        start_date=day,
        days=4,
        rules=_rules(earliest=earliest, latest=latest),
        closed_dates={day + timedelta(days=1)},
    )
    assert result[day][0].start == earliest
    assert result[day + timedelta(days=1)] == []
    assert result[day + timedelta(days=2)][-1].start == latest
    assert result[day + timedelta(days=3)] == []


def test_nearest_returns_distinct_times_closest_to_the_target():
    base = datetime(2026, 12, 1, 10, tzinfo=UTC)
    slots = [
        Slot(base + timedelta(minutes=m), base + timedelta(minutes=m + 45), t) for m in (-60, 0, 15, 90) for t in (1, 2)
    ]
    assert [s.start for s in nearest(slots, base + timedelta(minutes=5), count=3)] == [
        base - timedelta(minutes=60),
        base,
        base + timedelta(minutes=15),
    ]


# The selector ----------------------------------------------------------------------------


@pytest.fixture
def now_frozen():
    with time_machine.travel(datetime(2026, 11, 2, 8, tzinfo=UTC), tick=False):
        yield


@pytest.mark.django_db
def test_selector_combines_hours_breaks_time_off_closures_and_appointments(now_frozen):
    location = LocationFactory(slug="manchester")
    BookingPolicyFactory(buffer_after_minutes=0, minimum_notice_hours=0)
    tech = technician_working(location=location)
    day = date(2026, 12, 1)
    BreakFactory(technician=tech, weekday=day.weekday())
    TimeOffFactory(technician=tech, start=datetime(2026, 12, 1, 15, tzinfo=LONDON))
    ClosureFactory(location=None, start_date=date(2026, 12, 2), end_date=date(2026, 12, 2), reason="Bank holiday")
    AppointmentFactory(technician=tech, location=location, start=datetime(2026, 12, 1, 10, tzinfo=LONDON))
    AppointmentFactory(
        technician=tech,
        location=location,
        start=datetime(2026, 12, 1, 11, tzinfo=LONDON),
        status=Appointment.Status.CANCELLED,
        cancelled_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    result = availability_compute(location=location, kind="consultation", start_date=day, days=2)
    starts = [s.start.astimezone(LONDON).strftime("%H:%M") for s in result[day]]
    assert "09:15" in starts
    assert "09:30" not in starts
    assert "10:45" in starts
    assert "11:00" in starts  # the cancelled appointment holds no time
    assert "13:00" not in starts
    assert "14:15" in starts
    assert "14:30" not in starts
    assert result[date(2026, 12, 2)] == []


@pytest.mark.django_db
def test_selector_only_offers_treatment_sessions_with_technicians_who_do_the_treatment(now_frozen):
    location = LocationFactory()
    treatment = TreatmentFactory(session_minutes_min=120, session_minutes_max=240)
    does_it = technician_working(location=location)
    does_it.treatments.add(treatment)
    technician_working(location=location)
    result = availability_compute(
        location=location, kind="session", treatment=treatment, start_date=date(2026, 12, 1), days=1
    )
    slots = result[date(2026, 12, 1)]
    assert {s.technician_id for s in slots} == {does_it.pk}
    assert all(s.end - s.start == timedelta(hours=4) for s in slots)
    assert slots[-1].start.astimezone(LONDON).time() == time(13)


@pytest.mark.django_db
def test_a_technicians_appointment_elsewhere_blocks_them_here(now_frozen):
    here, there = LocationFactory(), LocationFactory()
    tech = technician_working(location=here)
    tech.locations.add(there)
    AppointmentFactory(technician=tech, location=there, start=datetime(2026, 12, 1, 9, tzinfo=LONDON))
    starts = [
        s.start.astimezone(LONDON).time()
        for s in availability_compute(location=here, kind="consultation", start_date=date(2026, 12, 1), days=1)[
            date(2026, 12, 1)
        ]
    ]
    assert time(9) not in starts
    assert time(10) in starts


@pytest.mark.django_db
def test_policy_for_a_location_overrides_the_clinic_wide_one():
    location = LocationFactory()
    BookingPolicyFactory(consultation_minutes=45)
    assert booking_policy_for(location).consultation_minutes == 45
    BookingPolicyFactory(location=location, consultation_minutes=60)
    assert booking_policy_for(location).consultation_minutes == 60
    assert booking_policy_for(LocationFactory()).consultation_minutes == 45


@pytest.mark.django_db
def test_lengths_come_from_the_kind_policy_and_treatment():
    policy = BookingPolicyFactory(consultation_minutes=45, touch_up_minutes=90)
    treatment = TreatmentFactory(session_minutes_min=120, session_minutes_max=300)
    assert appointment_length(kind="consultation", policy=policy) == timedelta(minutes=45)
    assert appointment_length(kind="session", policy=policy, treatment=treatment) == timedelta(hours=5)
    assert appointment_length(kind="session", policy=policy, treatment=treatment, length_minutes=180) == timedelta(
        hours=3
    )
    assert appointment_length(kind="touch_up", policy=policy) == timedelta(minutes=90)
    with pytest.raises(BookingRequestError) as exc:
        appointment_length(kind="session", policy=policy, treatment=treatment, length_minutes=60)
    assert exc.value.field == "length_minutes"
    with pytest.raises(BookingRequestError):
        appointment_length(kind="session", policy=policy)
    with pytest.raises(BookingRequestError):
        appointment_length(kind="massage", policy=policy)


@pytest.mark.django_db
@pytest.mark.parametrize("day", CLOCK_CHANGE_DAYS)
def test_selector_offers_local_nine_on_clock_change_days(day):
    location = LocationFactory()
    technician_working(location=location, weekdays=[day.weekday()])
    with time_machine.travel(datetime(day.year, day.month, 1, tzinfo=UTC), tick=False):
        slots = availability_compute(location=location, kind="consultation", start_date=day, days=1)[day]
    assert slots[0].start.astimezone(LONDON).time() == time(9)
    assert slots[-1].end.astimezone(LONDON).time() == time(17)
