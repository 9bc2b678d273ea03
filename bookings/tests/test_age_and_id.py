"""Clients must be 18 or over: the public form asks for the date of birth and refuses under-18s (age on
the appointment's day at the clinic), staff bookings too; the consultation records the ID check, and a
first session cannot be completed without it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from bookings.models import Appointment
from bookings.services.appointments import appointment_complete, appointment_staff_book
from bookings.services.safety import BookingRefused, age_check
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from bookings.tests.test_appointment_admin_edits import _post_change
from bookings.tests.test_booking_admin import _management_forms
from clients.ages import adult_from, age_on
from clients.models import AuditEvent, Client, ConsentWording
from clients.services import client_id_check_record
from clients.tests.conftest import PASSWORD
from clients.tests.factories import ClientFactory, ConsentWordingFactory, staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
SLOT = "2026-12-01T10:00:00+00:00"  # 1 December 2026, 10:00 in London (GMT)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def place():
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="manchester", name="Manchester", phone="0161 496 0000")
    technician = technician_working(location=location, user=staff_user(role="Technician", username="tech"))
    return {"location": location, "technician": technician, "manager": staff_user(role="Manager", username="boss")}


def _book(client, born: str):
    return client.post(
        reverse("bookings:book"),
        {
            "location": "manchester",
            "treatment": "",
            "start": SLOT,
            "first_name": "Jo",
            "last_name": "Young",
            "email": "jo@example.com",
            "phone": "07700 900123",
            "date_of_birth": born,
            "health_consent": "on",
            "website": "",
        },
    )


# The public form ------------------------------------------------------------------------------


def test_the_booking_form_asks_for_the_date_of_birth(client, place):
    page = client.get(reverse("bookings:book"), {"location": "manchester", "start": "2026-12-01"})
    assert 'name="date_of_birth"' in page.content.decode()
    response = _book(client, "")
    assert response.status_code == 400
    assert "Enter your date of birth." in response.content.decode()
    assert not Client.objects.exists()


def test_an_under_18_is_refused_on_the_public_form_and_nothing_is_kept(client, place):
    response = _book(client, "2010-05-01")
    assert response.status_code == 400
    assert "We can only treat clients aged 18 or over" in response.content.decode()
    assert "from 01 May 2028" in response.content.decode()
    assert not Client.objects.exists()
    assert not Appointment.objects.exists()


def test_the_day_before_the_18th_birthday_is_refused(client, place):
    response = _book(client, "2008-12-02")  # 18 on 2 December, the day after the appointment
    assert response.status_code == 400
    assert "aged 18 or over" in response.content.decode()
    assert not Appointment.objects.exists()


def test_on_the_18th_birthday_the_booking_is_taken_and_the_date_of_birth_kept(client, place):
    response = _book(client, "2008-12-01")
    assert response.status_code == 302
    booked = Appointment.objects.get()
    assert booked.client.date_of_birth == date(2008, 12, 1)
    created = AuditEvent.objects.get(object_type="client", object_id=str(booked.client_id))
    assert "date_of_birth" in created.fields


def test_a_date_of_birth_in_the_future_is_refused_with_a_message(client, place):
    response = _book(client, "2030-01-01")
    assert response.status_code == 400
    assert "Enter your real date of birth." in response.content.decode()


# Ages, 29 February, the clinic's day ----------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "day", "age"),
    [
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2008, 2, 29), date(2028, 2, 29), 20),
        (date(2008, 12, 1), date(2026, 11, 30), 17),
        (date(2008, 12, 1), date(2026, 12, 1), 18),
    ],
)
def test_age_on_counts_whole_years_and_a_leap_day_birthday_comes_on_1_march(born, day, age):
    assert age_on(born=born, day=day) == age


def test_a_leap_day_baby_is_18_from_1_march_in_a_common_year():
    assert adult_from(date(2008, 2, 29)) == date(2026, 3, 1)
    assert adult_from(date(2008, 3, 1)) == date(2026, 3, 1)


def test_the_age_is_taken_on_the_appointments_day_in_london_not_in_utc(place):
    person = ClientFactory(date_of_birth=date(2009, 6, 15))
    # 00:30 on 15 June 2027 in London (BST) is still 14 June in UTC: the birthday counts.
    age_check(client=person, start=datetime(2027, 6, 14, 23, 30, tzinfo=UTC), location=place["location"])
    with pytest.raises(BookingRefused, match="aged 18 or over") as refused:
        age_check(client=person, start=datetime(2027, 6, 14, 22, 30, tzinfo=UTC), location=place["location"])
    assert refused.value.code == "under_18"


def test_staff_cannot_book_an_under_18_either(place):
    person = ClientFactory(date_of_birth=date(2012, 2, 29))
    common = {
        "by": place["manager"],
        "client": person,
        "location": place["location"],
        "kind": Appointment.Kind.CONSULTATION,
        "technician": place["technician"],
    }
    # 2030 is a common year: 18 on 1 March, not on 28 February.
    with pytest.raises(BookingRefused, match="from 01 March 2030"):
        appointment_staff_book(start=datetime(2030, 2, 28, 10, tzinfo=LONDON), **common)
    assert not Appointment.objects.exists()
    booked = appointment_staff_book(start=datetime(2030, 3, 1, 10, tzinfo=LONDON), **common)
    assert booked.client == person


# The ID check, and completing a first session ------------------------------------------------


def _first_session(place, person, **extra):
    start = NOW - timedelta(hours=3)
    return AppointmentFactory(
        client=person,
        location=place["location"],
        technician=place["technician"],
        kind=Appointment.Kind.TREATMENT_SESSION,
        start=start,
        end=start + timedelta(hours=2),
        **extra,
    )


def test_a_first_session_cannot_be_completed_without_the_id_check(place):
    person = ClientFactory(id_checked_at=None, id_document="")
    session = _first_session(place, person)
    with pytest.raises(ValidationError, match="photo ID has not been checked") as refused:
        appointment_complete(appointment=session, by=place["manager"])
    assert refused.value.code == "id_not_checked"
    session.refresh_from_db()
    assert session.status == Appointment.Status.BOOKED
    assert not AuditEvent.objects.filter(object_type="appointment").exists()


def test_after_the_id_check_the_first_session_completes_and_both_are_audited(place):
    person = ClientFactory(id_checked_at=None, id_document="", date_of_birth=None)
    session = _first_session(place, person)
    checked = client_id_check_record(
        client=person, document=Client.IdDocument.DRIVING_LICENCE, date_of_birth=date(1990, 4, 2), by=place["manager"]
    )
    assert (checked.id_checked_at, checked.id_checked_by, checked.date_of_birth) == (
        NOW,
        place["manager"],
        date(1990, 4, 2),
    )
    event = AuditEvent.objects.get(object_type="client", object_id=str(person.pk))
    assert event.actor == place["manager"]
    assert set(event.fields) == {"id_checked_at", "id_checked_by", "id_document", "date_of_birth"}
    assert event.detail == "ID checked: driving_licence"
    assert appointment_complete(appointment=session, by=place["manager"]).status == Appointment.Status.COMPLETED


def test_a_later_session_completes_without_a_new_check(place):
    person = ClientFactory(id_checked_at=None, id_document="")
    before = NOW - timedelta(days=20)
    AppointmentFactory(  # session 1, completed before the ID rule existed
        client=person,
        location=place["location"],
        technician=place["technician"],
        kind=Appointment.Kind.TREATMENT_SESSION,
        start=before,
        end=before + timedelta(hours=2),
        status=Appointment.Status.COMPLETED,
        completed_at=before + timedelta(hours=2),
    )
    later = _first_session(place, person)
    assert appointment_complete(appointment=later, by=place["manager"]).status == Appointment.Status.COMPLETED


def test_an_id_check_showing_an_under_18_is_refused(place):
    person = ClientFactory(id_checked_at=None, id_document="", date_of_birth=None)
    with pytest.raises(ValidationError, match="aged 18 or over"):
        client_id_check_record(
            client=person, document=Client.IdDocument.PASSPORT, date_of_birth=date(2009, 1, 1), by=place["manager"]
        )
    person.refresh_from_db()
    assert person.id_checked_at is None


def test_the_workspace_button_records_the_id_check(client, place):
    person = ClientFactory(id_checked_at=None, id_document="", date_of_birth=None)
    consultation = AppointmentFactory(
        client=person,
        location=place["location"],
        technician=place["technician"],
        start=NOW - timedelta(hours=1),
        end=NOW - timedelta(minutes=15),
    )
    client.login(username="tech", password=PASSWORD)
    url = reverse("staff:appointment", args=[consultation.pk])
    assert "ID not checked" in client.get(url).content.decode()
    check = reverse("staff:id_check", args=[consultation.pk])
    refused = client.post(check, {"id_document": "passport", "date_of_birth": "2010-01-01"})
    assert refused.status_code == 400
    assert "aged 18 or over" in refused.content.decode()
    missing = client.post(check, {"id_document": "passport"})
    assert missing.status_code == 400
    assert "Enter the date of birth on the ID." in missing.content.decode()
    response = client.post(check, {"id_document": "passport", "date_of_birth": "1988-07-09"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.id_document, person.id_checked_by) == ("passport", place["technician"].user)
    assert "ID checked" in client.get(url).content.decode()


def test_the_admin_records_the_id_check_and_refuses_completion_without_it(client, place):
    login_as(client, place["manager"])
    person = ClientFactory(id_checked_at=None, id_document="")
    session = _first_session(place, person)
    response = _post_change(client, session, status="completed")
    assert "photo ID has not been checked" in response.content.decode()
    session.refresh_from_db()
    assert session.status == Appointment.Status.BOOKED

    page = client.get(reverse("admin:clients_client_change", args=[person.pk]))
    assert 'name="record_id_check"' in page.content.decode()
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update(_management_forms(page.content.decode()))
    data.update(
        {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "phone": "07700 900777",
            "date_of_birth": "14/03/1985",
            "preferred_channel": "email",
            "reminders_opt_in": "on",
            "record_id_check": "pass_card",
        }
    )
    saved = client.post(reverse("admin:clients_client_change", args=[person.pk]), data)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    person.refresh_from_db()
    assert (person.id_document, person.id_checked_by) == ("pass_card", place["manager"])
    assert appointment_complete(appointment=session, by=place["manager"]).status == Appointment.Status.COMPLETED


def test_a_consultation_start_time_is_never_refused_for_want_of_a_date_of_birth(place):
    person = ClientFactory(date_of_birth=None, id_checked_at=None, id_document="")
    booked = appointment_staff_book(
        by=place["manager"],
        client=person,
        location=place["location"],
        kind=Appointment.Kind.CONSULTATION,
        technician=place["technician"],
        start=datetime.combine(date(2026, 11, 10), time(10), tzinfo=LONDON),
    )
    assert booked.client == person
