"""In Chromium: a client books a treatment session that needs a deposit, is sent to the
(stub) provider's checkout, pays, and sees the booking confirmed by the signed webhook, which
the stub then replays without changing anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from bookings.models import Appointment, ClientMessage
from bookings.models_payments import Payment, WebhookEvent
from bookings.tests.factories import BookingPolicyFactory, DepositPolicyFactory, LocationFactory, technician_working
from bookings.tests.stripe_stub import stripe_stub  # noqa: F401 (a fixture)
from clients.models import ConsentWording
from clients.tests.factories import ConsentWordingFactory
from conftest import PHONE, axe_violations
from treatments.tests.factories import TreatmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def choose_first_free_time(page) -> None:
    """The first free time, whatever the picker looks like (radio buttons or a select)."""
    first = page.locator("#booking-form [name=start]").first
    first.wait_for(state="attached")
    if first.evaluate("el => el.tagName") == "SELECT":
        first.select_option(index=1)
    else:
        first.check(force=True)  # the radio may be visually hidden behind its label


def test_a_client_pays_a_deposit_and_sees_the_booking_confirmed(
    page_factory,
    live_server,
    frozen_now,
    stripe_stub,  # noqa: F811 (the fixture above)
):
    stripe_stub.webhook_url = live_server.url + "/payments/webhook/stripe/"
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    location = LocationFactory(slug="leeds", name="Leeds Clinic")
    treatment = TreatmentFactory(slug="hairline", name="Hairline design")
    technician_working(location=location).treatments.add(treatment)
    DepositPolicyFactory(amount_minor=5000, refundable_until_hours=48)

    page = page_factory(viewport=PHONE)
    day = timezone.localdate(frozen_now) + timedelta(days=4)
    page.goto(f"{live_server.url}/book/session/?location=leeds&treatment=hairline&start={day.isoformat()}")
    # The deposit and its terms are shown before paying.
    policy = page.locator("#deposit-policy")
    assert "£50.00" in policy.inner_text()
    assert "48 hours" in policy.inner_text()
    assert axe_violations(page) == []

    choose_first_free_time(page)
    page.fill("#id_first_name", "Alex")
    page.fill("#id_last_name", "Morgan")
    page.fill("#id_email", "alex.morgan@example.com")
    page.fill("#id_phone", "07700 900456")
    page.fill("#id_date_of_birth", "1985-03-14")
    page.check("#id_health_consent")
    page.click("#book-submit")

    # Up to the provider's checkout: the time is held, nothing confirmed yet.
    page.wait_for_url(f"{stripe_stub.public_url}/checkout/**")
    assert page.locator("#amount").inner_text() == "50.00 GBP"
    appointment = Appointment.objects.get()
    assert appointment.status == Appointment.Status.PENDING_PAYMENT

    # Paying sends the signed webhook to the clinic, then returns the client to it.
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url("**/book/booked/**")
    assert page.locator("h1").inner_text() == "You're booked in"
    assert "Deposit paid: £50.00" in page.locator("#deposit-status").inner_text()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    confirmations = ClientMessage.objects.filter(appointment=appointment, kind="confirmation").count()
    assert confirmations >= 1

    # The stub replays the same webhook: accepted, and nothing changes.
    assert stripe_stub.deliver(stripe_stub.events[-1]) == 200
    assert WebhookEvent.objects.count() == 1
    assert ClientMessage.objects.filter(appointment=appointment, kind="confirmation").count() == confirmations
    assert Payment.objects.filter(kind="deposit", status="succeeded").count() == 1

    # The manage page shows it confirmed, with the deposit and its terms.
    page.get_by_role("link", name="See, move or cancel this booking").click()
    page.wait_for_url("**/booking/**")
    assert page.locator("#booking-status").inner_text() == "Confirmed"
    assert "at least 48 hours before the start" in page.locator("#deposit-terms").inner_text()
    assert axe_violations(page) == []
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []
