"""The money figures for the managers' dashboard and CSV exports, each one query whatever the data.

- takings: money that came in (deposits and desk payments) less money given back (refunds),
  by the day it went through (on the period's clock), treatment, technician and location. A
  payment against a course alone (no appointment) has no technician or location: it shows as
  "-" there and is left out when one location is chosen. Pending and failed rows are not money.
- deposits held (now): deposits paid and neither refunded nor kept, for bookings still ahead or
  in progress (booked, confirmed, arrived).
- deposits forfeited: deposits kept under the policy (no-shows, late cancellations, a
  manager's decision) in the period.
- balances outstanding (now): courses not cancelled, with a price agreed, that still owe
  something (price - payments + refunds > 0); at one location, courses with a session there.

Amounts are integers of minor units, per currency (no float, no mixing currencies).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, TruncDate

from bookings.models import Appointment, Course
from bookings.models_payments import Payment
from bookings.money import Money

Kind, Status = Payment.Kind, Payment.Status
IN_KINDS = (Kind.DEPOSIT, Kind.PAYMENT)
HELD_STATUSES = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED, Appointment.Status.ARRIVED)
NONE = "-"
BIG = BigIntegerField()


@dataclass(frozen=True)
class TakingsRow:
    day: date
    treatment: str
    technician: str
    location: str
    currency: str
    taken: int
    refunded: int

    @property
    def net(self) -> int:
        return self.taken - self.refunded


@dataclass(frozen=True)
class Line:
    """One line of a breakdown: what it is, and its money in one currency."""

    key: object
    taken: Money
    refunded: Money

    @property
    def net(self) -> Money:
        return self.taken - self.refunded


@dataclass
class Takings:
    rows: list[TakingsRow] = field(default_factory=list)

    def by(self, name: str) -> list[Line]:
        """The rows added up by ``day``, ``treatment``, ``technician`` or ``location`` (and currency)."""
        sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        for row in self.rows:
            total = sums[getattr(row, name), row.currency]
            total[0] += row.taken
            total[1] += row.refunded
        return [
            Line(key=key, taken=Money(taken, currency), refunded=Money(refunded, currency))
            for (key, currency), (taken, refunded) in sorted(
                sums.items(), key=lambda item: (str(item[0][0]), item[0][1])
            )
        ]

    @property
    def totals(self) -> list[Line]:
        sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for row in self.rows:
            sums[row.currency][0] += row.taken
            sums[row.currency][1] += row.refunded
        return [Line(key=c, taken=Money(t, c), refunded=Money(r, c)) for c, (t, r) in sorted(sums.items())]


@dataclass(frozen=True)
class Figure:
    amount: Money
    count: int


@dataclass
class MoneyReport:
    takings: Takings
    deposits_held: list[Figure]
    deposits_forfeited: list[Figure]
    balances_outstanding: list[Figure]


def _at(qs, location, path: str = "appointment__location"):
    return qs.filter(**{path: location}) if location is not None else qs


def takings_rows(*, period) -> list[TakingsRow]:
    """Every day x treatment x technician x location x currency with money in or out (one query)."""
    rows = (
        _at(
            Payment.objects.filter(
                status=Status.SUCCEEDED,
                kind__in=(*IN_KINDS, Kind.REFUND),
                succeeded_at__gte=period.start,
                succeeded_at__lt=period.end,
            ),
            period.location,
        )
        .annotate(
            day=TruncDate("succeeded_at", tzinfo=period.tz),
            treatment_name=Coalesce(
                "appointment__treatment__name", "appointment__course__treatment__name", "course__treatment__name"
            ),
            technician_name=F("appointment__technician__display_name"),
            location_name=F("appointment__location__name"),
        )
        .values("day", "treatment_name", "technician_name", "location_name", "currency")
        .annotate(
            taken=Sum("amount_minor", filter=Q(kind__in=IN_KINDS)),
            refunded=Sum("amount_minor", filter=Q(kind=Kind.REFUND)),
        )
        .order_by("day", "location_name", "technician_name", "treatment_name", "currency")
    )
    return [
        TakingsRow(
            day=row["day"],
            treatment=row["treatment_name"] or NONE,
            technician=row["technician_name"] or NONE,
            location=row["location_name"] or NONE,
            currency=row["currency"],
            taken=int(row["taken"] or 0),
            refunded=int(row["refunded"] or 0),
        )
        for row in rows
    ]


def _per_currency(rows) -> list[Figure]:
    return [Figure(amount=Money(int(r["amount"] or 0), r["currency"]), count=r["n"]) for r in rows if r["n"]]


def _settled():
    return (
        Payment.objects.filter(settles=OuterRef("pk"))
        .filter(
            Q(kind=Kind.REFUND, status__in=(Status.PENDING, Status.SUCCEEDED))
            | Q(kind=Kind.FORFEIT, status=Status.SUCCEEDED)
        )
        .values("settles")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )


def deposits_held(*, location=None) -> list[Figure]:
    """Deposits paid, not refunded or kept, for bookings still ahead or in progress (one query)."""
    left = ExpressionWrapper(F("amount_minor") - Coalesce(Subquery(_settled(), output_field=BIG), 0), output_field=BIG)
    rows = (
        _at(
            Payment.objects.filter(kind=Kind.DEPOSIT, status=Status.SUCCEEDED, appointment__status__in=HELD_STATUSES),
            location,
        )
        .annotate(left=left)
        .filter(left__gt=0)
        .values("currency")
        .annotate(amount=Sum("left"), n=Count("pk"))
        .order_by("currency")
    )
    return _per_currency(rows)


def deposits_forfeited(*, period) -> list[Figure]:
    """Deposits kept under the policy in the period (one query)."""
    rows = (
        _at(
            Payment.objects.filter(
                kind=Kind.FORFEIT, status=Status.SUCCEEDED, succeeded_at__gte=period.start, succeeded_at__lt=period.end
            ),
            period.location,
        )
        .values("currency")
        .annotate(amount=Sum("amount_minor"), n=Count("pk"))
        .order_by("currency")
    )
    return _per_currency(rows)


def _course_sum(kinds) -> Subquery:
    rows = (
        Payment.objects.filter(
            course=OuterRef("pk"), currency=OuterRef("currency"), status=Status.SUCCEEDED, kind__in=kinds
        )
        .values("course")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=BIG), 0)


def courses_with_balance(*, location=None):
    """Courses not cancelled, with a price agreed, annotated with ``balance`` in minor units."""
    courses = Course.objects.filter(price_agreed_minor__isnull=False).exclude(status=Course.Status.CANCELLED)
    if location is not None:
        courses = courses.filter(Exists(Appointment.objects.filter(course=OuterRef("pk"), location=location)))
    return courses.annotate(
        price_minor=F("price_agreed_minor"),
        paid_minor=_course_sum(IN_KINDS),
        refunded_minor=_course_sum((Kind.REFUND,)),
        balance=ExpressionWrapper(F("price_minor") - F("paid_minor") + F("refunded_minor"), output_field=BIG),
    )


def balances_outstanding(*, location=None) -> list[Figure]:
    """What courses still owe, per currency, and how many (one query)."""
    rows = (
        courses_with_balance(location=location)
        .filter(balance__gt=0)
        .values("currency")
        .annotate(amount=Sum("balance"), n=Count("pk"))
        .order_by("currency")
    )
    return _per_currency(rows)


def money_report(*, period) -> MoneyReport:
    """Every money figure on the dashboard, in four queries whatever the data."""
    return MoneyReport(
        takings=Takings(rows=takings_rows(period=period)),
        deposits_held=deposits_held(location=period.location),
        deposits_forfeited=deposits_forfeited(period=period),
        balances_outstanding=balances_outstanding(location=period.location),
    )
