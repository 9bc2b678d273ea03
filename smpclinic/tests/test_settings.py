"""Settings come from the environment and fail loudly on bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "Zq8-production-like-secret-key-0123456789-abcdefghijKLMNOPQRSTUVWX",
    "DJANGO_ALLOWED_HOSTS": "clinic.example.com",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}


def run_manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    base["SMP_VAR_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_passes_with_production_values(tmp_path):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout


def test_debug_off_requires_a_secret_key(tmp_path):
    env = {**PRODUCTION, "DJANGO_SECRET_KEY": ""}
    result = run_manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_debug_off_requires_a_real_mail_server(tmp_path):
    env = {**PRODUCTION, "EMAIL_URL": ""}
    result = run_manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "EMAIL_URL must be set" in result.stderr


def test_debug_off_requires_allowed_hosts(tmp_path):
    env = {**PRODUCTION, "DJANGO_ALLOWED_HOSTS": ""}
    result = run_manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS must list" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DJANGO_DEBUG", "maybe", "is not a boolean"),
        ("DJANGO_HSTS_SECONDS", "a year", "is not a whole number"),
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL must start with"),
        ("DATABASE_URL", "nosuchdb://x", "DATABASE_URL is not a usable database URL"),
        ("DJANGO_LOG_LEVEL", "LOUD", "is not a log level"),
        ("STAFF_SESSION_IDLE_MINUTES", "1", "STAFF_SESSION_IDLE_MINUTES=1 must be at least 5"),
        ("STAFF_LOGIN_FAILURE_LIMIT", "none", "is not a whole number"),
        ("STAFF_LOGIN_COOLOFF_MINUTES", "0", "must be at least 1"),
        ("DJANGO_TRUSTED_PROXY_HEADER", "X Real IP", "is not a header name"),
    ],
)
def test_it_rejects_bad_values_loudly(tmp_path, name, value, message):
    result = run_manage("check", env={name: value}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_staff_login_limits_come_from_the_environment(tmp_path):
    env = {"STAFF_SESSION_IDLE_MINUTES": "45", "STAFF_LOGIN_FAILURE_LIMIT": "7", "STAFF_LOGIN_COOLOFF_MINUTES": "20"}
    script = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_AGE, s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME)"
    )
    result = run_manage("shell", "-c", script, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["2700", "7", "0:20:00"]


def test_there_are_no_missing_migrations(tmp_path):
    result = run_manage("makemigrations", "--check", "--dry-run", env={}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_time_zone_and_formats_are_british(settings):
    from django.utils import formats, timezone

    assert settings.TIME_ZONE == "Europe/London"
    assert settings.USE_TZ is True
    assert formats.date_format(timezone.datetime(2026, 3, 29).date(), "SHORT_DATE_FORMAT") == "29/03/2026"


def test_content_security_policy_forbids_inline_scripts(client, db):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The embedded defaults (SQLite, file-system broker) with var/ under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    return {**env, "SMP_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(BASE_DIR)}


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_importing_settings_creates_nothing(tmp_path):
    script = "import smpclinic.settings as s; print(s.VAR_DIR, s.CELERY_BROKER_URL)"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=clean_env(tmp_path), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / "var"), "filesystem://"]
    assert files_under(tmp_path) == []


def test_the_embedded_broker_keeps_its_state_under_var(tmp_path):
    # Publishing declares the exchange: kombu's file-system transport writes its table to
    # control_folder, which must not be ./control in whatever folder the process started in.
    script = (
        "import django; django.setup();"
        "from smpclinic.var import var_dirs_create; var_dirs_create();"
        "from bookings.tasks import reminders_dispatch; reminders_dispatch.apply_async()"
    )
    env = {**clean_env(tmp_path), "DJANGO_SETTINGS_MODULE": "smpclinic.settings"}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["var"]
    assert (tmp_path / "var" / "broker" / "control" / "celery.exchange").is_file()
    assert len(list((tmp_path / "var" / "broker" / "out").iterdir())) == 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [("", "http://127.0.0.1:8000"), ("https://clinic.example.com/", "https://clinic.example.com")],
)
def test_an_empty_site_url_counts_as_unset(tmp_path, given, expected):
    script = "import smpclinic.settings as s; print(s.SITE_URL)"
    env = {**clean_env(tmp_path), "SITE_URL": given}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_make_runs_children_link_to_its_address_when_site_url_is_empty(tmp_path, monkeypatch):
    """The path a worker's links take: runclinic's child environment, then the settings the
    worker loads (SITE_URL empty, as a .env copied from .env.example leaves it)."""
    from smpclinic.management.commands.runclinic import child_env

    monkeypatch.setenv("SITE_URL", "")
    script = "import smpclinic.settings as s; print(s.SITE_URL)"
    env = {**clean_env(tmp_path), "SITE_URL": child_env("127.0.0.1:8100")["SITE_URL"]}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.stdout.strip() == "http://127.0.0.1:8100", result.stderr
