"""CSV exports for reception and managers: the appointments of a period, and the clients seen in it.

Each export is a generator of CSV lines over one streamed query (``.iterator(chunk_size=...)``
with the related rows joined in), so a year of a busy chain costs a constant number of queries
and one chunk of rows in memory. Times are read on each appointment's location's wall clock.
Free-text fields (staff notes, the client's description) stay out: they can hold health details.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q

from clients.models import AuditEvent, Client
from clients.phones import phone_display
from clients.services import audit_record

from .models import Appointment, Location
from .models_payments import Payment
from .money import Money
from .payments.reports import NONE, courses_with_balance, takings_rows
from .zones import local

PERMISSION = "bookings.export_appointments"
CHUNK_SIZE = 2000
# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # Excel reads the file as UTF-8 only with it


def cell(value) -> str:
    """The value as text a spreadsheet shows as text: a would-be formula gets a leading apostrophe."""
    if type(value) is str:  # most cells: no conversion to make
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)  # a number, never a formula (a refund's net is negative)
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Line:
    """csv.writer writes into this and gets the line back, so each row is yielded, not buffered."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield BOM + writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell(v) for v in row])


@dataclass(frozen=True)
class ExportPeriod:
    """Calendar days from ``date_from`` to ``date_to`` inclusive, at one location or all of them."""

    date_from: date
    date_to: date
    location: Location | None = None

    def describe(self) -> str:
        where = f"location={self.location.pk}" if self.location is not None else "location=all"
        return f"from={self.date_from.isoformat()} to={self.date_to.isoformat()} {where}"

    def filename(self, what: str) -> str:
        where = f"_{self.location.slug}" if self.location is not None else ""
        return f"{what}_{self.date_from.isoformat()}_{self.date_to.isoformat()}{where}.csv"

    def windows(self) -> list[tuple[list[int], datetime, datetime]]:
        """One UTC window per time zone, with the locations on that clock.

        Each day is read on its location's clock; grouping the locations by zone (one query over
        the locations table, a handful of rows) keeps the filter exact and on the ``start`` index.
        """
        locations = [self.location] if self.location is not None else Location.objects.only("pk", "time_zone")
        by_zone: dict[str, list[int]] = defaultdict(list)
        for location in locations:
            by_zone[location.time_zone].append(location.pk)
        windows = []
        for zone_name, ids in by_zone.items():
            tz = Location(time_zone=zone_name).tz
            start = datetime.combine(self.date_from, time.min, tzinfo=tz)
            end = datetime.combine(self.date_to + timedelta(days=1), time.min, tzinfo=tz)
            windows.append((ids, start, end))
        return windows


def starts_q(windows: list[tuple[list[int], datetime, datetime]], prefix: str = "") -> Q:
    """Appointments (or, with a prefix, rows related to them) that start inside the windows."""
    q = Q(pk__in=[])  # no location, no appointment
    for ids, start, end in windows:
        q |= Q(**{f"{prefix}location__in": ids, f"{prefix}start__gte": start, f"{prefix}start__lt": end})
    return q


def _require(by: AbstractBaseUser) -> None:
    if not by.has_perm(PERMISSION):
        raise PermissionDenied("Exporting appointments and clients needs the export permission.")


def _audit(*, by: AbstractBaseUser, what: str, period: ExportPeriod, columns: Iterable[str]) -> None:
    # The row count is known only when the stream ends; the filters say what was taken.
    audit_record(
        actor=by,
        action=AuditEvent.Action.EXPORT,
        object_type=what,
        client_id=None,
        fields=columns,
        detail=f"csv {period.describe()}",
    )


APPOINTMENT_COLUMNS: list[tuple[str, Callable[[Appointment], object]]] = [
    ("reference", lambda a: a.reference),
    ("date", lambda a: local(a.start, a.location).date().isoformat()),
    ("start", lambda a: local(a.start, a.location).strftime("%H:%M")),
    ("end", lambda a: local(a.end, a.location).strftime("%H:%M")),
    ("time_zone", lambda a: a.location.time_zone),
    ("location", lambda a: a.location.name),
    ("technician", lambda a: a.technician.display_name),
    ("kind", lambda a: a.get_kind_display()),
    ("treatment", lambda a: a.treatment.name if a.treatment_id else ""),
    ("session_number", lambda a: a.session_number),
    ("status", lambda a: a.get_status_display()),
    ("channel", lambda a: a.get_channel_display()),
    ("client_id", lambda a: a.client_id),
    ("client_first_name", lambda a: a.client.first_name),
    ("client_last_name", lambda a: a.client.last_name),
    ("client_email", lambda a: a.client.email),
    ("client_phone", lambda a: phone_display(a.client.phone)),
]


def appointments_csv_export(*, by: AbstractBaseUser, period: ExportPeriod) -> Iterator[str]:
    """Check the permission, write the audit row, and return the CSV lines (lazily)."""
    _require(by)
    header = [name for name, _ in APPOINTMENT_COLUMNS]
    _audit(by=by, what="appointment_csv", period=period, columns=header)
    rows = (
        Appointment.objects.filter(starts_q(period.windows()))
        .select_related("location", "technician", "client", "treatment")
        .only(
            "reference",
            "start",
            "end",
            "kind",
            "session_number",
            "status",
            "channel",
            "client_id",
            "treatment_id",
            "location__name",
            "location__time_zone",
            "technician__display_name",
            "treatment__name",
            "client__first_name",
            "client__last_name",
            "client__email",
            "client__phone",
        )
        .order_by("start", "pk")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    return csv_lines(header, ([get(a) for _, get in APPOINTMENT_COLUMNS] for a in rows))


CLIENT_COLUMNS: list[tuple[str, Callable[[Client], object]]] = [
    ("client_id", lambda c: c.pk),
    ("first_name", lambda c: c.first_name),
    ("last_name", lambda c: c.last_name),
    ("email", lambda c: c.email),
    ("phone", lambda c: phone_display(c.phone)),
    ("postcode", lambda c: c.postcode),
    ("preferred_channel", lambda c: c.get_preferred_channel_display()),
    ("reminders_opt_in", lambda c: "yes" if c.reminders_opt_in else "no"),
    ("marketing_email_opt_in", lambda c: "yes" if c.marketing_email_opt_in else "no"),
    ("marketing_sms_opt_in", lambda c: "yes" if c.marketing_sms_opt_in else "no"),
    ("appointments_in_period", lambda c: c.appointments_in_period),
]


def clients_csv_export(*, by: AbstractBaseUser, period: ExportPeriod) -> Iterator[str]:
    """The clients with an appointment in the period (at the location, if one is given), each
    once, with how many appointments they had in it. Erased clients have nothing to export."""
    _require(by)
    header = [name for name, _ in CLIENT_COLUMNS]
    _audit(by=by, what="client_csv", period=period, columns=header)
    windows = period.windows()
    in_period = Appointment.objects.filter(starts_q(windows), client=OuterRef("pk"))
    rows = (
        Client.objects.filter(Exists(in_period), erased_at__isnull=True)
        .annotate(appointments_in_period=Count("appointments", filter=starts_q(windows, "appointments__")))
        .only(*(name for name, _ in CLIENT_COLUMNS if name not in {"client_id", "appointments_in_period"}))
        .order_by("last_name", "first_name", "pk")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    return csv_lines(header, ([get(c) for _, get in CLIENT_COLUMNS] for c in rows))


# Money: managers only (the permission of the dashboard, which shows the same figures).
MONEY_PERMISSION = "bookings.view_dashboard"


def _require_money(by: AbstractBaseUser) -> None:
    if not by.has_perm(MONEY_PERMISSION):
        raise PermissionDenied("Exporting takings and balances is for managers.")


def _amount(minor: int, currency: str) -> Decimal:
    return Money(int(minor), currency).decimal


def _dashboard_period(period: ExportPeriod):
    from .dashboard import Period

    return Period(date_from=period.date_from, date_to=period.date_to, location=period.location)


TAKINGS_COLUMNS = ["date", "location", "technician", "treatment", "currency", "taken", "refunded", "net"]


def takings_csv_export(*, by: AbstractBaseUser, period: ExportPeriod) -> Iterator[str]:
    """Takings per day, location, technician and treatment (bookings.payments.reports), one row
    per combination with money in or out. Dates on the location's clock, else the clinic's."""
    _require_money(by)
    _audit(by=by, what="takings_csv", period=period, columns=TAKINGS_COLUMNS)
    rows = takings_rows(period=_dashboard_period(period))
    return csv_lines(
        TAKINGS_COLUMNS,
        (
            [
                r.day.isoformat(),
                "" if r.location == NONE else r.location,
                "" if r.technician == NONE else r.technician,
                "" if r.treatment == NONE else r.treatment,
                r.currency,
                _amount(r.taken, r.currency),
                _amount(r.refunded, r.currency),
                _amount(r.net, r.currency),
            ]
            for r in rows
        ),
    )


PAYMENT_COLUMNS = [
    "payment_id",
    "date",
    "kind",
    "status",
    "method",
    "currency",
    "amount",
    "refund_or_forfeit_of",
    "client_id",
    "course_id",
    "appointment_reference",
    "treatment",
    "technician",
    "location",
    "reference",
]


def payments_csv_export(*, by: AbstractBaseUser, period: ExportPeriod) -> Iterator[str]:
    """Every deposit, payment, refund and deposit kept that went through in the period (one
    streamed query). No client names: ids link to the client export."""
    _require_money(by)
    _audit(by=by, what="payment_csv", period=period, columns=PAYMENT_COLUMNS)
    dashboard_period = _dashboard_period(period)
    tz = dashboard_period.tz
    rows = Payment.objects.filter(
        status=Payment.Status.SUCCEEDED,
        succeeded_at__gte=dashboard_period.start,
        succeeded_at__lt=dashboard_period.end,
    )
    if period.location is not None:
        rows = rows.filter(appointment__location=period.location)
    rows = (
        rows.select_related(
            "appointment__location", "appointment__technician", "appointment__treatment", "course__treatment"
        )
        .order_by("succeeded_at", "pk")
        .iterator(chunk_size=CHUNK_SIZE)
    )

    def row(p: Payment) -> list:
        a, c = p.appointment, p.course
        treatment = (a.treatment if a and a.treatment_id else None) or (c.treatment if c else None)
        return [
            p.pk,
            p.succeeded_at.astimezone(a.location.tz if a else tz).date().isoformat(),
            p.kind,
            p.status,
            p.method,
            p.currency,
            _amount(p.amount_minor, p.currency),
            p.settles_id or "",
            p.client_id,
            p.course_id or "",
            a.reference if a else "",
            treatment.name if treatment else "",
            a.technician.display_name if a else "",
            a.location.name if a else "",
            p.reference,
        ]

    return csv_lines(PAYMENT_COLUMNS, (row(p) for p in rows))


BALANCE_COLUMNS = ["course_id", "client_id", "treatment", "status", "currency", "price", "paid", "refunded", "balance"]


def balances_csv_export(*, by: AbstractBaseUser, period: ExportPeriod) -> Iterator[str]:
    """Courses still owing money now (the period's dates are not used; its location is)."""
    _require_money(by)
    _audit(by=by, what="balance_csv", period=period, columns=BALANCE_COLUMNS)
    rows = (
        courses_with_balance(location=period.location)
        .filter(balance__gt=0)
        .select_related("treatment")
        .order_by("pk")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    return csv_lines(
        BALANCE_COLUMNS,
        (
            [
                c.pk,
                c.client_id,
                c.treatment.name,
                c.get_status_display(),
                c.currency,
                _amount(c.price_minor, c.currency),
                _amount(c.paid_minor, c.currency),
                _amount(c.refunded_minor, c.currency),
                _amount(c.balance, c.currency),
            ]
            for c in rows
        ),
    )


EXPORTS = {
    "appointments": appointments_csv_export,
    "clients": clients_csv_export,
    "takings": takings_csv_export,
    "payments": payments_csv_export,
    "balances": balances_csv_export,
}
MONEY_EXPORTS = ("takings", "payments", "balances")
