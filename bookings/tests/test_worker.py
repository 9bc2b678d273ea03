"""The outbox with real Celery workers on Redis and PostgreSQL (see conftest.celery_worker_process).

The worker is a subprocess; the tests move its clock by handing the dispatcher an explicit `now`.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from kombu.exceptions import OperationalError

from bookings.models import Appointment, ClientMessage
from bookings.services.appointments import appointment_complete
from bookings.tests.factories import AppointmentFactory
from bookings.tests.mailers import delivered, read_all, senders
from clients.tests.factories import staff_user
from smpclinic.celery import app as celery_app

LONDON = ZoneInfo("Europe/London")
pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def _complete_session(start: datetime, **client) -> Appointment:
    appointment = AppointmentFactory(
        kind=Appointment.Kind.TREATMENT_SESSION,
        start=start,
        end=start + timedelta(hours=3),
        client__first_name="Robin",
        location__phone="0161 496 0123",
        **{f"client__{k}": v for k, v in client.items()},
    )
    with time_machine.travel(start + timedelta(hours=4), tick=False):
        return appointment_complete(appointment=appointment, by=staff_user(role="Manager"))


def _wait_until(condition, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def _due_rows(count: int, *, due: datetime) -> list[int]:
    """`count` completed sessions of one client, each owing a day-4 message due at `due`."""
    first = AppointmentFactory(kind=Appointment.Kind.TREATMENT_SESSION, status=Appointment.Status.COMPLETED,
                               completed_at=due)  # fmt: skip
    ids = []
    for n in range(count):
        appointment = first if n == 0 else AppointmentFactory(
            kind=Appointment.Kind.TREATMENT_SESSION, status=Appointment.Status.COMPLETED, completed_at=due,
            client=first.client, technician=first.technician, location=first.location,
        )  # fmt: skip
        row = ClientMessage.objects.create(appointment=appointment, kind=ClientMessage.Kind.AFTERCARE_DAY_4, due_at=due)
        ids.append(row.pk)
    return ids


def test_completed_session_sends_exactly_three_aftercare_emails_on_their_days(celery_worker_process, worker_mail):
    session = datetime(2026, 11, 2, 10, 0, tzinfo=LONDON)
    appointment = _complete_session(session)
    worker = celery_worker_process

    worker.dispatch(datetime(2026, 11, 6, 8, 59, tzinfo=LONDON))
    assert delivered(worker_mail) == {}

    sent_at = {}
    for day, anchor in ((6, "day-4"), (9, "day-7"), (12, "day-10")):
        moment = datetime(2026, 11, day, 9, 0, tzinfo=LONDON)
        worker.dispatch(moment)
        worker.dispatch(moment + timedelta(minutes=1))  # a second tick sends nothing more
        sent_at[anchor] = moment
        assert sum(delivered(worker_mail).values()) == len(sent_at)

    rows = {r.kind: r for r in appointment.messages.all()}
    assert {m: r.status for m, r in rows.items()} == dict.fromkeys(rows, ClientMessage.Status.SENT)
    assert rows["aftercare_day4"].sent_at == sent_at["day-4"]
    assert rows["aftercare_day7"].sent_at == sent_at["day-7"]
    assert rows["aftercare_day10"].sent_at == sent_at["day-10"]
    assert all(count == 1 for count in delivered(worker_mail).values())

    emails = {m["X-SMP-Outbox-Id"]: m for m in read_all(worker_mail)}
    day4 = emails[str(rows["aftercare_day4"].pk)]
    text = day4.get_body(("plain",)).get_content()
    html = day4.get_body(("html",)).get_content()
    assert day4["To"] == appointment.client.email
    assert "Day 4" in day4["Subject"]
    assert "Hello Robin" in text
    assert "Monday 2 November 2026" in text
    assert "0161 496 0123" in text
    assert "/aftercare/#day-4" in text
    assert "/aftercare/#day-4" in html
    assert "a little water" in text
    assert "unsubscribe" not in text.lower()
    assert "/aftercare/#day-10" in emails[str(rows["aftercare_day10"].pk)].get_body(("plain",)).get_content()


def test_completing_while_redis_is_down_succeeds_and_sends_once_redis_is_back(celery_worker_process, worker_mail):
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    try:
        from bookings.tasks import reminders_dispatch

        with pytest.raises(OperationalError):  # the broker really is unreachable from here
            reminders_dispatch.apply_async(retry=False)
        appointment = _complete_session(datetime(2026, 11, 2, 10, 0, tzinfo=LONDON))
    finally:
        celery_app.conf.broker_url = original
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    assert appointment.status == Appointment.Status.COMPLETED
    assert appointment.messages.filter(status=ClientMessage.Status.PENDING).count() == 3
    # Redis is back (the broker URL is restored): the day-4 message goes out on the next tick,
    # because its schedule was in the database all along.
    celery_worker_process.dispatch(datetime(2026, 11, 6, 9, 0, tzinfo=LONDON))
    assert list(delivered(worker_mail).values()) == [1]


def test_worker_killed_mid_send_then_restarted_sends_every_message_once(celery_worker_start, celery_worker_process,
                                                                         worker_mail):  # fmt: skip
    due = datetime(2026, 11, 6, 9, 0, tzinfo=LONDON)
    ids = _due_rows(5, due=due)
    slow = celery_worker_start(name="slow", mail_dir=worker_mail, TEST_MAILER_DELAY="2")
    from bookings.tasks import reminders_dispatch

    reminders_dispatch.apply_async(kwargs={"now": due.isoformat()}, queue=slow.queue)
    _wait_until(lambda: len(list(worker_mail.glob("*.sending-*"))) >= 3)
    slow.kill()

    sent_before = delivered(worker_mail)
    assert sum(sent_before.values()) == 2  # killed while the third was on its way
    assert ClientMessage.objects.filter(pk__in=ids, status=ClientMessage.Status.SENDING).count() == 3

    # Within the claim timeout nobody takes the dead worker's rows...
    celery_worker_process.dispatch(due + timedelta(minutes=5))
    assert delivered(worker_mail) == sent_before
    # ...after it, the next tick (here on the restarted shared worker) does.
    celery_worker_process.dispatch(due + timedelta(minutes=11))

    assert delivered(worker_mail) == {str(i): 1 for i in ids}
    statuses = set(ClientMessage.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {ClientMessage.Status.SENT}


def test_two_workers_at_once_send_no_duplicates(celery_worker_start, celery_worker_process, worker_mail):
    due = datetime(2026, 11, 6, 9, 0, tzinfo=LONDON)
    ids = _due_rows(60, due=due)
    (worker_mail / ".delay").write_text("0.05")
    second = celery_worker_start(name="second", queue=celery_worker_process.queue, mail_dir=worker_mail)
    try:
        from bookings.tasks import reminders_dispatch

        for _ in range(2):
            reminders_dispatch.apply_async(kwargs={"now": due.isoformat()}, queue=celery_worker_process.queue)
        _wait_until(lambda: not ClientMessage.objects.exclude(status=ClientMessage.Status.SENT).exists())
    finally:
        second.stop()
        (worker_mail / ".delay").unlink()

    assert delivered(worker_mail) == {str(i): 1 for i in ids}
    assert len(senders(worker_mail)) == 2  # both workers really sent
