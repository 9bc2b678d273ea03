"""What each appointment owes its client, kept in the outbox by reminders_sync and the
complete/un-complete services (in-process; the real-worker tests are in test_worker.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse, set_script_prefix
from django.utils import timezone

from bookings.models import Appointment, ClientMessage, Course
from bookings.services.appointments import appointment_complete, appointment_uncomplete
from bookings.services.messaging import _token_url, reminders_sync
from bookings.tests.factories import AppointmentFactory, CourseFactory
from clients.tests.factories import staff_user

LONDON = ZoneInfo("Europe/London")
M = ClientMessage.Kind
S = ClientMessage.Status
pytestmark = pytest.mark.django_db


def _session(start: datetime, **kwargs) -> Appointment:
    return AppointmentFactory(
        kind=kwargs.pop("kind", Appointment.Kind.TREATMENT_SESSION),
        start=start,
        end=start + timedelta(hours=3),
        **kwargs,
    )


def _complete(appointment: Appointment, **kwargs) -> Appointment:
    with time_machine.travel(appointment.end, tick=False):
        return appointment_complete(appointment=appointment, by=staff_user(role="Manager"), **kwargs)


def _rows(appointment: Appointment) -> dict[str, ClientMessage]:
    return {r.kind: r for r in ClientMessage.objects.filter(appointment=appointment)}


@pytest.mark.parametrize(
    ("session_day", "day4_utc"),
    [
        # Clocks go back on 25 Oct 2026: 09:00 local is 09:00 GMT.
        (datetime(2026, 10, 21, 10, tzinfo=LONDON), datetime(2026, 10, 25, 9, 0, tzinfo=UTC)),
        # Clocks go forward on 29 Mar 2026: 09:00 local is 08:00 UTC.
        (datetime(2026, 3, 25, 10, tzinfo=LONDON), datetime(2026, 3, 29, 8, 0, tzinfo=UTC)),
        (datetime(2027, 3, 24, 10, tzinfo=LONDON), datetime(2027, 3, 28, 8, 0, tzinfo=UTC)),
        (datetime(2027, 10, 27, 10, tzinfo=LONDON), datetime(2027, 10, 31, 9, 0, tzinfo=UTC)),
    ],
)
def test_day_4_message_is_due_at_nine_local_across_clock_changes(session_day, day4_utc):
    appointment = _complete(_session(session_day))

    assert _rows(appointment)[M.AFTERCARE_DAY_4].due_at == day4_utc
    assert timezone.localtime(_rows(appointment)[M.AFTERCARE_DAY_4].due_at, LONDON).hour == 9


def test_completing_a_session_writes_day_4_7_and_10_at_the_configured_local_time(settings):
    settings.AFTERCARE_SEND_TIME = "18:30"
    appointment = _complete(_session(datetime(2026, 10, 21, 23, 30, tzinfo=LONDON)))  # late: still the 21st locally

    due = {m: timezone.localtime(r.due_at, LONDON) for m, r in _rows(appointment).items() if m.startswith("aftercare")}
    assert due == {
        M.AFTERCARE_DAY_4: datetime(2026, 10, 25, 18, 30, tzinfo=LONDON),
        M.AFTERCARE_DAY_7: datetime(2026, 10, 28, 18, 30, tzinfo=LONDON),
        M.AFTERCARE_DAY_10: datetime(2026, 10, 31, 18, 30, tzinfo=LONDON),
    }
    assert {r.status for r in _rows(appointment).values()} == {S.PENDING}


def test_completing_twice_writes_one_set_of_messages():
    appointment = _session(datetime(2026, 11, 2, 10, tzinfo=LONDON))
    _complete(appointment)
    _complete(appointment)

    assert ClientMessage.objects.filter(appointment=appointment, kind__startswith="aftercare").count() == 3


def test_consultation_gets_no_aftercare():
    appointment = _complete(_session(datetime(2026, 11, 2, 10, tzinfo=LONDON), kind=Appointment.Kind.CONSULTATION))

    assert not any(m.startswith("aftercare") for m in _rows(appointment))


def test_cannot_complete_before_it_starts_or_once_cancelled():
    appointment = _session(datetime(2026, 11, 2, 10, tzinfo=LONDON))
    with time_machine.travel(datetime(2026, 11, 1, tzinfo=LONDON)), pytest.raises(ValidationError):
        appointment_complete(appointment=appointment, by=staff_user(role="Manager"))
    cancelled_at = datetime(2026, 11, 1, 12, tzinfo=LONDON)  # a fixed stamp, never the real clock
    Appointment.objects.filter(pk=appointment.pk).update(status="cancelled", cancelled_at=cancelled_at)
    with pytest.raises(ValidationError):
        _complete(appointment)
    assert not _rows(appointment)


def test_uncompleting_cancels_pending_aftercare_and_completing_again_reopens_it():
    appointment = _complete(_session(datetime(2026, 11, 2, 10, tzinfo=LONDON)))
    with time_machine.travel(datetime(2026, 11, 2, 15, tzinfo=LONDON)):
        appointment_uncomplete(appointment=appointment, by=staff_user(role="Manager"))

    assert {r.status for r in _rows(appointment).values()} == {S.CANCELLED}

    _complete(appointment)
    assert {r.status for m, r in _rows(appointment).items() if m.startswith("aftercare")} == {S.PENDING}


def test_moving_a_completed_session_moves_its_pending_messages_but_not_sent_ones():
    appointment = _complete(_session(datetime(2026, 11, 2, 10, tzinfo=LONDON)))
    ClientMessage.objects.filter(appointment=appointment, kind=M.AFTERCARE_DAY_4).update(
        status=S.SENT, sent_at=datetime(2026, 11, 6, 9, tzinfo=LONDON)
    )
    day4_before = _rows(appointment)[M.AFTERCARE_DAY_4].due_at
    new_start = datetime(2026, 11, 3, 10, tzinfo=LONDON)
    Appointment.objects.filter(pk=appointment.pk).update(start=new_start, end=new_start + timedelta(hours=3))
    with time_machine.travel(new_start):
        reminders_sync(appointment=appointment)

    rows = _rows(appointment)
    assert rows[M.AFTERCARE_DAY_4].due_at == day4_before
    assert timezone.localtime(rows[M.AFTERCARE_DAY_7].due_at, LONDON) == datetime(2026, 11, 10, 9, tzinfo=LONDON)


def test_booking_writes_a_48_hour_reminder_that_follows_moves_and_cancellation():
    with time_machine.travel(datetime(2026, 11, 1, 12, tzinfo=LONDON)):
        appointment = _session(datetime(2026, 11, 10, 14, tzinfo=LONDON), status=Appointment.Status.BOOKED)
        reminders_sync(appointment=appointment)
        assert _rows(appointment)[M.REMINDER_48H].due_at == datetime(2026, 11, 8, 14, tzinfo=LONDON)

        moved = datetime(2026, 11, 12, 9, tzinfo=LONDON)
        Appointment.objects.filter(pk=appointment.pk).update(start=moved, end=moved + timedelta(hours=3))
        reminders_sync(appointment=appointment)
        assert _rows(appointment)[M.REMINDER_48H].due_at == datetime(2026, 11, 10, 9, tzinfo=LONDON)

        Appointment.objects.filter(pk=appointment.pk).update(status="cancelled", cancelled_at=timezone.now())
        reminders_sync(appointment=appointment)
        assert _rows(appointment)[M.REMINDER_48H].status == S.CANCELLED


def test_booking_less_than_a_day_ahead_gets_no_reminder_and_a_day_and_a_half_ahead_gets_one_now():
    now = datetime(2026, 11, 1, 12, tzinfo=LONDON)
    with time_machine.travel(now, tick=False):
        soon = _session(now + timedelta(hours=20), status=Appointment.Status.BOOKED)
        later = _session(now + timedelta(hours=36), status=Appointment.Status.BOOKED)
        reminders_sync(appointment=soon)
        reminders_sync(appointment=later)

    assert M.REMINDER_48H not in _rows(soon)
    assert _rows(later)[M.REMINDER_48H].due_at == now


def test_erased_client_gets_no_messages_at_all():
    appointment = _complete(_session(datetime(2026, 11, 2, 10, tzinfo=LONDON)))
    appointment.client.erased_at = datetime(2026, 11, 3, 12, tzinfo=LONDON)
    appointment.client.save()
    reminders_sync(appointment=appointment)

    assert {r.status for r in _rows(appointment).values()} == {S.CANCELLED}


def test_opted_out_client_gets_essential_aftercare_but_no_follow_ups():
    course = CourseFactory(planned_sessions=2)
    course.client.reminders_opt_in = False
    course.client.save()
    appointment = _complete(
        _session(datetime(2026, 11, 2, 10, tzinfo=LONDON), client=course.client, course=course, session_number=1)
    )

    assert set(_rows(appointment)) == {M.AFTERCARE_DAY_4, M.AFTERCARE_DAY_7, M.AFTERCARE_DAY_10}


def test_next_session_prompt_on_day_10_is_cancelled_once_the_next_session_is_booked():
    course = CourseFactory(planned_sessions=3)
    first = _complete(
        _session(datetime(2026, 11, 2, 10, tzinfo=LONDON), client=course.client, course=course, session_number=1)
    )
    prompt = _rows(first)[M.NEXT_SESSION_PROMPT]
    assert timezone.localtime(prompt.due_at, LONDON) == datetime(2026, 11, 12, 9, tzinfo=LONDON)
    assert M.TOUCH_UP_RECALL not in _rows(first)
    assert Course.objects.get(pk=course.pk).status == Course.Status.IN_PROGRESS

    with time_machine.travel(datetime(2026, 11, 5, tzinfo=LONDON)):
        second = _session(
            datetime(2026, 11, 20, 10, tzinfo=LONDON), client=course.client, course=course, session_number=2
        )
        reminders_sync(appointment=second)

    assert _rows(first)[M.NEXT_SESSION_PROMPT].status == S.CANCELLED


def test_last_session_of_a_course_writes_a_touch_up_recall_after_the_configured_months(settings):
    settings.TOUCH_UP_RECALL_MONTHS = 18
    course = CourseFactory(planned_sessions=1)
    last = _complete(
        _session(datetime(2026, 8, 31, 10, tzinfo=LONDON), client=course.client, course=course, session_number=1)
    )

    recall = _rows(last)[M.TOUCH_UP_RECALL]
    assert timezone.localtime(recall.due_at, LONDON) == datetime(2028, 2, 29, 9, tzinfo=LONDON)  # 31 Aug + 18 months
    assert M.NEXT_SESSION_PROMPT not in _rows(last)
    assert Course.objects.get(pk=course.pk).status == Course.Status.COMPLETED


def test_touch_up_gets_aftercare_and_a_recall_24_months_on():
    touch_up = _complete(_session(datetime(2026, 11, 2, 10, tzinfo=LONDON), kind=Appointment.Kind.TOUCH_UP))

    rows = _rows(touch_up)
    assert {M.AFTERCARE_DAY_4, M.AFTERCARE_DAY_7, M.AFTERCARE_DAY_10, M.TOUCH_UP_RECALL} <= set(rows)
    assert timezone.localtime(rows[M.TOUCH_UP_RECALL].due_at, LONDON).date() == datetime(2028, 11, 2).date()


def test_back_dated_completion_skips_aftercare_days_long_past():
    appointment = _session(datetime(2026, 11, 2, 10, tzinfo=LONDON))
    with time_machine.travel(datetime(2026, 11, 11, 12, tzinfo=LONDON)):
        appointment_complete(appointment=appointment, by=staff_user(role="Manager"))

    assert set(m for m in _rows(appointment) if m.startswith("aftercare")) == {M.AFTERCARE_DAY_10}


@pytest.mark.parametrize(
    "name",
    [
        "bookings:manage",
        "bookings:intake",
        "bookings:identity_confirm",
        "bookings:waitlist_claim",
        "bookings:session_record",
        "client_messages:unsubscribe",
    ],
)
@pytest.mark.parametrize("token", ["eyJhIjo1fQ:1vxY2z:AbC-dE_f", ".eJyrVkpUslIyVqoFAA:x", "needs quoting?&é"])
def test_a_signed_link_is_the_url_reverse_gives(name, token):
    """The outbox looks each signed-link route up once (_token_url): the same URL as reverse()
    for any token, under any script prefix."""
    assert _token_url(name, token) == reverse(name, args=[token])
    set_script_prefix("/clinic/")
    try:
        assert _token_url(name, token) == reverse(name, args=[token])
        assert _token_url(name, token).startswith("/clinic/")
    finally:
        set_script_prefix("/")
