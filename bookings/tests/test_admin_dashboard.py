"""The managers' dashboard (/admin/dashboard/): every figure against a clinic built by hand, who may
see it, its filters, and a query count that does not grow with the data."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings import dashboard as dashboard_module
from bookings.dashboard import Period, _visit_days_due_between, dashboard_compute, touch_ups_due
from bookings.models import Appointment, BookingPolicy, ClientMessage, Course
from bookings.services.booking import appointment_cancel
from bookings.tests.factories import (
    AppointmentFactory,
    BookingPolicyFactory,
    ClientMessageFactory,
    CourseFactory,
    LocationFactory,
)
from bookings.zones import add_months
from clients.tests.factories import ClientFactory, staff_user
from smpclinic.tests.logins import login_as
from treatments.models import Treatment
from treatments.tests.factories import PriceGuideFactory, TreatmentFactory

pytestmark = pytest.mark.django_db

K, S, M = Appointment.Kind, Appointment.Status, ClientMessage.Status
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
URL = "/admin/dashboard/"
# The frozen moment is conftest's ORDINARY_NOW: Wednesday 10 June 2026, 10:30 London (BST).
PERIOD = {"date_from": "2026-06-01", "date_to": "2026-06-14"}
WEEK_1, WEEK_2 = date(2026, 6, 1), date(2026, 6, 8)


def at(day: int, hour: int = 10, minute: int = 0, *, month: int = 6, year: int = 2026, tz=LONDON) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


def appt(location, start, kind=K.CONSULTATION, status=S.BOOKED, *, cancelled_before=None, **kwargs) -> Appointment:
    """One appointment (each with its own technician: the overlap constraint never bites).

    A cancelled one is booked, then cancelled by staff through the cancel service
    ``cancelled_before`` its start: the service records whether that was late, as it does in use.
    """
    appointment = AppointmentFactory(
        location=location,
        start=start,
        end=start + timedelta(hours=2),
        kind=kind,
        status=S.BOOKED if status == S.CANCELLED else status,
        completed_at=start + timedelta(hours=2) if status == S.COMPLETED else None,
        **kwargs,
    )
    if status == S.CANCELLED:
        when = start - (cancelled_before or timedelta(days=3))
        appointment = appointment_cancel(appointment=appointment, by_client=False, now=when)
    return appointment


def message(appointment, kind, due, status):
    return ClientMessageFactory(
        appointment=appointment, kind=kind, due_at=due, status=status, sent_at=due if status == M.SENT else None
    )


@pytest.fixture
def clinic(frozen_now, settings):
    """Two London clinics: A under the clinic-wide policy, B under its own.

    The late-cancellation windows (24 h at A, 48 h at B) and the online change notices (48 h at A,
    24 h at B) deliberately disagree: the dashboard must count what the cancel service recorded
    from the late-cancellation window, never recompute from the change notice.
    """
    settings.TOUCH_UP_RECALL_MONTHS = 24
    a = LocationFactory(name="Manchester", order=0)
    b = LocationFactory(name="Leeds", order=1)
    BookingPolicyFactory(location=None, change_notice_hours=48, late_cancellation_hours=24)
    BookingPolicyFactory(location=b, change_notice_hours=24, late_cancellation_hours=48)
    hairline = TreatmentFactory(name="Hairline design", slug="hairline")
    touch_up = TreatmentFactory(name="Touch-up", slug="touch-up", category=Treatment.Category.TOUCH_UP)
    PriceGuideFactory(treatment=hairline, band="N3", location=None, price_from_minor=90000)
    PriceGuideFactory(treatment=hairline, band="N3", location=b, price_from_minor=120000)
    PriceGuideFactory(treatment=touch_up, band="small", location=None, price_from_minor=10000)
    PriceGuideFactory(treatment=touch_up, band="full", location=None, price_from_minor=65000)
    PriceGuideFactory(treatment=touch_up, band="small", location=a, price_from_minor=8000)
    return {"a": a, "b": b, "hairline": hairline, "touch_up": touch_up}


@pytest.fixture
def figures(clinic):
    """Two weeks of a small clinic, with the appointments either side of the period that must not count."""
    a, b, hairline, touch_up = clinic["a"], clinic["b"], clinic["hairline"], clinic["touch_up"]
    agreed = CourseFactory(treatment=hairline, planned_sessions=3, price_agreed_minor=150000)
    guided = CourseFactory(treatment=hairline, planned_sessions=2, price_band="N3")
    unpriced = CourseFactory(treatment=hairline, planned_sessions=3)
    converted, not_converted, converted_before = ClientFactory(), ClientFactory(), ClientFactory()
    CourseFactory(client=converted, treatment=hairline)  # created now: after the consultation
    earlier = CourseFactory(client=converted_before, treatment=hairline)
    Course.objects.filter(pk=earlier.pk).update(created_at=at(1, month=5))
    CourseFactory(client=not_converted, treatment=hairline, status=Course.Status.CANCELLED)

    # Week of 1 June
    appt(a, at(2), status=S.COMPLETED, client=converted)
    unpriced_session = appt(a, at(2, 15), K.TREATMENT_SESSION, S.COMPLETED, course=unpriced, treatment=hairline)
    appt(a, at(3), status=S.NO_SHOW)
    appt(a, at(4, 9), status=S.ARRIVED, client=converted_before)
    agreed_session = appt(a, at(4, 12), K.TREATMENT_SESSION, S.COMPLETED, course=agreed, treatment=hairline)
    appt(a, at(5), K.TREATMENT_SESSION, S.CANCELLED, cancelled_before=timedelta(hours=2), course=agreed)  # late
    appt(a, at(5, 14), status=S.CANCELLED, cancelled_before=timedelta(days=3))  # in good time
    # Week of 8 June
    appt(a, at(8), status=S.COMPLETED, client=not_converted)
    appt(b, at(9), K.TREATMENT_SESSION, S.COMPLETED, course=guided, treatment=hairline)
    appt(b, at(9, 15), K.TREATMENT_SESSION, S.CANCELLED, cancelled_before=timedelta(hours=30))  # late under 48 h
    appt(a, at(9, 16), K.TREATMENT_SESSION, S.CANCELLED, cancelled_before=timedelta(hours=30))  # not under 24 h
    appt(b, at(10, 9))  # due (started before 10:30), not marked
    appt(b, at(11), K.TOUCH_UP, treatment=touch_up)
    appt(a, at(12), K.TREATMENT_SESSION, S.CONFIRMED, course=agreed, treatment=hairline)
    # Outside the period: Sunday night before, Monday just after.
    appt(a, at(31, 23, 30, month=5), status=S.NO_SHOW)
    appt(b, at(15, 0, 30), K.TREATMENT_SESSION, course=agreed, treatment=hairline)

    # Aftercare (and one reminder, which is not aftercare), by the week they fall due.
    message(unpriced_session, ClientMessage.Kind.AFTERCARE_DAY_4, at(6), M.SENT)
    message(unpriced_session, ClientMessage.Kind.AFTERCARE_DAY_7, at(9), M.SENT)
    message(unpriced_session, ClientMessage.Kind.AFTERCARE_DAY_10, at(12), M.PENDING)
    message(agreed_session, ClientMessage.Kind.AFTERCARE_DAY_4, at(8), M.FAILED)
    message(agreed_session, ClientMessage.Kind.AFTERCARE_DAY_7, at(11), M.CANCELLED)
    message(agreed_session, ClientMessage.Kind.REMINDER_48H, at(2), M.SENT)
    earlier_b = appt(b, at(27, month=5), K.TREATMENT_SESSION, S.COMPLETED, treatment=hairline)
    message(earlier_b, ClientMessage.Kind.AFTERCARE_DAY_4, at(31, month=5), M.SENT)  # the Sunday before
    message(earlier_b, ClientMessage.Kind.AFTERCARE_DAY_7, at(3), M.SENT)
    message(earlier_b, ClientMessage.Kind.AFTERCARE_DAY_10, at(6), M.FAILED)
    return clinic


def _ended_course(location, start, *, client=None, planned=2, number=2, **kwargs) -> Appointment:
    course = CourseFactory(treatment=TreatmentFactory(slug="hairline"), planned_sessions=planned, **kwargs)
    return appt(
        location,
        start,
        K.TREATMENT_SESSION,
        S.COMPLETED,
        course=course,
        session_number=number,
        client=client or course.client,
    )


@pytest.fixture
def touch_ups(clinic):
    """Visits two years back; today is 10 June 2026, so recalls due 10 June to 7 September 2026 count."""
    a, b = clinic["a"], clinic["b"]
    first = ClientFactory(first_name="First", last_name="Due")
    _ended_course(a, at(20, year=2024), client=first)  # due 20 June 2026
    appt(a, at(1, month=8, year=2024), K.TOUCH_UP, S.COMPLETED, treatment=clinic["touch_up"])  # due 1 August
    _ended_course(b, at(7, month=9, year=2024))  # due 7 September: the last day
    booked_since = _ended_course(b, at(1, month=7, year=2024))
    appt(b, at(1, month=7), K.TOUCH_UP, client=booked_since.client)  # a touch-up is booked already
    _ended_course(a, at(15, year=2024), planned=2, number=1)  # session 1 of 2: the course goes on
    _ended_course(a, at(9, year=2024))  # due yesterday
    _ended_course(a, at(8, month=9, year=2024))  # due the day after the window
    erased = _ended_course(a, at(20, month=7, year=2024))
    type(erased.client).objects.filter(pk=erased.client_id).update(erased_at=at(1))
    return clinic


def _login(client, role: str, **kwargs):
    user = staff_user(role=role, **kwargs)
    login_as(client, user)
    return user


def _week(dashboard, monday):
    return next(w for w in dashboard.weeks if w.week == monday)


# The figures ------------------------------------------------------------------------


def test_appointments_are_counted_per_week_without_the_cancelled(figures, frozen_now):
    d = dashboard_compute(period=Period(date(2026, 6, 1), date(2026, 6, 14)), now=frozen_now, today=frozen_now.date())

    assert [w.week for w in d.weeks] == [WEEK_1, WEEK_2]
    one, two = _week(d, WEEK_1), _week(d, WEEK_2)
    assert (one.consultations, one.sessions, one.touch_ups) == (3, 2, 0)
    assert (two.consultations, two.sessions, two.touch_ups) == (2, 2, 1)


def test_no_show_rate_is_over_the_appointments_due_so_far(figures, frozen_now):
    d = dashboard_compute(period=Period(date(2026, 6, 1), date(2026, 6, 14)), now=frozen_now, today=frozen_now.date())

    one, two = _week(d, WEEK_1), _week(d, WEEK_2)
    assert (one.no_shows, one.due, one.no_show_rate) == (1, 5, 20.0)
    # Monday's and Tuesday's, and Wednesday 09:00's still marked booked; the rest is to come.
    assert (two.no_shows, two.due, two.no_show_rate) == (0, 3, 0.0)
    assert (d.totals.no_shows, d.totals.due, d.totals.no_show_rate) == (1, 8, 12.5)


def test_late_cancellations_are_those_the_cancel_service_recorded_late(figures, frozen_now):
    d = dashboard_compute(period=Period(date(2026, 6, 1), date(2026, 6, 14)), now=frozen_now, today=frozen_now.date())

    late = Appointment.objects.filter(status=S.CANCELLED, late_cancellation=True, start__gte=at(1), start__lt=at(15))
    # 2 hours before at Manchester, and 30 hours before at Leeds (its own 48-hour window).
    assert sorted(a.start for a in late) == [at(5), at(9, 15)]
    one, two = _week(d, WEEK_1), _week(d, WEEK_2)
    assert (one.late_cancellations, one.scheduled) == (1, 7)
    # 30 hours before is late at Leeds and in time at Manchester (the clinic-wide 24 hours), although
    # Manchester's 48-hour change notice would call it late: the recorded flag decides.
    assert (two.late_cancellations, two.scheduled) == (1, 7)
    assert d.totals.late_cancellation_rate == round(100 * 2 / 14, 1)
    at_manchester = dashboard_compute(
        period=Period(date(2026, 6, 1), date(2026, 6, 14), location=figures["a"]),
        now=frozen_now,
        today=frozen_now.date(),
    )
    assert [w.late_cancellations for w in at_manchester.weeks] == [1, 0]


def test_a_cancellation_recorded_in_time_is_not_counted_even_inside_the_change_notice(clinic, frozen_now):
    manchester = clinic["a"]
    start = at(9, 15)
    # 25 hours before: outside the 24-hour late window (the service records it in time), but
    # inside Manchester's 48-hour change notice, which the dashboard once counted as late.
    cancelled = appt(manchester, start, status=S.CANCELLED, cancelled_before=timedelta(hours=25))
    assert (cancelled.status, cancelled.late_cancellation) == (S.CANCELLED, False)
    assert cancelled.cancelled_at > start - timedelta(
        hours=BookingPolicy.objects.get(location=None).change_notice_hours
    )
    late = appt(manchester, at(10, 15), status=S.CANCELLED, cancelled_before=timedelta(hours=23))
    assert late.late_cancellation

    d = dashboard_compute(period=Period(date(2026, 6, 8), date(2026, 6, 14)), now=frozen_now, today=frozen_now.date())
    assert (d.totals.late_cancellations, d.totals.scheduled) == (1, 2)


def test_a_policy_changed_since_does_not_rewrite_past_weeks(figures, frozen_now):
    period = Period(date(2026, 6, 1), date(2026, 6, 14))
    before = dashboard_compute(period=period, now=frozen_now, today=frozen_now.date()).totals.late_cancellations
    BookingPolicy.objects.filter(location__isnull=False).delete()
    BookingPolicy.objects.filter(location=None).update(late_cancellation_hours=1, change_notice_hours=1)

    after = dashboard_compute(period=period, now=frozen_now, today=frozen_now.date()).totals.late_cancellations
    assert before == after == 2


def test_recorded_fields_set_by_hand_count_the_same_as_the_service(clinic, frozen_now):
    """Rows written as the cancel service writes them (an import, an older row) count alike."""
    for late in (True, False):
        AppointmentFactory(
            location=clinic["b"],
            start=at(9, 9 if late else 13),
            end=at(9, 11 if late else 15),
            status=S.CANCELLED,
            cancelled_at=at(9, 8),
            late_cancellation=late,
            cancelled_via=Appointment.CancelledVia.STAFF,
        )
    d = dashboard_compute(period=Period(date(2026, 6, 8), date(2026, 6, 14)), now=frozen_now, today=frozen_now.date())
    assert (d.totals.late_cancellations, d.totals.scheduled) == (1, 2)


def test_conversion_counts_attended_consultations_followed_by_a_live_course(figures, frozen_now):
    d = dashboard_compute(period=Period(date(2026, 6, 1), date(2026, 6, 14)), now=frozen_now, today=frozen_now.date())

    # Attended: 2 June (a course since), 4 June (a course only before), 8 June (a cancelled course).
    assert (d.conversion.consultations, d.conversion.converted) == (3, 1)
    assert d.conversion.rate == 33.3


def test_revenue_uses_the_agreed_price_else_the_guide_and_says_which(figures, frozen_now):
    d = dashboard_compute(period=Period(date(2026, 6, 1), date(2026, 6, 14)), now=frozen_now, today=frozen_now.date())

    rows = {(r.treatment, r.location): (r.amount, r.appointments, r.estimated) for r in d.revenue.rows}
    assert rows == {
        # Two sessions of a 1,500 course of three (the cancelled one is left out).
        ("Hairline design", "Manchester"): (Decimal("1000.00"), 2, 0),
        # No agreed price: Leeds's own N3 guide (1,200, not the clinic-wide 900) over two sessions.
        ("Hairline design", "Leeds"): (Decimal("600.00"), 1, 1),
        # A touch-up: the lowest guide for Leeds (clinic-wide 100; Manchester's 80 is not Leeds's).
        ("Touch-up", "Leeds"): (Decimal("100.00"), 1, 1),
    }
    assert d.revenue.unpriced == 1  # the course with neither a price nor a band
    assert d.revenue.total == Decimal("1700.00")
    assert d.revenue.estimated == 2


def test_aftercare_messages_are_counted_by_the_week_they_fall_due(figures, frozen_now):
    d = dashboard_compute(period=Period(date(2026, 6, 1), date(2026, 6, 14)), now=frozen_now, today=frozen_now.date())

    one, two = d.aftercare
    assert (one.week, one.sent, one.failed, one.waiting, one.cancelled) == (WEEK_1, 2, 1, 0, 0)
    assert (two.week, two.sent, two.failed, two.waiting, two.cancelled) == (WEEK_2, 1, 1, 1, 1)


def test_a_location_filter_narrows_every_figure(figures, frozen_now):
    leeds = figures["b"]
    d = dashboard_compute(
        period=Period(date(2026, 6, 1), date(2026, 6, 14), location=leeds), now=frozen_now, today=frozen_now.date()
    )

    assert [(w.consultations, w.sessions, w.touch_ups) for w in d.weeks] == [(0, 0, 0), (1, 1, 1)]
    assert (d.totals.late_cancellations, d.totals.scheduled) == (1, 4)
    assert d.conversion.consultations == 0
    assert [(r.treatment, r.location) for r in d.revenue.rows] == [("Hairline design", "Leeds"), ("Touch-up", "Leeds")]
    assert [(w.sent, w.failed) for w in d.aftercare] == [(1, 1), (0, 0)]


def test_touch_ups_due_follow_the_recall_rule(touch_ups, frozen_now):
    due = touch_ups_due(location=None, today=date(2026, 6, 10))

    assert (due.first_day, due.last_day) == (date(2026, 6, 10), date(2026, 9, 7))
    assert due.count == 3
    assert (due.rows[0].client_name, due.rows[0].due) == ("First Due", date(2026, 6, 20))
    assert [r.due for r in due.rows] == [date(2026, 6, 20), date(2026, 8, 1), date(2026, 9, 7)]
    assert {w: n for w, n in due.by_week.items() if n} == {
        date(2026, 6, 15): 1,
        date(2026, 7, 27): 1,
        date(2026, 9, 7): 1,
    }
    assert sum(due.by_week.values()) == 3
    assert touch_ups_due(location=touch_ups["a"], today=date(2026, 6, 10)).count == 2


def test_the_touch_up_list_is_cut_but_the_count_is_not(touch_ups, frozen_now):
    due = touch_ups_due(location=None, today=date(2026, 6, 10), limit=1)
    assert (due.count, len(due.rows)) == (3, 1)


@pytest.mark.parametrize("limit", [1, 2, 3, 4])
def test_a_cut_list_is_the_first_rows_of_the_whole_one(touch_ups, frozen_now, limit):
    # The list reads only the days up to where the per-day counts reach the limit.
    whole = touch_ups_due(location=None, today=date(2026, 6, 10))
    cut = touch_ups_due(location=None, today=date(2026, 6, 10), limit=limit)
    assert cut.rows == whole.rows[:limit]


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (date(2026, 6, 10), date(2026, 9, 7), (date(2024, 6, 10), date(2024, 9, 7))),
        # 28 February 2026 is 24 months after both 28 and 29 February 2024 (clamped).
        (date(2026, 2, 28), date(2026, 2, 28), (date(2024, 2, 28), date(2024, 2, 29))),
        # No day is 24 months before 29 February 2028: an empty run (the start after the end).
        (date(2028, 2, 29), date(2028, 2, 29), (date(2026, 3, 1), date(2026, 2, 28))),
        # 28 February 2027 is the recall of 28 February 2025 only.
        (date(2027, 2, 28), date(2027, 3, 1), (date(2025, 2, 28), date(2025, 3, 1))),
    ],
)
def test_visit_days_due_between_are_exact_at_month_ends(first, last, expected):
    lo, hi = _visit_days_due_between(first, last, 24)
    assert (lo, hi) == expected
    assert first <= add_months(lo, 24)
    assert add_months(hi, 24) <= last
    assert add_months(lo - timedelta(days=1), 24) < first
    assert add_months(hi + timedelta(days=1), 24) > last


def test_weeks_are_on_the_chosen_locations_clock(clinic, frozen_now):
    new_york = LocationFactory(name="New York", time_zone="America/New_York")
    # Monday 02:00 in London is Sunday 21:00 in New York: the week before there.
    appt(new_york, at(8, 2))
    everywhere = dashboard_compute(
        period=Period(date(2026, 6, 1), date(2026, 6, 14)), now=frozen_now, today=frozen_now.date()
    )
    there = dashboard_compute(
        period=Period(date(2026, 6, 1), date(2026, 6, 14), location=new_york), now=frozen_now, today=frozen_now.date()
    )
    assert [w.consultations for w in everywhere.weeks] == [0, 1]
    assert [w.consultations for w in there.weeks] == [1, 0]


# The page --------------------------------------------------------------------------


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_page_shows_every_figure_with_its_table_and_chart_data(client, figures):
    _login(client, "Manager")

    response = client.get(URL, PERIOD)

    assert response.status_code == 200
    html = response.content.decode()
    text = _text(html)
    assert "Consultation to course 33.3% (1 of 3 attended)" in text
    assert "No-show rate 12.5% (1 of 8 due)" in text
    assert "Revenue booked £1,700.00 (2 estimated)" in text
    assert "estimated from the price guide" in text
    assert "1 appointment had no agreed price and no matching guide" in text
    assert "Aftercare sent / failed 3 / 2" in text
    for table in ("appointments", "rates", "revenue", "touch-ups-weeks", "aftercare", "conversion"):
        assert f'id="table-{table}"' in html
    data = json.loads(re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', html, re.S)[1])
    assert data["appointments"]["labels"] == ["1 Jun", "8 Jun"]
    assert data["appointments"]["series"][0] == {"label": "Consultations", "data": [3, 2]}
    assert data["revenue"]["labels"] == ["Hairline design", "Touch-up"]
    assert {s["label"]: s["data"] for s in data["revenue"]["series"]} == {
        "Leeds": [600.0, 100.0],
        "Manchester": [1000.0, 0.0],
    }
    assert data["aftercare"]["series"][1] == {"label": "Failed", "data": [1, 1]}
    # No inline script: the only <script> without src is the JSON data block.
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html) == []
    assert ' style="' not in html


def test_the_default_period_is_the_last_twelve_weeks(client, clinic):
    _login(client, "Manager")
    response = client.get(URL)
    assert response.status_code == 200
    period = response.context["period"]
    assert (period.date_from, period.date_to) == (date(2026, 3, 23), date(2026, 6, 10))
    assert len(response.context["dashboard"].weeks) == 12
    assert 'value="2026-03-23"' in response.content.decode()


def test_a_start_alone_shows_twelve_weeks_from_it(client, clinic):
    _login(client, "Manager")
    response = client.get(URL, {"date_from": "2025-03-03"})
    period = response.context["period"]
    assert (period.date_from, period.date_to) == (date(2025, 3, 3), date(2025, 5, 21))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "2026-13-01"}, "Enter a valid date."),
        ({"date_from": "yesterday"}, "Enter a valid date."),
        ({"date_from": "2026-06-14", "date_to": "2026-06-01"}, "The end comes before the start."),
        ({"date_from": "2024-01-01", "date_to": "2026-06-01"}, "Show at most two years"),
        ({"date_from": "1900-01-01", "date_to": "1900-02-01"}, "Choose a date from 01/01/2000 to 31/12/2099."),
        ({"date_to": "9999-12-31"}, "Choose a date from 01/01/2000 to 31/12/2099."),
        ({"location": "abc"}, "Select a valid choice."),
        ({"location": "999999"}, "Select a valid choice."),
        ({"location": "99999999999999999999999"}, "Select a valid choice."),
    ],
)
def test_bad_filters_are_a_400_that_says_what_is_wrong(client, clinic, params, message):
    _login(client, "Manager")
    response = client.get(URL, params)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "not shown until the filters are corrected" in html
    assert 'id="dashboard-data"' not in html


def test_a_nul_in_a_filter_is_a_400(client, clinic):
    _login(client, "Manager")
    assert client.get(URL, {"date_from": "2026-06-01\x00"}).status_code == 400


def test_exactly_two_years_is_allowed(client, clinic):
    _login(client, "Manager")
    assert client.get(URL, {"date_from": "2024-06-11", "date_to": "2026-06-10"}).status_code == 200


# Who may see it -----------------------------------------------------------------------


def test_anonymous_is_sent_to_the_login(client, clinic):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_technician_cannot_reach_the_admin_at_all(client, clinic):
    _login(client, "Technician")
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("role", ["Reception", "Technician"])
def test_staff_without_the_permission_get_403(client, clinic, role):
    user = _login(client, role)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    assert client.get(URL).status_code == 403


def test_only_managers_see_the_link_on_the_admin_index(client, clinic):
    _login(client, "Reception")
    assert URL not in client.get("/admin/").content.decode()
    client.logout()
    _login(client, "Manager", username="boss")
    assert f'href="{URL}"' in client.get("/admin/").content.decode()


def test_the_manager_role_holds_the_permission(clinic):
    assert staff_user(role="Manager").has_perm("bookings.view_dashboard")
    assert not staff_user(role="Reception").has_perm("bookings.view_dashboard")
    assert not staff_user(role="Technician").has_perm("bookings.view_dashboard")


# Queries ----------------------------------------------------------------------------


def _queries(client, params=PERIOD) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL, params).status_code == 200
    return len(queries)


def _more(clinic, n: int) -> None:
    """n more of everything: appointments of each kind at both clinics, courses, messages, recalls."""
    for i in range(n):
        location = clinic["a"] if i % 2 else clinic["b"]
        course = CourseFactory(treatment=clinic["hairline"], planned_sessions=2, price_band="N3")
        session = appt(location, at(2 + i % 12, 8 + i % 8), K.TREATMENT_SESSION, S.COMPLETED, course=course)
        appt(location, at(2 + i % 12, 9 + i % 8), K.TOUCH_UP, treatment=clinic["touch_up"])
        late_or_not = timedelta(hours=1 if i % 3 else 72)
        appt(location, at(2 + i % 12, 10 + i % 8), status=S.CANCELLED, cancelled_before=late_or_not)
        message(session, ClientMessage.Kind.AFTERCARE_DAY_4, at(2 + i % 12, 12), M.SENT)
        _ended_course(location, at(1 + i % 28, month=7, year=2024))


def test_the_query_count_does_not_grow_with_the_data(client, clinic, django_assert_max_num_queries):
    _login(client, "Manager")
    appt(clinic["a"], at(2))
    client.get(URL, PERIOD)  # warm the session and the content types
    few = _queries(client)
    few_at_leeds = _queries(client, {**PERIOD, "location": clinic["b"].pk})

    _more(clinic, 24)
    with django_assert_max_num_queries(few):
        client.get(URL, PERIOD)
    assert _queries(client) == few
    assert _queries(client, {**PERIOD, "location": clinic["b"].pk}) == few_at_leeds
    # Session, user, the manager's authenticator device (second factor), two for permissions,
    # six for the figures (the weeks, their conversion, revenue, aftercare, touch-ups per day and
    # their first rows), four for the money (takings, deposits held, deposits kept, balances
    # outstanding), the location menu (and the chosen location's lookup). Late cancellations are
    # a recorded flag: no policy query.
    assert (few, few_at_leeds) == (16, 17)


@pytest.mark.django_db(transaction=True)
def test_a_report_failing_in_a_thread_fails_the_recompute_and_leaves_no_connection_open(
    figures, frozen_now, settings, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    period = Period(date(2026, 6, 1), date(2026, 6, 14))
    helper_ran = threading.Event()

    def fails_in_a_helper(real, **kwargs):
        if threading.current_thread().name.startswith("dashboard-"):
            helper_ran.set()
            raise RuntimeError("report failed")
        assert helper_ran.wait(10)  # the calling thread's parts wait until a helper has failed
        return real(**kwargs)

    for name in ("weekly_counts", "converted_by_week", "revenue_by_treatment_and_location", "touch_ups_due"):
        monkeypatch.setattr(dashboard_module, name, partial(fails_in_a_helper, getattr(dashboard_module, name)))

    def backends() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return cursor.fetchone()[0]

    before = backends()
    settings.DASHBOARD_QUERY_THREADS = 2
    with pytest.raises(RuntimeError, match="report failed"):
        dashboard_compute(period=period, now=frozen_now, today=frozen_now.date())
    assert helper_ran.is_set()
    deadline = time.monotonic() + 10
    while backends() != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backends() == before


@pytest.mark.django_db(transaction=True)
def test_the_reports_computed_at_once_match_those_computed_in_turn(figures, frozen_now, settings, monkeypatch):
    # On PostgreSQL, outside a transaction, the reports run in threads with connections of their
    # own (DASHBOARD_QUERY_THREADS): the same figures, and no connection left open behind them.
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    period = Period(date(2026, 6, 1), date(2026, 6, 14))

    def compute():
        return dashboard_compute(period=period, now=frozen_now, today=frozen_now.date())

    def backends() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return cursor.fetchone()[0]

    settings.DASHBOARD_QUERY_THREADS = 1
    in_turn = compute()
    ran_in = {}
    parts = ("weekly_counts", "converted_by_week", "revenue_by_treatment_and_location", "touch_ups_due")
    for name in parts:
        real = getattr(dashboard_module, name)

        def recorded(*args, _real=real, _name=name, **kwargs):
            ran_in[_name] = threading.current_thread().name
            return _real(*args, **kwargs)

        monkeypatch.setattr(dashboard_module, name, recorded)
    settings.DASHBOARD_QUERY_THREADS = 3
    before = backends()
    at_once = compute()
    assert at_once == in_turn
    assert at_once.weeks
    assert any(w.converted for w in at_once.weeks)
    assert at_once.revenue.rows
    assert set(ran_in) == set(parts)
    # The calling thread takes parts too, on its own connection; the others on theirs.
    assert any(name.startswith("dashboard-") for name in ran_in.values())
    # A closed connection's server process leaves pg_stat_activity a moment after the client has
    # gone; one left open would stay.
    deadline = time.monotonic() + 10
    while backends() != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backends() == before
