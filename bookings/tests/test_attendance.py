"""No-shows and late cancellations: recorded with who and when by the transitions, counted per
client in one query, shown where staff look, and the policy that sends repeat no-shows to the
phone instead of the online form (staff can still book them, warned)."""

from __future__ import annotations

import importlib
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Appointment
from bookings.selectors import NO_ATTENDANCE_ISSUES, client_attendance_counts
from bookings.services import appointments as status
from bookings.services.booking import appointment_cancel
from bookings.tests.factories import (
    AppointmentFactory,
    BookingPolicyFactory,
    LocationFactory,
    UserFactory,
    technician_working,
)
from bookings.tests.test_booking_admin import _post_add
from clients.models import AuditEvent, Client, ConsentWording
from clients.tests.factories import ClientFactory, ConsentWordingFactory, staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db

S = Appointment.Status
LONDON = ZoneInfo("Europe/London")
# A Friday afternoon in November, far from a clock change.
NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def reception():
    return staff_user(role="Reception", username="desk")


@pytest.fixture
def manager():
    return staff_user(role="Manager", username="boss")


@pytest.fixture
def location():
    place = LocationFactory(slug="manchester", name="Manchester", phone="0161 496 0000", time_zone="Europe/London")
    technician_working(location=place)
    return place


def _appointment(client=None, state=S.BOOKED, *, start=None, location=None, **kwargs) -> Appointment:
    start = start or NOW - timedelta(hours=2)
    extra = {"location": location} if location is not None else {}
    return AppointmentFactory(
        client=client or ClientFactory(),
        status=state,
        start=start,
        end=start + timedelta(minutes=45),
        cancelled_at=NOW - timedelta(days=3) if state == S.CANCELLED else None,
        completed_at=start if state == S.COMPLETED else None,
        **extra,
        **kwargs,
    )


def _missed(client, n: int, *, late: int = 0, location=None) -> None:
    """``n`` no-shows and ``late`` late cancellations in the client's past."""
    for i in range(n):
        _appointment(client, S.NO_SHOW, start=NOW - timedelta(days=30 + i), location=location, no_show_marked_at=NOW)
    for i in range(late):
        start = NOW - timedelta(days=60 + i)
        _appointment(client, S.CANCELLED, start=start, location=location, late_cancellation=True)


# Recording: no-shows ---------------------------------------------------------------------


def test_marking_a_no_show_records_who_and_when_and_audits_it(reception):
    appointment = _appointment()

    marked = status.appointment_mark_no_show(appointment=appointment, by=reception)

    marked.refresh_from_db()
    assert (marked.status, marked.no_show_marked_at, marked.no_show_marked_by) == (S.NO_SHOW, NOW, reception)
    event = AuditEvent.objects.get(object_type="appointment", object_id=str(appointment.pk))
    assert (event.actor, event.detail) == (reception, "status booked -> no_show")
    assert {"no_show_marked_at", "no_show_marked_by"} <= set(event.fields)


def test_undoing_a_no_show_clears_the_mark_and_the_count(reception, manager):
    appointment = _appointment()
    status.appointment_mark_no_show(appointment=appointment, by=reception)
    assert client_attendance_counts([appointment.client_id])[appointment.client_id].no_shows == 1

    undone = status.appointment_undo_no_show(appointment=appointment, by=manager)

    undone.refresh_from_db()
    assert (undone.status, undone.no_show_marked_at, undone.no_show_marked_by) == (S.BOOKED, None, None)
    assert client_attendance_counts([appointment.client_id]) == {}
    last = AuditEvent.objects.filter(object_type="appointment").order_by("-pk").first()
    assert (last.actor, last.detail) == (manager, "status no_show -> booked")
    assert {"no_show_marked_at", "no_show_marked_by"} <= set(last.fields)


def test_the_migration_backfills_no_shows_marked_before_it():
    changed = _appointment(state=S.NO_SHOW)
    reception = staff_user(role="Reception")
    # As a no-show marked before the migration left it (the test sets the row up, not a service).
    before = {"status_changed_at": NOW - timedelta(days=2), "status_changed_by": reception}
    Appointment.objects.filter(pk=changed.pk).update(**before)
    untracked = _appointment(state=S.NO_SHOW)
    booked = _appointment()
    migration = importlib.import_module("bookings.migrations.0017_attendance")

    migration.no_shows_backfill(apps, None)

    changed.refresh_from_db()
    untracked.refresh_from_db()
    booked.refresh_from_db()
    assert (changed.no_show_marked_at, changed.no_show_marked_by) == (NOW - timedelta(days=2), reception)
    assert (untracked.no_show_marked_at, untracked.no_show_marked_by) == (untracked.updated_at, None)
    assert booked.no_show_marked_at is None


# Recording: late cancellations -----------------------------------------------------------


@pytest.mark.parametrize(
    ("notice", "late"),
    [(timedelta(hours=47, minutes=59), True), (timedelta(hours=48), False), (timedelta(days=5), False)],
)
def test_a_staff_cancellation_within_the_policys_notice_is_late(reception, notice, late):
    BookingPolicyFactory(late_cancellation_hours=48)
    appointment = _appointment(start=NOW + notice)

    cancelled = status.appointment_staff_cancel(appointment=appointment, by=reception)

    cancelled.refresh_from_db()
    assert cancelled.late_cancellation is late
    assert (cancelled.cancelled_at, cancelled.cancelled_by, cancelled.cancelled_via) == (NOW, reception, "staff")
    event = AuditEvent.objects.get(object_type="appointment", object_id=str(appointment.pk))
    assert ("late_cancellation" in event.fields) is late
    assert {"cancelled_by", "cancelled_via"} <= set(event.fields)
    counts = client_attendance_counts([appointment.client_id]).get(appointment.client_id, NO_ATTENDANCE_ISSUES)
    assert counts.late_cancellations == int(late)


def test_a_client_cancelling_through_their_link_is_recorded_as_the_client(reception):
    # Allowed online (more than the 24 hours' change notice) but within the 48-hour late window.
    BookingPolicyFactory(change_notice_hours=24, late_cancellation_hours=48)
    appointment = _appointment(start=NOW + timedelta(hours=30))

    cancelled = appointment_cancel(appointment=appointment, by_client=True)

    assert (cancelled.late_cancellation, cancelled.cancelled_by, cancelled.cancelled_via) == (True, None, "client_link")


def test_undoing_a_cancellation_clears_how_it_was_cancelled(reception, manager):
    BookingPolicyFactory(late_cancellation_hours=48)
    appointment = _appointment(start=NOW + timedelta(hours=5))
    status.appointment_staff_cancel(appointment=appointment, by=reception)

    undone = status.appointment_undo_cancel(appointment=appointment, by=manager)

    undone.refresh_from_db()
    assert (undone.late_cancellation, undone.cancelled_by, undone.cancelled_via, undone.cancelled_at) == (
        False,
        None,
        "",
        None,
    )
    assert client_attendance_counts([appointment.client_id]) == {}


@pytest.mark.parametrize(
    ("cancel_at", "start", "late"),
    [
        # Spring forward (28 March 2027): 10:00 GMT to 10:00 BST next day is 23 hours: late.
        (datetime(2027, 3, 27, 10, tzinfo=LONDON), datetime(2027, 3, 28, 10, tzinfo=LONDON), True),
        # ... and 09:00 GMT to 10:00 BST is the full 24: in time.
        (datetime(2027, 3, 27, 9, tzinfo=LONDON), datetime(2027, 3, 28, 10, tzinfo=LONDON), False),
        # Fall back (31 October 2027): 10:00 BST to 09:30 GMT next day is 24.5 hours: in time,
        # though the wall clock says 23.5.
        (datetime(2027, 10, 30, 10, tzinfo=LONDON), datetime(2027, 10, 31, 9, 30, tzinfo=LONDON), False),
        # ... and 10:00 BST to 08:30 GMT is 23.5 hours: late.
        (datetime(2027, 10, 30, 10, tzinfo=LONDON), datetime(2027, 10, 31, 8, 30, tzinfo=LONDON), True),
    ],
)
def test_late_is_counted_in_elapsed_hours_across_a_clock_change(reception, location, cancel_at, start, late):
    BookingPolicyFactory(late_cancellation_hours=24)
    with time_machine.travel(cancel_at, tick=False):
        appointment = _appointment(start=start, location=location)
        cancelled = status.appointment_staff_cancel(appointment=appointment, by=reception)
    assert cancelled.late_cancellation is late


def test_a_location_policy_sets_its_own_late_window(reception, location):
    BookingPolicyFactory(late_cancellation_hours=48)
    BookingPolicyFactory(location=location, late_cancellation_hours=12)
    here = _appointment(start=NOW + timedelta(hours=20), location=location)
    elsewhere = _appointment(start=NOW + timedelta(hours=20))

    assert status.appointment_staff_cancel(appointment=here, by=reception).late_cancellation is False
    assert status.appointment_staff_cancel(appointment=elsewhere, by=reception).late_cancellation is True


# The selector ----------------------------------------------------------------------------


def test_counts_for_many_clients_take_one_query(django_assert_num_queries):
    clients = [ClientFactory() for _ in range(5)]
    _missed(clients[0], 2, late=1)
    _missed(clients[1], 1)
    _appointment(clients[2], S.CANCELLED, late_cancellation=False)  # in time: not counted
    _appointment(clients[3], S.COMPLETED)

    with django_assert_num_queries(1):
        counts = client_attendance_counts(c.pk for c in clients)

    assert set(counts) == {clients[0].pk, clients[1].pk}
    first = counts[clients[0].pk]
    assert (first.no_shows, first.late_cancellations, first.label) == (2, 1, "2 no-shows, 1 late cancellation")
    assert first.last_no_show == NOW - timedelta(days=30)
    assert counts[clients[1].pk].label == "1 no-show"
    assert not counts.get(clients[4].pk, NO_ATTENDANCE_ISSUES)


def test_counts_for_no_clients_cost_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client_attendance_counts([]) == {}


# The online booking policy ---------------------------------------------------------------

BOOK = reverse("bookings:book")
SLOT = datetime(2026, 12, 1, 10, tzinfo=UTC)


@pytest.fixture
def online(location):
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    return location


def _book(client, **overrides):
    data = {
        "location": "manchester",
        "treatment": "",
        "start": SLOT.isoformat(),
        "first_name": "Sam",
        "last_name": "Taylor",
        "email": "sam@example.com",
        "phone": "07700 900123",
        "description": "",
        "health_consent": "on",
        "date_of_birth": "1985-03-14",
        "website": "",
        **overrides,
    }
    return client.post(BOOK, data)


def _alert(response) -> str:
    found = re.search(r'<div class="alert alert-danger" role="alert">(.*?)</div>', response.content.decode(), re.S)
    return found.group(1).strip() if found else ""


def test_after_two_no_shows_the_online_form_asks_them_to_call(client, online):
    BookingPolicyFactory(no_show_limit=2)
    _missed(ClientFactory(email="sam@example.com", phone="07700 900999"), 2)

    response = _book(client, email="SAM@Example.com")

    assert response.status_code == 400
    message = _alert(response)
    assert "call Manchester on 0161 496 0000" in message
    # Neutral: nothing about what the address's owner did.
    assert "no-show" not in response.content.decode().lower()
    assert not Appointment.objects.filter(start=SLOT).exists()
    assert Client.objects.count() == 1


def test_the_phone_number_counts_as_well_as_the_e_mail(client, online):
    BookingPolicyFactory(no_show_limit=2)
    _missed(ClientFactory(email="old@example.com", phone="07700 900123"), 2)

    response = _book(client, email="new@example.com", phone="07700900123")

    assert response.status_code == 400
    assert "Please call Manchester" in _alert(response)


def test_one_no_show_under_a_limit_of_two_still_books_online(client, online):
    BookingPolicyFactory(no_show_limit=2)
    _missed(ClientFactory(email="sam@example.com"), 1, late=3)

    response = _book(client)

    assert response.status_code == 302
    assert Appointment.objects.filter(start=SLOT).exists()


def test_late_cancellations_count_when_the_policy_says_so(client, online):
    BookingPolicyFactory(no_show_limit=2, late_cancellations_count=True)
    _missed(ClientFactory(email="sam@example.com"), 1, late=1)

    assert _book(client).status_code == 400


def test_a_locations_own_policy_overrides_the_clinic_wide_limit(client, online):
    BookingPolicyFactory(no_show_limit=2)
    BookingPolicyFactory(location=online, no_show_limit=None)  # this clinic never refuses
    _missed(ClientFactory(email="sam@example.com"), 4)

    assert _book(client).status_code == 302


def test_no_shows_at_another_location_count(client, online):
    BookingPolicyFactory(no_show_limit=2)
    _missed(ClientFactory(email="sam@example.com"), 2, location=LocationFactory(name="Nottingham"))

    assert _book(client).status_code == 400


def test_an_undone_no_show_no_longer_counts(client, online, reception, manager):
    BookingPolicyFactory(no_show_limit=2)
    person = ClientFactory(email="sam@example.com")
    _missed(person, 1)
    mistake = _appointment(person, start=NOW - timedelta(days=1))
    status.appointment_mark_no_show(appointment=mistake, by=reception)
    assert _book(client).status_code == 400

    status.appointment_undo_no_show(appointment=mistake, by=manager)

    assert _book(client).status_code == 302


# Staff: booking them again, and where the count shows ------------------------------------


def _login(client, user):
    login_as(client, user)
    return client


def test_staff_still_book_a_client_over_the_limit_and_are_warned(client, online, reception):
    BookingPolicyFactory(no_show_limit=2)
    person = ClientFactory(email="sam@example.com")
    _missed(person, 2, late=1)
    staff = _login(client, reception)
    add = reverse("admin:bookings_appointment_add")

    form = staff.get(f"{add}?client={person.pk}")
    assert form.status_code == 200
    assert "This client has 2 no-shows (last 21/10/2026), 1 late cancellation" in form.content.decode()

    start = datetime.combine(SLOT.date(), time(11), tzinfo=LONDON)
    technician = online.technicians.get()
    booking = {"client": person.pk, "technician": technician.pk, "location": online.pk, "kind": "consultation"}
    response = _post_add(staff, **booking, start=start, end=start + timedelta(minutes=45))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Appointment.objects.filter(client=person, start=start, status=S.BOOKED).exists()
    shown = staff.get(response["Location"]).content.decode()
    assert "This client has 2 no-shows" in shown


def test_the_add_form_asks_for_the_warning_as_soon_as_a_client_is_chosen(client, reception):
    person, faithful = ClientFactory(), ClientFactory()
    _missed(person, 1, late=1)
    staff = _login(client, reception)
    url = reverse("admin:bookings_appointment_attendance")

    assert "js/admin_attendance" in staff.get(reverse("admin:bookings_appointment_add")).content.decode()
    warned = staff.get(url, {"client": person.pk}).json()
    assert warned == {
        "warning": "This client has 1 no-show (last 21/10/2026), 1 late cancellation. You can still book them here."
    }
    assert staff.get(url, {"client": faithful.pk}).json() == {"warning": ""}
    for bad in ("", "abc", "1" * 11, "-1"):
        refused = staff.get(url, {"client": bad})
        assert refused.status_code == 400
        assert refused.json()["error"]["parameter"] == "client"


def test_no_warning_for_a_client_who_always_came(client, online, reception):
    person = ClientFactory()
    _appointment(person, S.COMPLETED)
    page = _login(client, reception).get(reverse("admin:bookings_appointment_add") + f"?client={person.pk}")
    assert "This client has" not in page.content.decode()


def test_an_appointments_page_shows_how_it_was_missed(client, reception):
    appointment = _appointment()
    status.appointment_mark_no_show(appointment=appointment, by=reception)
    page = _login(client, reception).get(reverse("admin:bookings_appointment_change", args=[appointment.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "1 no-show (last 20/11/2026)" in html
    assert "desk" in html.split("No-show marked by", 1)[1][:400]


def test_the_client_admin_page_shows_the_counts(client, reception):
    person = ClientFactory()
    _missed(person, 2, late=1)
    page = _login(client, reception).get(reverse("admin:clients_client_change", args=[person.pk]))
    assert page.status_code == 200
    assert "2 no-shows (last 21/10/2026), 1 late cancellation" in page.content.decode()


def test_a_client_who_always_came_says_so(client, reception):
    person = ClientFactory()
    page = _login(client, reception).get(reverse("admin:clients_client_change", args=[person.pk]))
    assert "No no-shows or late cancellations." in page.content.decode()


def _client_list_queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_the_client_list_shows_counts_at_a_constant_query_count(client, reception, django_assert_max_num_queries):
    staff = _login(client, reception)
    url = reverse("admin:clients_client_changelist")
    first = ClientFactory(last_name="Aaron")
    _missed(first, 2)
    small, html = _client_list_queries(staff, url)
    assert "2 no-shows" in html
    for i in range(19):
        _missed(ClientFactory(last_name=f"Zed{i:02}"), 1, late=1)
    with django_assert_max_num_queries(small):
        response = staff.get(url)
    assert response.content.decode().count("1 no-show, 1 late cancellation") == 19


def test_the_day_board_shows_each_clients_count_at_a_constant_query_count(
    client, location, reception, django_assert_max_num_queries
):
    staff = _login(client, reception)
    board = reverse("admin:bookings_appointment_board") + f"?location={location.pk}"
    technician = location.technicians.get()
    today = NOW.astimezone(LONDON).replace(hour=9, minute=0)

    def arriving(i: int) -> Client:
        person = ClientFactory(first_name=f"P{i}")
        AppointmentFactory(
            client=person,
            location=location,
            technician=technician,
            start=today + timedelta(minutes=45 * i),
            end=today + timedelta(minutes=45 * i + 30),
        )
        _missed(person, 1 + i % 2, location=location)
        return person

    arriving(0)
    small, html = _client_list_queries(staff, board)
    assert '<strong class="board-attendance">1 no-show</strong>' in html
    for i in range(1, 10):
        arriving(i)
    with django_assert_max_num_queries(small):
        html = staff.get(board).content.decode()
    assert html.count('class="board-attendance"') == 10


def test_the_workspace_client_page_shows_the_counts(client, manager):
    person = ClientFactory()
    _missed(person, 1, late=2)
    page = _login(client, manager).get(reverse("staff:client", args=[person.pk]))
    assert page.status_code == 200
    assert "1 no-show, 2 late cancellations" in page.content.decode()


def test_the_workspace_client_list_shows_counts_at_a_constant_query_count(
    client, manager, django_assert_max_num_queries
):
    staff = _login(client, manager)
    url = reverse("staff:clients")
    _missed(ClientFactory(last_name="Aaron"), 2)
    small, html = _client_list_queries(staff, url)
    assert "2 no-shows" in html
    for i in range(19):
        _missed(ClientFactory(last_name=f"Zed{i:02}"), 1)
    with django_assert_max_num_queries(small):
        html = staff.get(url).content.decode()
    assert html.count("1 no-show<") == 19


def test_the_workspace_pages_stay_closed_to_anonymous_visitors(client):
    person = ClientFactory()
    _missed(person, 2)
    for url in (reverse("staff:client", args=[person.pk]), reverse("staff:clients")):
        response = client.get(url)
        assert response.status_code == 302
        assert "no-show" not in response.content.decode()


@pytest.mark.parametrize("page", ["client_change", "client_list", "appointment_add", "board", "attendance_json"])
def test_the_admin_pages_with_counts_are_for_staff_with_the_permission(client, page):
    person = ClientFactory()
    _missed(person, 2)
    url = {
        "client_change": reverse("admin:clients_client_change", args=[person.pk]),
        "client_list": reverse("admin:clients_client_changelist"),
        "appointment_add": reverse("admin:bookings_appointment_add") + f"?client={person.pk}",
        "board": reverse("admin:bookings_appointment_board"),
        "attendance_json": reverse("admin:bookings_appointment_attendance") + f"?client={person.pk}",
    }[page]

    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous["Location"]

    login_as(client, UserFactory(is_staff=True))  # staff, but no role
    refused = client.get(url)
    assert refused.status_code == 403
    assert "no-show" not in refused.content.decode()
    # Nor kept for the next page (the add form's warning is a message).
    assert "no-show" not in client.get(reverse("admin:password_change")).content.decode()
