"""Lockout after repeated failed logins (django-axes), per account and per address, on both
login pages; the lockout page; a manager's unlock; the client address behind a proxy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory
from django.urls import reverse

from bookings.network import client_ip
from clients.models import AuditEvent
from clients.tests.factories import staff_user
from smpclinic.tests.logins import otp_verified_login

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
ADMIN_LOGIN = "/admin/login/"
STAFF_LOGIN = "/staff/login/"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = 3


def attempt(client, url, username, password="wrong-password", address="10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.parametrize("url", [ADMIN_LOGIN, STAFF_LOGIN])
def test_an_account_is_locked_after_repeated_failures_from_any_address(client, url):
    user = staff_user(role="Reception", username="desk")
    for n in range(2):
        assert attempt(client, url, user.username, address=f"10.0.0.{n + 1}").status_code == 200
    locked = attempt(client, url, user.username, address="10.0.0.3")
    assert locked.status_code == 429
    # Even the right password, from yet another address, is refused until the cool-off ends.
    response = attempt(client, url, user.username, password=PASSWORD, address="10.0.0.9")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", [ADMIN_LOGIN, STAFF_LOGIN])
def test_an_address_is_locked_after_failures_with_different_usernames(client, url):
    user = staff_user(role="Reception", username="desk")
    for name in ("alice", "bob"):
        assert attempt(client, url, name).status_code == 200
    assert attempt(client, url, "carol").status_code == 429
    # The real user, from that address, waits too; from another address they log in.
    assert attempt(client, url, user.username, password=PASSWORD).status_code == 429
    assert attempt(client, url, user.username, password=PASSWORD, address="10.9.9.9").status_code == 302


def test_the_lockout_page_is_clear_and_names_no_one(client, settings):
    staff_user(role="Reception", username="desk")
    for _ in range(3):
        response = attempt(client, ADMIN_LOGIN, "desk")
    assert response.status_code == 429
    assert response["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    text = response.content.decode()
    assert "Login locked" in text
    assert f"Wait {int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)} minutes" in text
    assert "ask a manager" in text
    assert "desk" not in text
    assert "10.0.0.1" not in text
    assert reverse("accounts:password_reset") in text


def test_the_lock_lifts_after_the_cool_off(client, settings, frozen_now):
    import time_machine

    staff_user(role="Reception", username="desk")
    for _ in range(3):
        attempt(client, ADMIN_LOGIN, "desk")
    for _ in range(3):  # retrying while locked does not restart the wait
        assert attempt(client, ADMIN_LOGIN, "desk", password=PASSWORD).status_code == 429
    with time_machine.travel(frozen_now + settings.AXES_COOLOFF_TIME - timedelta(seconds=30), tick=False):
        assert attempt(client, ADMIN_LOGIN, "desk", password=PASSWORD).status_code == 429
    with time_machine.travel(frozen_now + settings.AXES_COOLOFF_TIME + timedelta(seconds=30), tick=False):
        assert attempt(client, ADMIN_LOGIN, "desk", password=PASSWORD).status_code == 302


def test_a_success_clears_the_earlier_failures(client):
    staff_user(role="Reception", username="desk")
    for _ in range(2):
        attempt(client, STAFF_LOGIN, "desk")
    assert attempt(client, ADMIN_LOGIN, "desk", password=PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        assert attempt(client, STAFF_LOGIN, "desk").status_code == 200


def _lock(client, username="desk"):
    for _ in range(3):
        attempt(client, ADMIN_LOGIN, username)
    assert AccessAttempt.objects.filter(username=username).exists()


def test_a_manager_unlocks_and_the_login_works_again(client):
    staff_user(role="Reception", username="desk")
    boss = staff_user(role="Manager", username="boss")
    _lock(client)
    manager = type(client)()
    otp_verified_login(manager, boss)
    changelist = reverse("admin:axes_accessattempt_changelist")
    listing = manager.get(changelist)
    assert listing.status_code == 200
    assert "desk" in listing.content.decode()
    assert manager.get(changelist, {"q": "10.0.0"}).status_code == 200  # search by address

    ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = manager.post(changelist, {"action": "unlock", "_selected_action": ids}, follow=True)
    assert "Unlocked" in response.content.decode()
    assert not AccessAttempt.objects.exists()
    assert AuditEvent.objects.filter(object_type="login_lockout", actor=boss).count() == len(ids)

    assert attempt(client, ADMIN_LOGIN, "desk", password=PASSWORD).status_code == 302


def test_reception_cannot_see_or_unlock_lockouts(client):
    staff_user(role="Reception", username="locked")
    desk = staff_user(role="Reception", username="desk")
    _lock(client, "locked")
    reception = type(client)()
    reception.force_login(desk)
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert reception.get(changelist).status_code == 403
    ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    assert reception.post(changelist, {"action": "unlock", "_selected_action": ids}).status_code == 403
    assert AccessAttempt.objects.count() == len(ids)
    assert "axes" not in {app["app_label"] for app in reception.get("/admin/").context["app_list"]}


def test_technicians_cannot_reach_the_lockouts(client):
    tech = staff_user(role="Technician", username="tech")
    client.force_login(tech)
    response = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert response.status_code == 302  # not staff: the admin sends them to its login
    assert "/admin/login/" in response["Location"]


def _attempt_row(n):
    AccessAttempt.objects.create(
        username=f"user{n}", ip_address=f"10.0.1.{n}", user_agent="x", failures_since_start=3,
        get_data="", post_data="", http_accept="", path_info=ADMIN_LOGIN,
    )  # fmt: skip


def _log_row(n):
    from axes.models import AccessLog

    AccessLog.objects.create(username=f"user{n}", ip_address=f"10.0.1.{n}", user_agent="x", path_info=ADMIN_LOGIN)


def _device_row(n):
    from smpclinic.tests.logins import totp_device_for

    totp_device_for(staff_user(role="Technician", username=f"tech{n}"))


@pytest.mark.parametrize(
    ("url_name", "make_row", "model"),
    [
        ("admin:axes_accessattempt_changelist", _attempt_row, "axes.AccessAttempt"),
        ("admin:axes_accesslog_changelist", _log_row, "axes.AccessLog"),
        ("admin:otp_totp_totpdevice_changelist", _device_row, "otp_totp.TOTPDevice"),
    ],
)
def test_the_login_lists_cost_the_same_for_one_row_or_twenty(client, url_name, make_row, model):
    from django.apps import apps
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    boss = staff_user(role="Manager", username="boss")
    otp_verified_login(client, boss)
    url = reverse(url_name)
    rows = apps.get_model(model)

    def counted(n):
        rows.objects.exclude(**({"user": boss} if model == "otp_totp.TOTPDevice" else {})).delete()
        for i in range(n):
            make_row(i)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries)

    one, twenty = counted(1), counted(20)
    assert one == twenty
    assert one <= 10


def test_the_address_is_remote_addr_unless_a_proxy_header_is_trusted(settings):
    factory = RequestFactory()
    spoofed = factory.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4")
    settings.TRUSTED_PROXY_HEADER = ""
    assert client_ip(spoofed) == "10.0.0.5"

    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    # The right-most entry is the one our proxy appended; the left one the client wrote.
    chained = factory.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(chained) == "203.0.113.7"
    garbage = factory.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="not-an-address")
    assert client_ip(garbage) == "10.0.0.5"

    settings.TRUSTED_PROXY_HEADER = "X-Real-IP"
    assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_REAL_IP="2001:db8::1")) == "2001:db8::1"


def test_behind_a_proxy_the_lockout_counts_the_forwarded_address(client, settings):
    settings.TRUSTED_PROXY_HEADER = "X-Real-IP"
    staff_user(role="Reception", username="desk")
    for name in ("a", "b", "c"):
        client.post(
            ADMIN_LOGIN, {"username": name, "password": "x"}, REMOTE_ADDR="10.0.0.1", HTTP_X_REAL_IP="198.51.100.1"
        )
    # Another client behind the same proxy is not locked out by the first one's failures.
    ok = client.post(
        ADMIN_LOGIN, {"username": "desk", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1", HTTP_X_REAL_IP="198.51.100.2"
    )
    assert ok.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.1"}


def test_lockout_logs_name_no_user_and_no_address(client, caplog):
    staff_user(role="Reception", username="desk")
    with caplog.at_level("INFO"):
        for _ in range(3):
            attempt(client, ADMIN_LOGIN, "desk", address="10.0.0.77")
    assert "Locking out" in caplog.text
    assert "desk" not in caplog.text
    assert "10.0.0.77" not in caplog.text
