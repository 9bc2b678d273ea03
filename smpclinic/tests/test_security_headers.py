"""Production's security headers and cookies on every kind of page, and `check --deploy` clean.

The settings come from a subprocess that loads smpclinic.settings with production values
(DEBUG off), so these tests check what a deploy gets, not what the laptop defaults are.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.urls import reverse

from bookings.tests.factories import LocationFactory, TechnicianFactory
from clients.tests.factories import staff_user
from smpclinic.tests.logins import login_as
from smpclinic.tests.test_settings import BASE_DIR, PRODUCTION, run_manage

SECURITY_SETTINGS = [
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SECURE",
    "X_FRAME_OPTIONS",
    "PERMISSIONS_POLICY",
]
PASSWORD = "a-long-test-password"


@pytest.fixture(scope="module")
def production_values(tmp_path_factory):
    script = (
        "import json, smpclinic.settings as s;"
        f"print(json.dumps({{name: getattr(s, name) for name in {SECURITY_SETTINGS!r}}}))"
    )
    env = {"PATH": "/usr/bin:/bin", "SMP_VAR_DIR": str(tmp_path_factory.mktemp("var")), **PRODUCTION}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def production(settings, production_values):
    for name, value in production_values.items():
        setattr(settings, name, value)
    settings.ALLOWED_HOSTS = ["clinic.example.com"]
    return production_values


def public_page(client):
    return client.get("/", secure=True, HTTP_HOST="clinic.example.com")


def admin_page(client):
    login_as(client, staff_user(role="Manager", username="boss"))
    return client.get(reverse("admin:index"), secure=True, HTTP_HOST="clinic.example.com")


def staff_workspace(client):
    user = staff_user(role="Technician", username="tech")
    TechnicianFactory(user=user, locations=[LocationFactory()])
    login_as(client, user)
    return client.get(reverse("staff:schedule"), secure=True, HTTP_HOST="clinic.example.com")


@pytest.mark.django_db
@pytest.mark.parametrize("page", [public_page, admin_page, staff_workspace], ids=["public", "admin", "workspace"])
def test_every_kind_of_page_carries_the_security_headers(client, production, frozen_now, page):
    response = page(client)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    # Scripts from the site's own files only (plus a nonce on a page that needs one).
    assert "script-src 'self'" in csp
    assert "style-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    policy = {part.split("=")[0]: part.split("=")[1] for part in response["Permissions-Policy"].split(", ")}
    for feature in ("geolocation", "microphone", "payment", "usb", "serial", "display-capture"):
        assert policy[feature] == "()", feature
    # The photo upload may open the phone's camera (<input capture>): only this site may ask.
    assert policy["camera"] == "(self)"


def test_plain_http_is_sent_to_https(client, production):
    response = client.get("/", HTTP_HOST="clinic.example.com")
    assert response.status_code == 301
    assert response["Location"] == "https://clinic.example.com/"


@pytest.mark.django_db
def test_staff_cookies_are_secure_and_out_of_scripts_reach(client, production, frozen_now):
    staff_user(role="Reception", username="desk")
    login_page = client.get(reverse("admin:login"), secure=True, HTTP_HOST="clinic.example.com")
    assert login_page.cookies["csrftoken"]["secure"] is True
    response = client.post(
        reverse("admin:login"),
        {"username": "desk", "password": PASSWORD},
        secure=True,
        HTTP_HOST="clinic.example.com",
    )
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


def test_check_deploy_reports_nothing_with_production_values(tmp_path):
    result = run_manage("check", "--deploy", env=PRODUCTION, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stderr + result.stdout


def test_check_deploy_reports_nothing_with_an_email_provider(tmp_path):
    env = {**PRODUCTION, "EMAIL_URL": "", "DJANGO_EMAIL_PROVIDER": "postmark", "ANYMAIL_API_KEY": "server-token-123"}
    result = run_manage("check", "--deploy", env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
