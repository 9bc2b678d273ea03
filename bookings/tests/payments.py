"""Test helpers for money: a deposit paid online through the pay services and the local Stripe
stub (the ``stripe_stub`` fixture must be active)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from bookings.models import Appointment
from bookings.models_payments import Payment
from bookings.money import Money
from bookings.payments.providers import Event
from bookings.services.deposits import deposit_checkout_start, deposit_pending_create, webhook_handle
from bookings.tests.factories import AppointmentFactory, DepositPolicyFactory

_ids = itertools.count(1)


def deposit_paid(course, amount: int, *, now: datetime, **appointment) -> Payment:
    """A deposit taken online through the pay services: a held session of the course, the
    deposit asked, the checkout opened at the local Stripe stub, the signed webhook's event."""
    start = appointment.pop("start", now + timedelta(days=7 + next(_ids)))
    booking = AppointmentFactory(
        kind=Appointment.Kind.TREATMENT_SESSION,
        client=course.client,
        course=course,
        treatment=course.treatment,
        start=start,
        end=start + timedelta(hours=3),
        status=Appointment.Status.PENDING_PAYMENT,
        hold_expires_at=now + timedelta(minutes=15),
        **appointment,
    )
    policy = DepositPolicyFactory.build(amount_minor=amount)
    policy.pk = None
    payment = deposit_pending_create(appointment=booking, policy=policy, amount=Money(amount, "GBP"))
    deposit_checkout_start(payment=payment, success_url="http://testserver/ok", cancel_url="http://testserver/no")
    payment.refresh_from_db()
    outcome = webhook_handle(
        event=Event(
            id=f"evt_desk_{next(_ids)}",
            type="checkout.session.completed",
            object_id=payment.provider_checkout_id,
            payment_status="paid",
            payment_id=f"pi_desk_{payment.pk}",
            amount_minor=amount,
            currency="GBP",
        )
    )
    assert outcome == "confirmed"
    payment.refresh_from_db()
    return payment
