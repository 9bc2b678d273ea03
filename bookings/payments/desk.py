"""Money taken or given back at the desk (card terminal, cash, bank transfer), against an
appointment or a course, and what a course still owes.

One write path: ``desk_payment_record`` records a payment or a refund after checking the rules
(who may, a positive amount, the course's currency, a refund no larger than what is left of the
payment it gives back), under the course's lock, with its audit row. The admin and the workspace
call it; nothing else writes desk payments.

A course's balance is price agreed - payments (deposits and desk payments that succeeded) +
refunds (that succeeded): money given back is owed again. A deposit the policy kept (a forfeit)
stays counted as paid: the clinic has the money. Amounts are integers of minor units throughout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from bookings.models import Appointment, Course
from bookings.models_payments import Payment
from bookings.money import DEFAULT_CURRENCY, Money
from clients.models import AuditEvent
from clients.services import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

PERMISSION = "bookings.record_desk_payment"
Kind, Status, Method = Payment.Kind, Payment.Status, Payment.Method
DESK_METHODS = (Method.CARD_TERMINAL, Method.CASH, Method.BANK_TRANSFER)
DESK_KINDS = (Kind.PAYMENT, Kind.REFUND)
# What counts as money in: a deposit (online) or a payment (desk); a refund gives either back.
PAID_KINDS = (Kind.DEPOSIT, Kind.PAYMENT)
# A typo guard, not a business rule: ten million pounds (in pence) at one desk is a mistake.
MAX_AMOUNT_MINOR = 1_000_000_000
# A refund in flight at the provider is already promised: it counts against what may be refunded.
LIVE = (Status.PENDING, Status.SUCCEEDED)
# An appointment whose deposit is still at the provider takes no desk money until it settles.
UNSETTLED_APPOINTMENT = (Appointment.Status.PENDING_PAYMENT, Appointment.Status.HOLD_RELEASED)


def course_currency(course: Course) -> str:
    return course.currency or DEFAULT_CURRENCY


def appointment_currency(appointment: Appointment) -> str:
    """Its course's currency; else that of a payment already taken against it; else the clinic's."""
    if appointment.course_id:
        return course_currency(appointment.course)
    taken = (
        Payment.objects.filter(appointment=appointment, kind__in=PAID_KINDS, status=Status.SUCCEEDED)
        .order_by("pk")
        .values_list("currency", flat=True)
        .first()
    )
    return taken or DEFAULT_CURRENCY


def course_price(course: Course) -> Money | None:
    if course.price_agreed_minor is None:
        return None
    return Money(course.price_agreed_minor, course_currency(course))


@dataclass(frozen=True)
class Statement:
    """What a course (or an appointment outside a course) has been asked, paid and given back."""

    currency: str
    price: Money | None
    deposits: Money
    payments: Money
    refunds: Money
    refunds_pending: Money
    kept: Money

    @property
    def paid(self) -> Money:
        return self.deposits + self.payments

    @property
    def balance(self) -> Money | None:
        """Price agreed - payments + refunds; None without an agreed price."""
        if self.price is None:
            return None
        return self.price - self.paid + self.refunds


def _sums(rows, currency: str) -> dict[str, Money]:
    succeeded = Q(status=Status.SUCCEEDED, currency=currency)
    totals = rows.aggregate(
        deposits=Sum("amount_minor", filter=succeeded & Q(kind=Kind.DEPOSIT)),
        payments=Sum("amount_minor", filter=succeeded & Q(kind=Kind.PAYMENT)),
        refunds=Sum("amount_minor", filter=succeeded & Q(kind=Kind.REFUND)),
        refunds_pending=Sum("amount_minor", filter=Q(status=Status.PENDING, currency=currency, kind=Kind.REFUND)),
        kept=Sum("amount_minor", filter=succeeded & Q(kind=Kind.FORFEIT)),
    )
    return {name: Money(int(value or 0), currency) for name, value in totals.items()}


def course_statement(course: Course) -> Statement:
    """The course's money in one query (one aggregate over its payments)."""
    currency = course_currency(course)
    return Statement(currency=currency, price=course_price(course), **_sums(course.payments.all(), currency))


def appointment_statement(appointment: Appointment) -> Statement:
    """An appointment's own money (a course's session: see the course's statement for the balance)."""
    currency = appointment_currency(appointment)
    return Statement(currency=currency, price=None, **_sums(appointment.payments.all(), currency))


def refundable_minor(payment: Payment) -> int:
    """What is left of a payment to give back: its amount less refunds made or in flight and
    the part of it kept under the deposit policy."""
    settled = payment.settlements.filter(
        Q(kind=Kind.REFUND, status__in=LIVE) | Q(kind=Kind.FORFEIT, status=Status.SUCCEEDED)
    ).aggregate(total=Sum("amount_minor"))["total"]
    return payment.amount_minor - int(settled or 0)


def refundable_payments(*, course: Course | None = None, appointment: Appointment | None = None):
    """The payments a desk refund may give back (succeeded deposits and payments), newest first."""
    rows = Payment.objects.filter(kind__in=PAID_KINDS, status=Status.SUCCEEDED)
    rows = rows.filter(course=course) if course is not None else rows.filter(appointment=appointment)
    return rows.order_by("-succeeded_at", "-pk")


# The form field a refusal is about (callers branch on the code, never the text).
ERROR_FIELDS = {
    "bad_kind": "kind",
    "bad_method": "method",
    "amount_not_integer": "amount",
    "amount_not_positive": "amount",
    "amount_too_large": "amount",
    "refund_exceeds_paid": "amount",
    "currency_mismatch": "currency",
    "reference_too_long": "reference",
    "refund_needs_payment": "refund_of",
    "refund_of_on_payment": "refund_of",
    "refund_other_payment": "refund_of",
    "refund_not_paid": "refund_of",
}


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def _check_amount(amount_minor, currency: str) -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise _refuse("The amount must be a whole number of minor units (pence).", "amount_not_integer")
    if amount_minor <= 0:
        raise _refuse("The amount must be more than zero.", "amount_not_positive")
    if amount_minor > MAX_AMOUNT_MINOR:
        limit = Money(MAX_AMOUNT_MINOR, currency) if len(currency) == 3 and currency.isupper() else MAX_AMOUNT_MINOR
        raise _refuse(f"The amount is too large (at most {limit}).", "amount_too_large")


def desk_payment_record(
    *,
    by: AbstractBaseUser,
    kind: str,
    amount_minor: int,
    currency: str,
    method: str,
    course: Course | None = None,
    appointment: Appointment | None = None,
    refund_of: Payment | None = None,
    reference: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> Payment:
    """Record money taken at the desk (``kind`` "payment") or given back (``kind`` "refund",
    naming the payment it gives back in ``refund_of``) against an appointment or a course.

    Refused (ValidationError with a code, nothing written): a kind or method the desk does not
    use, an amount that is not a positive whole number of minor units, a currency other than
    the course's (or the appointment's), a payment on a cancelled course or on a booking whose
    online deposit has not settled, a refund of another course's payment or of more than is
    left of it. PermissionDenied without the desk-payment permission."""
    if by is None or not by.is_authenticated or not by.has_perm(PERMISSION):
        raise PermissionDenied("You may not record payments taken at the desk.")
    if kind not in DESK_KINDS:
        raise _refuse("Choose a payment or a refund.", "bad_kind")
    if method not in DESK_METHODS:
        raise _refuse("Choose card terminal, cash or bank transfer.", "bad_method")
    currency = (currency or "").strip()
    _check_amount(amount_minor, currency)
    if appointment is None and course is None:
        raise _refuse("A payment is against an appointment or a course.", "no_target")
    if appointment is not None and course is not None and appointment.course_id != course.pk:
        raise _refuse("The appointment is not part of this course.", "course_mismatch")
    reference, reason = (reference or "").strip(), (reason or "").strip()
    if len(reference) > Payment._meta.get_field("reference").max_length:
        raise _refuse("The reference is too long (80 characters at most).", "reference_too_long")
    now = now or timezone.now()
    with transaction.atomic():
        # Locked: two desks recording against one course (or a refund beside the deposit's
        # settlement) must see each other's rows before checking what is left to refund.
        if appointment is not None:
            appointment = Appointment.objects.select_for_update(of=("self",)).get(pk=appointment.pk)
            course = appointment.course
        if course is not None:
            course = Course.objects.select_for_update().get(pk=course.pk)
        expected = course_currency(course) if course is not None else appointment_currency(appointment)
        if currency != expected:
            raise _refuse(
                f"The currency must be {expected}, the {'course' if course else 'booking'}'s.", "currency_mismatch"
            )
        if kind == Kind.PAYMENT:
            if course is not None and course.status == Course.Status.CANCELLED:
                raise _refuse("The course is cancelled: it takes no more payments.", "course_cancelled")
            if appointment is not None and appointment.status in UNSETTLED_APPOINTMENT:
                raise _refuse(
                    "This booking's online deposit has not settled: take no desk payment for it.",
                    "deposit_unsettled",
                )
            if refund_of is not None:
                raise _refuse("Only a refund gives back a payment.", "refund_of_on_payment")
        else:
            refund_of = _refund_target(refund_of, course=course, appointment=appointment)
            if refund_of.currency != currency:
                raise _refuse("A refund is in the currency of the payment it gives back.", "currency_mismatch")
            left = refundable_minor(refund_of)
            if amount_minor > left:
                raise _refuse(
                    f"At most {Money(max(left, 0), currency)} of that payment is left to refund.",
                    "refund_exceeds_paid",
                )
        payment = Payment.objects.create(
            kind=kind,
            status=Status.SUCCEEDED,
            succeeded_at=now,
            method=method,
            amount_minor=amount_minor,
            currency=currency,
            client_id=course.client_id if course is not None else appointment.client_id,
            appointment=appointment,
            course=course,
            settles=refund_of if kind == Kind.REFUND else None,
            reference=reference,
            reason=reason,
            recorded_by=by,
        )
        audit_record(
            actor=by,
            action=AuditEvent.Action.CREATE,
            object_type="payment",
            object_id=payment.pk,
            client_id=payment.client_id,
            fields=["amount_minor", "currency", "method", *(["settles"] if refund_of else [])],
            detail=f"desk {kind} ({method})" + (f" of payment {refund_of.pk}" if refund_of else ""),
        )
    logger.info("desk %s recorded payment=%s", kind, payment.pk)
    return payment


def _refund_target(refund_of: Payment | None, *, course: Course | None, appointment: Appointment | None) -> Payment:
    if refund_of is None:
        raise _refuse("Choose the payment the refund gives back.", "refund_needs_payment")
    # Locked: the deposit's own settlement (a cancellation, a no-show) refunds under this lock too.
    locked = Payment.objects.select_for_update(of=("self",)).filter(pk=refund_of.pk).first()
    belongs = locked is not None and (
        locked.course_id == course.pk if course is not None else locked.appointment_id == appointment.pk
    )
    if not belongs:
        raise _refuse("That payment is not one of this course's or booking's.", "refund_other_payment")
    if locked.kind not in PAID_KINDS or locked.status != Status.SUCCEEDED:
        raise _refuse("Only a payment or a deposit that went through can be refunded.", "refund_not_paid")
    return locked
