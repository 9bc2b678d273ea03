"""Scale-out: two web processes (gunicorn) and two Celery workers on one PostgreSQL (the test
database) and one Redis, as docs/deploy.md runs them, through races, a killed worker and a
Redis outage.

The Redis here is the test's own redis-server on a free port, never the shared one on
REDIS_URL: the test stops it for a minute. Every process travels to this test's clock
(SMP_TEST_CLOCK, read by the test wrappers only), so web, workers and test agree on "now".
Beat's part (waking the dispatcher) is played by the test, once a second.

    pytest -m scale_out
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings.models import Appointment, ClientMessage
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, technician_working
from bookings.tests.mailers import delivered
from clients.models import Client, ConsentWording
from clients.tests.factories import ConsentWordingFactory
from conftest import CLOCK_ENV, celery_worker_env, missing

LONDON = ZoneInfo("Europe/London")
ROOT = Path(__file__).resolve().parents[2]
RACERS, SLOTS = 50, 5
MESSAGES = 1000
OUTAGE_SECONDS = 60
_SMS = re.compile(r"sms outbox-(\d+) not sent")
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

pytestmark = [
    pytest.mark.scale_out,
    # About two minutes on a quiet machine, a minute of it the outage; the test database's
    # creation may fall into its setup and a busy machine can double the rest.
    pytest.mark.timeout(600),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kombu_connection_crash(worker) -> None:
    """The one way a worker may stop in this test: kombu 5.7 stops a worker whose broker connection
    drops while a message it received is still unacknowledged (restoring it on a released
    connection: AttributeError on the connection's hostname). The process manager restarts it
    (docs/deploy.md) and no message is lost (the test checks). Any other way of dying fails."""
    log = Path(worker.log_path).read_text(errors="replace")
    assert "Connection to broker lost" in log, log[-3000:]
    crash = "Unrecoverable error: AttributeError(\"'NoneType' object has no attribute 'hostname'\")"
    assert crash in log, log[-3000:]


def _wait_until(condition, *, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def _travelled_now() -> str:
    # This process's clock (frozen_now's, ticking): each subprocess starts there and ticks on.
    return datetime.now(UTC).isoformat()


class OwnRedis:
    """A redis-server of this test's own, on a free port, that it may stop and start again."""

    def __init__(self, log_path: Path) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            missing("needs the redis-server binary (apt-get install redis-server)")
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--daemonize", "no"]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

        def answers() -> bool:
            try:
                return redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
            except redis.RedisError:
                return False

        _wait_until(answers, timeout=30, what=f"redis-server on port {self.port} answers")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


class Web:
    """gunicorn (one worker process, threads) on a free port, DEBUG off, on the test database."""

    def __init__(self, *, name: str, env: dict, log_path: Path) -> None:
        self.port = _free_port()
        command = [
            sys.executable, "-m", "smpclinic.tests.clocked_gunicorn", "smpclinic.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "8", "--name", name,
            "--log-level", "warning", "--timeout", "60",
        ]  # fmt: skip
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        _wait_until(self._answers, timeout=60, what=f"{name} answers on port {self.port}")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {self.log_path.read_text()[-3000:]}")
        try:
            return Browser(self.port).get("/privacy/")[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self._log.close()


class Browser:
    """One keep-alive connection with the booking page's CSRF cookie and token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie, self.token = "", ""

    def get(self, path: str) -> tuple[int, str]:
        self.connection.request("GET", path, headers={"Cookie": self.cookie} if self.cookie else {})
        response = self.connection.getresponse()
        body = response.read().decode()
        cookie = response.getheader("Set-Cookie", "")
        if "csrftoken=" in cookie:
            self.cookie = cookie.split(";")[0]
        if match := _TOKEN.search(body):
            self.token = match.group(1)
        return response.status, body

    def book(self, *, location: str, start: datetime, n: int) -> int:
        fields = {
            "csrfmiddlewaretoken": self.token,
            "location": location,
            "start": start.isoformat(),
            "first_name": "Scale",
            "last_name": str(n),
            "email": f"scale{n}@example.com",
            "phone": "07700 900123",
            "health_consent": "on",
            "date_of_birth": "1985-03-14",
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie}
        # A fresh connection: gunicorn closes one idle for longer than its keep-alive.
        self.connection.close()
        self.connection.request("POST", "/book/", body=urllib.parse.urlencode(fields), headers=headers)
        response = self.connection.getresponse()
        response.read()
        return response.status


class Ticker:
    """Beat's part: asks both workers to dispatch, once a second, whether Redis answers or not."""

    def __init__(self, broker_url: str) -> None:
        from celery import Celery

        # Not the current app: tests run after this one in the same process must keep theirs.
        self.app = Celery("scale-out-beat", broker=broker_url, set_as_current=False)
        self.app.conf.broker_connection_retry_on_startup = False
        self.stopping = threading.Event()
        self.sent = self.refused = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(1.0):
            try:
                for _ in range(2):
                    self.app.send_task("bookings.reminders_dispatch", retry=False, expires=55)
                self.sent += 2
            except Exception:  # noqa: BLE001 - while Redis is down every send fails; the next tick tries again
                self.refused += 1

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)


def _due_aftercare(count: int, *, location, technician, now: datetime) -> list[int]:
    """`count` completed sessions in the past, each owing a day-4 message due now."""
    client = Client.objects.create(first_name="Due", last_name="Client", email="due.client@example.com")
    first = (now - timedelta(days=count // 8 + 30)).replace(minute=0, second=0, microsecond=0)
    appointments = Appointment.objects.bulk_create(
        Appointment(
            kind=Appointment.Kind.TREATMENT_SESSION,
            status=Appointment.Status.COMPLETED,
            client=client,
            technician=technician,
            location=location,
            start=first + timedelta(hours=3 * n),
            end=first + timedelta(hours=3 * n, minutes=150),
            completed_at=first + timedelta(hours=3 * n, minutes=150),
        )
        for n in range(count)
    )
    rows = ClientMessage.objects.bulk_create(
        ClientMessage(appointment=a, kind=ClientMessage.Kind.AFTERCARE_DAY_4, due_at=now) for a in appointments
    )
    return [row.pk for row in rows]


@pytest.fixture
def cluster(postgres, frozen_now, celery_worker_start, tmp_path):
    """Its own Redis and two web processes on the test database; `worker(name, **env)` starts a
    Celery worker on the same (default queue, same mail folder). Everything stops at the end."""
    redis_server = OwnRedis(tmp_path / "redis.log")
    redis_server.start()
    mail = tmp_path / "mail"
    mail.mkdir()
    started: list = []

    def worker_env(**extra) -> dict:
        # The default queue, on the own Redis: the web processes' wake-ups and the ticks land there.
        return {"REDIS_URL": redis_server.url, CLOCK_ENV: _travelled_now(), "REMINDERS_CLAIM_TIMEOUT_SECONDS": "60",
                **extra}  # fmt: skip

    def worker(name: str, **extra):
        started.append(celery_worker_start(name=name, queue="celery", mail_dir=mail, **worker_env(**extra)))
        return started[-1]

    web_env = celery_worker_env(
        mail_dir=mail,
        REDIS_URL=redis_server.url,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="scale-out-test-" + "k" * 50,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_HSTS_SECONDS="0",
        DJANGO_STATIC_MANIFEST="0",
        # The web sends no client mail (the workers do); a server that is not there.
        EMAIL_URL="smtp://127.0.0.1:9",
        BOOKING_RATE_LIMIT_PER_IP="1000",
        DJANGO_LOG_LEVEL="WARNING",
    )
    webs = []
    try:
        for name in ("web-1", "web-2"):
            webs.append(Web(name=name, env={**web_env, CLOCK_ENV: _travelled_now()}, log_path=tmp_path / f"{name}.log"))
        yield {
            "redis": redis_server,
            "webs": webs,
            "worker": worker,
            "workers": started,
            "mail": mail,
            "logs": tmp_path,
        }
    finally:
        for process in [*webs, *started]:
            process.stop()
        redis_server.stop()


def _web_logs(logs: Path) -> str:
    text = "".join(log.read_text(errors="replace") for log in sorted(logs.glob("web-*.log")))
    assert "Traceback" not in text, text[-4000:]
    return text


def test_two_webs_and_two_workers_hold_through_races_a_killed_worker_and_a_redis_outage(cluster, frozen_now):
    web1, web2 = cluster["webs"]
    mail: Path = cluster["mail"]
    BookingPolicyFactory(minimum_notice_hours=0)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, effective_from=frozen_now - timedelta(days=30))
    location = LocationFactory(slug="scale")
    technician = technician_working(location=location)
    day = frozen_now.astimezone(LONDON).date() + timedelta(days=7)
    slots = [datetime.combine(day, dtime(10 + n), tzinfo=LONDON) for n in range(SLOTS)]

    # 1. 50 clients at once, through both web processes, ten for each of five times.
    first = Browser(web1.port)
    assert first.get("/book/?location=scale")[0] == 200
    browsers = [Browser((web1 if n % 2 else web2).port) for n in range(RACERS)]
    for browser in browsers:
        # One CSRF cookie and token serve every client (they are not tied to a session).
        browser.cookie, browser.token = first.cookie, first.token
    barrier = threading.Barrier(RACERS)
    answers: list[int | None] = [None] * RACERS

    def race(n: int) -> None:
        barrier.wait(timeout=60)
        answers[n] = browsers[n].book(location="scale", start=slots[n % SLOTS], n=n)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(set(answers)) == [302, 409], answers
    assert answers.count(302) == SLOTS
    booked = Appointment.objects.filter(location=location, start__date=day).order_by("start")
    assert [a.start for a in booked] == slots  # exactly one booking for each time
    assert {a.technician_id for a in booked} == {technician.pk}

    # 2. 1,000 due messages, two workers; b (slow sends) is killed in the middle of one.
    ids = _due_aftercare(MESSAGES, location=location, technician=technician, now=frozen_now)
    with ThreadPoolExecutor(2) as pool:  # each waits for its worker to be ready: start both at once
        starting_a = pool.submit(cluster["worker"], "scale-a")
        starting_b = pool.submit(cluster["worker"], "scale-b", TEST_MAILER_DELAY="0.2")
    worker_a, worker_b = starting_a.result(), starting_b.result()
    ticker = Ticker(cluster["redis"].url)
    try:
        _wait_until(lambda: sum(delivered(mail).values()) >= MESSAGES // 10, timeout=90, what="a tenth sent")
        victim = worker_b.process.pid

        def in_flight() -> bool:
            # b is inside a send: its marker was written under 0.1 s ago (the send sleeps 0.2 s
            # after it) and the message not yet, so a kill now lands before the message is out.
            names = os.listdir(mail)
            written = {name.split(".", 1)[0] for name in names if name.endswith(".eml") and f".{victim}." in name}
            real_now = time_machine.escape_hatch.time.time()
            return any(
                name.endswith(f".sending-{victim}")
                and name.split(".", 1)[0] not in written
                and real_now - (mail / name).stat().st_mtime < 0.1
                for name in names
            )

        _wait_until(in_flight, timeout=60, what="worker b in the middle of a send", interval=0.005)
        worker_b.kill()
        assert ClientMessage.objects.filter(pk__in=ids, status=ClientMessage.Status.SENDING).exists()
        worker_b2 = cluster["worker"]("scale-b2")  # restarted

        # 3. Redis stops for a minute: bookings, pages and the rate limits carry on without it.
        cluster["redis"].stop()
        outage_started = time.monotonic()
        later = [datetime.combine(day + timedelta(days=1 + n // 7), dtime(9 + n % 7), tzinfo=LONDON) for n in range(35)]
        outage_answers: list[tuple[str, int]] = []
        n = 0
        while time.monotonic() - outage_started < OUTAGE_SECONDS:
            browser = Browser((web1, web2)[n % 2].port)
            for path in ("/", "/book/?location=scale", f"/api/availability/?location=scale&start={day}&days=14"):
                outage_answers.append((path, browser.get(path)[0]))
            outage_answers.append(("POST /book/", browser.book(location="scale", start=later[n], n=100 + n)))
            outage_answers.append(("/healthz", browser.get("/healthz")[0]))
            n += 1
            time.sleep(max(0.0, min(3.0, OUTAGE_SECONDS - (time.monotonic() - outage_started))))
        assert n >= 3
        problems = [(path, status) for path, status in outage_answers if status != (503 if path == "/healthz" else
                    302 if path.startswith("POST") else 200)]  # fmt: skip
        assert problems == [], problems  # /healthz says the broker is down (503); nothing else fails
        assert Appointment.objects.filter(location=location, start__in=later[:n]).count() == n
        assert ticker.refused > 0  # the ticks really found Redis down
        cluster["redis"].start()

        # No message lost: the 1,000, the dead worker's claimed ones and every confirmation
        # queued while Redis was down go out once Redis is back, each exactly once. The workers
        # run as under a process manager (docs/deploy.md): one that kombu 5.7 stopped when its
        # broker connection dropped (_kombu_connection_crash) is started again; any other death
        # fails the test.
        due = ClientMessage.objects.filter(due_at__lte=datetime.now(UTC))
        supervised = {"scale-a": worker_a, "scale-b2": worker_b2}

        def every_message_sent() -> bool:
            for name, running in list(supervised.items()):
                if running.process.poll() is not None:
                    _kombu_connection_crash(running)
                    supervised[name] = cluster["worker"](f"{name}-again")
            return not due.exclude(status=ClientMessage.Status.SENT).exists()

        _wait_until(every_message_sent, timeout=120, what="every message sent")
    finally:
        ticker.stop()
    due_ids = set(due.values_list("pk", flat=True))
    assert set(ids) <= due_ids
    assert due.filter(kind=ClientMessage.Kind.CONFIRMATION).count() >= SLOTS + n
    emails = due.filter(channel=ClientMessage.Channel.EMAIL).values_list("pk", flat=True)
    copies = delivered(mail)
    assert {int(row) for row in copies} == set(emails)
    assert set(copies.values()) == {1}
    # Text messages go through the console backend, which logs each one's reference.
    texts = Counter(
        row for worker in cluster["workers"] for row in _SMS.findall(Path(worker.log_path).read_text(errors="replace"))
    )
    assert {int(row) for row in texts} == set(
        due.filter(channel=ClientMessage.Channel.SMS).values_list("pk", flat=True)
    )
    assert set(texts.values()) <= {1}
    assert not ClientMessage.objects.exclude(pk__in=due_ids).filter(status=ClientMessage.Status.SENT).exists()
    for running in supervised.values():
        if running.process.poll() is not None:
            _kombu_connection_crash(running)
    # The outage was real for the web processes, and each part degraded as designed.
    web_log = _web_logs(cluster["logs"])
    assert "rate limit not counted" in web_log
    assert "dispatcher not woken" in web_log
