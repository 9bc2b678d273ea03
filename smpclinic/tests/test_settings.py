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
    ],
)
def test_it_rejects_bad_values_loudly(tmp_path, name, value, message):
    result = run_manage("check", env={name: value}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


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
