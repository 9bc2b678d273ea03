"""Fixtures shared by every app's tests.

Tests that need PostgreSQL, Redis, a Celery worker or Chromium skip with a reason
when run on a laptop without them, and fail instead of skipping in CI (CI=true).
"""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


# The clock of the whole run ----------------------------------------------------------
# `pytest --clock=2027-03-28` (or `--clock=2027-03-28T23:30`) runs every test as if the suite
# had been started at that London moment, so a test that reads the real clock fails on the
# day it would fail in CI, not months later. The clock ticks from there; tests that need an
# exact moment still freeze it themselves (time_machine nests). `make test-dates` uses this.

CLOCK_DEFAULT_TIME = "12:00"
# The environment variable only the test wrapper of the Celery worker reads
# (smpclinic/tests/clocked_celery.py): the worker starts at the same moment as the run.
CLOCK_ENV = "SMP_TEST_CLOCK"  # the same name as smpclinic.tests.clocked_celery.CLOCK_ENV


def parse_clock(value: str):
    """'2027-03-28' or '2027-03-28T23:30' -> an aware Europe/London datetime (noon by default)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    text = value.strip()
    if "T" not in text and " " not in text:
        text = f"{text}T{CLOCK_DEFAULT_TIME}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise pytest.UsageError(f"--clock={value!r}: give a date (2027-03-28) or a local time (2027-03-28T23:30)")
    if moment.tzinfo is None:
        # A wall time that a clock change skips (01:30 on the last Sunday of March) is read
        # as BST, like zoneinfo does; that is a real moment in the run, which is all we need.
        moment = moment.replace(tzinfo=ZoneInfo("Europe/London"))
    return moment


def pytest_addoption(parser):
    parser.addoption(
        "--clock",
        metavar="DATE[THH:MM]",
        default=None,
        help=f"run the whole suite with the clock set to this Europe/London moment ({CLOCK_DEFAULT_TIME} if no time)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # tryfirst: before pytest-django's pytest_configure and before any fixture, so the test
    # database, the settings and every session fixture already see the travelled clock.
    value = config.getoption("clock")
    if value:
        import time_machine

        traveller = time_machine.travel(parse_clock(value), tick=True)
        traveller.start()
        config.stash[_clock_key] = traveller
        global _run_clock_set
        _run_clock_set = True
    _test_settings()


def pytest_unconfigure(config):
    traveller = config.stash.get(_clock_key, None)
    if traveller is not None:
        traveller.stop()
        global _run_clock_set
        _run_clock_set = False


def pytest_report_header(config):
    value = config.getoption("clock")
    if value:
        return f"clock: the run starts at {parse_clock(value).isoformat()} (--clock)"


_clock_key = pytest.StashKey()
_run_clock_set = False


def _test_settings() -> None:
    from django.conf import settings

    # Settings create nothing on import; the SQLite test database and the file-system
    # broker need var/ and its folders, as `manage.py` would have made them.
    from smpclinic.var import var_dirs_create

    var_dirs_create()
    # Django's default hasher costs about a second per password on this machine, paid for every
    # test user created and every login. The tests check who may log in, not the hash's strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Counts the requests in flight, so a browser test's teardown waits for the live server to
    # finish what the browser asked before the database is flushed (smpclinic/tests/inflight.py).
    settings.MIDDLEWARE = ["smpclinic.tests.inflight.InFlightRequests", *settings.MIDDLEWARE]
    # The dashboard's figures are computed on every load in tests (each test checks the
    # figures its own data gives); the snapshot tests turn the snapshots on themselves.
    settings.DASHBOARD_CACHE_SECONDS = 0
    # Rendered pages outlive a test's rolled-back rows in the shared cache: the page cache is off
    # unless a test turns it on (smpclinic/tests/test_public_page_cache.py, bookings/tests/test_booking_form_cache.py).
    settings.PAGE_CACHE_SECONDS = 0
    # Under pytest-xdist every worker gets its own cache, so one worker's rate-limit counters
    # (all requests come from 127.0.0.1) and cache.clear() never reach another's.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    cache = dict(settings.CACHES["default"])
    if cache["BACKEND"] == "smpclinic.cache.RedisCache":
        cache.update(BACKEND="smpclinic.tests.cache.PrefixedRedisCache", KEY_PREFIX=f"tests-{worker}")
    elif cache["BACKEND"] == "django.core.cache.backends.filebased.FileBasedCache":
        cache["LOCATION"] = os.path.join(cache["LOCATION"], f"tests-{worker}")
    settings.CACHES = {**settings.CACHES, "default": cache}
    from django.core.cache import caches

    caches.__dict__.pop("settings", None)  # read CACHES afresh if anything looked already


@pytest.fixture
def client():
    """The test client, whose login() passes a request as the login pages do (django-axes needs it)."""
    from smpclinic.tests.logins import StaffClient

    return StaffClient()


@pytest.fixture
def admin_client(db, admin_user):
    """pytest-django's admin client, past the second factor a superuser (a manager) needs."""
    from smpclinic.tests.logins import StaffClient, otp_verified_login

    client = StaffClient()
    otp_verified_login(client, admin_user)
    return client


def missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}: CI must run every test", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def postgres(db):
    """Use in tests that only PostgreSQL can prove (exclusion constraints, row locks)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        missing("needs PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture(scope="session")
def redis_url() -> str:
    from django.conf import settings

    if not settings.REDIS_URL:
        missing("needs Redis: set REDIS_URL=redis://...")
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        missing(f"needs Redis at REDIS_URL, which did not answer ({type(exc).__name__})")
    return settings.REDIS_URL


# One frozen "now" per test -----------------------------------------------------------
# A test whose data is "N days before now" reads the clock: on some day of the year N days
# back is a clock change, a bank holiday or the day another test travels to. Tests that
# need "today" freeze one moment and derive every date from it.

LONDON = ZoneInfo("Europe/London")
# An ordinary working Wednesday morning: no clock change, bank holiday, month or year end
# within five weeks either side, and hours from midnight whichever way the clock ticks.
ORDINARY_NOW = datetime(2026, 6, 10, 10, 30, tzinfo=LONDON)


@pytest.fixture
def now() -> datetime:
    """The moment a test using `frozen_now` runs at; override it (or parametrize `now`) to choose another."""
    return ORDINARY_NOW


@pytest.fixture
def frozen_now(now) -> datetime:
    """Travel to `now` for the whole test, fixtures included; the clock ticks from there."""
    import time_machine

    with time_machine.travel(now, tick=True):
        yield now


@pytest.fixture
def clock_stopped() -> datetime:
    """Stop the clock where the run's clock is (the real one, or --clock's) for the whole test.

    For tests of code that works out "today" itself (the demo seeder): they still run on
    whatever date the suite runs on, but seeding and assertions never straddle midnight.
    """
    import time_machine
    from django.utils import timezone

    moment = timezone.now()
    with time_machine.travel(moment, tick=False):
        yield moment


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Each test writes uploads to its own private folder."""
    location = str(tmp_path / "private")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": location, "base_url": None}},
        "private": {**settings.STORAGES["private"], "OPTIONS": {"location": location, "base_url": None}},
    }
    settings.PRIVATE_MEDIA_ROOT = location
    settings.MEDIA_ROOT = location


@pytest.fixture(autouse=True)
def _cache_cleared():
    """Each test starts and ends with an empty cache (this worker's keys only: the rate limits'
    counters, pages and snapshots of the previous test's rolled-back rows)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _booking_refdata_forgotten():
    """Each test starts without the online booking's copy of the previous test's rows (ids
    repeat after a rollback)."""
    from bookings.booking_refdata import refdata_clear

    refdata_clear()
    yield
    refdata_clear()


@pytest.fixture(autouse=True)
def _dispatcher_wake_throttle_reset():
    """Each test's first wake-up goes out at once, and none is left pending for the next test."""
    from bookings.services.messaging import _wake_dispatcher

    _wake_dispatcher.reset()
    yield
    _wake_dispatcher.reset()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if IN_CI and terminalreporter.stats.get("skipped"):
        terminalreporter.write_line("CI forbids skipped tests; see the skips above.", red=True)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if IN_CI and reporter is not None and reporter.stats.get("skipped") and session.exitstatus == 0:
        session.exitstatus = 1


# Browser tests ------------------------------------------------------------------
# One Chromium for the whole run (Debian's, driven by Playwright; never downloaded).

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
AXE_JS = os.path.join(os.path.dirname(__file__), "smpclinic", "tests", "assets", "axe.min.js")
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        missing(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between page actions are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page_factory(browser, live_server):
    """new_page(viewport=PHONE) -> a page in a fresh context; contexts close after the test.

    Depends on live_server so that it is torn down first: the pages close (and stop asking for
    lazy images) before the live server stops and the test database is flushed.
    """
    contexts = []

    def new_page(viewport: dict | None = None, **kwargs):
        context = browser.new_context(
            viewport=viewport or DESKTOP, locale="en-GB", timezone_id="Europe/London", **kwargs
        )
        context.set_default_timeout(15_000)
        _browser_clock_follows_tests(context)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.console_errors = errors
        return page

    yield new_page
    for context in contexts:
        context.close()
    # A request the last click started may still be running in the live server: let it finish
    # before the transactional teardown truncates the tables its transaction holds locks on.
    from smpclinic.tests.inflight import wait_idle

    assert wait_idle(), "the live server was still handling a request 15 s after the pages closed"


def _browser_clock_follows_tests(context) -> None:
    """When this process travels in time (--clock, frozen_now), the page's Date says the same.

    The live server runs in this process and follows time_machine; Chromium does not. Only
    then is the clock installed (it ticks on from there): Playwright's fake clock also
    replaces the page's timers, which an ordinary run has no reason to risk.
    """
    from datetime import UTC

    import time_machine

    if time_machine.escape_hatch.is_travelling():
        context.clock.install(time=datetime.now(UTC))


# The page's CSS transitions still running (a button's hover colour after a click, say): axe
# reads their colours half-way and reports a contrast that the settled page does not have.
RUNNING_TRANSITIONS_JS = """() => document.getAnimations().filter(
    a => a.playState === 'running' && a.effect && a.effect.getComputedTiming().iterations !== Infinity
).length"""


def axe_violations(page, *, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (vendored) on the page, once its transitions have settled (at most a second);
    return the violations of the given impacts."""
    import time

    for _ in range(20):
        if not page.evaluate(RUNNING_TRANSITIONS_JS):
            break
        time.sleep(0.05)
    with open(AXE_JS, encoding="utf-8") as fh:
        page.evaluate(fh.read())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]


# Celery worker ------------------------------------------------------------------
# One real worker subprocess for the whole run, on Redis and the pytest-django test database,
# writing each e-mail to its own file (bookings.tests.mailers.RecordingEmailBackend).


class CeleryWorker:
    """A `celery worker` subprocess on one queue; `dispatch(now)` runs the outbox task there."""

    def __init__(self, *, name: str, queue: str, mail_dir, log_path, env: dict) -> None:
        import subprocess
        import sys

        self.name, self.queue, self.mail_dir, self.log_path = name, queue, mail_dir, log_path
        command = [
            # The test wrapper travels to the run's clock (--clock), then is `python -m celery`.
            sys.executable, "-m", "smpclinic.tests.clocked_celery", "-A", "smpclinic", "worker",
            "--pool=solo", "--loglevel=INFO", "-Q", queue, "-n", f"{name}@%h",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ]  # fmt: skip
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=os.path.dirname(__file__), env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_for_log(" ready.", timeout=90)

    def _wait_for_log(self, text: str, *, timeout: float) -> None:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                if text in fh.read():
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            tail = fh.read()[-3000:]
        pytest.fail(f"worker {self.name} did not log {text!r}; log tail:\n{tail}", pytrace=False)

    def dispatch(self, now=None, *, timeout: float = 60) -> None:
        """Run the outbox dispatcher in this worker with the clock at `now`; wait until it is done."""
        from bookings.tasks import reminders_dispatch

        kwargs = {"now": now.isoformat()} if now is not None else {}
        result = reminders_dispatch.apply_async(kwargs=kwargs, queue=self.queue)
        self._wait_for_log(f"[{result.id}] succeeded", timeout=timeout)

    def kill(self) -> None:
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except Exception:  # noqa: BLE001 - a worker that ignores TERM is killed
                self.process.kill()
                self.process.wait(timeout=30)
        self._log.close()


def celery_worker_env(*, mail_dir, **extra) -> dict:
    """The environment of a worker subprocess: this run's test database and Redis, a file mailer."""
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings
    from django.db import connection

    url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"])),
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "MAILER_BACKEND": "bookings.tests.mailers.RecordingEmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        # Small claims, so two workers share the few dozen rows a test queues.
        "REMINDERS_BATCH_SIZE": "20",
    }
    env.pop(CLOCK_ENV, None)
    if _run_clock_set:
        # The worker starts where this process's travelled clock is now and ticks from there.
        from datetime import UTC, datetime

        env[CLOCK_ENV] = datetime.now(UTC).isoformat()
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope="session")
def celery_worker_start(django_db_setup, django_db_blocker, redis_url, tmp_path_factory):
    """start(name=..., queue=..., **env) -> CeleryWorker; every worker started is stopped at the end."""
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            missing("a real Celery worker needs PostgreSQL: set DATABASE_URL=postgres://...")
    workers = []
    run = f"{os.getpid()}"

    def start(*, name: str, queue: str | None = None, mail_dir=None, **env) -> CeleryWorker:
        folder = mail_dir or tmp_path_factory.mktemp(f"mail-{name}")
        worker = CeleryWorker(
            name=f"{name}-{run}",
            queue=queue or f"tests-{name}-{run}",
            mail_dir=folder,
            log_path=tmp_path_factory.mktemp(f"log-{name}") / "worker.log",
            env=celery_worker_env(mail_dir=folder, **env),
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture(scope="session")
def celery_worker_process(celery_worker_start) -> CeleryWorker:
    """The one shared worker; tests using it need django_db(transaction=True) so it sees their rows."""
    return celery_worker_start(name="shared")


@pytest.fixture
def worker_mail(celery_worker_process):
    """The shared worker's mail folder, emptied for this test."""
    for path in celery_worker_process.mail_dir.iterdir():
        path.unlink()
    return celery_worker_process.mail_dir
