"""What the client hears when reception moves or cancels a booking in the admin: the same
messages, with the same calendar event, as when the client does it from their own link."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from icalendar import Calendar

from bookings.models import Appointment, ClientMessage
from bookings.services.booking import appointment_book
from bookings.services.outbox import reminders_dispatch
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, technician_working
from bookings.tests.test_appointment_admin_edits import _post_change
from clients.tests.factories import ClientFactory, staff_user

LONDON = ZoneInfo("Europe/London")
K = ClientMessage.Kind
NOW = datetime(2027, 3, 20, 9, tzinfo=UTC)
# Booked in GMT, moved across the 28 March 2027 clock change into BST.
BOOKED = datetime(2027, 3, 25, 10, tzinfo=LONDON)
MOVED = datetime(2027, 3, 30, 14, tzinfo=LONDON)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def booking():
    BookingPolicyFactory(change_notice_hours=24)
    location = LocationFactory(name="Manchester")
    technician_working(location=location)
    client = ClientFactory(email="robin@example.com", phone="", reminders_opt_in=False)
    return appointment_book(
        client=client, location=location, kind=Appointment.Kind.CONSULTATION, start=BOOKED, channel="online"
    )


@pytest.fixture
def reception(client):
    client.force_login(staff_user(role="Reception", username="desk"))
    return client


def _emails(mailoutbox, kind: str) -> list:
    ids = {str(pk) for pk in ClientMessage.objects.filter(kind=kind).values_list("pk", flat=True)}
    return [m for m in mailoutbox if m.extra_headers.get("X-SMP-Outbox-Id") in ids]


def _event(mail):
    (name, content, mimetype) = mail.attachments[0]
    assert (name.endswith(".ics"), mimetype) == (True, "text/calendar")
    calendar = Calendar.from_ical(content)
    return calendar, calendar.walk("VEVENT")[0]


def _confirmation_event(mailoutbox):
    (confirmation,) = _emails(mailoutbox, K.CONFIRMATION)
    return _event(confirmation)


def test_a_move_in_the_admin_tells_the_client_the_old_and_new_time_in_the_same_calendar_event(
    booking, reception, mailoutbox
):
    assert reminders_dispatch(now=NOW) == {"sent": 1}
    _, booked_event = _confirmation_event(mailoutbox)

    response = _post_change(reception, booking, start=MOVED, end=MOVED + timedelta(minutes=45))
    assert response.status_code == 200
    assert reminders_dispatch(now=NOW) == {"sent": 1}

    (moved,) = _emails(mailoutbox, K.MOVED)
    assert moved.to == ["robin@example.com"]
    assert "has moved" in moved.subject
    assert "Was: Thursday 25 March 2027, 10:00" in moved.body
    assert "Now: Tuesday 30 March 2027, 14:00" in moved.body  # BST: 13:00 UTC
    calendar, event = _event(moved)
    assert calendar["method"] == "REQUEST"
    assert event["uid"] == booked_event["uid"]
    assert event["sequence"] > booked_event["sequence"]
    assert event.decoded("dtstart") == datetime(2027, 3, 30, 13, tzinfo=UTC)


def test_a_cancel_in_the_admin_removes_the_event_from_the_clients_calendar(booking, reception, mailoutbox):
    reminders_dispatch(now=NOW)
    _, booked_event = _confirmation_event(mailoutbox)

    response = reception.post(
        reverse("admin:bookings_appointment_changelist"),
        {"action": "cancel", "index": 0, "_selected_action": [booking.pk], "apply": "1"},
        follow=True,
    )
    assert response.status_code == 200
    booking.refresh_from_db()
    assert booking.status == Appointment.Status.CANCELLED
    assert reminders_dispatch(now=NOW) == {"sent": 1}

    (cancelled,) = _emails(mailoutbox, K.CANCELLED)
    assert "is cancelled" in cancelled.subject
    calendar, event = _event(cancelled)
    assert (calendar["method"], event["status"]) == ("CANCEL", "CANCELLED")
    assert event["uid"] == booked_event["uid"]
    assert event["sequence"] > booked_event["sequence"]


def test_the_clients_own_link_moves_and_cancels_with_the_same_messages(booking, client, mailoutbox):
    reminders_dispatch(now=NOW)
    (confirmation,) = _emails(mailoutbox, K.CONFIRMATION)
    _, booked_event = _event(confirmation)
    manage = urlsplit(re.search(r"https?://\S+/booking/[^\s/]+/", confirmation.body).group(0)).path

    page = client.get(manage)
    assert page.status_code == 200
    response = client.post(manage, {"action": "reschedule", "start": MOVED.isoformat()})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.start == MOVED
    response = client.post(manage, {"action": "cancel"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == Appointment.Status.CANCELLED
    # The cancel replaces the move still waiting: one message, the move skipped.
    assert reminders_dispatch(now=NOW) == {"sent": 1, "skipped": 1}

    (cancelled,) = _emails(mailoutbox, K.CANCELLED)
    calendar, event = _event(cancelled)
    assert (calendar["method"], event["uid"]) == ("CANCEL", booked_event["uid"])
    assert event["sequence"] == booked_event["sequence"] + 2  # moved, then cancelled
