"""No personal data in the logs: every record logged over a whole journey, at DEBUG on every
logger, is scanned for the clients' names, e-mail addresses and phone numbers (as typed, E.164 and
national) and for the staff's usernames.

The journey runs in-process: a client books online, the outbox sends the confirmation (the
dispatcher the worker runs, called directly), reception logs in to the admin and finds the client
by name and by phone, the technician logs in to the workspace, finds the client, opens the record,
writes the session note and completes the session, the aftercare goes out, and the client moves
and then cancels the consultation from the link in the confirmation.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.cache import cache
from django.urls import reverse

from bookings.models import Appointment, ClientMessage
from bookings.services.outbox import reminders_dispatch
from bookings.tests.factories import (
    AppointmentFactory,
    BookingPolicyFactory,
    CourseFactory,
    LocationFactory,
    technician_working,
)
from bookings.tokens import booking_token_make
from clients.models import Client, ConsentWording
from clients.tests.conftest import PASSWORD
from clients.tests.factories import ClientFactory, ConsentWordingFactory, staff_user
from smpclinic.tests.logins import StaffClient
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)  # a Monday
SLOT = "2026-11-10T10:00:00+00:00"
MOVED = "2026-11-11T14:00:00+00:00"

BOOKER = {
    "first_name": "Ozymandias",
    "last_name": "Quillfeather",
    "email": "ozy.quillfeather@example.org",
    "phone": "07700 900461",
}
# Every form of the booker's and the existing client's details a log line could carry.
SECRETS = [
    "Ozymandias",
    "Quillfeather",
    "ozy.quillfeather@example.org",
    "ozy.quillfeather",
    "07700 900461",
    "07700900461",
    "+447700900461",
    "447700900461",
    "7700900461",
    "Philippa",
    "Thistlewood",
    "philippa.thistlewood@example.net",
    "07700 900987",
    "07700900987",
    "+447700900987",
    "7700900987",
]
STAFF = ["reception-kestrel", "technician-heron"]
STANDARD_RECORD_FIELDS = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


@pytest.fixture
def every_logger_at_debug(caplog):
    """Every logger at DEBUG and propagating to the root, where caplog listens: the most a
    LOG_LEVEL=DEBUG deploy could print. Only the loggers the project's LOGGING pins keep their
    level (the SQL logger, and the template logger, whose DEBUG lines dump whole contexts)."""
    pinned = set(django_settings.LOGGING.get("loggers", {}))
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(lg, lg.level, lg.propagate, lg.disabled) for lg in loggers]
    for lg in loggers:
        if lg.name not in pinned:
            lg.setLevel(logging.DEBUG)
        lg.propagate = True
        lg.disabled = False
    caplog.set_level(logging.DEBUG)
    yield caplog
    for lg, level, propagate, disabled in saved:
        lg.setLevel(level)
        lg.propagate = propagate
        lg.disabled = disabled


def _texts(record: logging.LogRecord) -> list[str]:
    texts = [record.getMessage(), str(record.msg), repr(record.args)]
    if record.exc_info:
        texts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        texts.append(record.exc_text)
    texts += [repr(value) for key, value in vars(record).items() if key not in STANDARD_RECORD_FIELDS]
    return texts


def leaks(records, secrets) -> list[str]:
    found = []
    for record in records:
        for text in _texts(record):
            for secret in secrets:
                if re.search(re.escape(secret), text, re.IGNORECASE):
                    found.append(f"{record.name} ({record.levelname}): {secret!r} in {text[:200]!r}")
    return found


def test_the_scan_finds_a_leak(every_logger_at_debug):
    # The scanner itself must be able to fail: a line with a phone number in an argument is caught.
    logging.getLogger("bookings.example").info("booked for %s", "+447700900461")
    logging.getLogger("bookings.example").info("x", extra={"who": "Quillfeather"})
    found = leaks(every_logger_at_debug.records, SECRETS)
    assert any(line.startswith("bookings.example") and "+447700900461" in line for line in found)
    assert any("Quillfeather" in line for line in found)


def test_a_whole_journey_logs_no_personal_data(every_logger_at_debug, mailoutbox, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    with time_machine.travel(NOW, tick=False) as traveller:
        BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
        ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
        location = LocationFactory(slug="manchester", name="Manchester")
        tech_user = staff_user(role="Technician", username="technician-heron")
        technician = technician_working(location=location, user=tech_user)
        staff_user(role="Reception", username="reception-kestrel")
        regular = ClientFactory(
            first_name="Philippa",
            last_name="Thistlewood",
            email="philippa.thistlewood@example.net",
            phone="07700 900987",
        )
        # The regular's treatment session this morning, in the technician's diary.
        course = CourseFactory(client=regular, treatment=TreatmentFactory(slug="hairline"), planned_sessions=3)
        session = AppointmentFactory(
            client=regular,
            technician=technician,
            location=location,
            kind=Appointment.Kind.TREATMENT_SESSION,
            treatment=course.treatment,
            course=course,
            session_number=1,
            start=NOW - timedelta(minutes=30),
            end=NOW + timedelta(hours=2, minutes=30),
        )

        every_logger_at_debug.clear()

        # 1. The client books online; the outbox sends the confirmation.
        public = StaffClient()
        booked = public.post(
            reverse("bookings:book"),
            {
                "location": "manchester",
                "treatment": "",
                "start": SLOT,
                **BOOKER,
                "description": "Thinning at the crown, Ozymandias Quillfeather here",
                "health_consent": "on",
                "date_of_birth": "1985-03-14",
                "marketing_opt_in": "on",
                "website": "",
            },
        )
        assert booked.status_code == 302, booked.content.decode()[:2000]
        assert public.get(booked["Location"]).status_code == 200
        consultation = Appointment.objects.get(client__last_name="Quillfeather")
        reminders_dispatch(now=NOW)
        assert any(BOOKER["email"] in mail.to for mail in mailoutbox)

        # 2. Reception logs in to the admin and finds both clients by name and by phone.
        desk = StaffClient()
        login = desk.post(reverse("admin:login"), {"username": "reception-kestrel", "password": PASSWORD})
        assert login.status_code == 302
        changelist = reverse("admin:clients_client_changelist")
        for query in ["Quillfeather", "07700 900461", "+447700900461", "Thistlewood", "07700900987"]:
            found = desk.get(changelist, {"q": query})
            assert found.status_code == 200
            assert "1 client" in found.content.decode() or "Quillfeather" in found.content.decode()
        booker = Client.objects.get(last_name="Quillfeather")
        assert desk.get(reverse("admin:clients_client_change", args=[booker.pk])).status_code == 200
        # A failed login with a client's e-mail as the username must not put it in a log line either.
        desk_wrong = StaffClient()
        desk_wrong.post(reverse("admin:login"), {"username": BOOKER["email"], "password": "wrong"})
        # Check-in from the day board.
        arrived = desk.post(
            reverse("admin:bookings_appointment_board_act"), {"appointment": session.pk, "action": "arrive"}
        )
        assert arrived.status_code in (200, 302)

        # 3. The technician logs in to the workspace, finds the client, writes the note, completes.
        tablet = StaffClient()
        login = tablet.post(reverse("staff:login"), {"username": "technician-heron", "password": PASSWORD})
        assert login.status_code == 302
        for query in ["Thistlewood", "07700 900987", "+447700900987"]:
            assert tablet.get(reverse("staff:clients"), {"q": query}).status_code == 200
        assert tablet.get(reverse("staff:client", args=[regular.pk])).status_code == 200
        assert tablet.get(reverse("staff:appointment", args=[session.pk])).status_code == 200
        note = tablet.post(
            reverse("staff:session_note", args=[session.pk]),
            {
                "areas": ["hairline"],
                "pigment_brand": "Acme",
                "pigment_shade": "2",
                "needle": "3RL",
                "duration_minutes": "150",
                "notes": "Philippa Thistlewood asked for a softer hairline",
            },
        )
        assert note.status_code == 302, note.content.decode().split("Session note</h1>")[-1][:3000]
        completed = tablet.post(reverse("staff:complete", args=[session.pk]), {"early": "confirmed"})
        assert completed.status_code == 302
        session.refresh_from_db()
        assert session.status == Appointment.Status.COMPLETED
        aftercare = ClientMessage.objects.filter(appointment=session).exclude(kind="confirmation")
        assert aftercare.exists()

        # 4. The aftercare goes out over the following days.
        for days in (4, 7, 10, 11):
            traveller.move_to(NOW + timedelta(days=days, hours=1))
            reminders_dispatch(now=NOW + timedelta(days=days, hours=1))
        assert aftercare.filter(status=ClientMessage.Status.SENT).exists()

        # 5. The client moves the consultation, then cancels it, from the link.
        traveller.move_to(NOW + timedelta(hours=1))
        manage = reverse("bookings:manage", kwargs={"token": booking_token_make(appointment=consultation)})
        assert public.get(manage).status_code == 200
        moved = public.post(manage, {"action": "reschedule", "start": MOVED})
        assert moved.status_code == 302, moved.content.decode()[:2000]
        assert public.post(manage, {"action": "cancel"}).status_code == 302
        consultation.refresh_from_db()
        assert consultation.status == Appointment.Status.CANCELLED
        reminders_dispatch(now=NOW + timedelta(hours=1))

        tablet.post(reverse("staff:logout"))
        desk.post(reverse("admin:logout"))

    records = every_logger_at_debug.records
    assert len(records) > 10, "the journey logged almost nothing: the scan would prove nothing"
    found = leaks(records, SECRETS)
    assert not found, "personal data in the logs:\n" + "\n".join(found)
    found = leaks(records, STAFF)
    assert not found, "staff usernames in the logs (mask them):\n" + "\n".join(found)
