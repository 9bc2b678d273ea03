"""A manager's first login in real Chromium: sent to add an authenticator app, which they set up
from the key on the page, then into the admin; the pages pass axe under the CSP."""

from __future__ import annotations

from base64 import b32decode

import pytest
from django_otp.oath import totp

from clients.tests.factories import staff_user
from conftest import PHONE, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_adds_an_app_on_first_login_and_reaches_the_admin(page_factory, live_server):
    staff_user(role="Manager", username="boss")
    page = page_factory(viewport=PHONE)
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_url("**/accounts/two-factor/add/**")
    assert page.get_by_role("img", name="QR code holding your authenticator secret").is_visible()
    assert axe_violations(page) == []

    secret = page.locator("#otp-secret").inner_text().replace(" ", "")
    page.get_by_label("6-digit code it shows now").fill(f"{totp(b32decode(secret)):06d}")
    page.get_by_role("button", name="Add this app").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    assert "Run the clinic" in page.content()
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []
