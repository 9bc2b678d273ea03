"""The review request after a course's last session, once healed: who gets it, when, once."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from bookings.models import Appointment, ClientMessage, Course
from bookings.services.appointments import appointment_complete
from bookings.services.messaging import reminders_sync
from bookings.services.outbox import reminders_dispatch
from bookings.tests.factories import AppointmentFactory, CourseFactory, LocationFactory
from clients.models import SessionNote
from clients.tests.factories import ClientFactory, SessionNoteFactory, staff_user

LONDON = ZoneInfo("Europe/London")
FIRST = datetime(2026, 9, 1, 10, tzinfo=LONDON)
M = ClientMessage.Kind
S = ClientMessage.Status
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _review_link(settings):
    settings.REVIEW_URL = "https://reviews.example.com/smp-clinic"
    settings.REVIEW_REQUEST_DAYS = 30


def _course(*, planned: int = 2, client=None, location=None) -> tuple[Course, list[Appointment]]:
    client = client or ClientFactory(marketing_email_opt_in=True)
    location = location or LocationFactory()
    course = CourseFactory(client=client, planned_sessions=planned)
    sessions = [
        AppointmentFactory(
            kind=Appointment.Kind.TREATMENT_SESSION,
            client=client,
            location=location,
            course=course,
            treatment=course.treatment,
            session_number=n,
            start=FIRST + timedelta(days=21 * (n - 1)),
            end=FIRST + timedelta(days=21 * (n - 1), hours=3),
        )
        for n in range(1, planned + 1)
    ]
    return course, sessions


def _complete(appointment: Appointment) -> Appointment:
    with time_machine.travel(appointment.end, tick=False):
        return appointment_complete(appointment=appointment, by=staff_user(role="Manager"))


def _review_mails(mailoutbox) -> list:
    # The dispatcher also sends the sessions' aftercare, due before the review.
    return [m for m in mailoutbox if m.subject.startswith("How did your")]


def _reviews(course: Course) -> list[ClientMessage]:
    return list(ClientMessage.objects.filter(appointment__course=course, kind=M.REVIEW_REQUEST))


def test_the_last_session_owes_one_review_request_thirty_days_on_at_nine_local():
    course, (first, last) = _course()
    _complete(first)
    assert _reviews(course) == []

    _complete(last)

    (row,) = _reviews(course)
    assert row.appointment_id == last.pk
    assert row.status == S.PENDING
    assert timezone.localtime(row.due_at, LONDON) == datetime(2026, 10, 22, 9, 0, tzinfo=LONDON)


def test_the_days_are_configurable(settings):
    settings.REVIEW_REQUEST_DAYS = 45
    course, (first, last) = _course()
    _complete(first)
    _complete(last)

    (row,) = _reviews(course)
    assert timezone.localtime(row.due_at, LONDON).date() == (last.start + timedelta(days=45)).date()


def test_a_client_who_opted_out_of_marketing_is_never_asked():
    course, (first, last) = _course(client=ClientFactory(marketing_email_opt_in=False, marketing_sms_opt_in=True))
    _complete(first)
    _complete(last)

    assert _reviews(course) == []


@pytest.mark.parametrize("reaction", [SessionNote.Reaction.INFECTION, SessionNote.Reaction.ALLERGIC])
def test_a_client_with_a_recorded_complication_is_never_asked(reaction):
    course, (first, last) = _course()
    SessionNoteFactory(appointment=first, reactions=["redness", reaction])
    _complete(first)
    _complete(last)

    assert _reviews(course) == []


def test_normal_reactions_are_not_a_complication():
    course, (first, last) = _course()
    SessionNoteFactory(appointment=first, reactions=["redness", "scabs", "itching"])
    _complete(first)
    _complete(last)

    assert len(_reviews(course)) == 1


def test_a_complication_recorded_after_the_row_was_written_stops_it_at_send_time(mailoutbox):
    course, (first, last) = _course()
    _complete(first)
    _complete(last)
    (row,) = _reviews(course)
    SessionNoteFactory(appointment=last, reactions=[SessionNote.Reaction.INFECTION])

    with time_machine.travel(row.due_at, tick=False):
        reminders_dispatch(now=row.due_at)

    row.refresh_from_db()
    assert row.status == S.CANCELLED
    assert "no review request is owed" in row.last_error
    assert _review_mails(mailoutbox) == []


def test_opting_out_of_marketing_after_the_row_was_written_stops_it(mailoutbox):
    course, (first, last) = _course()
    _complete(first)
    _complete(last)
    (row,) = _reviews(course)
    course.client.marketing_email_opt_in = False
    course.client.save()

    reminders_dispatch(now=row.due_at)

    row.refresh_from_db()
    assert row.status == S.CANCELLED
    assert _review_mails(mailoutbox) == []


def test_it_is_sent_once_per_course_with_the_locations_own_link(mailoutbox):
    location = LocationFactory(review_url="https://g.page/r/manchester-smp/review")
    course, (first, last) = _course(location=location)
    _complete(first)
    _complete(last)
    (row,) = _reviews(course)

    with time_machine.travel(row.due_at, tick=False):
        reminders_dispatch(now=row.due_at)
        reminders_dispatch(now=row.due_at + timedelta(minutes=5))
        # Completing again, or syncing another session of the course, owes nothing more.
        reminders_sync(appointment=last)
        reminders_sync(appointment=first)

    (mail,) = _review_mails(mailoutbox)
    assert "https://g.page/r/manchester-smp/review" in mail.body
    assert "reviews.example.com" not in mail.body
    assert [r.status for r in _reviews(course)] == [S.SENT]


def test_a_second_last_session_of_the_same_course_owes_no_second_request():
    course, (first, last) = _course()
    _complete(first)
    _complete(last)
    # The course is extended and a third session done: the course has had its request.
    Course.objects.filter(pk=course.pk).update(planned_sessions=3)
    extra = AppointmentFactory(
        kind=Appointment.Kind.TREATMENT_SESSION,
        client=course.client,
        location=last.location,
        course=course,
        treatment=course.treatment,
        session_number=3,
        start=last.start + timedelta(days=21),
        end=last.start + timedelta(days=21, hours=3),
    )
    _complete(extra)

    assert [r.appointment_id for r in _reviews(course)] == [last.pk]


def test_no_review_link_anywhere_means_no_request(settings):
    settings.REVIEW_URL = ""
    course, (first, last) = _course()
    _complete(first)
    _complete(last)

    assert _reviews(course) == []


def test_a_touch_up_or_a_cancelled_course_owes_none():
    course, (first, last) = _course()
    Course.objects.filter(pk=course.pk).update(status=Course.Status.CANCELLED)
    _complete(first)
    _complete(last)
    client = ClientFactory(marketing_email_opt_in=True)
    start = FIRST + timedelta(days=400)
    touch_up = AppointmentFactory(
        kind=Appointment.Kind.TOUCH_UP, client=client, start=start, end=start + timedelta(hours=2)
    )
    _complete(touch_up)

    assert not ClientMessage.objects.filter(kind=M.REVIEW_REQUEST).exists()
