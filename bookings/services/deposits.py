"""Deposits through their life: taken online (a held booking and a hosted checkout), confirmed
by the provider's signed webhook, released when unpaid, refunded or kept by the policy when the
booking is cancelled or missed, and overridden by a manager.

Every write locks the payment row it changes (SELECT ... FOR UPDATE) and checks its state, so a
webhook delivered twice, out of order or at the same time as the hold's expiry changes nothing
twice. Money moves at the provider only after the transaction that records the intent commits,
with an idempotency key stored on the row: a retry is the same request, never a second refund.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import Appointment, Technician
from bookings.models_payments import DepositPolicy, Payment, WebhookEvent
from bookings.money import Money
from bookings.payments.providers import Event, ProviderError, provider
from bookings.payments.selectors import deposit_cancellation_share, deposit_terms, terms_text
from clients.models import AuditEvent
from clients.services import audit_record

from .messaging import appointment_messages_new

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

Status = Payment.Status
AppStatus = Appointment.Status

OVERRIDE = "bookings.override_deposit"


class PaymentUnavailable(Exception):
    """The provider could not start a checkout; the held time has been released."""


def _audit(*, by, payment: Payment, fields, detail: str, action: str = AuditEvent.Action.UPDATE) -> None:
    audit_record(
        actor=by,
        action=action,
        object_type="payment",
        object_id=payment.pk,
        client_id=payment.client_id,
        fields=fields,
        detail=detail,
    )


# Taking a deposit online ----------------------------------------------------------------


def hold_expiry(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(minutes=settings.PAYMENT_HOLD_MINUTES)


def deposit_pending_create(*, appointment: Appointment, policy: DepositPolicy, amount: Money) -> Payment:
    """The deposit an online booking held for payment owes (call in the booking's transaction)."""
    payment = Payment.objects.create(
        kind=Payment.Kind.DEPOSIT,
        status=Status.PENDING,
        method=Payment.Method.STRIPE,
        provider="stripe",
        amount_minor=amount.minor,
        currency=amount.currency,
        client_id=appointment.client_id,
        appointment=appointment,
        course_id=appointment.course_id,
        terms=deposit_terms(policy),
    )
    _audit(
        by=None,
        payment=payment,
        fields=["amount_minor", "currency"],
        detail="deposit asked (online booking)",
        action=AuditEvent.Action.CREATE,
    )
    return payment


def deposit_checkout_start(*, payment: Payment, success_url: str, cancel_url: str) -> str:
    """Open the provider's hosted checkout for a pending deposit; returns the URL to send the
    client to. Call after the booking committed. If the provider fails, the hold is released
    at once (the time is free again) and PaymentUnavailable raised."""
    appointment = payment.appointment
    expires = max(
        appointment.hold_expires_at or hold_expiry(),
        timezone.now() + timedelta(minutes=31),  # Stripe's minimum is 30 minutes from now
    )
    try:
        checkout = provider().create_checkout(
            amount=payment.money,
            description=f"Deposit for {appointment.get_kind_display().lower()} {appointment.reference}",
            reference=str(payment.pk),
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=expires,
            idempotency_key=f"checkout-{payment.pk}",
            metadata={"payment": str(payment.pk), "reference": appointment.reference},
        )
    except ProviderError:
        logger.warning("checkout not created payment=%s: hold released", payment.pk)
        _release(payment_id=payment.pk, detail="checkout could not be started")
        raise PaymentUnavailable from None
    updated = Payment.objects.filter(pk=payment.pk, status=Status.PENDING).update(
        provider_checkout_id=checkout.id, checkout_url=checkout.url, updated_at=timezone.now()
    )
    if not updated:
        raise PaymentUnavailable
    logger.info("checkout started payment=%s ref=%s", payment.pk, appointment.reference)
    return checkout.url


# The provider's webhooks ---------------------------------------------------------------------

PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
FAILED_EVENTS = ("checkout.session.expired", "checkout.session.async_payment_failed")


def webhook_handle(*, event: Event, provider_name: str = "stripe") -> str:
    """Apply a verified webhook event once; returns what happened (for the log and the reply).

    The event's row and its effect commit together: a second delivery of the same id finds the
    row and does nothing; a different event about a payment already settled finds the payment
    in its final state and does nothing either."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = WebhookEvent.objects.create(
                    provider=provider_name, event_id=event.id, type=event.type[:100], object_id=event.object_id[:255]
                )
        except IntegrityError:
            return "duplicate"
        if event.type in PAID_EVENTS and event.payment_status in ("paid", "no_payment_required"):
            outcome = _deposit_paid(event)
        elif event.type == "checkout.session.completed":
            outcome = "awaiting_payment"  # a delayed method: the async event settles it
        elif event.type in FAILED_EVENTS:
            outcome = _deposit_failed(event)
        else:
            outcome = "ignored"
        record.outcome = outcome
        record.save(update_fields=["outcome"])
    logger.info("webhook %s type=%s outcome=%s", event.id, event.type, outcome)
    return outcome


def _payment_for_checkout(checkout_id: str) -> Payment | None:
    # Locked: the webhook, the hold's expiry and a repeated delivery must apply one at a time.
    return (
        Payment.objects.select_for_update(of=("self",))
        .filter(provider_checkout_id=checkout_id, kind=Payment.Kind.DEPOSIT)
        .first()
    )


def _deposit_paid(event: Event) -> str:
    payment = _payment_for_checkout(event.object_id)
    if payment is None:
        return "unknown_checkout"
    if payment.status == Status.SUCCEEDED:
        return "already_paid"
    if event.amount_minor is not None and (event.amount_minor, event.currency) != (
        payment.amount_minor,
        payment.currency,
    ):
        logger.warning("checkout amount differs from the deposit asked payment=%s", payment.pk)
    now = timezone.now()
    payment.status = Status.SUCCEEDED
    payment.succeeded_at = now
    payment.provider_payment_id = event.payment_id or None
    payment.save(update_fields=["status", "succeeded_at", "provider_payment_id", "updated_at"])
    _audit(by=None, payment=payment, fields=["status"], detail="deposit paid (provider webhook)")
    if payment.appointment_id is None:
        return "paid"  # against a course alone: nothing is held
    appointment = Appointment.objects.select_for_update(of=("self",)).get(pk=payment.appointment_id)
    if appointment.status == AppStatus.PENDING_PAYMENT:
        _confirm(appointment, now, payment)
        return "confirmed"
    if appointment.status == AppStatus.HOLD_RELEASED and _reclaim(appointment, now, payment):
        return "confirmed_after_release"
    # Paid for a time no longer held (released and taken meanwhile): the money goes back.
    _refund_create(deposit=payment, amount=payment.money, reason="paid after the held time was released", by=None)
    return "refunded_time_gone"


def _confirm(appointment: Appointment, now: datetime, deposit: Payment) -> None:
    appointment.status = AppStatus.CONFIRMED
    appointment.status_changed_at = now
    appointment.status_changed_by = None
    appointment.save(update_fields=["status", "status_changed_at", "status_changed_by", "updated_at"])
    audit_record(
        actor=None,
        action=AuditEvent.Action.UPDATE,
        object_type="appointment",
        object_id=appointment.pk,
        client_id=appointment.client_id,
        fields=["status"],
        detail="confirmed: deposit paid",
    )
    appointment = Appointment.objects.select_related("client", "course", "location").get(pk=appointment.pk)
    # The first messages this booking owes (none were written while it was held): the
    # confirmation, once, because only the held -> confirmed change above gets here.
    terms = f"Deposit paid: {deposit.money}. {terms_text(deposit.terms or {})}"
    appointment_messages_new(
        appointment=appointment, confirm=appointment.start > now, now=now, confirm_payload={"deposit": terms}
    )


def _reclaim(appointment: Appointment, now: datetime, deposit: Payment) -> bool:
    """Take a released hold's time back for a late payment if nobody has booked it since."""
    # Locked: a booking for this technician computes their free time under the same lock.
    Technician.objects.select_for_update().filter(pk=appointment.technician_id).first()
    taken = (
        Appointment.objects.filter(
            technician_id=appointment.technician_id,
            status__in=Appointment.SLOT_STATUSES,
            start__lt=appointment.end,
            end__gt=appointment.start,
        )
        .exclude(pk=appointment.pk)
        .exists()
    )
    if taken or appointment.start <= now:
        return False
    try:
        with transaction.atomic():
            _confirm(appointment, now, deposit)
    except IntegrityError:
        return False
    return True


def _deposit_failed(event: Event) -> str:
    payment = _payment_for_checkout(event.object_id)
    if payment is None:
        return "unknown_checkout"
    if payment.status != Status.PENDING:
        return "already_settled"
    _release_locked(payment, detail=f"checkout {event.type.rsplit('.', 1)[-1]}")
    return "released"


def _release_locked(payment: Payment, *, detail: str) -> None:
    payment.status = Status.CANCELLED
    payment.save(update_fields=["status", "updated_at"])
    _audit(by=None, payment=payment, fields=["status"], detail=f"deposit not paid: {detail}")
    if payment.appointment_id is None:
        return
    appointment = Appointment.objects.select_for_update(of=("self",)).get(pk=payment.appointment_id)
    if appointment.status == AppStatus.PENDING_PAYMENT:
        appointment.status = AppStatus.HOLD_RELEASED
        appointment.status_changed_at = timezone.now()
        appointment.save(update_fields=["status", "status_changed_at", "updated_at"])
        audit_record(
            actor=None,
            action=AuditEvent.Action.UPDATE,
            object_type="appointment",
            object_id=appointment.pk,
            client_id=appointment.client_id,
            fields=["status"],
            detail="held time released: deposit not paid",
        )


def _release(*, payment_id: int, detail: str) -> bool:
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).filter(pk=payment_id).first()
        if payment is None or payment.status != Status.PENDING:
            return False
        _release_locked(payment, detail=detail)
    return True


def payment_holds_release(*, now: datetime | None = None) -> int:
    """Release every held booking whose time to pay is up (beat, every minute); the provider's
    checkout is expired too, so the client cannot pay for a time no longer held. Returns how
    many were released."""
    now = now or timezone.now()
    released = 0
    ids = list(
        Payment.objects.filter(
            kind=Payment.Kind.DEPOSIT,
            status=Status.PENDING,
            appointment__status=AppStatus.PENDING_PAYMENT,
            appointment__hold_expires_at__lte=now,
        ).values_list("pk", "provider_checkout_id")
    )
    for payment_id, checkout_id in ids:
        if _release(payment_id=payment_id, detail="time to pay ran out"):
            released += 1
            if checkout_id:
                try:
                    provider().expire_checkout(checkout_id=checkout_id)
                except ProviderError:
                    logger.warning("checkout not expired payment=%s (it expires on its own)", payment_id)
    return released


# Refunds and forfeits --------------------------------------------------------------------


def _settled_minor(deposit: Payment) -> tuple[int, int]:
    """(refunded or being refunded, kept) of a deposit, in minor units."""
    refunded = kept = 0
    for row in deposit.settlements.exclude(status__in=[Status.FAILED, Status.CANCELLED]):
        if row.kind == Payment.Kind.REFUND:
            refunded += row.amount_minor
        elif row.kind == Payment.Kind.FORFEIT:
            kept += row.amount_minor
    return refunded, kept


def _refund_create(*, deposit: Payment, amount: Money, reason: str, by) -> Payment:
    """Record a refund to send and send it once the transaction commits."""
    sequence = deposit.settlements.filter(kind=Payment.Kind.REFUND).count() + 1
    refund = Payment.objects.create(
        kind=Payment.Kind.REFUND,
        status=Status.PENDING,
        method=deposit.method,
        provider=deposit.provider,
        amount_minor=amount.minor,
        currency=amount.currency,
        client_id=deposit.client_id,
        appointment_id=deposit.appointment_id,
        course_id=deposit.course_id,
        settles=deposit,
        idempotency_key=f"refund-{deposit.pk}-{sequence}",
        reason=reason,
        recorded_by=by,
    )
    _audit(
        by=by,
        payment=refund,
        fields=["amount_minor", "reason"],
        detail=f"refund: {reason}",
        action=AuditEvent.Action.CREATE,
    )
    if deposit.provider:
        transaction.on_commit(lambda: refund_send(refund_id=refund.pk))
    return refund


def _forfeit_create(*, deposit: Payment, amount: Money, reason: str, by) -> Payment:
    forfeit = Payment.objects.create(
        kind=Payment.Kind.FORFEIT,
        status=Status.SUCCEEDED,
        succeeded_at=timezone.now(),
        method=Payment.Method.NONE,
        amount_minor=amount.minor,
        currency=amount.currency,
        client_id=deposit.client_id,
        appointment_id=deposit.appointment_id,
        course_id=deposit.course_id,
        settles=deposit,
        reason=reason,
        recorded_by=by,
    )
    _audit(
        by=by,
        payment=forfeit,
        fields=["amount_minor", "reason"],
        detail=f"deposit kept: {reason}",
        action=AuditEvent.Action.CREATE,
    )
    return forfeit


def refund_send(*, refund_id: int) -> Payment:
    """Ask the provider for a recorded refund (again, after a failure: the same idempotency key,
    so never two refunds). A provider error leaves it pending for the next try."""
    refund = Payment.objects.select_related("settles").get(pk=refund_id)
    if refund.status != Status.PENDING or not refund.provider:
        return refund
    try:
        result = provider().refund(
            payment_id=refund.settles.provider_payment_id or "",
            amount=refund.money,
            idempotency_key=refund.idempotency_key,
            reason=refund.reason,
        )
    except ProviderError:
        logger.warning("refund not sent refund=%s: will retry", refund.pk)
        return refund
    now = timezone.now()
    Payment.objects.filter(pk=refund.pk, status=Status.PENDING).update(
        status=Status.SUCCEEDED, succeeded_at=now, provider_refund_id=result.id, updated_at=now
    )
    refund.refresh_from_db()
    logger.info("refund sent refund=%s", refund.pk)
    return refund


def refunds_retry(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Send refunds still pending (a provider outage at the time): beat, every minute."""
    ids = (
        Payment.objects.filter(
            kind=Payment.Kind.REFUND, status=Status.PENDING, created_at__lte=timezone.now() - older_than
        )
        .exclude(provider="")
        .values_list("pk", flat=True)
    )
    return sum(refund_send(refund_id=pk).status == Status.SUCCEEDED for pk in ids)


class Outcome:
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


def deposit_settle(*, appointment: Appointment, outcome: str, by=None, now: datetime | None = None) -> Payment | None:
    """What the policy does with a paid deposit when the booking is cancelled or missed: a
    cancellation in time refunds it, a late one or a no-show keeps the policy's share (recorded
    with the reason) and refunds the rest. Call inside the transaction that cancels or marks the
    no-show. Idempotent: a deposit already settled is left alone. Returns the deposit, if any."""
    now = now or timezone.now()
    deposit = (
        Payment.objects.select_for_update(of=("self",))
        .filter(appointment=appointment, kind=Payment.Kind.DEPOSIT, status=Status.SUCCEEDED)
        .order_by("-pk")
        .first()
    )
    if deposit is None:
        return None
    refunded, kept = _settled_minor(deposit)
    if refunded or kept:
        return deposit
    terms = deposit.terms or {}
    if outcome == Outcome.NO_SHOW:
        percent, reason = terms.get("no_show_forfeit_percent", 100), "no-show"
    else:
        percent, reason = deposit_cancellation_share(terms=terms, start=appointment.start, at=now)
    keep = deposit.money.percent(percent)
    back = deposit.money - keep
    if keep.minor:
        _forfeit_create(deposit=deposit, amount=keep, reason=reason, by=by)
    if back.minor:
        _refund_create(deposit=deposit, amount=back, reason=reason, by=by)
    return deposit


def deposit_override(
    *, appointment: Appointment, decision: str, by: AbstractBaseUser, reason: str, now: datetime | None = None
) -> Payment:
    """A manager refunds a deposit the policy kept, or keeps one it would refund, with a reason
    (audited). ``decision`` is "refund" or "forfeit"."""
    if by is None or not by.is_authenticated or not by.has_perm(OVERRIDE):
        raise PermissionDenied("You may not override the deposit policy.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for overriding the deposit policy.", code="reason_required")
    if decision not in ("refund", "forfeit"):
        raise ValidationError("Choose to refund or to keep the deposit.", code="bad_decision")
    with transaction.atomic():
        deposit = (
            Payment.objects.select_for_update(of=("self",))
            .filter(appointment=appointment, kind=Payment.Kind.DEPOSIT, status=Status.SUCCEEDED)
            .order_by("-pk")
            .first()
        )
        if deposit is None:
            raise ValidationError("This appointment has no paid deposit.", code="no_deposit")
        refunded, kept = _settled_minor(deposit)
        detail = f"manager override: {decision}: {reason}"
        if decision == "refund":
            for forfeit in deposit.settlements.filter(kind=Payment.Kind.FORFEIT, status=Status.SUCCEEDED):
                forfeit.status = Status.CANCELLED
                forfeit.reason = f"{forfeit.reason}; overridden: {reason}"
                forfeit.save(update_fields=["status", "reason", "updated_at"])
            left = deposit.amount_minor - refunded
            if left <= 0:
                raise ValidationError("The deposit has been refunded already.", code="deposit_already_refunded")
            _refund_create(deposit=deposit, amount=Money(left, deposit.currency), reason=detail, by=by)
        else:
            if refunded:
                raise ValidationError(
                    "The deposit has been refunded (or is being refunded): it can no longer be kept.",
                    code="deposit_already_refunded",
                )
            left = deposit.amount_minor - kept
            if left <= 0:
                raise ValidationError("The whole deposit is kept already.", code="deposit_already_kept")
            _forfeit_create(deposit=deposit, amount=Money(left, deposit.currency), reason=detail, by=by)
        _audit(by=by, payment=deposit, fields=[decision], detail=detail)
    logger.info("deposit override payment=%s decision=%s", deposit.pk, decision)
    return deposit
