"""Booking messages through a real Celery worker on Redis and PostgreSQL: what the client's
own manage link changes reaches them, and a mail server outage delays a confirmation without
breaking the booking or sending it twice. The worker's clock is the dispatcher's explicit `now`."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from icalendar import Calendar

from bookings.models import Appointment, ClientMessage
from bookings.services.booking import appointment_book
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, technician_working
from bookings.tests.mailers import delivered, read_all
from bookings.tests.smtp_sink import SmtpSink
from bookings.tokens import booking_token_make
from clients.models import ConsentWording
from clients.tests.factories import ClientFactory, ConsentWordingFactory

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
K = ClientMessage.Kind
pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def location():
    cache.clear()  # the booking form's rate limits live in the shared cache
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="manchester", name="Manchester", phone="0161 496 0000")
    technician_working(location=location)
    yield location
    cache.clear()


@pytest.fixture
def booked(location, celery_worker_process, worker_mail) -> Appointment:
    """A consultation on 1 December whose confirmation the worker has already sent."""
    with time_machine.travel(NOW, tick=False):
        appointment = appointment_book(
            client=ClientFactory(first_name="Robin"),
            location=location,
            kind=Appointment.Kind.CONSULTATION,
            start=datetime(2026, 12, 1, 10, tzinfo=LONDON),
            channel=Appointment.Channel.ONLINE,
        )
    celery_worker_process.dispatch(NOW)
    assert sum(delivered(worker_mail).values()) == 1
    return appointment


def _email(folder, kind: str):
    row = ClientMessage.objects.get(kind=kind, channel="email")
    assert row.status == ClientMessage.Status.SENT
    assert delivered(folder)[str(row.pk)] == 1
    (mail,) = [m for m in read_all(folder) if m["X-SMP-Outbox-Id"] == str(row.pk)]
    return mail


def _calendar(mail) -> Calendar:
    (part,) = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_content())


def test_a_cancel_through_the_clients_link_reaches_them_with_a_calendar_cancel(
    client, booked, celery_worker_process, worker_mail
):
    manage = reverse("bookings:manage", kwargs={"token": booking_token_make(appointment=booked)})
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        assert client.post(manage, {"action": "cancel"}).status_code == 302
    assert ClientMessage.objects.get(kind=K.CANCELLED, channel="email").status == ClientMessage.Status.PENDING

    celery_worker_process.dispatch(NOW + timedelta(hours=1, minutes=1))
    mail = _email(worker_mail, K.CANCELLED)
    assert "is cancelled" in mail["Subject"]
    calendar = _calendar(mail)
    event = calendar.walk("VEVENT")[0]
    confirmation = _calendar(_email(worker_mail, K.CONFIRMATION)).walk("VEVENT")[0]
    assert calendar["method"] == "CANCEL"
    assert event["status"] == "CANCELLED"
    assert event["uid"] == confirmation["uid"]
    assert event["sequence"] > confirmation["sequence"]


def test_a_move_through_the_clients_link_reaches_them_with_old_and_new_time(
    client, booked, celery_worker_process, worker_mail
):
    manage = reverse("bookings:manage", kwargs={"token": booking_token_make(appointment=booked)})
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        response = client.post(manage, {"action": "reschedule", "start": "2026-12-02T14:00:00+00:00"})
    assert response.status_code == 302

    celery_worker_process.dispatch(NOW + timedelta(hours=1, minutes=1))
    mail = _email(worker_mail, K.MOVED)
    text = mail.get_body(("plain",)).get_content()
    assert "Was: Tuesday 1 December 2026, 10:00" in text
    assert "Now: Wednesday 2 December 2026, 14:00" in text
    calendar = _calendar(mail)
    event = calendar.walk("VEVENT")[0]
    assert calendar["method"] == "REQUEST"
    assert event["sequence"] == 1
    assert event.decoded("dtstart") == datetime(2026, 12, 2, 14, tzinfo=UTC)
    assert sum(delivered(worker_mail).values()) == 2  # the confirmation, then the move: nothing else


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_with_the_mail_server_down_booking_succeeds_and_the_confirmation_is_retried_then_sent_once(
    client, location, celery_worker_start
):
    port = _free_port()  # nothing listens here until the sink starts below
    worker = celery_worker_start(name="smtp", MAILER_BACKEND="", EMAIL_URL=f"smtp://127.0.0.1:{port}")
    form = {
        "location": "manchester", "treatment": "", "start": "2026-12-01T10:00:00+00:00", "first_name": "Sam",
        "last_name": "Taylor", "email": "sam@example.com", "phone": "07700 900123", "description": "",
        "health_consent": "on", "date_of_birth": "1985-03-14", "website": "",
    }  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        began = time.monotonic()
        response = client.post(reverse("bookings:book"), form)
        took = time.monotonic() - began
    assert response.status_code == 302
    # The request never talks to the mail server (its timeout is 20 s); generous for a busy CI box.
    assert took < 5
    row = ClientMessage.objects.get(kind=K.CONFIRMATION, channel="email")

    worker.dispatch(NOW)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (ClientMessage.Status.PENDING, 1)
    assert row.next_attempt_at == NOW + timedelta(seconds=60)
    assert "refused" in row.last_error.lower()
    assert "sam@example.com" not in row.last_error

    sink = SmtpSink(port).start()
    try:
        worker.dispatch(NOW + timedelta(seconds=30))  # before its retry time: not tried again
        row.refresh_from_db()
        assert row.attempts == 1
        assert sink.messages == []

        worker.dispatch(NOW + timedelta(minutes=2))
        worker.dispatch(NOW + timedelta(minutes=3))  # a later tick sends nothing more
    finally:
        sink.stop()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at) == (ClientMessage.Status.SENT, 2, NOW + timedelta(minutes=2))
    (mail,) = sink.messages
    assert mail["X-SMP-Outbox-Id"] == str(row.pk)
    assert mail["To"] == "sam@example.com"
    assert "is booked" in mail["Subject"]
    assert _calendar(mail).walk("VEVENT")[0]["sequence"] == 0
