"""The second factor (django-otp TOTP): required for managers in the admin and the workspace,
asked of anyone who added an app, and added by the staff member on the enrolment page."""

from __future__ import annotations

import re
from base64 import b32decode
from datetime import timedelta

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from bookings.tests.factories import TechnicianFactory
from clients.models import AuditEvent
from clients.tests.factories import staff_user
from smpclinic.accounts.otp import ENROL_KEY
from smpclinic.tests.logins import totp_code, totp_device_for

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
VERIFY = reverse("accounts:otp_verify")
ENROL = reverse("accounts:otp_enrol")


def password_login(client, user, url="/admin/login/"):
    response = client.post(url, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, "the password was accepted"
    return response


def verify(client, device, *, token=None, next_url="/admin/"):
    return client.post(
        VERIFY,
        {"device": device.persistent_id, "token": totp_code(device) if token is None else token, "next": next_url},
    )


@pytest.fixture
def manager():
    return staff_user(role="Manager", username="boss")


def test_a_manager_with_only_a_password_cannot_reach_the_admin(client, manager, frozen_now):
    device = totp_device_for(manager)
    password_login(client, manager)
    for url in ("/admin/", reverse("admin:clients_client_changelist"), reverse("admin:password_change")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(VERIFY)
    assert client.get(VERIFY).status_code == 200

    response = verify(client, device, next_url=reverse("admin:clients_client_changelist"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:clients_client_changelist")
    assert client.get("/admin/").status_code == 200
    assert client.get(reverse("admin:clients_client_changelist")).status_code == 200


def test_a_manager_without_an_app_is_sent_to_add_one(client, manager):
    password_login(client, manager)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(ENROL)
    assert "next=%2Fadmin%2F" in response["Location"]
    # And the code page, with no app to ask, sends them there too.
    assert client.get(VERIFY)["Location"].startswith(ENROL)


def test_the_workspace_asks_a_manager_for_the_code_too(client, manager, frozen_now):
    device = totp_device_for(manager)
    password_login(client, manager, url="/staff/login/")
    response = client.get(reverse("staff:schedule"))
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)
    verify(client, device, next_url=reverse("staff:schedule"))
    assert client.get(reverse("staff:schedule")).status_code == 200


def test_a_receptionist_without_an_app_uses_the_admin_with_a_password(client):
    desk = staff_user(role="Reception", username="desk")
    password_login(client, desk)
    assert client.get("/admin/").status_code == 200
    assert client.get(reverse("admin:clients_client_changelist")).status_code == 200


def test_a_technician_without_an_app_uses_the_workspace_with_a_password(client, frozen_now):
    tech = TechnicianFactory(user=staff_user(role="Technician", username="tech"))
    password_login(client, tech.user, url="/staff/login/")
    assert client.get(reverse("staff:schedule")).status_code == 200


def test_anyone_who_added_an_app_is_asked_for_its_code(client, frozen_now):
    desk = staff_user(role="Reception", username="desk")
    device = totp_device_for(desk)
    password_login(client, desk)
    assert client.get("/admin/")["Location"].startswith(VERIFY)
    verify(client, device)
    assert client.get("/admin/").status_code == 200


def test_a_manager_adds_an_app_and_is_let_in(client, manager, frozen_now):
    password_login(client, manager)
    page = client.get(f"{ENROL}?next=/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    assert re.search(r'<img class="otp-qr" src="data:image/svg\+xml', html)
    assert "style=" not in html.split("<main", 1)[1]  # the CSP allows no inline styles
    secret = re.search(r'id="otp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    key = b32decode(secret)
    assert key.hex() == client.session[ENROL_KEY]

    wrong = client.post(ENROL, {"name": "My phone", "token": "000000", "next": "/admin/"})
    assert wrong.status_code == 400
    assert "does not match" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=manager).exists()

    response = client.post(ENROL, {"name": "My phone", "token": f"{totp(key):06d}", "next": "/admin/"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    device = TOTPDevice.objects.get(user=manager)
    assert device.confirmed
    assert device.name == "My phone"
    assert ENROL_KEY not in client.session
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(object_type="totp_device", object_id=str(device.pk), actor=manager).exists()


def test_the_code_used_to_add_the_app_cannot_open_the_next_login(client, manager, frozen_now):
    import time_machine

    with time_machine.travel(frozen_now, tick=False):
        password_login(client, manager)
        client.get(ENROL)
        token = f"{totp(bytes.fromhex(client.session[ENROL_KEY])):06d}"
        client.post(ENROL, {"name": "Phone", "token": token})
        client.logout()
        password_login(client, manager)
        device = TOTPDevice.objects.get(user=manager)
        assert verify(client, device, token=token).status_code == 400


def test_a_password_alone_cannot_add_a_second_app(client, manager):
    totp_device_for(manager)
    password_login(client, manager)
    response = client.get(ENROL)
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)
    assert client.post(ENROL, {"name": "Thief", "token": "123456"}).status_code == 302
    assert TOTPDevice.objects.filter(user=manager).count() == 1


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "Enter the 6-digit code"),
        ("abcdef", "Enter the 6-digit code"),
        ("12345", "Enter the 6-digit code"),
        ("1234567890123", "at most 12 characters"),
        ("٣٣٣٣٣٣", "Enter the 6-digit code"),  # digits, but not 0-9
        ("000000", "not right"),
    ],
)
def test_bad_code_input_is_a_form_error_not_a_500(client, manager, token, message, frozen_now):
    device = totp_device_for(manager)
    password_login(client, manager)
    response = verify(client, device, token=token)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert client.get("/admin/")["Location"].startswith(VERIFY)


def test_a_device_of_someone_else_is_refused(client, manager, frozen_now):
    totp_device_for(manager)
    other = totp_device_for(staff_user(role="Reception", username="desk"))
    password_login(client, manager)
    response = verify(client, other)
    assert response.status_code == 400
    assert client.get("/admin/")["Location"].startswith(VERIFY)


def test_wrong_codes_slow_the_next_try_down(client, manager, frozen_now):
    device = totp_device_for(manager)
    password_login(client, manager)
    verify(client, device, token="000000")
    response = verify(client, device)  # the right code, but straight after a wrong one
    assert response.status_code == 400
    assert "Too many wrong codes" in response.content.decode()


def test_the_code_page_never_sends_anyone_off_site(client, manager, frozen_now):
    device = totp_device_for(manager)
    password_login(client, manager)
    response = verify(client, device, next_url="https://evil.example/")
    assert response["Location"] == reverse("admin:index")


def test_a_manager_sent_to_the_code_page_can_still_log_out(client, manager):
    password_login(client, manager)
    response = client.post(reverse("admin:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:login")  # LOGOUT_REDIRECT_URL, not the code page
    assert "_auth_user_id" not in client.session


def test_the_second_factor_pages_need_a_login(client):
    for url in (VERIFY, ENROL):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("staff:login"))


def test_a_manager_removes_a_lost_phone_and_reception_cannot(client, manager):
    from smpclinic.tests.logins import otp_verified_login

    lost = totp_device_for(staff_user(role="Technician", username="tech"))
    desk = type(client)()
    desk.force_login(staff_user(role="Reception", username="desk"))
    delete = reverse("admin:otp_totp_totpdevice_delete", args=[lost.pk])
    assert desk.get(reverse("admin:otp_totp_totpdevice_changelist")).status_code == 403
    assert desk.post(delete, {"post": "yes"}).status_code == 403

    otp_verified_login(client, manager)
    listing = client.get(reverse("admin:otp_totp_totpdevice_changelist"))
    assert listing.status_code == 200
    assert lost.key not in listing.content.decode()
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not TOTPDevice.objects.filter(pk=lost.pk).exists()
    assert AuditEvent.objects.filter(object_type="totp_device", object_id=str(lost.pk), action="delete").exists()


def test_the_code_page_costs_a_few_queries(client, manager, django_assert_max_num_queries):
    totp_device_for(manager)
    password_login(client, manager)
    with django_assert_max_num_queries(6):
        assert client.get(VERIFY).status_code == 200


def test_a_technician_may_add_an_app_and_is_then_asked_for_its_code(client, frozen_now):
    import time_machine

    tech = TechnicianFactory(user=staff_user(role="Technician", username="tech"))
    password_login(client, tech.user, url="/staff/login/")
    schedule = client.get(reverse("staff:schedule"))
    assert ENROL in schedule.content.decode()  # offered, not required
    page = client.get(ENROL)
    assert "Managers must use" not in page.content.decode()
    key = bytes.fromhex(client.session[ENROL_KEY])
    client.post(ENROL, {"name": "Tablet", "token": f"{totp(key):06d}"})
    device = TOTPDevice.objects.get(user=tech.user)
    client.logout()

    with time_machine.travel(frozen_now + timedelta(minutes=2), tick=False):
        password_login(client, tech.user, url="/staff/login/")
        assert client.get(reverse("staff:schedule"))["Location"].startswith(VERIFY)
        verify(client, device, next_url=reverse("staff:schedule"))
        assert client.get(reverse("staff:schedule")).status_code == 200


def test_the_admin_offers_every_staff_member_the_app_page(client):
    desk = staff_user(role="Reception", username="desk")
    client.force_login(desk)
    assert ENROL in client.get("/admin/").content.decode()
