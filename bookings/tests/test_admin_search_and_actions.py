"""Reception in the admin: find a client by a phone number typed any way or by a booking
reference; move an appointment from its own page of the list; resend its confirmation. Every
action goes through the booking services (audit row, outbox rows), a refusal is a message,
and nonsense in the search box or the filters is a 4xx or an empty list, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Appointment, ClientMessage
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from clients.models import AuditEvent
from clients.tests.factories import ClientFactory, staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
FUTURE = datetime.combine(NOW.date() + timedelta(days=6), time(10), tzinfo=LONDON)
S = Appointment.Status
K = ClientMessage.Kind


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def desk(client):
    user = staff_user(role="Reception", username="desk")
    login_as(client, user)
    return user


@pytest.fixture
def place():
    BookingPolicyFactory()
    location = LocationFactory()
    return {"location": location, "technician": technician_working(location=location)}


def _booked(place, start=FUTURE, **kwargs) -> Appointment:
    return AppointmentFactory(
        start=start,
        end=start + timedelta(minutes=45),
        technician=place["technician"],
        location=place["location"],
        **kwargs,
    )


def _found(client, url: str, **params) -> list:
    response = client.get(url, params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


CLIENTS = "admin:clients_client_changelist"
APPOINTMENTS = "admin:bookings_appointment_changelist"


# Search --------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["07700 900 123", "+44 7700900123", "07700900123", "(07700) 900-123"])
def test_a_client_is_found_by_their_phone_typed_with_any_spacing(client, desk, typed):
    sam = ClientFactory(first_name="Sam", last_name="Smith", phone="07700 900123")
    ClientFactory(phone="07700 900124")
    assert _found(client, reverse(CLIENTS), q=typed) == [sam]


def test_a_client_is_found_by_a_booking_reference_in_any_case(client, desk, place):
    appointment = _booked(place)
    _booked(place, start=FUTURE + timedelta(days=1))
    for typed in (appointment.reference, appointment.reference.lower(), appointment.reference.replace("-", " ")):
        assert _found(client, reverse(CLIENTS), q=typed) == [appointment.client]


def test_a_client_is_found_by_part_of_their_name_or_e_mail(client, desk):
    sam = ClientFactory(first_name="Sam", last_name="Smithson", email="sam@example.com")
    ClientFactory(first_name="Ann", last_name="Lee", email="ann@example.com")
    assert _found(client, reverse(CLIENTS), q="smiths") == [sam]
    assert _found(client, reverse(CLIENTS), q="sam@exa") == [sam]


def test_an_online_booking_to_match_is_found_by_its_phone_and_shows_it_nationally(client, desk):
    holder = ClientFactory(phone="07700 900320")
    waiting = ClientFactory(email=holder.email, match_of=holder, match_status="pending", phone="+447700900321")
    url = reverse("admin:bookings_bookingtomatch_changelist")
    assert [c.pk for c in _found(client, url, q="07700 900 321")] == [waiting.pk]
    listing = client.get(url).content.decode()
    assert "07700 900321" in listing
    assert "07700 900320" in listing


def test_an_appointment_is_found_by_its_reference_and_by_the_clients_phone(client, desk, place):
    appointment = _booked(place, client=ClientFactory(phone="07700 900777"))
    _booked(place, start=FUTURE + timedelta(days=1))
    assert _found(client, reverse(APPOINTMENTS), q=appointment.reference.lower()) == [appointment]
    assert _found(client, reverse(APPOINTMENTS), q="07700 900 777") == [appointment]


def test_the_upcoming_filter_lists_clients_with_an_appointment_still_to_come(client, desk, place):
    coming = _booked(place).client
    gone = _booked(place, start=NOW - timedelta(days=3)).client
    assert _found(client, reverse(CLIENTS), upcoming="yes") == [coming]
    assert gone in _found(client, reverse(CLIENTS), upcoming="no")


def test_the_date_filter_and_hierarchy_cost_no_scan_and_narrow_the_list(client, desk, place):
    today = _booked(place, start=NOW + timedelta(hours=1))
    later = _booked(place)
    assert _found(client, reverse(APPOINTMENTS), when="today") == [today]
    assert later in _found(client, reverse(APPOINTMENTS), when="next7")
    day = FUTURE.astimezone(LONDON)
    params = {"start__year": day.year, "start__month": day.month, "start__day": day.day}
    assert _found(client, reverse(APPOINTMENTS), **params) == [later]


@pytest.mark.parametrize("params", [{}, {"start__year": "2026"}, {"start__year": "2026", "start__month": "11"}])
def test_the_date_hierarchy_and_the_count_read_no_extra_rows(client, desk, place, params):
    _booked(place)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse(APPOINTMENTS), {**params, "q": "smith"})
    assert response.status_code == 200
    sql = [q["sql"].upper() for q in ctx.captured_queries]
    # Django's own hierarchy runs MIN/MAX and SELECT DISTINCT of the dates; the total a second COUNT.
    assert not [q for q in sql if "MIN(" in q or "DISTINCT" in q or "TRUNC" in q]
    assert len([q for q in sql if "COUNT(" in q]) == 1
    assert "start__year=2026" in response.content.decode()  # the calendar's links are there


@pytest.mark.parametrize("page", [CLIENTS, APPOINTMENTS])
@pytest.mark.parametrize(
    "params",
    [
        {"q": "a" * 5000},
        {"q": "SMP-" + "Z" * 300},
        {"q": "+" + "9" * 25},
        {"upcoming": "maybe"},
        {"when": "yesterday'--"},
        {"created_at__gte": "99999-01-01"},
        {"start__gte": "not a date"},
        {"preferred_channel__exact": "pigeon"},
    ],
)
def test_nonsense_in_the_search_or_filters_is_never_a_500(client, desk, place, page, params):
    _booked(place)
    response = client.get(reverse(page), params)
    assert response.status_code < 500
    if response.status_code == 200 and "cl" in (response.context or {}):
        assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize("page", [CLIENTS, APPOINTMENTS])
@pytest.mark.parametrize("params", [{"q": "07700\x00900123"}, {"start__year": "99999"}, {"when": "to\x00day"}])
def test_a_nul_byte_or_an_impossible_year_is_a_400(client, desk, page, params):
    assert client.get(reverse(page), params).status_code == 400


# Actions -------------------------------------------------------------------------------------


def _act(client, action: str, *appointments: Appointment, **extra):
    return client.post(
        reverse(APPOINTMENTS),
        {"action": action, "_selected_action": [a.pk for a in appointments], **extra},
    )


def _notes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_move_asks_for_the_new_time_on_a_page_of_its_own(client, desk, place):
    appointment = _booked(place)
    response = _act(client, "move", appointment, index=0)
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Move {appointment.reference}" in page
    assert 'name="start"' in page
    assert 'name="technician"' in page
    assert 'value="2026-11-26T10:00"' in page  # the clinic's clock


def test_move_moves_through_the_service_with_its_audit_row_and_the_clients_message(client, desk, place):
    appointment = _booked(place)
    response = _act(client, "move", appointment, apply="1", start="2026-11-26T14:00", technician="")
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.start == datetime(2026, 11, 26, 14, tzinfo=LONDON)
    event = AuditEvent.objects.get(object_type="appointment", object_id=str(appointment.pk), detail="moved")
    assert event.actor == desk
    assert "start" in event.fields
    moved = ClientMessage.objects.filter(appointment=appointment, kind=K.MOVED, status="pending")
    assert moved.exists()
    assert set(moved.values_list("channel", flat=True)) == {"email", "sms"}


def test_move_refuses_an_overlapping_time_with_a_clear_message(client, desk, place):
    appointment = _booked(place)
    _booked(place, start=datetime(2026, 11, 26, 14, tzinfo=LONDON))
    response = _act(client, "move", appointment, apply="1", start="2026-11-26T14:15", technician="")
    assert response.status_code == 400
    notes = _notes(response)
    assert any(appointment.reference in n and "not free" in n and "Nearest free times" in n for n in notes), notes
    appointment.refresh_from_db()
    assert appointment.start == FUTURE
    assert not ClientMessage.objects.filter(appointment=appointment, kind=K.MOVED).exists()
    assert not AuditEvent.objects.filter(object_type="appointment", detail="moved").exists()


@pytest.mark.parametrize("start", ["99999-01-01T10:00", "2026-13-45T99:99", "", "2031-11-26T10:00"])
def test_move_turns_an_impossible_time_into_a_message_not_a_500(client, desk, place, start):
    appointment = _booked(place)
    response = _act(client, "move", appointment, apply="1", start=start)
    assert response.status_code == 400
    appointment.refresh_from_db()
    assert appointment.start == FUTURE


def test_move_takes_one_appointment_at_a_time(client, desk, place):
    first, second = _booked(place), _booked(place, start=FUTURE + timedelta(days=1))
    response = _act(client, "move", first, second, index=0)
    assert response.status_code == 302
    assert any("Choose one appointment" in n for n in _notes(response))


def test_resend_confirmation_queues_it_again_with_an_audit_row(client, desk, place):
    appointment = _booked(place, client=ClientFactory(phone=""))
    sent = ClientMessage.objects.create(
        appointment=appointment, kind=K.CONFIRMATION, channel="email", due_at=NOW, status="sent", sent_at=NOW
    )
    response = _act(client, "resend_confirmation", appointment, index=0)
    assert response.status_code == 302
    sent.refresh_from_db()
    assert (sent.status, sent.due_at, sent.attempts) == ("pending", NOW, 0)
    assert ClientMessage.objects.filter(appointment=appointment, kind=K.CONFIRMATION).count() == 1
    event = AuditEvent.objects.get(object_type="appointment", object_id=str(appointment.pk))
    assert (event.actor, event.detail, event.fields) == (desk, "confirmation resent", ["messages"])


def test_resend_confirmation_after_a_move_sends_the_current_time(client, desk, place):
    appointment = _booked(place, ics_sequence=2)
    _act(client, "resend_confirmation", appointment, index=0)
    rows = ClientMessage.objects.filter(appointment=appointment, kind=K.CONFIRMATION, status="pending")
    assert {(r.sequence, r.channel) for r in rows} == {(2, "email"), (2, "sms")}
    assert rows[0].payload["start"] == FUTURE.astimezone(UTC).isoformat()


def test_resend_confirmation_refuses_a_past_appointment_with_a_message(client, desk, place):
    appointment = _booked(place, start=NOW - timedelta(days=1))
    response = _act(client, "resend_confirmation", appointment, index=0)
    assert any(appointment.reference in n and "still to come" in n for n in _notes(response))
    assert not ClientMessage.objects.filter(appointment=appointment).exists()
    assert not AuditEvent.objects.filter(object_type="appointment").exists()


def test_cancel_tells_the_client_and_is_audited(client, desk, place):
    appointment = _booked(place)
    _act(client, "cancel", appointment, index=0, apply="1")
    appointment.refresh_from_db()
    assert appointment.status == S.CANCELLED
    assert ClientMessage.objects.filter(appointment=appointment, kind=K.CANCELLED, status="pending").exists()
    event = AuditEvent.objects.get(object_type="appointment", object_id=str(appointment.pk))
    assert (event.actor, event.detail) == (desk, "status booked -> cancelled")


def test_a_technician_cannot_reach_the_appointment_list(client, place):
    login_as(client, staff_user(role="Technician", username="tech"))
    response = client.get(reverse(APPOINTMENTS))
    assert response.status_code == 302
    assert "login" in response.url


def test_anonymous_visitors_are_sent_to_log_in(client):
    for page in (APPOINTMENTS, CLIENTS):
        response = client.get(reverse(page))
        assert response.status_code == 302
        assert "login" in response.url
