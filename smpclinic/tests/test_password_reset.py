"""Password reset by e-mail for staff, from both login pages, in the admin's look."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from clients.tests.factories import staff_user

pytestmark = pytest.mark.django_db

RESET = reverse("accounts:password_reset")
NEW_PASSWORD = "a-brand-new-staff-password"


def test_both_login_pages_link_to_the_reset(client):
    for url in ("/admin/login/", "/staff/login/"):
        assert RESET in client.get(url).content.decode()


def test_the_reset_mail_carries_a_link_that_sets_a_new_password(client, settings, caplog):
    settings.SITE_URL = "https://clinic.example.com"
    user = staff_user(role="Reception", username="desk", email="desk@clinic.example.com")
    page = client.get(RESET)
    assert page.status_code == 200
    assert "SMP Clinic" in page.content.decode()  # the admin's header

    with caplog.at_level("DEBUG"):
        response = client.post(RESET, {"email": "desk@clinic.example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert "desk@clinic.example.com" not in caplog.text
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["desk@clinic.example.com"]
    assert "staff password" in message.subject
    link = re.search(r"https://clinic\.example\.com(/accounts/password-reset/\S+/\S+/)", message.body).group(1)

    form = client.get(link, follow=True)
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0]
    mismatch = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": "something else"})
    assert mismatch.status_code == 400
    assert "new_password2" in mismatch.context["form"].errors
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == reverse("accounts:password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert client.post("/admin/login/", {"username": "desk", "password": NEW_PASSWORD}).status_code == 302
    # The link works once.
    assert "invalid" in client.get(link, follow=True).content.decode().lower()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client):
    response = client.post(RESET, {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_a_bad_address_is_a_form_error(client):
    response = client.post(RESET, {"email": "not an address\x01"})
    assert response.status_code == 400
    assert "valid email" in response.content.decode()


def test_the_complete_page_links_to_both_logins(client):
    html = client.get(reverse("accounts:password_reset_complete")).content.decode()
    assert reverse("admin:login") in html
    assert reverse("staff:login") in html
