"""Deposits against the local Stripe stub (a real HTTP server on this machine) and signed
webhooks: a hold confirmed once, released when unpaid, refunded once, kept on a no-show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from bookings.models import Appointment, ClientMessage
from bookings.models_payments import Payment, WebhookEvent
from bookings.money import Money
from bookings.payments.selectors import appointment_deposit
from bookings.payments.stub import sign
from bookings.services.appointments import appointment_mark_no_show, appointment_staff_cancel
from bookings.services.booking import SlotTaken, appointment_book, appointment_cancel, online_book
from bookings.services.deposits import (
    PaymentUnavailable,
    deposit_checkout_start,
    deposit_override,
    payment_holds_release,
    refunds_retry,
)
from bookings.services.messaging import message_render
from bookings.tests.factories import (
    BookingPolicyFactory,
    DepositPolicyFactory,
    LocationFactory,
    technician_working,
)
from bookings.tests.stripe_stub import deliver, stripe_stub  # noqa: F401 (a fixture)
from clients.models import AuditEvent, ConsentWording
from clients.tests.factories import ClientFactory, ConsentWordingFactory, staff_user
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)  # a Monday morning, no clock change near
START = datetime(2026, 11, 9, 10, tzinfo=LONDON)  # a week ahead: cancellable in time


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def clinic(stripe_stub):  # noqa: F811 (the fixture above)
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="leeds", name="Leeds Clinic")
    technician = technician_working(location=location)
    treatment = TreatmentFactory(slug="hairline", name="Hairline design")
    technician.treatments.add(treatment)
    DepositPolicyFactory(amount_minor=5000, refundable_until_hours=48, no_show_forfeit_percent=100)
    return SimpleNamespace(location=location, technician=technician, treatment=treatment, stub=stripe_stub)


def book(clinic, *, start=START, email="alex@example.com") -> Appointment:
    return online_book(
        kind=Appointment.Kind.TREATMENT_SESSION,
        location=clinic.location,
        start=start,
        treatment=clinic.treatment,
        first_name="Alex",
        last_name="Morgan",
        email=email,
        phone="07700 900456",
        description="",
        health_consent=True,
        marketing_opt_in=False,
    )


def checkout(clinic, appointment) -> dict:
    url = deposit_checkout_start(
        payment=appointment_deposit(appointment), success_url="http://testserver/ok", cancel_url="http://testserver/no"
    )
    session_id = url.rsplit("/", 1)[-1]
    assert url == f"{clinic.stub.public_url}/checkout/{session_id}"
    return clinic.stub.sessions[session_id]


def paid(clinic, client, django_capture_on_commit_callbacks, *, start=START) -> Appointment:
    appointment = book(clinic, start=start)
    session = checkout(clinic, appointment)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, clinic.stub, clinic.stub.pay(session["id"])).status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    return appointment


def confirmations(appointment) -> int:
    return ClientMessage.objects.filter(appointment=appointment, kind=ClientMessage.Kind.CONFIRMATION).count()


def test_a_session_needing_a_deposit_holds_the_time_and_tells_the_client_nothing_yet(clinic):
    appointment = book(clinic)
    assert appointment.status == Appointment.Status.PENDING_PAYMENT
    assert appointment.hold_expires_at == NOW + timedelta(minutes=15)
    deposit = appointment_deposit(appointment)
    assert (deposit.kind, deposit.status, deposit.money) == ("deposit", "pending", Money(5000, "GBP"))
    assert deposit.terms["refundable_until_hours"] == 48
    assert not ClientMessage.objects.filter(appointment=appointment).exists()
    # The held time is nobody else's.
    with pytest.raises(SlotTaken):
        appointment_book(
            client=ClientFactory(),
            location=clinic.location,
            kind=Appointment.Kind.TREATMENT_SESSION,
            treatment=clinic.treatment,
            start=START,
            channel=Appointment.Channel.PHONE,
        )


def test_a_paid_deposit_confirms_the_booking_once_even_when_the_webhook_arrives_twice(
    clinic, client, django_capture_on_commit_callbacks
):
    appointment = book(clinic)
    session = checkout(clinic, appointment)
    assert session["amount_total"] == 5000
    assert session["currency"] == "gbp"
    event = clinic.stub.pay(session["id"])

    first = deliver(client, clinic.stub, event)
    assert (first.status_code, first.json()["outcome"]) == (200, "confirmed")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    sent = confirmations(appointment)
    assert sent == 2  # e-mail and text, once each
    deposit = appointment_deposit(appointment)
    assert deposit.status == "succeeded"
    assert deposit.provider_payment_id.startswith("pi_")

    again = deliver(client, clinic.stub, event)
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    # The same completion as a new event (a resend), and an expiry arriving late: no change.
    resent = clinic.stub.event("checkout.session.completed", clinic.stub.sessions[session["id"]])
    assert deliver(client, clinic.stub, resent).json()["outcome"] == "already_paid"
    late_expiry = clinic.stub.event("checkout.session.expired", {**session, "status": "expired"})
    assert deliver(client, clinic.stub, late_expiry).json()["outcome"] == "already_settled"

    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    assert confirmations(appointment) == sent
    assert Payment.objects.filter(kind="deposit", status="succeeded").count() == 1
    assert WebhookEvent.objects.count() == 3
    # The confirmation carries the deposit and its terms.
    message = ClientMessage.objects.filter(appointment=appointment, kind="confirmation", channel="email").get()
    assert message.payload["deposit"].startswith("Deposit paid: £50.00.")
    rendered = message_render(message)
    assert "Deposit paid: £50.00." in rendered["text"]
    assert "at least 48 hours before the start" in rendered["html"]


def test_an_abandoned_checkout_releases_the_slot(clinic, client):
    appointment = book(clinic)
    session = checkout(clinic, appointment)
    response = deliver(client, clinic.stub, clinic.stub.abandon(session["id"]))
    assert (response.status_code, response.json()["outcome"]) == (200, "released")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.HOLD_RELEASED
    assert appointment_deposit(appointment) is None or appointment_deposit(appointment).status == "cancelled"
    assert not ClientMessage.objects.filter(appointment=appointment).exists()
    # The time is free again: someone else books it with the same technician.
    other = appointment_book(
        client=ClientFactory(),
        location=clinic.location,
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=clinic.treatment,
        start=START,
        technician=clinic.technician,
        channel=Appointment.Channel.PHONE,
    )
    assert other.status == Appointment.Status.BOOKED


def test_a_hold_not_paid_in_time_is_released_by_the_periodic_task_and_its_checkout_expired(clinic):
    appointment = book(clinic)
    session = checkout(clinic, appointment)
    with time_machine.travel(NOW + timedelta(minutes=14), tick=False):
        assert payment_holds_release() == 0
    with time_machine.travel(NOW + timedelta(minutes=16), tick=False):
        assert payment_holds_release() == 1
        assert payment_holds_release() == 0
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.HOLD_RELEASED
    assert clinic.stub.sessions[session["id"]]["status"] == "expired"


def test_a_payment_after_the_hold_was_released_and_the_time_taken_is_refunded(
    clinic, client, django_capture_on_commit_callbacks
):
    appointment = book(clinic)
    session = checkout(clinic, appointment)
    with time_machine.travel(NOW + timedelta(minutes=16), tick=False):
        payment_holds_release()
    appointment_book(
        client=ClientFactory(),
        location=clinic.location,
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=clinic.treatment,
        start=START,
        technician=clinic.technician,
        channel=Appointment.Channel.PHONE,
    )
    clinic.stub.sessions[session["id"]]["status"] = "open"  # the client was already paying
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, clinic.stub, clinic.stub.pay(session["id"]))
    assert response.json()["outcome"] == "refunded_time_gone"
    assert len(clinic.stub.refunds) == 1
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.HOLD_RELEASED


def test_an_in_time_cancellation_issues_exactly_one_refund(clinic, client, django_capture_on_commit_callbacks):
    appointment = paid(clinic, client, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(appointment=appointment, by_client=True)
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(appointment=appointment, by_client=True)  # pressed twice
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert refunds_retry() == 0
    assert len(clinic.stub.refunds) == 1
    (refund,) = clinic.stub.refunds.values()
    assert refund["amount"] == 5000
    row = Payment.objects.get(kind="refund")
    assert (row.status, row.amount_minor, row.provider_refund_id) == ("succeeded", 5000, refund["id"])
    assert row.settles == appointment_deposit(appointment)
    assert not Payment.objects.filter(kind="forfeit").exists()


def test_a_refund_the_provider_missed_is_retried_with_the_same_key_and_never_doubled(
    clinic, client, django_capture_on_commit_callbacks, settings
):
    appointment = paid(clinic, client, django_capture_on_commit_callbacks)
    working = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: the provider is down
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(appointment=appointment, by_client=True)
    assert Payment.objects.get(kind="refund").status == "pending"
    settings.STRIPE_API_BASE = working
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        assert refunds_retry() == 1
        assert refunds_retry() == 0
    assert len(clinic.stub.refunds) == 1
    # Asked again with the stored key (a lost answer, say), the provider returns the same refund.
    row = Payment.objects.get(kind="refund")
    Payment.objects.filter(pk=row.pk).update(status="pending")
    with time_machine.travel(NOW + timedelta(minutes=4), tick=False):
        refunds_retry()
    assert len(clinic.stub.refunds) == 1


def test_a_late_cancellation_keeps_the_deposit_with_the_reason(clinic, client, django_capture_on_commit_callbacks):
    appointment = paid(clinic, client, django_capture_on_commit_callbacks)
    reception = staff_user(role="Reception")
    with time_machine.travel(START - timedelta(hours=20), tick=False), django_capture_on_commit_callbacks(execute=True):
        appointment_staff_cancel(appointment=appointment, by=reception)
    kept = Payment.objects.get(kind="forfeit")
    assert (kept.amount_minor, kept.status, kept.method) == (5000, "succeeded", "none")
    assert "less than 48 hours" in kept.reason
    assert clinic.stub.refunds == {}


def test_a_no_show_forfeits_the_deposit(clinic, client, django_capture_on_commit_callbacks):
    appointment = paid(clinic, client, django_capture_on_commit_callbacks)
    reception = staff_user(role="Reception")
    with (
        time_machine.travel(START + timedelta(minutes=30), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        appointment_mark_no_show(appointment=appointment, by=reception)
        appointment_mark_no_show(appointment=appointment, by=reception)
    kept = Payment.objects.get(kind="forfeit")
    assert (kept.amount_minor, kept.reason, kept.recorded_by) == (5000, "no-show", reception)
    assert clinic.stub.refunds == {}


def test_a_manager_refunds_a_kept_deposit_anyway_audited_and_reception_may_not(
    clinic, client, django_capture_on_commit_callbacks
):
    appointment = paid(clinic, client, django_capture_on_commit_callbacks)
    reception, manager = staff_user(role="Reception"), staff_user(role="Manager")
    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            appointment_mark_no_show(appointment=appointment, by=reception)
        with pytest.raises(PermissionDenied):
            deposit_override(appointment=appointment, decision="refund", by=reception, reason="Snowed in")
        with pytest.raises(ValidationError) as no_reason:
            deposit_override(appointment=appointment, decision="refund", by=manager, reason=" ")
        assert no_reason.value.code == "reason_required"
        with django_capture_on_commit_callbacks(execute=True):
            deposit_override(appointment=appointment, decision="refund", by=manager, reason="Snowed in")
        with pytest.raises(ValidationError) as twice:
            deposit_override(appointment=appointment, decision="refund", by=manager, reason="Snowed in")
    assert twice.value.code == "deposit_already_refunded"
    assert len(clinic.stub.refunds) == 1
    assert Payment.objects.get(kind="forfeit").status == "cancelled"
    audit = AuditEvent.objects.filter(actor=manager, object_type="payment").values_list("detail", flat=True)
    assert any("manager override: refund: Snowed in" in d for d in audit)


def test_a_manager_keeps_a_deposit_the_policy_would_refund(clinic, client, django_capture_on_commit_callbacks):
    appointment = paid(clinic, client, django_capture_on_commit_callbacks)
    manager = staff_user(role="Manager")
    deposit_override(appointment=appointment, decision="forfeit", by=manager, reason="Agreed on the phone")
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(appointment=appointment, by_client=True)
    assert Payment.objects.get(kind="forfeit").amount_minor == 5000
    assert clinic.stub.refunds == {}


def test_a_consultation_stays_free_unless_the_location_asks_a_deposit(clinic):
    def consultation(email):
        return online_book(
            kind=Appointment.Kind.CONSULTATION,
            location=clinic.location,
            start=START,
            treatment=None,
            first_name="Sam",
            last_name="Lee",
            email=email,
            phone="07700 900457",
            description="",
            health_consent=True,
            marketing_opt_in=False,
        )

    free = consultation("sam@example.com")
    assert free.status == Appointment.Status.BOOKED
    assert appointment_deposit(free) is None
    appointment_cancel(appointment=free, by_client=True)
    DepositPolicyFactory(kind="consultation", location=clinic.location, amount_minor=2000)
    held = consultation("sam2@example.com")
    assert held.status == Appointment.Status.PENDING_PAYMENT
    assert appointment_deposit(held).amount_minor == 2000


def test_a_provider_outage_releases_the_hold_at_once(clinic, settings):
    appointment = book(clinic)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    with pytest.raises(PaymentUnavailable):
        deposit_checkout_start(
            payment=appointment_deposit(appointment), success_url="http://t/ok", cancel_url="http://t/no"
        )
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.HOLD_RELEASED


@pytest.mark.parametrize(
    ("body", "header"),
    [
        (b'{"id": "evt_1", "type": "checkout.session.completed"}', None),
        (b'{"id": "evt_1", "type": "checkout.session.completed"}', "t=1,v1=deadbeef"),
        (b'{"id": "evt_1", "type": "checkout.session.completed"}', "garbage"),
        (b"not json", "sign"),
        (b'{"id": "evt_1"}', "sign"),
        (b'["a list"]', "sign"),
        (b"\xff\xfe", "sign"),
    ],
    ids=["unsigned", "bad-signature", "bad-header", "not-json", "no-type", "not-an-object", "not-utf8"],
)
def test_the_webhook_answers_400_to_anything_unsigned_or_malformed(clinic, client, body, header):
    headers = {}
    if header == "sign":
        try:
            header = sign(body.decode(), clinic.stub.webhook_secret)
        except UnicodeDecodeError:
            header = sign(body.decode("latin-1"), clinic.stub.webhook_secret)
    if header:
        headers["HTTP_STRIPE_SIGNATURE"] = header
    response = client.post(reverse("bookings:stripe_webhook"), data=body, content_type="application/json", **headers)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_the_webhook_refuses_an_old_signature_and_a_get(clinic, client):
    event = clinic.stub.event("checkout.session.completed", {"id": "cs_x", "payment_status": "paid"})
    body = b'{"id": "evt_old", "type": "checkout.session.completed", "data": {"object": {}}}'
    old = sign(body.decode(), clinic.stub.webhook_secret, timestamp=int(NOW.timestamp()) - 3600)
    url = reverse("bookings:stripe_webhook")
    assert client.post(url, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=old).status_code == 400
    assert client.get(url).status_code == 405
    # Signed and well formed but about nothing of ours: 200, so the provider stops retrying.
    response = deliver(client, clinic.stub, event)
    assert (response.status_code, response.json()["outcome"]) == (200, "unknown_checkout")
    other = deliver(client, clinic.stub, clinic.stub.event("customer.created", {"id": "cus_1"}))
    assert (other.status_code, other.json()["outcome"]) == (200, "ignored")


def test_the_session_page_shows_the_deposit_and_its_terms_before_paying(clinic, client):
    response = client.get(reverse("bookings:book_session"), {"location": "leeds", "treatment": "hairline"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Deposit: £50.00" in page
    assert "at least 48 hours before the start" in page
    missing = client.get(reverse("bookings:book_session"), {"location": "leeds"})
    assert missing.status_code == 400
