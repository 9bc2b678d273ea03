"""/book/ and the waiting list on a phone-sized screen in Chromium: short, accessible, within
the CSP, and a time that can't be changed online is confirmed before it is booked."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from django.core.cache import cache

from bookings.models import Appointment, WaitlistEntry
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, technician_working
from clients.models import ConsentWording
from clients.tests.factories import ConsentWordingFactory
from conftest import PHONE, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clinic():
    # frozen_now is a Wednesday 10:30: with 12 hours' notice the first free time is Thursday
    # 09:00, less than 24 hours away, so it can't be changed online once booked.
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    location = LocationFactory(slug="manchester", name="Manchester Clinic", phone="0161 496 0000")
    technician_working(location=location, start=time(9), end=time(20))
    return location


def _csp_errors(page) -> list[str]:
    return [e for e in page.console_errors if "Content Security Policy" in e]


def test_a_phone_books_the_first_free_time_after_confirming_it_cant_be_changed_online(
    page_factory, live_server, frozen_now, clinic
):
    page = page_factory(viewport=PHONE)
    page.goto(live_server.url + "/book/?location=manchester")
    page.wait_for_selector("#first-available label")
    # One day, grouped: the picker is a short scroll on a phone, not 3,600 pixels.
    height = page.locator("#day-picker").evaluate("el => el.getBoundingClientRect().height")
    assert height < 1600, height
    assert page.locator("#group-morning legend").inner_text() == "Morning"
    assert page.locator("#late-notice").is_visible()
    assert axe_violations(page) == []

    page.locator("#first-available label").click()
    assert page.locator("#choice-late").is_visible()
    assert "can't be moved or cancelled online" in page.locator("#choice-late").inner_text()
    page.fill("#id_first_name", "Alex")
    page.fill("#id_last_name", "Morgan")
    page.fill("#id_email", "alex.morgan@example.com")
    page.fill("#id_phone", "07700 900456")
    page.fill("#id_date_of_birth", "1985-03-14")
    page.check("#id_health_consent")
    page.click("#book-submit")

    # Nothing is booked until the notice is confirmed.
    page.wait_for_selector("#change-window-notice")
    assert Appointment.objects.count() == 0
    assert axe_violations(page) == []
    page.click("#confirm-submit")
    page.wait_for_url("**/book/booked/**")
    appointment = Appointment.objects.get()
    assert appointment.start.astimezone(clinic.tz).strftime("%H:%M") == "09:00"
    assert _csp_errors(page) == []


def test_a_phone_joins_the_waiting_list_from_the_booking_page(page_factory, live_server, frozen_now, clinic):
    page = page_factory(viewport=PHONE)
    page.goto(live_server.url + "/book/?location=manchester")
    page.click("#waitlist-link")
    page.wait_for_url("**/book/waitlist/?**")
    assert page.locator("#id_location").input_value() == "manchester"
    assert axe_violations(page) == []
    page.fill("#id_earliest_date", "2026-06-20")
    page.fill("#id_latest_date", "2026-06-10")
    page.fill("#id_first_name", "Jo")
    page.fill("#id_last_name", "Waiting")
    page.fill("#id_email", "jo@example.com")
    page.fill("#id_phone", "07700 900111")
    page.click("#waitlist-submit")
    page.wait_for_selector("#id_latest_date-error")
    assert "on or after the first day" in page.locator("#id_latest_date-error").inner_text()
    assert axe_violations(page) == []
    page.fill("#id_latest_date", "2026-06-30")
    page.click("#waitlist-submit")
    page.wait_for_url("**/book/waitlist/joined/")
    assert WaitlistEntry.objects.get().email == "jo@example.com"
    assert _csp_errors(page) == []


@pytest.mark.parametrize("viewport", [PHONE, {"width": 320, "height": 640}], ids=["phone", "small-phone"])
def test_a_refused_booking_puts_the_focus_on_what_to_fix_and_keeps_what_was_typed(
    page_factory, live_server, frozen_now, clinic, viewport
):
    page = page_factory(viewport=viewport)
    page.goto(live_server.url + "/book/?location=manchester")
    page.locator("#first-available label").click()
    page.fill("#id_first_name", "Alex")
    page.fill("#id_last_name", "Morgan")
    page.fill("#id_email", "alex.morgan@example")
    page.fill("#id_phone", "07700 900456")
    page.fill("#id_date_of_birth", "1985-03-14")
    page.click("#book-submit")

    page.wait_for_selector("#error-summary")
    # A screen reader lands on the summary, not at the top of a reloaded page.
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert "E-mail: Enter a valid email address." in page.locator("#error-summary").inner_text()
    page.locator("#error-summary a[href='#id_health_consent']").click()
    assert page.evaluate("document.activeElement.id") == "id_health_consent"
    assert page.get_attribute("#id_health_consent", "aria-describedby") == "id_health_consent-error"
    assert page.locator("#id_health_consent-error").is_visible()
    assert page.locator("#id_first_name").input_value() == "Alex"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert axe_violations(page) == []
    assert Appointment.objects.count() == 0
