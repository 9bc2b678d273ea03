"""Booking confirmed, moved and cancelled: queued by the services in the change's own
transaction, sent by the dispatcher with one calendar event per appointment (the real-worker
tests are in test_worker_booking_messages.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, transaction
from icalendar import Calendar
from kombu.exceptions import OperationalError

from bookings.models import Appointment, ClientMessage
from bookings.services.booking import SlotTaken, appointment_book, appointment_cancel, appointment_reschedule
from bookings.services.messaging import client_message_queue
from bookings.services.outbox import reminders_dispatch
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, technician_working
from clients.tests.factories import ClientFactory

LONDON = ZoneInfo("Europe/London")
K = ClientMessage.Kind
NOW = datetime(2027, 3, 20, 9, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def location():
    BookingPolicyFactory()
    location = LocationFactory(name="Manchester", phone="0161 496 0123")
    technician_working(location=location)
    return location


def _book(location, start: datetime, **kwargs) -> Appointment:
    return appointment_book(
        client=kwargs.pop("client", None) or ClientFactory(first_name="Robin", reminders_opt_in=False),
        location=location,
        kind=Appointment.Kind.CONSULTATION,
        start=start,
        channel=kwargs.pop("channel", Appointment.Channel.ONLINE),
        **kwargs,
    )


def _sent_email(mailoutbox, kind: str):
    (mail,) = [m for m in mailoutbox if m.extra_headers["X-SMP-Outbox-Id"] in _ids(kind)]
    return mail


def _ids(kind: str) -> set[str]:
    return {str(pk) for pk in ClientMessage.objects.filter(kind=kind, channel="email").values_list("pk", flat=True)}


def _ics(mail) -> tuple[Calendar, object]:
    (name, content, mimetype) = mail.attachments[0]
    assert name.endswith(".ics")
    assert mimetype == "text/calendar"
    calendar = Calendar.from_ical(content)
    return calendar, calendar.walk("VEVENT")[0]


def test_booking_queues_a_confirmation_per_channel_and_sends_nothing_itself(location, mailoutbox):
    appointment = _book(location, datetime(2027, 3, 25, 10, tzinfo=LONDON))
    rows = ClientMessage.objects.filter(appointment=appointment)
    assert sorted(rows.values_list("kind", "channel", "sequence", "status")) == [
        ("confirmation", "email", 0, "pending"),
        ("confirmation", "sms", 0, "pending"),
    ]
    assert mailoutbox == []
    assert rows.first().due_at == NOW


def test_a_booking_rolled_back_leaves_no_message(location):
    start = datetime(2027, 3, 25, 10, tzinfo=LONDON)

    def book_twice():
        with transaction.atomic():
            _book(location, start)
            _book(location, start)  # refused: the whole transaction, first booking included, goes

    with pytest.raises(SlotTaken):
        book_twice()
    assert not Appointment.objects.exists()
    assert not ClientMessage.objects.exists()


def test_staff_bookings_confirm_too_unless_the_caller_says_not_to(location):
    by_phone = _book(location, datetime(2027, 3, 25, 10, tzinfo=LONDON), channel=Appointment.Channel.PHONE)
    assert by_phone.messages.filter(kind=K.CONFIRMATION).count() == 2
    quiet = _book(location, datetime(2027, 3, 26, 10, tzinfo=LONDON), notify=False)
    assert not quiet.messages.exists()


def test_confirmation_move_and_cancel_carry_one_calendar_event_with_a_growing_sequence(location, mailoutbox):
    appointment = _book(location, datetime(2027, 3, 25, 10, tzinfo=LONDON))
    assert reminders_dispatch(now=NOW) == {"sent": 2}  # e-mail and SMS
    appointment_reschedule(appointment=appointment, start=datetime(2027, 3, 26, 14, tzinfo=LONDON))
    assert reminders_dispatch(now=NOW) == {"sent": 2}
    appointment_cancel(appointment=appointment, by_client=False)
    assert reminders_dispatch(now=NOW) == {"sent": 2}

    confirmation, moved, cancelled = (_sent_email(mailoutbox, k) for k in (K.CONFIRMATION, K.MOVED, K.CANCELLED))
    (cal1, ev1), (cal2, ev2), (cal3, ev3) = _ics(confirmation), _ics(moved), _ics(cancelled)
    assert ev1["uid"] == ev2["uid"] == ev3["uid"] == f"{appointment.reference}@smpclinic"
    assert [ev["sequence"] for ev in (ev1, ev2, ev3)] == [0, 1, 2]
    assert [cal["method"] for cal in (cal1, cal2, cal3)] == ["REQUEST", "REQUEST", "CANCEL"]
    assert [ev["status"] for ev in (ev1, ev2, ev3)] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert ev1["organizer"] == ev2["organizer"] == ev3["organizer"]
    assert ev1.decoded("dtstart") == datetime(2027, 3, 25, 10, tzinfo=UTC)
    assert ev2.decoded("dtstart") == datetime(2027, 3, 26, 14, tzinfo=UTC)

    assert "is booked" in confirmation.subject
    assert "/booking/" in confirmation.body  # the signed manage link
    assert "has moved" in moved.subject
    assert "Was: Thursday 25 March 2027, 10:00" in moved.body
    assert "Now: Friday 26 March 2027, 14:00 to 14:45" in moved.body
    assert "is cancelled" in cancelled.subject
    assert "Friday 26 March 2027 at 14:00" in cancelled.body
    for mail in (confirmation, moved, cancelled):
        # Transactional: sent although the client opted out of reminders, with no unsubscribe.
        assert "List-Unsubscribe" not in mail.extra_headers
        assert "whatever your reminder settings" in mail.body


def test_times_stay_right_across_the_clock_change(location, mailoutbox):
    # Booked in GMT (10:00 is 10:00 UTC), moved into BST (10:00 is 09:00 UTC) on 29 March 2027.
    appointment = _book(location, datetime(2027, 3, 26, 10, tzinfo=LONDON))
    reminders_dispatch(now=NOW)
    appointment_reschedule(appointment=appointment, start=datetime(2027, 3, 29, 10, tzinfo=LONDON))
    reminders_dispatch(now=NOW)
    _, before = _ics(_sent_email(mailoutbox, K.CONFIRMATION))
    moved = _sent_email(mailoutbox, K.MOVED)
    _, after = _ics(moved)
    assert before.decoded("dtstart") == datetime(2027, 3, 26, 10, tzinfo=UTC)
    assert after.decoded("dtstart") == datetime(2027, 3, 29, 9, tzinfo=UTC)
    assert after.decoded("dtend") == datetime(2027, 3, 29, 9, 45, tzinfo=UTC)
    assert "Was: Friday 26 March 2027, 10:00" in moved.body
    assert "Now: Monday 29 March 2027, 10:00 to 10:45" in moved.body


def test_each_move_is_its_own_message_with_the_times_of_its_own_change(location):
    appointment = _book(location, datetime(2027, 3, 25, 10, tzinfo=LONDON))
    appointment_reschedule(appointment=appointment, start=datetime(2027, 3, 25, 12, tzinfo=LONDON))
    appointment_reschedule(appointment=appointment, start=datetime(2027, 3, 25, 15, tzinfo=LONDON))
    moves = list(ClientMessage.objects.filter(kind=K.MOVED, channel="email").order_by("sequence"))
    assert [m.sequence for m in moves] == [1, 2]
    assert datetime.fromisoformat(moves[0].payload["previous_start"]) == datetime(2027, 3, 25, 10, tzinfo=UTC)
    assert datetime.fromisoformat(moves[0].payload["start"]) == datetime(2027, 3, 25, 12, tzinfo=UTC)
    assert datetime.fromisoformat(moves[1].payload["previous_start"]) == datetime(2027, 3, 25, 12, tzinfo=UTC)
    appointment.refresh_from_db()
    assert appointment.ics_sequence == 2


def test_a_later_change_replaces_a_message_still_waiting(location, mailoutbox):
    appointment = _book(location, datetime(2027, 3, 25, 10, tzinfo=LONDON))
    appointment_cancel(appointment=appointment, by_client=True)
    assert reminders_dispatch(now=NOW) == {"skipped": 2, "sent": 2}
    (mail,) = mailoutbox
    assert "is cancelled" in mail.subject
    confirmation = appointment.messages.get(kind=K.CONFIRMATION, channel="email")
    assert confirmation.status == ClientMessage.Status.CANCELLED
    assert "later change" in confirmation.last_error


def test_an_erased_client_gets_no_change_message(location, mailoutbox):
    appointment = _book(location, datetime(2027, 3, 25, 10, tzinfo=LONDON))
    client = appointment.client
    client.erased_at = NOW
    client.save()
    assert reminders_dispatch(now=NOW) == {"skipped": 2}
    assert client_message_queue(appointment=appointment, kind=K.CANCELLED) == []
    assert mailoutbox == []


def test_only_change_kinds_can_be_queued(location):
    appointment = _book(location, datetime(2027, 3, 25, 10, tzinfo=LONDON))
    with pytest.raises(ValueError, match="not a change message"):
        client_message_queue(appointment=appointment, kind=K.REMINDER_48H)


def test_queuing_one_change_twice_keeps_one_row_per_channel(location):
    appointment = _book(location, datetime(2027, 3, 25, 10, tzinfo=LONDON))
    again = client_message_queue(appointment=appointment, kind=K.CONFIRMATION)
    assert len(again) == 2
    assert appointment.messages.count() == 2


def test_the_database_refuses_two_rows_for_one_change_but_allows_one_per_move(location):
    appointment = _book(location, datetime(2027, 3, 25, 10, tzinfo=LONDON), notify=False)
    common = {"appointment": appointment, "kind": K.MOVED, "channel": "email", "due_at": NOW}
    ClientMessage.objects.create(sequence=1, **common)
    ClientMessage.objects.create(sequence=2, **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientMessage.objects.create(sequence=2, **common)


def test_the_dispatcher_is_woken_after_commit_and_a_broker_failure_does_not_break_booking(
    location, django_capture_on_commit_callbacks, caplog
):
    from celery import current_app

    from bookings.services.messaging import _wake_dispatcher
    from bookings.tasks import reminders_dispatch as task

    with mock.patch.object(current_app, "send_task") as wake, django_capture_on_commit_callbacks(execute=True):
        _book(location, datetime(2027, 3, 25, 10, tzinfo=LONDON))
    wake.assert_called_once_with(task.name, retry=False, expires=55)

    _wake_dispatcher.reset()  # a second later: the next booking wakes it at once again
    broken = mock.patch.object(
        current_app, "send_task", side_effect=OperationalError("Error 111 connecting to 127.0.0.1:6379")
    )
    with broken, caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        appointment = _book(location, datetime(2027, 3, 25, 12, tzinfo=LONDON))
    assert appointment.pk
    assert appointment.messages.filter(status="pending").count() == 2  # beat's tick sends them
    assert "beat will pick the message up" in caplog.text


def test_moving_to_the_same_time_sends_nothing(location):
    appointment = _book(location, datetime(2027, 3, 25, 10, tzinfo=LONDON))
    appointment_reschedule(appointment=appointment, start=appointment.start + timedelta(0))
    assert not appointment.messages.filter(kind=K.MOVED).exists()
