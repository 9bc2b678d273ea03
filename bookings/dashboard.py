"""The managers' dashboard: the clinic's figures for a period, each computed in the database.

Every figure is one aggregate query (GROUP BY with Count(filter=...) and Sum), so the page costs
the same number of queries for ten appointments as for half a million. Weeks and days are on one
clock: the chosen location's, or the clinic's default zone (CLINIC_TIME_ZONE) for every location
together, where a distant clinic's late-evening appointment may fall on the next London day.

What each figure means (the page says the same):

- appointments per week: by the week they take place, cancelled ones left out;
- conversion: consultations attended (arrived or completed) whose client has a course, not
  cancelled, created at or after the consultation's start;
- no-show rate: no-shows over the appointments due so far (started before now, not cancelled);
- late cancellations: recorded late by the cancel service (within the booking policy's
  late-cancellation window), over every appointment in the period. The flag the service set at
  the time is the one source of truth, shared with the attendance counts and the online no-show
  limit: a policy changed since does not rewrite past weeks;
- revenue booked: appointments not cancelled and not a no-show. A treatment session carries its
  share of the course's agreed price (price / planned sessions); without an agreed price, the
  share of the price guide's "from" price for the course's band (the location's guide, else the
  clinic-wide one), marked as estimated. A touch-up carries its treatment's lowest guide "from"
  price, estimated. An appointment has no price field of its own; consultations are free.
- touch-ups due: a completed session that ended a course (or a touch-up), with no touch-up
  booked since, whose recall falls due (TOUCH_UP_RECALL_MONTHS after it, the recall message's
  rule) within the next 90 days;
- aftercare messages (day 4, 7 and 10) by the week they fall due, by outcome;
- money taken (takings per day, treatment, technician and location), deposits held and
  forfeited, balances outstanding: bookings.payments.reports says what each counts.

At a chain's scale (hundreds of thousands of appointments) counting a quarter takes the database
a few hundred milliseconds, so the page reads a snapshot of the figures no older than
DASHBOARD_CACHE_SECONDS (`dashboard_figures`) and says when it was computed; beat recomputes the
default period, for every location and for each one, before the snapshots run out
(`dashboard_snapshots_refresh`), and "Refresh figures" on the page recomputes at once.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.cache import cache
from django.db import connection, connections
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, TruncDate, TruncWeek

from treatments.models import PriceGuide

from .models import Appointment, ClientMessage, Course, Location
from .pagecache import CACHE_ERRORS
from .payments.reports import MoneyReport, money_report
from .selectors import LATE_CANCELLATION
from .zones import add_months, default_tz

logger = logging.getLogger(__name__)

Kind, Status = Appointment.Kind, Appointment.Status
AFTERCARE_KINDS = (
    ClientMessage.Kind.AFTERCARE_DAY_4,
    ClientMessage.Kind.AFTERCARE_DAY_7,
    ClientMessage.Kind.AFTERCARE_DAY_10,
)
# Revenue counts what is still expected to be paid for: not cancelled, not a no-show.
REVENUE_STATUSES = (Status.BOOKED, Status.CONFIRMED, Status.ARRIVED, Status.COMPLETED)
ATTENDED_STATUSES = (Status.ARRIVED, Status.COMPLETED)
TOUCH_UP_WINDOW_DAYS = 90
TOUCH_UP_LIST_LIMIT = 50
DEFAULT_WEEKS = 12
# Part of every snapshot's cache key: bump it when Dashboard's fields change or a class it holds
# moves module (2: Money left bookings.payments), so a snapshot pickled by the previous release is
# never read back into the new one.
SNAPSHOT_FORMAT = 2
MONEY = DecimalField(max_digits=14, decimal_places=2)


@dataclass(frozen=True)
class Period:
    """Whole local days ``date_from``..``date_to`` (inclusive) at one location, or at all of them."""

    date_from: date
    date_to: date
    location: Location | None = None

    @property
    def tz(self) -> ZoneInfo:
        return self.location.tz if self.location is not None else default_tz()

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time.min, tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        """Midnight after the last day (a clock-change day is 23 or 25 hours long)."""
        return datetime.combine(self.date_to + timedelta(days=1), time.min, tzinfo=self.tz)

    @property
    def weeks(self) -> list[date]:
        """The Mondays of every week the period touches, in order."""
        monday = self.date_from - timedelta(days=self.date_from.weekday())
        return [monday + timedelta(weeks=n) for n in range((self.date_to - monday).days // 7 + 1)]


def rate(part: int, whole: int) -> float | None:
    """part / whole as a percentage to one decimal, None when there is nothing to divide."""
    return round(100 * part / whole, 1) if whole else None


@dataclass
class Week:
    week: date
    consultations: int = 0
    sessions: int = 0
    touch_ups: int = 0
    due: int = 0
    no_shows: int = 0
    scheduled: int = 0
    late_cancellations: int = 0
    # Consultations attended, and of those the ones whose client went on to a course.
    attended_consultations: int = 0
    converted: int = 0

    @property
    def no_show_rate(self) -> float | None:
        return rate(self.no_shows, self.due)

    @property
    def late_cancellation_rate(self) -> float | None:
        return rate(self.late_cancellations, self.scheduled)


@dataclass(frozen=True)
class Conversion:
    consultations: int
    converted: int

    @property
    def rate(self) -> float | None:
        return rate(self.converted, self.consultations)


@dataclass(frozen=True)
class RevenueRow:
    treatment: str
    location: str
    amount: Decimal
    appointments: int
    estimated: int


@dataclass
class Revenue:
    rows: list[RevenueRow] = field(default_factory=list)
    unpriced: int = 0

    @property
    def total(self) -> Decimal:
        return sum((r.amount for r in self.rows), Decimal("0.00"))

    @property
    def estimated(self) -> int:
        return sum(r.estimated for r in self.rows)

    @property
    def treatments(self) -> list[str]:
        return sorted({r.treatment for r in self.rows})

    @property
    def locations(self) -> list[str]:
        return sorted({r.location for r in self.rows})

    def amount(self, treatment: str, location: str) -> Decimal:
        return sum((r.amount for r in self.rows if r.treatment == treatment and r.location == location), Decimal(0))


@dataclass
class AftercareWeek:
    week: date
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    cancelled: int = 0


@dataclass(frozen=True)
class TouchUpDue:
    client_id: int
    client_name: str
    treatment: str
    location: str
    last_visit: date
    due: date


@dataclass
class TouchUps:
    first_day: date
    last_day: date
    count: int
    by_week: dict[date, int]
    rows: list[TouchUpDue]


def _in_period(qs: QuerySet, period: Period, *, field_name: str = "start", location_path: str = "location") -> QuerySet:
    qs = qs.filter(**{f"{field_name}__gte": period.start, f"{field_name}__lt": period.end})
    if period.location is not None:
        qs = qs.filter(**{location_path: period.location})
    return qs


def _week_of(field_name: str, period: Period):
    """Which of the period's weeks a time falls in, for grouping by week.

    On PostgreSQL the position among the weeks' first instants (WIDTH_BUCKET over the Mondays'
    local midnights, worked out here once): truncating every row's time in the location's zone,
    as TruncWeek does, costs more than the rest of the count. 0 is the first week; elsewhere
    the week's Monday (TruncWeek). `_monday` reads either back."""
    if connection.vendor != "postgresql":
        return TruncWeek(field_name, tzinfo=period.tz)
    bounds = [datetime.combine(monday, time.min, tzinfo=period.tz) for monday in period.weeks[1:]]
    if not bounds:
        return Value(0, output_field=IntegerField())
    return Func(
        F(field_name),
        Value(bounds, output_field=ArrayField(DateTimeField())),
        function="WIDTH_BUCKET",
        output_field=IntegerField(),
    )


def _monday(week, period: Period) -> date:
    return period.weeks[week] if isinstance(week, int) else week.date()


def converted_by_week(*, period: Period) -> dict[date, int]:
    """Per week (its Monday): the consultations attended whose client has a course, not
    cancelled, created at or after the consultation's start. One query over the period's attended
    consultations joined to the courses; apart from the weekly counts, so that the two run side by
    side when the dashboard's parts run in threads (each about half of what they cost together)."""
    # created_at >= the period's start follows from >= the consultation's; said outright, it lets
    # the database skip every older course before matching. In the WHERE (not inside a count's
    # FILTER, where it would be an index probe per consultation) PostgreSQL semi-joins it.
    later_course = (
        Course.objects.filter(client_id=OuterRef("client_id"), created_at__gte=OuterRef("start"))
        .filter(created_at__gte=period.start)
        .exclude(status=Course.Status.CANCELLED)
    )
    rows = (
        _in_period(Appointment.objects.filter(kind=Kind.CONSULTATION, status__in=ATTENDED_STATUSES), period)
        .filter(Exists(later_course))
        .annotate(week=_week_of("start", period))
        .values("week")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {_monday(row["week"], period): row["n"] for row in rows}


def weekly_counts(*, period: Period, now: datetime) -> list[Week]:
    """Per week: consultations, sessions and touch-ups held or expected, no-shows over the
    appointments due so far, late cancellations (as recorded by the cancel service) over every
    appointment in the week, and the consultations attended. One query, one pass over the
    period's appointments. The conversion is converted_by_week's."""
    not_cancelled = ~Q(status=Status.CANCELLED)
    due = not_cancelled & Q(start__lt=now)
    rows = (
        _in_period(Appointment.objects.all(), period)
        .annotate(week=_week_of("start", period))
        .values("week")
        .annotate(
            consultations=Count("pk", filter=Q(kind=Kind.CONSULTATION) & not_cancelled),
            sessions=Count("pk", filter=Q(kind=Kind.TREATMENT_SESSION) & not_cancelled),
            touch_ups=Count("pk", filter=Q(kind=Kind.TOUCH_UP) & not_cancelled),
            due=Count("pk", filter=due),
            no_shows=Count("pk", filter=due & Q(status=Status.NO_SHOW)),
            scheduled=Count("pk"),
            late_cancellations=Count("pk", filter=LATE_CANCELLATION),
            attended_consultations=Count("pk", filter=Q(kind=Kind.CONSULTATION, status__in=ATTENDED_STATUSES)),
        )
        .order_by("week")
    )
    weeks = {monday: Week(week=monday) for monday in period.weeks}
    for row in rows:
        monday = _monday(row.pop("week"), period)
        weeks[monday] = Week(week=monday, **row)
    return [weeks[monday] for monday in sorted(weeks)]


def _with_conversion(weeks: list[Week], converted: dict[date, int]) -> list[Week]:
    for week in weeks:
        week.converted = converted.get(week.week, 0)
    return weeks


def appointments_by_week(*, period: Period, now: datetime) -> list[Week]:
    """Every weekly figure, the conversion included (two queries, one after the other)."""
    return _with_conversion(weekly_counts(period=period, now=now), converted_by_week(period=period))


def _guides(treatment_ref: str) -> QuerySet:
    """Price guides for the outer row's treatment at its location or clinic-wide, the location's first."""
    return PriceGuide.objects.filter(
        Q(location_id=OuterRef("location_id")) | Q(location__isnull=True), treatment_id=OuterRef(treatment_ref)
    ).order_by(F("location_id").asc(nulls_last=True))


def _pounds(minor) -> ExpressionWrapper:
    """Prices are stored in pence; this report sums pounds (exact: numeric division by 100)."""
    return ExpressionWrapper(Cast(minor, output_field=MONEY) / Value(100), output_field=MONEY)


def revenue_by_treatment_and_location(*, period: Period) -> Revenue:
    """The value of the appointments booked in the period, per treatment and location (one query)."""
    sessions = F("course__planned_sessions")
    # Multiplying by 1.00 first keeps pence on SQLite, which divides integers as integers.
    per_session = Value(Decimal("1.00")) / sessions
    course_guide = (
        _guides("course__treatment_id").filter(band=OuterRef("course__price_band")).values("price_from_minor")[:1]
    )
    lowest_guide = (
        _guides("priced_treatment")
        .order_by(F("location_id").asc(nulls_last=True), "price_from_minor")
        .values("price_from_minor")[:1]
    )
    price = Case(
        When(
            kind=Kind.TREATMENT_SESSION,
            course__price_agreed_minor__isnull=False,
            then=ExpressionWrapper(_pounds(F("course__price_agreed_minor")) * per_session, output_field=MONEY),
        ),
        When(
            kind=Kind.TREATMENT_SESSION,
            course__isnull=False,
            then=ExpressionWrapper(_pounds(Subquery(course_guide)) * per_session, output_field=MONEY),
        ),
        When(kind=Kind.TOUCH_UP, then=_pounds(Subquery(lowest_guide))),
        default=None,
        output_field=MONEY,
    )
    agreed = Q(kind=Kind.TREATMENT_SESSION, course__price_agreed_minor__isnull=False)
    rows = (
        _in_period(
            Appointment.objects.filter(kind__in=(Kind.TREATMENT_SESSION, Kind.TOUCH_UP), status__in=REVENUE_STATUSES),
            period,
        )
        .annotate(priced_treatment=Coalesce("treatment_id", "course__treatment_id"), price=price)
        .values("priced_treatment", "location_id")
        .annotate(
            treatment_name=Coalesce("treatment__name", "course__treatment__name"),
            location_name=F("location__name"),
            amount=Sum("price"),
            appointments=Count("pk", filter=Q(price__isnull=False)),
            estimated=Count("pk", filter=Q(price__isnull=False) & ~agreed),
            unpriced=Count("pk", filter=Q(price__isnull=True)),
        )
        .order_by("treatment_name", "location_name")
    )
    revenue = Revenue()
    for row in rows:
        revenue.unpriced += row["unpriced"]
        if row["appointments"]:
            revenue.rows.append(
                RevenueRow(
                    treatment=row["treatment_name"] or "No treatment",
                    location=row["location_name"],
                    amount=Decimal(row["amount"]).quantize(Decimal("0.01")),
                    appointments=row["appointments"],
                    estimated=row["estimated"],
                )
            )
    return revenue


def aftercare_by_week(*, period: Period) -> list[AftercareWeek]:
    """Aftercare messages (day 4, 7, 10) by the week they fall due, by outcome (one query)."""
    rows = (
        _in_period(
            ClientMessage.objects.filter(kind__in=AFTERCARE_KINDS),
            period,
            field_name="due_at",
            location_path="appointment__location",
        )
        .annotate(week=_week_of("due_at", period))
        .values("week")
        .annotate(
            sent=Count("pk", filter=Q(status=ClientMessage.Status.SENT)),
            failed=Count("pk", filter=Q(status=ClientMessage.Status.FAILED)),
            waiting=Count("pk", filter=Q(status__in=(ClientMessage.Status.PENDING, ClientMessage.Status.SENDING))),
            cancelled=Count("pk", filter=Q(status=ClientMessage.Status.CANCELLED)),
        )
        .order_by("week")
    )
    weeks = {monday: AftercareWeek(week=monday) for monday in period.weeks}
    for row in rows:
        monday = _monday(row.pop("week"), period)
        weeks[monday] = AftercareWeek(week=monday, **row)
    return [weeks[monday] for monday in sorted(weeks)]


def _visit_days_due_between(first: date, last: date, months: int) -> tuple[date, date]:
    """The visit days whose recall (``months`` later, end-of-month clamped) falls in first..last.

    add_months never goes backwards, so those days are one unbroken run; a few days' search
    either side of the plain subtraction finds its ends exactly (29 February, 31sts).
    """
    lo = add_months(first, -months) - timedelta(days=4)
    while add_months(lo, months) < first:
        lo += timedelta(days=1)
    hi = add_months(last, -months) + timedelta(days=4)
    while add_months(hi, months) > last:
        hi -= timedelta(days=1)
    return lo, hi


def touch_ups_due(*, location: Location | None, today: date, limit: int = TOUCH_UP_LIST_LIMIT) -> TouchUps:
    """Touch-ups falling due from today to 90 days on (two queries: per day, and the first rows)."""
    months = settings.TOUCH_UP_RECALL_MONTHS
    first, last = today, today + timedelta(days=TOUCH_UP_WINDOW_DAYS - 1)
    lo, hi = _visit_days_due_between(first, last, months)
    visits = Period(date_from=lo, date_to=hi, location=location)
    # The same rule as the touch-up recall message (bookings.services.messaging: _ends_course and
    # _touch_up_booked_since), so the dashboard and the recalls agree.
    ends_course = Q(kind=Kind.TOUCH_UP) | Q(kind=Kind.TREATMENT_SESSION, course__isnull=False) & (
        Q(session_number__gte=F("course__planned_sessions"))
        | Q(session_number__isnull=True, course__status=Course.Status.COMPLETED)
    )
    touch_up_since = Appointment.objects.filter(
        client_id=OuterRef("client_id"),
        kind=Kind.TOUCH_UP,
        status__in=Appointment.ACTIVE_STATUSES,
        start__gt=OuterRef("start"),
    )
    due = _in_period(
        # kind__in repeats what ends_course implies so the planner can read the two kinds' ranges
        # of the (kind, start) index instead of every appointment of the quarter.
        Appointment.objects.filter(
            ends_course,
            kind__in=(Kind.TOUCH_UP, Kind.TREATMENT_SESSION),
            status=Status.COMPLETED,
            client__erased_at__isnull=True,
        ),
        visits,
    ).filter(~Exists(touch_up_since))
    per_day = (
        due.annotate(day=TruncDate("start", tzinfo=visits.tz)).values("day").annotate(n=Count("pk")).order_by("day")
    )
    monday = first - timedelta(days=first.weekday())
    by_week = {monday + timedelta(weeks=n): 0 for n in range((last - monday).days // 7 + 1)}
    count, last_listed_day = 0, None
    for row in per_day:
        due_day = add_months(row["day"], months)
        by_week[due_day - timedelta(days=due_day.weekday())] += row["n"]
        count += row["n"]
        if last_listed_day is None and count >= limit:
            last_listed_day = row["day"]
    listed = due
    if last_listed_day is not None:
        # The first `limit` rows (by start) all lie on or before the day the running count
        # reaches it: the list reads those days, not the whole quarter's candidates.
        listed = due.filter(start__lt=datetime.combine(last_listed_day + timedelta(days=1), time.min, tzinfo=visits.tz))
    rows = [
        TouchUpDue(
            client_id=a.client_id,
            client_name=f"{a.client.first_name} {a.client.last_name}",
            treatment=str(a.treatment or (a.course.treatment if a.course else "")),
            location=a.location.name,
            last_visit=a.start.astimezone(visits.tz).date(),
            due=add_months(a.start.astimezone(visits.tz).date(), months),
        )
        for a in listed.select_related("client", "location", "treatment", "course__treatment").order_by("start", "pk")[
            :limit
        ]
    ]
    return TouchUps(first_day=first, last_day=last, count=count, by_week=by_week, rows=rows)


@dataclass
class Dashboard:
    period: Period
    weeks: list[Week]
    conversion: Conversion
    revenue: Revenue
    aftercare: list[AftercareWeek]
    touch_ups: TouchUps
    # Money taken and owed (bookings.payments.reports): takings, deposits, balances.
    money: MoneyReport | None = None

    @property
    def totals(self) -> Week:
        """The whole period as one "week" (its rates are the period's, not an average of weeks')."""
        names = ("consultations", "sessions", "touch_ups", "due", "no_shows", "scheduled", "late_cancellations")
        return Week(week=self.period.date_from, **{n: sum(getattr(w, n) for w in self.weeks) for n in names})

    @property
    def aftercare_totals(self) -> AftercareWeek:
        names = ("sent", "failed", "waiting", "cancelled")
        totals = {n: sum(getattr(w, n) for w in self.aftercare) for n in names}
        return AftercareWeek(week=self.period.date_from, **totals)


def _gather(parts: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Each part's result. The parts are independent reads whose queries are most of the page's
    time: on PostgreSQL, DASHBOARD_QUERY_THREADS threads take them in the order given (the
    longest first) until none is left: the calling thread on its own connection, and each other
    on a connection of its own, opened once and closed when it has no part left. Inside a
    transaction (a caller's, or a test's) they run one after another on its connection, which
    alone sees its rows."""
    threads = min(settings.DASHBOARD_QUERY_THREADS, len(parts))
    if threads <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return {name: part() for name, part in parts.items()}
    todo = deque(parts.items())
    results: dict[str, object] = {}
    failed: list[BaseException] = []

    def take() -> None:
        while not failed:
            try:
                name, part = todo.popleft()  # atomic: each part is taken once
            except IndexError:
                return
            results[name] = part()

    def helper() -> None:
        try:
            take()
        except Exception as exc:  # noqa: BLE001 - re-raised in the calling thread
            failed.append(exc)
        finally:
            connections.close_all()  # this thread's own connection; the caller's stays open

    helpers = [threading.Thread(target=helper, name=f"dashboard-{n}") for n in range(1, threads)]
    for thread in helpers:
        thread.start()
    try:
        take()
    except Exception as exc:
        failed.append(exc)  # the helpers take no further part
        raise
    finally:
        for thread in helpers:
            thread.join()
    if failed:
        raise failed[0]
    return {name: results[name] for name in parts}


def dashboard_compute(*, period: Period, now: datetime, today: date) -> Dashboard:
    """Every figure on the page, in a fixed number of queries whatever the data."""
    figures = _gather(
        {
            "revenue": partial(revenue_by_treatment_and_location, period=period),
            "weeks": partial(weekly_counts, period=period, now=now),
            "converted": partial(converted_by_week, period=period),
            "touch_ups": partial(touch_ups_due, location=period.location, today=today),
            "money": partial(money_report, period=period),
            "aftercare": partial(aftercare_by_week, period=period),
        }
    )
    weeks = _with_conversion(figures["weeks"], figures["converted"])
    return Dashboard(
        period=period,
        weeks=weeks,
        conversion=Conversion(
            consultations=sum(w.attended_consultations for w in weeks), converted=sum(w.converted for w in weeks)
        ),
        revenue=figures["revenue"],
        aftercare=figures["aftercare"],
        touch_ups=figures["touch_ups"],
        money=figures["money"],
    )


def default_period(today: date) -> tuple[date, date]:
    """The last twelve weeks: Monday eleven weeks before this week's, to today."""
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(weeks=DEFAULT_WEEKS - 1), today


@dataclass
class Snapshot:
    """The figures and the instant they were computed (the page shows it)."""

    dashboard: Dashboard
    computed_at: datetime


def _snapshot_key(period: Period) -> str:
    where = period.location.pk if period.location is not None else "all"
    return f"dashboard:{SNAPSHOT_FORMAT}:{where}:{period.date_from.isoformat()}:{period.date_to.isoformat()}"


def _snapshot_read(key: str) -> Snapshot | None:
    try:
        snapshot = cache.get(key)
    except CACHE_ERRORS as exc:  # a cache that is down: compute instead
        logger.warning("dashboard snapshot not read (%s)", type(exc).__name__)
        return None
    return snapshot if isinstance(snapshot, Snapshot) else None


def _snapshot_write(key: str, snapshot: Snapshot, seconds: int) -> None:
    try:
        cache.set(key, snapshot, seconds)
    except CACHE_ERRORS as exc:  # the page still has its figures; the next one computes again
        logger.warning("dashboard snapshot not kept (%s)", type(exc).__name__)


def dashboard_figures(*, period: Period, now: datetime, today: date, fresh: bool = False) -> Snapshot:
    """The figures for the period: a snapshot computed at most DASHBOARD_CACHE_SECONDS ago if one
    is kept (never one from the future: a clock set back, as in tests, computes afresh), else
    computed now and kept. ``fresh`` computes now whatever is kept; 0 seconds keeps nothing."""
    seconds = settings.DASHBOARD_CACHE_SECONDS
    if seconds > 0 and not fresh:
        kept = _snapshot_read(_snapshot_key(period))
        if kept is not None and now - timedelta(seconds=seconds) < kept.computed_at <= now:
            return kept
    snapshot = Snapshot(dashboard=dashboard_compute(period=period, now=now, today=today), computed_at=now)
    if seconds > 0:
        _snapshot_write(_snapshot_key(period), snapshot, seconds)
    return snapshot


def dashboard_snapshots_refresh(*, now: datetime) -> int:
    """Compute the default period's snapshot for every location together and for each active
    one (what the page shows when first opened), so managers find them ready. Beat calls it
    more often than the snapshots run out. Returns how many were computed."""
    if settings.DASHBOARD_CACHE_SECONDS <= 0:
        return 0
    computed = 0
    for location in [None, *Location.objects.filter(is_active=True).order_by("pk")]:
        today = now.astimezone(location.tz if location is not None else default_tz()).date()
        date_from, date_to = default_period(today)
        period = Period(date_from=date_from, date_to=date_to, location=location)
        dashboard_figures(period=period, now=now, today=today, fresh=True)
        computed += 1
    return computed
