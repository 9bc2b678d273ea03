"""Fixtures shared by every app's tests.

Tests that need PostgreSQL, Redis, a Celery worker or Chromium skip with a reason
when run on a laptop without them, and fail instead of skipping in CI (CI=true).
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


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
def page_factory(browser):
    """new_page(viewport=PHONE) -> a page in a fresh context; contexts close after the test."""
    contexts = []

    def new_page(viewport: dict | None = None, **kwargs):
        context = browser.new_context(
            viewport=viewport or DESKTOP, locale="en-GB", timezone_id="Europe/London", **kwargs
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.console_errors = errors
        return page

    yield new_page
    for context in contexts:
        context.close()


def axe_violations(page, *, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (vendored) on the page; return the violations of the given impacts."""
    with open(AXE_JS, encoding="utf-8") as fh:
        page.evaluate(fh.read())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]
