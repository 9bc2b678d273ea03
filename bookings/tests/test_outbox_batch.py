"""The outbox at volume: a batch is claimed, looked up and recorded in a fixed number of
queries (plus the one mark per accepted message that keeps a killed worker's duplicates to the
message in flight), and concurrent dispatchers on PostgreSQL never send a message twice."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from bookings.models import Appointment, ClientMessage, MessageTemplate
from bookings.services.outbox import reminders_dispatch
from bookings.sms.backends import locmem
from bookings.tests.factories import AppointmentFactory
from bookings.tests.mailers import delivered
from clients.models import Client

LONDON = ZoneInfo("Europe/London")
DUE = datetime(2026, 11, 6, 9, 0, tzinfo=LONDON)
S = ClientMessage.Status
_serial = itertools.count()


def _due_rows(count: int, *, sms_every: int = 0) -> list[int]:
    """`count` completed sessions, each owing a day-4 message due at DUE; every `sms_every`-th
    client prefers text messages."""
    first = AppointmentFactory(kind=Appointment.Kind.TREATMENT_SESSION, status=Appointment.Status.COMPLETED,
                               completed_at=DUE - timedelta(days=4))  # fmt: skip
    serials = [next(_serial) for _ in range(count)]
    clients = Client.objects.bulk_create(
        Client(
            first_name=f"Batch{serials[n]}",
            last_name="Client",
            email=f"batch{serials[n]}@example.com",
            phone="+447700900123",
            preferred_channel="sms" if sms_every and n % sms_every == 0 else "email",
        )
        for n in range(count)
    )
    start = datetime(2026, 11, 2, 10, tzinfo=LONDON)
    appointments = Appointment.objects.bulk_create(
        Appointment(
            reference=f"SMP-T{serials[n]:05d}",
            kind=Appointment.Kind.TREATMENT_SESSION,
            client=client,
            technician=first.technician,
            location=first.location,
            treatment=first.treatment,
            start=start - timedelta(hours=2 * n),
            end=start - timedelta(hours=2 * n) + timedelta(minutes=90),
            status=Appointment.Status.COMPLETED,
            completed_at=start,
        )
        for n, client in enumerate(clients)
    )
    rows = ClientMessage.objects.bulk_create(
        ClientMessage(appointment=a, kind=ClientMessage.Kind.AFTERCARE_DAY_4, due_at=DUE) for a in appointments
    )
    return [r.pk for r in rows]


def _dispatch_queries(settings) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        reminders_dispatch(now=DUE)
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.django_db
def test_a_batch_of_50_costs_the_queries_of_a_batch_of_1_plus_one_mark_per_message(
    settings, mailoutbox, django_assert_max_num_queries
):
    settings.REMINDERS_BATCH_SIZE = 50
    settings.SMS_BACKEND = "bookings.sms.backends.locmem.SmsBackend"
    locmem.outbox.clear()
    assert MessageTemplate.objects.filter(kind=ClientMessage.Kind.AFTERCARE_DAY_4).exists()  # a real lookup

    _due_rows(1)
    one = _dispatch_queries(settings)
    ClientMessage.objects.all().delete()
    mailoutbox.clear()
    _due_rows(50, sms_every=5)
    with django_assert_max_num_queries(len(one) + 49):
        fifty = _dispatch_queries(settings)

    assert (len(mailoutbox), len(locmem.outbox)) == (40, 10)  # texts share the claim and the recording
    marks = [sql for sql in fifty if sql.startswith('UPDATE "bookings_clientmessage" SET "status" = \'sent\'')]
    assert len(marks) == 50
    assert len(fifty) - len(marks) == len(one) - 1  # everything but the marks is shared by the batch
    assert set(ClientMessage.objects.values_list("status", "claim_token")) == {(S.SENT, "")}


@pytest.mark.django_db
def test_a_batch_the_mail_server_refuses_is_recorded_in_one_update(settings):
    settings.MAILERS = {"default": {"BACKEND": "bookings.tests.mailers.RefusingEmailBackend"}}
    settings.REMINDERS_BATCH_SIZE = 20
    ids = _due_rows(20)

    queries = _dispatch_queries(settings)

    retries = [
        sql
        for sql in queries
        if sql.startswith('UPDATE "bookings_clientmessage" SET "claim_token" = \'\', "updated_at"')
    ]
    assert len(retries) == 1
    rows = ClientMessage.objects.filter(pk__in=ids)
    assert {(r.status, r.claim_token, r.attempts, r.next_attempt_at) for r in rows} == {
        (S.PENDING, "", 1, DUE + timedelta(seconds=settings.REMINDERS_RETRY_BASE_SECONDS))
    }
    assert all(r.last_error.startswith("SMTPRecipientsRefused") and "@" not in r.last_error for r in rows)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_dispatchers_never_send_the_same_message_twice(postgres, settings, tmp_path):
    ids = _due_rows(60)
    settings.REMINDERS_BATCH_SIZE = 5  # many small claims, so the two really interleave
    settings.MAILERS = {
        "default": {"BACKEND": "bookings.tests.mailers.RecordingEmailBackend", "OPTIONS": {"file_path": str(tmp_path)}}
    }
    (tmp_path / ".delay").write_text("0.01")
    start = threading.Barrier(2)
    results: list[dict] = []
    commit_modes: list[str] = []

    def dispatcher() -> None:
        try:
            start.wait()
            results.append(reminders_dispatch(now=DUE))
            with connection.cursor() as cursor:  # the run leaves its connection as it found it
                cursor.execute("SHOW synchronous_commit")
                commit_modes.append(cursor.fetchone()[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert delivered(tmp_path) == {str(i): 1 for i in ids}
    assert sorted(r.get("sent", 0) > 0 for r in results) == [True, True]  # both really sent
    assert sum(r["sent"] for r in results) == 60
    assert set(ClientMessage.objects.values_list("status", "claim_token", "attempts")) == {(S.SENT, "", 1)}
    assert commit_modes == ["on", "on"]
