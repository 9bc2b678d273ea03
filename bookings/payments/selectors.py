"""Reads for deposits: which policy applies and how much it asks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

from bookings.models_payments import DepositPolicy, Payment
from bookings.money import DEFAULT_CURRENCY, Money
from treatments.models import PriceGuide


def deposit_policy_for(*, kind: str, location, treatment) -> DepositPolicy | None:
    """The most specific active policy for this kind at this location for this treatment, or None
    (no deposit). Consultations have none unless a policy names the consultation kind."""
    scope = Q(location__isnull=True) | Q(location=location)
    scope &= Q(treatment__isnull=True) | Q(treatment=treatment) if treatment is not None else Q(treatment__isnull=True)
    candidates = list(DepositPolicy.objects.filter(scope, kind=kind, is_active=True))
    candidates.sort(key=lambda p: (p.location_id is None, p.treatment_id is None))
    return candidates[0] if candidates else None


def price_basis(*, treatment, location, course=None) -> Money | None:
    """What a percentage deposit is a percentage of: the course's agreed price, else the lowest
    'from' price of the treatment's price guide at the location (or clinic-wide)."""
    if course is not None and course.price_agreed_minor is not None:
        return Money(course.price_agreed_minor, course.currency or DEFAULT_CURRENCY)
    if treatment is None:
        return None
    guides = PriceGuide.objects.filter(treatment=treatment).filter(Q(location=location) | Q(location__isnull=True))
    if course is not None and course.price_band:
        guides = guides.filter(band=course.price_band)
    prices = sorted(
        guides.values_list("location_id", "price_from_minor", "currency"), key=lambda row: (row[0] is None, row[1])
    )
    return Money(prices[0][1], prices[0][2]) if prices else None


def deposit_amount(*, policy: DepositPolicy, treatment, location, course=None) -> Money | None:
    """The deposit the policy asks (None: a percentage with nothing to take it of)."""
    if policy.amount_minor is not None:
        return Money(policy.amount_minor, policy.currency)
    basis = price_basis(treatment=treatment, location=location, course=course)
    if basis is None or basis.minor <= 0:
        return None
    amount = basis.percent(policy.percent)
    return Money(amount.minor, policy.currency) if amount.minor > 0 else None


def deposit_terms(policy: DepositPolicy) -> dict:
    """The terms a deposit is taken under, kept on the payment."""
    return {
        "refundable_until_hours": policy.refundable_until_hours,
        "late_cancellation_forfeit_percent": policy.late_cancellation_forfeit_percent,
        "no_show_forfeit_percent": policy.no_show_forfeit_percent,
        "policy_id": policy.pk,
    }


def terms_text(terms: dict) -> str:
    """The deposit's terms in one sentence, for the booking pages and the confirmation."""
    hours = terms.get("refundable_until_hours", 48)
    late = terms.get("late_cancellation_forfeit_percent", 100)
    no_show = terms.get("no_show_forfeit_percent", 100)

    def kept(percent: int) -> str:
        return "the whole deposit is kept" if percent >= 100 else f"{percent}% of the deposit is kept"

    return (
        f"Cancel or move at least {hours} hours before the start and the deposit is refunded in full. "
        f"Cancel later and {kept(late)}; if you don't come, {kept(no_show)}. "
        "The deposit counts towards the price of your treatment."
    )


def deposit_cancellation_share(*, terms: dict, start: datetime, at: datetime) -> tuple[int, str]:
    """The percent of a paid deposit its terms keep when the booking is cancelled at ``at``, with
    the reason recorded: none at least ``refundable_until_hours`` before the start, else the late
    share (deposit_settle applies it; the manage page's confirmation step shows it)."""
    hours = terms.get("refundable_until_hours", 48)
    if start - at >= timedelta(hours=hours):
        return 0, f"cancelled at least {hours} hours before the start"
    return terms.get("late_cancellation_forfeit_percent", 100), f"cancelled less than {hours} hours before the start"


@dataclass(frozen=True)
class DepositOnCancel:
    """What cancelling now would do with a paid deposit: keep ``kept`` and refund ``refunded``."""

    paid: Money
    kept: Money
    refunded: Money
    refundable_until_hours: int


def deposit_on_cancel(*, appointment, at: datetime) -> DepositOnCancel | None:
    """What deposit_settle would do with the appointment's paid deposit if it were cancelled at
    ``at``, or None when it would do nothing (no paid deposit, or one settled already)."""
    deposit = (
        Payment.objects.filter(appointment=appointment, kind=Payment.Kind.DEPOSIT, status=Payment.Status.SUCCEEDED)
        .order_by("-pk")
        .first()
    )
    if deposit is None:
        return None
    if deposit.settlements.exclude(status__in=[Payment.Status.FAILED, Payment.Status.CANCELLED]).exists():
        return None
    terms = deposit.terms or {}
    percent, _ = deposit_cancellation_share(terms=terms, start=appointment.start, at=at)
    kept = deposit.money.percent(percent)
    return DepositOnCancel(
        paid=deposit.money,
        kept=kept,
        refunded=deposit.money - kept,
        refundable_until_hours=terms.get("refundable_until_hours", 48),
    )


def appointment_deposit(appointment) -> Payment | None:
    """The appointment's deposit (the latest attempt), or None."""
    return (
        Payment.objects.filter(appointment=appointment, kind=Payment.Kind.DEPOSIT)
        .exclude(status=Payment.Status.FAILED)
        .order_by("-created_at", "-pk")
        .first()
    )


def appointment_deposit_with_settlements(appointment) -> tuple[Payment | None, list[Payment]]:
    """The appointment's deposit and the refunds and forfeits standing against it, in one query."""
    rows = list(Payment.objects.filter(appointment=appointment).order_by("created_at", "pk"))
    deposits = [r for r in rows if r.kind == Payment.Kind.DEPOSIT and r.status != Payment.Status.FAILED]
    if not deposits:
        return None, []
    deposit = deposits[-1]
    live = (Payment.Status.PENDING, Payment.Status.SUCCEEDED)
    return deposit, [r for r in rows if r.settles_id == deposit.pk and r.status in live]
