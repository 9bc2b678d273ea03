"""A new client books from the home page in Chromium, then moves and cancels from the e-mail."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Appointment
from bookings.services.outbox import reminders_dispatch
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, technician_working
from clients.models import Client, ConsentRecord, ConsentWording
from clients.tests.factories import ConsentWordingFactory
from conftest import PHONE, axe_violations
from treatments.tests.factories import TreatmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_csp_errors(page) -> list[str]:
    return [e for e in page.console_errors if "Content Security Policy" in e]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # Rate-limit counters live in the shared cache: start and finish each test with none.
    cache.clear()
    yield
    cache.clear()


def test_a_new_client_books_from_the_home_page_then_moves_and_cancels(
    page_factory, live_server, mailoutbox, frozen_now, settings
):
    settings.SITE_URL = live_server.url  # the worker builds the e-mail's links from SITE_URL, not a request
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    location = LocationFactory(slug="manchester", name="Manchester Clinic")
    technician_working(location=location)
    TreatmentFactory(slug="hairline", name="Hairline design")

    page = page_factory(viewport=PHONE)
    page.goto(live_server.url + "/")
    page.locator("main a[href='/book/']").first.click()
    page.wait_for_url("**/book/")

    # Choosing the clinic and pressing the button shows the first free time, then its day.
    page.select_option("#id_location", "manchester")
    page.select_option("#id_treatment", "hairline")
    page.click("#show-times")
    page.wait_for_selector("#first-available label")
    assert page.locator("#day-times legend").first.is_visible()
    # Jump a few days ahead, so the booking can still be changed online (24 hours' notice).
    page.fill("#id_start", (timezone.localdate(frozen_now) + timedelta(days=3)).isoformat())
    page.click("#show-times")
    page.wait_for_url("**start=*")
    # The next day's times come in place (htmx), and the address follows.
    before = page.locator("#day-times legend").first.inner_text()
    next_day = page.locator("#next-day").get_attribute("href").split("start=")[1]
    page.click("#next-day")
    expect(page.locator("#day-times legend").first).not_to_have_text(before)
    assert "start=" in page.url
    # The search form's "Show times from" follows the day shown (it stayed on the first day).
    expect(page.locator("#id_start")).to_have_value(next_day)
    assert axe_violations(page) == []

    page.locator("#day-times label").first.click()
    chosen = page.locator("#day-times input[name=start]:checked").get_attribute("value")
    # The summary repeats the time chosen; this one is days away, so no change-window notice.
    assert page.locator("#choice-summary").is_visible()
    assert not page.locator("#choice-late").is_visible()
    page.fill("#id_first_name", "Alex")
    page.fill("#id_last_name", "Morgan")
    page.fill("#id_email", "alex.morgan@example.com")
    page.fill("#id_phone", "07700 900456")
    page.fill("#id_date_of_birth", "1985-03-14")
    page.fill("#id_description", "Thinning at the crown.")
    page.check("#id_health_consent")
    page.click("#book-submit")

    page.wait_for_url("**/book/booked/**")
    appointment = Appointment.objects.get()
    assert page.locator("#reference").inner_text() == appointment.reference
    assert appointment.start == datetime.fromisoformat(chosen)
    assert appointment.treatment.slug == "hairline"
    assert Client.objects.get().email == "alex.morgan@example.com"
    assert ConsentRecord.objects.filter(client=appointment.client).count() == 1
    assert axe_violations(page) == []

    # The e-mail's manage link: the worker's dispatcher sends the queued confirmation.
    assert mailoutbox == []
    reminders_dispatch(now=timezone.now())
    (mail,) = mailoutbox
    manage_url = re.search(r"https?://\S+/booking/\S+/", mail.body).group(0)
    page.goto(manage_url)
    assert appointment.reference in page.content()
    assert axe_violations(page) == []

    # A week later, well outside the 24 hours' notice for changes.
    page.get_by_role("link", name="Later days").click()
    page.wait_for_url("**?start=*")
    labels = page.locator("#reschedule-form #times label")
    labels.nth(4).click()
    new_start = page.locator("#reschedule-form input[name=start]:checked").get_attribute("value")
    page.click("#reschedule-submit")
    page.wait_for_url("**?done=moved")
    assert page.get_by_text("Your booking has been moved").is_visible()
    appointment.refresh_from_db()
    assert appointment.start == datetime.fromisoformat(new_start)
    assert appointment.status == "booked"

    # "Cancel my booking" asks first: the booking, and a button that cancels.
    page.click("#cancel-submit")
    page.wait_for_url("**?confirm=cancel")
    expect(page.get_by_role("heading", name="Cancel this booking?")).to_be_visible()
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    assert axe_violations(page) == []
    page.get_by_role("button", name="Yes, cancel it").click()
    page.wait_for_url("**?done=cancelled")
    assert page.get_by_text("Your booking has been cancelled").is_visible()
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    assert page.locator("#book-again").get_attribute("href") == "/book/?location=manchester"
    assert _no_csp_errors(page) == []

    # The move and the cancel each tell the client (the move is replaced by the later cancel
    # when both are still waiting for the worker, as here).
    reminders_dispatch(now=timezone.now())
    assert [m.subject.split(" ")[-1] for m in mailoutbox] == [f"({appointment.reference})"] * 2
    assert "is cancelled" in mailoutbox[-1].subject
