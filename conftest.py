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
