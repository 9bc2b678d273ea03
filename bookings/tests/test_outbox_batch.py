"""The outbox at volume: a batch is claimed, looked up and recorded in a fixed number of
queries, accepted messages are marked `sent` in small groups (so a killed worker sends again at
most the open group), and concurrent dispatchers on PostgreSQL never send a message twice."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from bookings.models import Appointment, ClientMessage, MessageTemplate
from bookings.services.outbox import reminders_dispatch
from bookings.sms.backends import locmem
from bookings.tests.factories import AppointmentFactory
from bookings.tests.mailers import delivered
from clients.models import Client
from conftest import celery_worker_env

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


_MARK = 'UPDATE "bookings_clientmessage" SET "status" = \'sent\''
# Longer than any test runs: groups then close on their size alone, the same way every run.
NEVER_MS = 3_600_000


@pytest.mark.django_db
def test_a_batch_of_50_costs_the_queries_of_a_batch_of_1(settings, mailoutbox):
    settings.REMINDERS_BATCH_SIZE = settings.REMINDERS_MARK_GROUP = 50
    settings.REMINDERS_MARK_WINDOW_MS = NEVER_MS
    assert MessageTemplate.objects.filter(kind=ClientMessage.Kind.AFTERCARE_DAY_4).exists()  # a real lookup

    _due_rows(1)
    one = _dispatch_queries(settings)
    ClientMessage.objects.all().delete()
    mailoutbox.clear()
    _due_rows(50)
    fifty = _dispatch_queries(settings)

    assert len(mailoutbox) == 50
    assert len(fifty) == len(one)  # the claims, the look-up, wording, superseded changes, one mark
    assert len([sql for sql in fifty if sql.startswith(_MARK)]) == 1
    assert set(ClientMessage.objects.values_list("status", "claim_token")) == {(S.SENT, "")}


@pytest.mark.django_db
def test_accepted_messages_are_marked_in_groups_of_mark_group_one_update_per_channel(
    settings, mailoutbox, django_assert_max_num_queries
):
    settings.REMINDERS_BATCH_SIZE = 50
    settings.REMINDERS_MARK_GROUP = 10
    settings.REMINDERS_MARK_WINDOW_MS = NEVER_MS
    settings.SMS_BACKEND = "bookings.sms.backends.locmem.SmsBackend"
    locmem.outbox.clear()
    _due_rows(1)
    one = _dispatch_queries(settings)
    ClientMessage.objects.all().delete()
    mailoutbox.clear()
    ids = _due_rows(50, sms_every=5)

    with django_assert_max_num_queries(len(one) - 1 + 5 * 2):
        fifty = _dispatch_queries(settings)

    assert (len(mailoutbox), len(locmem.outbox)) == (40, 10)  # texts share the claim and the recording
    marks = [sql for sql in fifty if sql.startswith(_MARK)]
    assert len(marks) == 10  # five groups of ten, each one e-mail and one SMS update
    assert all(sql.count(",") <= 8 + 5 for sql in marks)
    rows = ClientMessage.objects.filter(pk__in=ids)
    assert {(r.status, r.claim_token) for r in rows} == {(S.SENT, "")}
    assert {r.channel for r in rows if r.pk in ids[::5]} == {ClientMessage.Channel.SMS}


class _Watching(BaseEmailBackend):
    """A mail server that, as each message is handed over, notes how many messages it already
    accepted are not yet recorded `sent` (the ones a worker dying now would send again)."""

    accepted: list[int] = []
    unrecorded: list[int] = []

    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            recorded = set(
                ClientMessage.objects.filter(pk__in=self.accepted, status=S.SENT).values_list("pk", flat=True)
            )
            self.unrecorded.append(len(set(self.accepted) - recorded))
            self.accepted.append(int(message.extra_headers["X-SMP-Outbox-Id"]))
        return len(email_messages)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("group", "window_ms", "most_unrecorded"),
    [
        (10, NEVER_MS, 9),  # fast sends: a group fills before it is written
        (10, 0, 0),  # every send took longer than the window: each is marked before the next
        (1, NEVER_MS, 0),  # groups of one: the old per-message mark
    ],
)
def test_a_message_handed_over_is_recorded_within_the_group_or_the_window(settings, group, window_ms, most_unrecorded):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}._Watching"}}
    settings.REMINDERS_BATCH_SIZE = 100
    settings.REMINDERS_MARK_GROUP, settings.REMINDERS_MARK_WINDOW_MS = group, window_ms
    _Watching.accepted, _Watching.unrecorded = [], []
    ids = _due_rows(35)

    assert reminders_dispatch(now=DUE) == {"sent": 35}

    assert _Watching.accepted == ids
    assert max(_Watching.unrecorded) == most_unrecorded
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


_DISPATCH_ONCE = """
import django
django.setup()
from datetime import datetime
from bookings.services.outbox import reminders_dispatch
reminders_dispatch(now=datetime.fromisoformat({due!r}))
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("group", "sent_twice"), [(10, 5), (1, 0)])
def test_a_worker_killed_mid_batch_sends_again_only_its_open_group(postgres, settings, tmp_path, group, sent_twice):
    """A real process dies (SIGKILL) as its 26th message is handed over: the 20 marked in full
    groups stay sent, the five of the open group go out again after the claim timeout, the
    rest once; nothing is lost. With groups of one, nothing is sent twice."""
    ids = _due_rows(40)
    (tmp_path / ".kill-after").write_text("25")
    env = celery_worker_env(
        mail_dir=tmp_path,
        REMINDERS_BATCH_SIZE="100",
        REMINDERS_MARK_GROUP=str(group),
        REMINDERS_MARK_WINDOW_MS=str(NEVER_MS),
        DJANGO_LOG_LEVEL="WARNING",
    )
    code = _DISPATCH_ONCE.format(due=DUE.isoformat())
    died = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120, check=False)
    assert died.returncode == -9, died.stderr.decode()[-2000:]

    assert delivered(tmp_path) == {str(i): 1 for i in ids[:25]}
    sent = set(ClientMessage.objects.filter(status=S.SENT).values_list("pk", flat=True))
    assert sent == set(ids[: 25 - sent_twice])  # marked only what was accepted
    (tmp_path / ".kill-after").unlink()
    settings.MAILERS = {
        "default": {"BACKEND": "bookings.tests.mailers.RecordingEmailBackend", "OPTIONS": {"file_path": str(tmp_path)}}
    }
    later = DUE + timedelta(seconds=settings.REMINDERS_CLAIM_TIMEOUT_SECONDS + 1)

    assert reminders_dispatch(now=later) == {"sent": 40 - 25 + sent_twice}

    copies = delivered(tmp_path)
    assert {int(i) for i in copies} == set(ids)  # none lost
    assert sorted(int(i) for i, n in copies.items() if n > 1) == ids[25 - sent_twice : 25]
    assert set(copies.values()) <= {1, 2}
    assert set(ClientMessage.objects.values_list("status", "claim_token")) == {(S.SENT, "")}
    assert os.listdir(tmp_path)  # the mail folder was the one both processes wrote to
