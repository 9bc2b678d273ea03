"""A recalled lot: the search finds exactly the clients treated with it at any location, in a
constant number of queries; the CSV is audited; each client is messaged once; managers only."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Appointment, ClientMessage
from bookings.models_stock import RecallNotice, SessionBatch
from bookings.services.outbox import reminders_dispatch
from bookings.services.recall import DEFAULT_BODY, recall_csv_export, recall_message_send
from bookings.stock_selectors import recall_page, recall_search
from bookings.tests.factories import AppointmentFactory, BatchFactory, LocationFactory, ProductFactory, UserFactory
from clients.models import AuditEvent
from clients.tests.factories import ClientFactory, SessionNoteFactory, staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 20, 15, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def lots():
    """Lot LT-77 of one pigment at two locations, and another lot of it at the first."""
    manchester, nottingham = LocationFactory(name="Manchester"), LocationFactory(name="Nottingham")
    product = ProductFactory(brand="Acme", shade="Shade 2")
    return {
        "manchester": manchester,
        "nottingham": nottingham,
        "m77": BatchFactory(product=product, location=manchester, lot_number="LT-77"),
        "n77": BatchFactory(product=product, location=nottingham, lot_number="LT-77"),
        "other": BatchFactory(product=product, location=manchester, lot_number="LT-78"),
    }


DAYS = iter(range(1, 10_000))


def treated(batch, *, client=None, share=100):
    """A completed session that recorded the batch; returns its client."""
    start = NOW - timedelta(days=next(DAYS))
    appointment = AppointmentFactory(
        client=client or ClientFactory(),
        location=batch.location,
        kind=Appointment.Kind.TREATMENT_SESSION,
        start=start,
        end=start + timedelta(hours=3),
        status=Appointment.Status.COMPLETED,
        completed_at=start + timedelta(hours=3),
    )
    note = SessionNoteFactory(appointment=appointment)
    SessionBatch.objects.create(session_note=note, batch=batch, share_percent=share)
    return appointment.client


@pytest.fixture
def manager():
    return staff_user(role="Manager", username="boss")


def test_the_search_finds_exactly_the_clients_treated_with_the_lot_at_every_location(lots):
    here = treated(lots["m77"])
    there = treated(lots["n77"])
    twice = treated(lots["m77"])
    treated(lots["n77"], client=twice)
    treated(lots["other"])  # another lot of the same product
    ClientFactory()  # never treated

    result = recall_search("  lt-77 ")  # as typed: any case, stray spaces

    assert result.lot == "LT-77"
    assert {b.pk for b in result.batches} == {lots["m77"].pk, lots["n77"].pk}
    assert {c.client.pk for c in result.clients} == {here.pk, there.pk, twice.pk}
    sessions = {c.client.pk: len(c.sessions) for c in result.clients}
    assert sessions[twice.pk] == 2
    assert {s.appointment.location.name for c in result.clients for s in c.sessions} == {"Manchester", "Nottingham"}


def test_an_unknown_lot_finds_nobody(lots):
    treated(lots["m77"])
    result = recall_search("LT-7")
    assert (result.batches, result.clients) == ([], [])


def _count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_the_search_costs_the_same_queries_for_one_client_as_for_many(lots, django_assert_max_num_queries):
    treated(lots["m77"])
    one = _count(lambda: recall_search("LT-77"))
    for i in range(12):
        treated(lots["m77" if i % 2 else "n77"])
    with django_assert_max_num_queries(one):
        result = recall_search("LT-77")
    assert len(result.clients) == 13
    assert one <= 3


def test_the_recall_page_lists_clients_with_contact_details_in_constant_queries(
    client, lots, manager, django_assert_max_num_queries
):
    first = treated(lots["m77"])
    login_as(client, manager)
    url = reverse("admin:bookings_batch_recall") + "?lot=lt-77"
    client.get(url)
    one = _count(lambda: client.get(url))
    others = [treated(lots["n77" if i % 2 else "m77"]) for i in range(9)]
    with django_assert_max_num_queries(one):
        response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    for person in [first, *others]:
        assert person.email in page
        assert person.last_name in page
    assert "10 clients" in page


def test_the_recall_page_is_for_managers_only(client, lots):
    login_as(client, staff_user(role="Reception", username="desk"))
    assert client.get(reverse("admin:bookings_batch_recall") + "?lot=LT-77").status_code == 403
    assert client.post(reverse("admin:bookings_batch_recall_export"), {"lot": "LT-77"}).status_code == 403
    assert client.get(reverse("admin:bookings_batch_recall_message") + "?lot=LT-77").status_code == 403


def test_a_lot_too_long_is_a_400_with_the_reason(client, manager):
    login_as(client, manager)
    response = client.get(reverse("admin:bookings_batch_recall"), {"lot": "X" * 61})
    assert response.status_code == 400
    assert "at most 60 characters" in response.content.decode()


def test_the_csv_lists_each_clients_sessions_and_each_export_is_audited(client, lots, manager):
    here = treated(lots["m77"])
    there = treated(lots["n77"])
    treated(lots["other"])
    login_as(client, manager)
    for _ in range(2):
        response = client.post(reverse("admin:bookings_batch_recall_export"), {"lot": "lt-77"})
        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="recall_LT-77.csv"'
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
        assert {int(r["client_id"]) for r in rows} == {here.pk, there.pk}
        assert {r["email"] for r in rows} == {here.email, there.email}
        assert {r["lot_number"] for r in rows} == {"LT-77"}
    events = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, object_type="batch_recall_csv")
    assert events.count() == 2
    assert {e.actor for e in events} == {manager}
    assert "clients=2" in events.first().detail
    # No personal data in the trail: the lot and counts only.
    assert here.email not in events.first().detail


def test_each_csv_row_carries_the_client_and_the_session_as_staff_read_them(client, lots, manager):
    """Every column of a row: the number in national format, the channel's label, the session's
    day on its location's clock (a late session in New York is the next day in UTC), the share,
    and when the client was told about the lot, in the clinic's time."""
    new_york = LocationFactory(name="New York", slug="new-york", time_zone="America/New_York")
    batch = BatchFactory(product=lots["m77"].product, location=new_york, lot_number="LT-77")
    someone = ClientFactory(
        first_name="Ada",
        last_name="=Lovelace",  # a would-be formula
        email="ada@example.com",
        phone="07700 900123",
        postcode="M1 1AA",
        preferred_channel="sms",
    )
    start = datetime(2026, 7, 3, 22, 30, tzinfo=ZoneInfo("America/New_York"))  # 02:30 UTC on the 4th
    appointment = AppointmentFactory(
        client=someone,
        location=new_york,
        kind=Appointment.Kind.TREATMENT_SESSION,
        start=start,
        end=start + timedelta(hours=1),
        status=Appointment.Status.COMPLETED,
        completed_at=start + timedelta(hours=1),
    )
    SessionBatch.objects.create(session_note=SessionNoteFactory(appointment=appointment), batch=batch, share_percent=40)
    with time_machine.travel(datetime(2026, 11, 2, 9, 5, tzinfo=LONDON), tick=False):
        recall_message_send(lot="LT-77", subject="About lot {{ lot_number }}", body=DEFAULT_BODY, by=manager)
    login_as(client, manager)

    response = client.post(reverse("admin:bookings_batch_recall_export"), {"lot": "LT-77"})

    (row,) = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert row == {
        "client_id": str(someone.pk),
        "first_name": "Ada",
        "last_name": "'=Lovelace",
        "email": "ada@example.com",
        "phone": "07700 900123",
        "postcode": "M1 1AA",
        "preferred_channel": "Text message (SMS)",
        "session_date": "2026-07-03",
        "session_reference": appointment.reference,
        "session_location": "New York",
        "technician": appointment.technician.display_name,
        "product": "Acme Shade 2",
        "lot_number": "LT-77",
        "batch_location": "New York",
        "share_of_blend_percent": "40",
        "notified_at": "2026-11-02T09:05+00:00",
    }


def test_the_csv_service_refuses_anyone_without_the_permission(lots):
    with pytest.raises(PermissionDenied):
        recall_csv_export(lot="LT-77", by=staff_user(role="Technician", username="tech"))
    assert not AuditEvent.objects.filter(object_type="batch_recall_csv").exists()


def test_each_client_is_messaged_once_however_often_the_recall_is_sent(lots, manager):
    first = treated(lots["m77"])
    twice = treated(lots["n77"])
    treated(lots["m77"], client=twice)
    treated(lots["other"])

    sent = recall_message_send(lot="lt-77", subject="About lot {{ lot_number }}", body=DEFAULT_BODY, by=manager)
    assert (sent.queued, sent.already) == (2, 0)

    later = treated(lots["n77"])  # treated since the first send
    again = recall_message_send(lot="LT-77", subject="Again", body="Hello {{ first_name }}", by=manager)
    assert (again.queued, again.already) == (1, 2)

    rows = ClientMessage.objects.filter(kind=ClientMessage.Kind.BATCH_RECALL)
    assert sorted(rows.values_list("appointment__client_id", flat=True)) == sorted([first.pk, twice.pk, later.pk])
    assert set(RecallNotice.objects.values_list("lot_number", flat=True)) == {"LT-77"}
    assert AuditEvent.objects.filter(object_type="batch_recall_message").count() == 2


def test_sending_the_recall_costs_the_same_queries_for_two_clients_as_for_many(lots, manager):
    """The messages hang on each client's latest session with the lot, whatever the count."""
    treated(lots["m77"])
    treated(lots["n77"])
    few = _count(lambda: recall_message_send(lot="LT-77", subject="Lot", body=DEFAULT_BODY, by=manager))
    ClientMessage.objects.all().delete()
    RecallNotice.objects.all().delete()
    people = [treated(lots["m77" if i % 2 else "n77"]) for i in range(10)]
    for person in people[:3]:
        treated(lots["n77"], client=person)  # another session with the lot: the latest one carries it
    many = _count(lambda: recall_message_send(lot="LT-77", subject="Lot", body=DEFAULT_BODY, by=manager))
    assert many <= few  # the first send also read the manager's permissions
    rows = ClientMessage.objects.filter(kind=ClientMessage.Kind.BATCH_RECALL).select_related("appointment")
    assert rows.count() == 12
    for person in people[:3]:
        latest = max(Appointment.objects.filter(client=person, session_note__isnull=False), key=lambda a: a.start)
        assert rows.get(appointment__client=person).appointment == latest


def test_the_recall_message_goes_out_in_staff_wording_whatever_the_reminder_settings(lots, manager, mailoutbox):
    person = treated(lots["m77"])
    person.reminders_opt_in = False
    person.save()
    recall_message_send(
        lot="LT-77",
        subject="Lot {{ lot_number }} recalled",
        body="Dear {{ first_name }}, please call {{ location_phone }}.",
        by=manager,
    )
    reminders_dispatch(now=NOW + timedelta(minutes=1))
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.subject == "Lot LT-77 recalled"
    assert f"Dear {person.first_name}, please call {lots['manchester'].phone}." in email.body
    assert "safety notice" in email.body
    assert email.to == [person.email]


def test_the_message_page_is_prefilled_and_queues_one_message_per_client(client, lots, manager):
    people = [treated(lots["m77"]), treated(lots["n77"])]
    login_as(client, manager)
    url = reverse("admin:bookings_batch_recall_message")
    page = client.get(url, {"lot": "lt-77"})
    assert page.status_code == 200
    assert "has recalled it" in page.content.decode()  # the default wording, to edit
    response = client.post(url, {"lot": "LT-77", "subject": "Recall", "body": "Hello {{ first_name }}"})
    assert response.status_code == 302
    client.post(url, {"lot": "LT-77", "subject": "Recall", "body": "Hello {{ first_name }}"})
    assert ClientMessage.objects.filter(kind=ClientMessage.Kind.BATCH_RECALL).count() == len(people)


def test_wording_that_does_not_render_is_refused_with_the_reason(client, lots, manager):
    treated(lots["m77"])
    login_as(client, manager)
    response = client.post(
        reverse("admin:bookings_batch_recall_message"), {"lot": "LT-77", "subject": "Recall", "body": "{% if %}"}
    )
    assert response.status_code == 400
    assert "does not render" in response.content.decode()
    assert not ClientMessage.objects.filter(kind=ClientMessage.Kind.BATCH_RECALL).exists()


def test_the_batch_list_action_opens_the_search_for_the_selected_lot(client, lots, manager):
    login_as(client, manager)
    response = client.post(
        reverse("admin:bookings_batch_changelist"),
        {"action": "recall_search_action", "_selected_action": [lots["m77"].pk, lots["n77"].pk]},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("recall/?lot=LT-77")


def test_marking_a_batch_recalled_in_the_admin_goes_through_the_service(client, lots, manager):
    batch = lots["m77"]
    login_as(client, manager)
    response = client.post(
        reverse("admin:bookings_batch_change", args=[batch.pk]),
        {
            "product": batch.product_id,
            "location": batch.location_id,
            "lot_number": batch.lot_number,
            "expires_on": batch.expires_on.isoformat(),
            "received_on": batch.received_on.isoformat(),
            "opened_on": "",
            "supplier": batch.supplier,
            "recall": "on",
            "recall_reason_text": "Supplier notice 2026/11",
        },
    )
    assert response.status_code == 302
    batch.refresh_from_db()
    assert (batch.recall_reason, batch.recalled_by) == ("Supplier notice 2026/11", manager)
    assert AuditEvent.objects.filter(object_type="batch", object_id=str(batch.pk), detail="recalled").exists()


def test_a_used_batchs_lot_cannot_be_changed_in_the_admin(client, lots, manager):
    batch = lots["m77"]
    treated(batch)
    login_as(client, manager)
    response = client.post(
        reverse("admin:bookings_batch_change", args=[batch.pk]),
        {
            "product": batch.product_id,
            "location": batch.location_id,
            "lot_number": "LT-99",
            "expires_on": batch.expires_on.isoformat(),
            "received_on": batch.received_on.isoformat(),
            "supplier": batch.supplier,
        },
    )
    assert response.status_code == 200
    assert "can no longer change" in response.content.decode()
    batch.refresh_from_db()
    assert batch.lot_number == "LT-77"


def test_a_batch_added_in_the_admin_is_audited(client, lots, manager):
    login_as(client, manager)
    response = client.post(
        reverse("admin:bookings_batch_add"),
        {
            "product": lots["m77"].product_id,
            "location": lots["nottingham"].pk,
            "lot_number": " LT-100 ",
            "expires_on": "2028-01-31",
            "received_on": "2026-11-01",
            "supplier": "Acme Ltd",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(object_type="batch", action=AuditEvent.Action.CREATE)
    assert event.actor == manager
    assert "lot_number" in event.fields


def test_reception_cannot_run_the_recall_action(client, lots):
    user = UserFactory(username="desk2", is_staff=True)
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_batch"))
    login_as(client, user)
    response = client.get(reverse("admin:bookings_batch_changelist"))
    assert response.status_code == 200
    assert "recall_search_action" not in response.content.decode()
    assert "Recall search" not in response.content.decode()


def test_a_long_recall_list_is_shown_a_page_at_a_time(client, lots, manager, monkeypatch):
    from bookings import admin_stock

    monkeypatch.setattr(admin_stock, "RECALL_PAGE_SIZE", 2)
    people = sorted((treated(lots["m77"]) for _ in range(3)), key=lambda c: (c.last_name, c.first_name, c.pk))
    login_as(client, manager)
    url = reverse("admin:bookings_batch_recall")
    second = client.get(url, {"lot": "LT-77", "page": "2"}).content.decode()
    assert people[2].email in second
    assert people[0].email not in second
    assert "Clients 3 to 3 of 3" in second
    assert client.get(url, {"lot": "LT-77", "page": "nonsense"}).status_code == 200


def test_the_recall_page_reads_only_its_own_page_of_clients_in_sql(client, lots, manager, monkeypatch):
    monkeypatch.setattr("bookings.admin_stock.RECALL_PAGE_SIZE", 2)
    people = [treated(lots["m77" if i % 2 else "n77"]) for i in range(5)]
    people.sort(key=lambda c: (c.last_name, c.first_name, c.pk))
    login_as(client, manager)
    response = client.get(reverse("admin:bookings_batch_recall") + "?lot=LT-77&page=2")
    page = response.content.decode()
    assert response.status_code == 200
    assert "5 clients" in page
    assert "Clients 3 to 4 of 5" in page
    assert {p.email for p in people if p.email in page} == {people[2].email, people[3].email}
    # Only the page's clients and their sessions are read and built.
    result = recall_page("lt-77", page_number=2, per_page=2)
    assert [entry["pk"] for entry in result.entries] == [people[2].pk, people[3].pk]
    assert (result.client_count, result.session_count) == (5, 5)
    assert [len(entry["sessions"]) for entry in result.entries] == [1, 1]
