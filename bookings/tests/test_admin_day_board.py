"""Reception's day board (/admin/bookings/appointment/board/): one location's day in start order,
who is late, and a button per transition the user may make, each going through its service."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory, LocationFactory, TechnicianFactory, UserFactory
from clients.models import AuditEvent
from clients.tests.factories import ClientFactory, staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db

S = Appointment.Status
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
# A Friday morning in November (GMT, no clock change near).
NOW = datetime(2026, 11, 20, 10, 30, tzinfo=LONDON)
BOARD = "/admin/bookings/appointment/board/"
ACT = "/admin/bookings/appointment/board/change/"


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def clinic():
    # "A ..." sorts first: the board's default location.
    return LocationFactory(name="A Manchester", order=0, time_zone="Europe/London")


@pytest.fixture
def other():
    return LocationFactory(name="B New York", order=1, time_zone="America/New_York")


def _at(location, start, status=S.BOOKED, *, first="Ann", technician=None, **kwargs) -> Appointment:
    technician = technician or TechnicianFactory(locations=[location])
    return AppointmentFactory(
        location=location,
        technician=technician,
        client=ClientFactory(first_name=first, last_name="Client"),
        start=start,
        end=start + timedelta(minutes=45),
        status=status,
        completed_at=start if status == S.COMPLETED else None,
        cancelled_at=start - timedelta(days=1) if status == S.CANCELLED else None,
        **kwargs,
    )


def _login(client, role: str):
    user = staff_user(role=role)
    login_as(client, user)
    return user


def _names(html: str) -> list[str]:
    return re.findall(r'<th scope="row" data-label="Client"><a [^>]*>(\w+) Client</a>', html)


def _buttons(html: str, appointment: Appointment) -> list[str]:
    row = html.split(f'id="appointment-{appointment.pk}"', 1)[1].split("</tr>", 1)[0]
    return re.findall(r'name="action" value="(\w+)"', row)


def test_it_lists_the_locations_day_in_start_order_and_nothing_else(client, clinic, other):
    _login(client, "Reception")
    _at(clinic, NOW.replace(hour=14), first="Late")  # booked first, starts last
    _at(clinic, NOW.replace(hour=9), S.ARRIVED, first="Early")
    _at(clinic, NOW.replace(hour=11), S.CONFIRMED, first="Middle")
    _at(clinic, NOW.replace(hour=12), S.CANCELLED, first="Cancelled")
    _at(clinic, NOW - timedelta(days=1), first="Yesterday")
    _at(clinic, NOW.replace(hour=23, minute=30), first="Tonight")
    _at(clinic, NOW + timedelta(days=1), first="Tomorrow")
    _at(other, NOW.replace(hour=15), first="Elsewhere")

    response = client.get(BOARD)

    assert response.status_code == 200
    assert _names(response.content.decode()) == ["Early", "Middle", "Late", "Tonight"]


def test_times_and_today_are_the_chosen_locations(client, clinic, other):
    _login(client, "Reception")
    # 02:00 London on the 20th is 21:00 on the 19th in New York: yesterday there.
    _at(other, datetime(2026, 11, 20, 2, tzinfo=LONDON), first="Yesterday")
    _at(other, datetime(2026, 11, 20, 9, tzinfo=NEW_YORK), first="Nine")

    html = client.get(BOARD, {"location": other.pk}).content.decode()

    assert _names(html) == ["Nine"]
    assert ">09:00</time>" in html
    assert "Friday 20 November 2026" in html


def test_another_day_can_be_chosen(client, clinic):
    _login(client, "Reception")
    _at(clinic, NOW + timedelta(days=1), first="Tomorrow")
    html = client.get(BOARD, {"location": clinic.pk, "date": "2026-11-21"}).content.decode()
    assert _names(html) == ["Tomorrow"]


def test_a_client_still_expected_after_the_start_is_late(client, clinic):
    _login(client, "Reception")
    late = _at(clinic, NOW - timedelta(minutes=25), first="Late")
    confirmed = _at(clinic, NOW - timedelta(minutes=70), S.CONFIRMED, first="Confirmed")
    arrived = _at(clinic, NOW - timedelta(minutes=40), S.ARRIVED, first="Arrived")
    future = _at(clinic, NOW + timedelta(minutes=5), first="Future")

    html = client.get(BOARD).content.decode()

    def row(a):
        return html.split(f'id="appointment-{a.pk}"', 1)[1].split("</tr>", 1)[0]

    assert "late by 25 min" in row(late)
    assert "late by 70 min" in row(confirmed)
    assert "late" not in row(arrived).replace("is-late", "")
    assert "late by" not in row(future)
    assert "2 late" in html


def test_reception_gets_check_in_and_no_show_but_not_completed(client, clinic):
    _login(client, "Reception")
    started = _at(clinic, NOW - timedelta(minutes=10))
    coming = _at(clinic, NOW + timedelta(hours=2))
    arrived = _at(clinic, NOW - timedelta(minutes=30), S.ARRIVED)

    html = client.get(BOARD).content.decode()

    assert _buttons(html, started) == ["arrive", "no_show"]
    # Neither a no-show nor a completion before the start: the services refuse both.
    assert _buttons(html, coming) == ["arrive"]
    assert _buttons(html, arrived) == ["undo_arrive"]


def test_a_technician_with_the_clinical_permission_gets_completed(client, clinic):
    user = _login(client, "Technician")
    user.is_staff = True  # the admin needs staff; the role gives the permissions
    user.save(update_fields=["is_staff"])
    arrived = _at(clinic, NOW - timedelta(minutes=30), S.ARRIVED)
    html = client.get(BOARD).content.decode()
    assert _buttons(html, arrived) == ["complete", "undo_arrive"]


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        ("arrive", S.BOOKED, S.ARRIVED),
        ("arrive", S.CONFIRMED, S.ARRIVED),
        ("complete", S.ARRIVED, S.COMPLETED),
        ("complete", S.BOOKED, S.COMPLETED),
        ("no_show", S.BOOKED, S.NO_SHOW),
        ("no_show", S.CONFIRMED, S.NO_SHOW),
    ],
)
def test_each_button_makes_its_transition_with_the_audit_row(client, clinic, action, before, after):
    manager = _login(client, "Manager")
    appointment = _at(clinic, NOW - timedelta(minutes=15), before)

    response = client.post(ACT, {"appointment": appointment.pk, "action": action})

    assert response.status_code == 302
    assert response["Location"] == f"{BOARD}?location={clinic.pk}&date=2026-11-20"
    appointment.refresh_from_db()
    assert (appointment.status, appointment.status_changed_by) == (after, manager)
    event = AuditEvent.objects.get(object_type="appointment", object_id=str(appointment.pk))
    assert (event.actor, event.detail) == (manager, f"status {before} -> {after}")
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["success"]


@pytest.mark.parametrize(
    ("action", "undo", "before", "marked"),
    [("no_show", "undo_no_show", S.BOOKED, S.NO_SHOW), ("arrive", "undo_arrive", S.CONFIRMED, S.ARRIVED)],
)
def test_a_no_show_or_check_in_made_on_the_board_can_be_undone_from_it(client, clinic, action, undo, before, marked):
    manager = _login(client, "Manager")
    appointment = _at(clinic, NOW - timedelta(minutes=15), before, first="Nora")

    response = client.post(ACT, {"appointment": appointment.pk, "action": action}, follow=True)

    # The message says what was done and carries the undo; the row offers it too.
    html = response.content.decode()
    notice = html.split('<ul class="messagelist">', 1)[1].split("</ul>", 1)[0]
    assert f"({appointment.reference})" in notice
    assert f'name="action" value="{undo}"' in notice
    assert 'aria-label="Undo ' in notice
    assert "Nora Client at 10:15" in notice
    assert undo in _buttons(html, appointment)
    assert len(re.findall(r'name="csrfmiddlewaretoken"', notice)) == 1

    response = client.post(ACT, {"appointment": appointment.pk, "action": undo}, follow=True)

    appointment.refresh_from_db()
    assert (appointment.status, appointment.status_changed_by) == (S.BOOKED, manager)
    assert appointment.no_show_marked_at is None
    events = AuditEvent.objects.filter(object_type="appointment", object_id=str(appointment.pk)).order_by("pk")
    assert [(e.actor, e.detail) for e in events] == [
        (manager, f"status {before} -> {marked}"),
        (manager, f"status {marked} -> booked"),
    ]
    assert [m.level_tag for m in response.context["messages"]] == ["success"]
    html = response.content.decode()
    assert "undo" not in " ".join(_buttons(html, appointment))
    assert 'class="button board-undo"' not in html  # nothing left to undo


def test_reception_may_undo_a_check_in_but_is_told_a_manager_undoes_a_no_show(client, clinic):
    _login(client, "Reception")
    missed = _at(clinic, NOW - timedelta(minutes=15), first="Missed")
    arrived = _at(clinic, NOW - timedelta(minutes=5), first="Here")

    html = client.post(ACT, {"appointment": missed.pk, "action": "no_show"}, follow=True).content.decode()

    assert "marked no-show. Only a manager can undo a no-show." in html
    assert 'class="button board-undo"' not in html
    assert _buttons(html, missed) == []
    # Posted anyway: the service refuses it and nothing changes.
    assert client.post(ACT, {"appointment": missed.pk, "action": "undo_no_show"}).status_code == 403
    missed.refresh_from_db()
    assert missed.status == S.NO_SHOW
    assert AuditEvent.objects.filter(object_id=str(missed.pk)).count() == 1

    html = client.post(ACT, {"appointment": arrived.pk, "action": "arrive"}, follow=True).content.decode()
    assert 'class="button board-undo"' in html
    client.post(ACT, {"appointment": arrived.pk, "action": "undo_arrive"})
    arrived.refresh_from_db()
    assert arrived.status == S.BOOKED


def test_an_undo_refused_because_the_status_moved_on_is_a_message(client, clinic):
    _login(client, "Manager")
    # Completed by the technician since the page showed "Undo check-in".
    appointment = _at(clinic, NOW - timedelta(minutes=15), S.COMPLETED)
    response = client.post(ACT, {"appointment": appointment.pk, "action": "undo_arrive"}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert "there is nothing to undo" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == S.COMPLETED
    assert not AuditEvent.objects.exists()


def test_a_refused_transition_is_a_message_and_changes_nothing(client, clinic):
    _login(client, "Reception")
    # Marked arrived by someone else since the page was drawn: a no-show no longer applies.
    appointment = _at(clinic, NOW - timedelta(minutes=15), S.ARRIVED)

    response = client.post(ACT, {"appointment": appointment.pk, "action": "no_show"}, follow=True)

    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == S.ARRIVED
    assert not AuditEvent.objects.exists()
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert "cannot become no-show" in response.content.decode()


def test_reception_cannot_complete_by_posting(client, clinic):
    _login(client, "Reception")
    appointment = _at(clinic, NOW - timedelta(minutes=15), S.ARRIVED)
    response = client.post(ACT, {"appointment": appointment.pk, "action": "complete"})
    assert response.status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == S.ARRIVED
    assert not AuditEvent.objects.exists()


def test_staff_who_may_only_view_get_no_buttons_and_a_post_is_refused(client, clinic):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_appointment"))
    login_as(client, user)
    appointment = _at(clinic, NOW - timedelta(minutes=15))

    html = client.get(BOARD).content.decode()
    assert _names(html) == ["Ann"]
    assert _buttons(html, appointment) == []

    response = client.post(ACT, {"appointment": appointment.pk, "action": "arrive"})
    assert response.status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED
    assert not AuditEvent.objects.exists()


def test_a_technician_outside_the_admin_reaches_neither_the_board_nor_its_buttons(client, clinic):
    _login(client, "Technician")  # not staff: the admin's login page answers
    appointment = _at(clinic, NOW - timedelta(minutes=15))
    assert client.get(BOARD).status_code == 302
    assert client.post(ACT, {"appointment": appointment.pk, "action": "no_show"}).status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED
    assert not AuditEvent.objects.exists()


def test_staff_without_view_permission_get_403(client, clinic):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(BOARD).status_code == 403


def test_the_buttons_are_csrf_protected(clinic):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    login_as(browser, staff_user(role="Manager"))
    appointment = _at(clinic, NOW - timedelta(minutes=15))
    assert browser.post(ACT, {"appointment": appointment.pk, "action": "arrive"}).status_code == 403
    html = browser.get(BOARD).content.decode()
    row = html.split(f'id="appointment-{appointment.pk}"', 1)[1].split("</tr>", 1)[0]
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', row)
    assert len(tokens) == len(_buttons(html, appointment)) == 3  # a manager may arrive, complete, no-show
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED
    data = {"csrfmiddlewaretoken": tokens[0], "appointment": appointment.pk, "action": "arrive"}
    assert browser.post(ACT, data).status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == S.ARRIVED


@pytest.mark.parametrize(
    "query",
    [
        {"location": "abc"},
        {"location": "999999"},
        {"location": "99999999999999999999999"},
        {"date": "2026-13-45"},
        {"date": "yesterday"},
        {"date": "9999-12-31"},
        {"date": "0001-01-01"},
    ],
)
def test_a_bad_location_or_date_is_a_400(client, clinic, query):
    _login(client, "Reception")
    response = client.get(BOARD, query)
    assert response.status_code == 400
    assert next(iter(query)) in response.content.decode()


def test_an_inactive_location_is_a_400(client, clinic):
    _login(client, "Reception")
    closed = LocationFactory(is_active=False)
    assert client.get(BOARD, {"location": closed.pk}).status_code == 400


@pytest.mark.parametrize(
    "data",
    [
        {"appointment": "999999", "action": "arrive"},
        {"appointment": "abc", "action": "arrive"},
        {"appointment": "99999999999999999999", "action": "arrive"},
        {"action": "arrive"},
        {"appointment": "APPT", "action": "delete"},
    ],
)
def test_a_bad_post_is_a_400_and_changes_nothing(client, clinic, data):
    _login(client, "Manager")
    appointment = _at(clinic, NOW - timedelta(minutes=15))
    if data.get("appointment") == "APPT":
        data = {**data, "appointment": appointment.pk}
    assert client.post(ACT, data).status_code == 400
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED
    assert not AuditEvent.objects.exists()


def test_get_on_the_button_url_is_405(client, clinic):
    _login(client, "Manager")
    assert client.get(ACT).status_code == 405


def test_the_board_is_linked_from_the_index_and_the_changelist(client, clinic):
    _login(client, "Reception")
    assert BOARD in client.get("/admin/").content.decode()
    assert BOARD in client.get("/admin/bookings/appointment/").content.decode()


@pytest.mark.parametrize("count", [2, 20])
def test_the_board_costs_the_same_queries_for_2_or_20_appointments(
    client, clinic, django_assert_max_num_queries, count
):
    _login(client, "Reception")
    technicians = [TechnicianFactory(locations=[clinic]) for _ in range(2)]
    for i in range(count):
        _at(clinic, NOW.replace(hour=8) + timedelta(minutes=45 * i), technician=technicians[i % 2], first=f"C{i}")
    # Session, user, its permissions (user + groups), locations, appointments with client and technician,
    # the clients' no-shows and late cancellations.
    with django_assert_max_num_queries(7):
        response = client.get(BOARD)
    assert len(_names(response.content.decode())) == count
