"""The shared browser fixture works against the live server, with the CSP in force."""

from __future__ import annotations

import pytest

from conftest import PHONE, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_renders_in_chromium_without_csp_errors(page_factory, live_server):
    page = page_factory(viewport=PHONE)
    response = page.goto(live_server.url + "/")
    assert response.status == 200
    assert page.title()
    assert page.locator("h1").first.is_visible()
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []
    assert axe_violations(page) == []


def test_the_page_clock_is_the_tests_frozen_now(page_factory, live_server, frozen_now):
    # Page scripts that read the date must see the moment the live server sees, not Chromium's.
    page = page_factory()
    page.goto(live_server.url + "/")
    page_now = page.evaluate("Date.now()") / 1000
    assert 0 <= page_now - frozen_now.timestamp() < 120
