"""Reads of pigment and needle stock: the batches a session may use, who was treated with a lot,
and a client's own pigment record. Each is a fixed number of queries, whatever the rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from clients.models import Client, SessionNote
from clients.phones import phone_display

from .models import Appointment, Location
from .models_stock import Batch, Product, RecallNotice, SessionBatch
from .zones import local_date


def lot_key(text: str) -> str:
    """A lot number as the recall search matches it: trimmed, in upper case."""
    return " ".join(text.split()).upper()


def session_day(appointment: Appointment) -> date:
    """The calendar day of a session on its location's clock: the day a batch must be in date."""
    return local_date(appointment.start, appointment.location)


def usable_batches(*, location: Location | int, on: date) -> QuerySet[Batch]:
    """Batches a session at the location on that day may use: in date, not recalled, lot known."""
    return (
        Batch.objects.filter(
            location=location,
            is_legacy=False,
            recalled_at__isnull=True,
            expires_on__gte=on,
            product__is_active=True,
        )
        .filter(Q(received_on__isnull=True) | Q(received_on__lte=on))
        .select_related("product")
        .order_by("product__kind", "product__brand", "product__shade", "expires_on", "lot_number")
    )


def batch_choices(*, appointment: Appointment, note: SessionNote | None) -> QuerySet[Batch]:
    """What a session note's form offers: the usable batches, plus those the note already lists
    (kept, and shown as they are, even if they have expired or been recalled since)."""
    usable = usable_batches(location=appointment.location_id, on=session_day(appointment))
    if note is None or note.pk is None:
        return usable
    return (
        Batch.objects.filter(Q(pk__in=usable.values("pk")) | Q(uses__session_note=note))
        .distinct()
        .select_related("product")
        .order_by("product__kind", "product__brand", "product__shade", "expires_on", "lot_number")
    )


def batch_refusal(batch: Batch, *, appointment: Appointment) -> tuple[str, str] | None:
    """Why this batch cannot be recorded for the session (code, message), or None."""
    day = session_day(appointment)
    if batch.location_id != appointment.location_id:
        return "batch_other_location", f"{batch} is stocked at another location, not at {appointment.location}."
    if batch.is_legacy:
        return "batch_lot_unknown", f"{batch} has no known lot: choose a batch with its lot number."
    if batch.recalled_at is not None:
        return "batch_recalled", f"{batch} has been recalled ({batch.recall_reason}) and cannot be used."
    if batch.is_expired_on(day):
        return "batch_expired", f"{batch} expired on {batch.expires_on:%d/%m/%Y}, before this session ({day:%d/%m/%Y})."
    if batch.received_on is not None and batch.received_on > day:
        return "batch_not_received", f"{batch} was received on {batch.received_on:%d/%m/%Y}, after this session."
    if not batch.product.is_active:
        return "product_inactive", f"{batch.product} is no longer in use."
    return None


# The recall search ---------------------------------------------------------------------------


@dataclass
class RecallSession:
    appointment: Appointment
    batch: Batch
    share_percent: int | None


@dataclass
class RecallClient:
    client: Client
    sessions: list[RecallSession] = field(default_factory=list)
    notified_at: object = None


@dataclass
class RecallResult:
    lot: str
    batches: list[Batch]
    clients: list[RecallClient]

    @property
    def session_count(self) -> int:
        return sum(len(c.sessions) for c in self.clients)


def recall_batches(lot: str) -> list[Batch]:
    return list(
        Batch.objects.filter(lot_number__iexact=lot_key(lot), is_legacy=False)
        .select_related("product", "location")
        .order_by("location__name", "product__brand", "product__shade")
    )


def recall_uses(batch_ids: Iterable[int]) -> QuerySet[SessionBatch]:
    """Every recorded use of the batches, with the session, its client and where, in one query."""
    return (
        SessionBatch.objects.filter(batch_id__in=list(batch_ids))
        .select_related(
            "batch__product",
            "batch__location",
            "session_note__appointment__client",
            "session_note__appointment__location",
            "session_note__appointment__technician",
        )
        .order_by(
            "session_note__appointment__client__last_name",
            "session_note__appointment__client__first_name",
            "session_note__appointment__client_id",
            "session_note__appointment__start",
            "pk",
        )
    )


def recall_search(lot: str) -> RecallResult:
    """Every client treated with the lot, at any location, with the sessions that used it:
    three queries (the batches, the uses with their sessions and clients, the notices sent)."""
    key = lot_key(lot)
    batches = recall_batches(key) if key else []
    clients: dict[int, RecallClient] = {}
    if batches:
        for use in recall_uses(b.pk for b in batches):
            appointment = use.session_note.appointment
            entry = clients.get(appointment.client_id)
            if entry is None:
                entry = clients[appointment.client_id] = RecallClient(client=appointment.client)
            entry.sessions.append(
                RecallSession(appointment=appointment, batch=use.batch, share_percent=use.share_percent)
            )
        notified = dict(RecallNotice.objects.filter(lot_number=key).values_list("client_id", "created_at"))
        for client_id, entry in clients.items():
            entry.notified_at = notified.get(client_id)
    return RecallResult(lot=key, batches=batches, clients=list(clients.values()))


@dataclass
class RecallRecipient:
    """A client treated with the lot, as the recall message needs them: the latest session that
    used it (the message hangs on it), how to reach them, and whether they were told already."""

    client_id: int
    appointment_id: int
    start: datetime
    erased: bool
    email: str
    phone: object
    preferred_channel: str
    notified: bool = False


def recall_recipients(lot: str) -> list[RecallRecipient]:
    """Every client treated with the lot, one entry each, in two queries of plain values (the
    uses, the notices sent): no model instance per use, which for a chain-wide pigment lot is
    thousands."""
    key = lot_key(lot)
    if not key:
        return []
    uses = SessionBatch.objects.filter(batch__lot_number__iexact=key, batch__is_legacy=False).values_list(
        "session_note__appointment__client_id",
        "session_note__appointment_id",
        "session_note__appointment__start",
        "session_note__appointment__client__erased_at",
        "session_note__appointment__client__email",
        "session_note__appointment__client__phone",
        "session_note__appointment__client__preferred_channel",
    )
    latest: dict[int, RecallRecipient] = {}
    for client_id, appointment_id, start, erased_at, email, phone, channel in uses:
        known = latest.get(client_id)
        if known is None or (start, appointment_id) > (known.start, known.appointment_id):
            latest[client_id] = RecallRecipient(
                client_id, appointment_id, start, erased_at is not None, email, phone, channel
            )
    for client_id in RecallNotice.objects.filter(lot_number=key, client_id__in=list(latest)).values_list(
        "client_id", flat=True
    ):
        latest[client_id].notified = True
    return [latest[client_id] for client_id in sorted(latest)]


# The recall page and CSV: paged in SQL, plain values ------------------------------------------
# A pigment lot shipped chain-wide reaches thousands of clients: building a model instance per
# row (client, appointment, location, technician, batch, product) cost seconds. The page reads
# only its own clients' rows as plain values; the CSV streams them in chunks.

RECALL_USE_FIELDS = (
    "share_percent",
    "batch__lot_number",
    "batch__product__brand",
    "batch__product__shade",
    "batch__location__name",
    "session_note__appointment_id",
    "session_note__appointment__client_id",
    "session_note__appointment__start",
    "session_note__appointment__reference",
    "session_note__appointment__location__name",
    "session_note__appointment__location__time_zone",
    "session_note__appointment__technician__display_name",
)
RECALL_CLIENT_FIELDS = ("pk", "first_name", "last_name", "email", "phone", "postcode", "preferred_channel", "erased_at")
RECALL_ORDER = (
    "session_note__appointment__client__last_name",
    "session_note__appointment__client__first_name",
    "session_note__appointment__client_id",
    "session_note__appointment__start",
    "pk",
)


def _product_name(brand: str, shade: str) -> str:
    return " ".join(p for p in (brand, shade) if p)  # as Product.__str__


def recall_session_row(row: dict) -> dict:
    """One use of the lot as the page and the CSV read it (plain values, no model instances)."""
    start = row["session_note__appointment__start"]
    return {
        "appointment_id": row["session_note__appointment_id"],
        "day": start.astimezone(ZoneInfo(row["session_note__appointment__location__time_zone"])).date(),
        "reference": row["session_note__appointment__reference"],
        "location": row["session_note__appointment__location__name"],
        "technician": row["session_note__appointment__technician__display_name"],
        "product": _product_name(row["batch__product__brand"], row["batch__product__shade"]),
        "lot_number": row["batch__lot_number"],
        "batch_location": row["batch__location__name"],
        "share_percent": row["share_percent"],
    }


@cache
def _channel_labels() -> dict[str, str]:
    return dict(Client.Channel.choices)


def recall_client_row(values: dict) -> dict:
    channels = _channel_labels()
    erased = values["erased_at"] is not None
    return {
        **values,
        "name": f"Erased client #{values['pk']}" if erased else f"{values['first_name']} {values['last_name']}",
        "phone_display": phone_display(values["phone"]),
        "channel_display": channels.get(values["preferred_channel"], values["preferred_channel"]),
    }


def recall_clients(batch_ids: Iterable[int]) -> QuerySet[Client]:
    """The clients treated with the batches, ordered as the page lists them (not yet fetched)."""
    treated = SessionBatch.objects.filter(batch_id__in=list(batch_ids)).values("session_note__appointment__client_id")
    return Client.objects.filter(pk__in=treated).order_by("last_name", "first_name", "pk")


def recall_counts(batch_ids: Iterable[int]) -> tuple[int, int]:
    """How many uses of the batches there are, and how many clients they treated (one query)."""
    counts = SessionBatch.objects.filter(batch_id__in=list(batch_ids)).aggregate(
        uses=Count("pk"), clients=Count("session_note__appointment__client_id", distinct=True)
    )
    return counts["uses"], counts["clients"]


@dataclass
class RecallPage:
    lot: str
    batches: list[Batch]
    client_count: int = 0
    session_count: int = 0
    page: Page | None = None
    # The page's clients, each a dict of plain values with its "sessions" and "notified_at".
    entries: list[dict] = field(default_factory=list)


def recall_page(lot: str, *, page_number, per_page: int) -> RecallPage:
    """One page of the clients treated with the lot: four queries whatever the lot's size (the
    batches, the counts of clients and of uses, the page's clients with when they were told,
    their uses)."""
    key = lot_key(lot)
    batches = recall_batches(key) if key else []
    result = RecallPage(lot=key, batches=batches)
    if not batches:
        return result
    batch_ids = [b.pk for b in batches]
    result.session_count, result.client_count = recall_counts(batch_ids)
    told = RecallNotice.objects.filter(lot_number=key, client=OuterRef("pk")).order_by("created_at")
    rows = recall_clients(batch_ids).annotate(notified_at=Subquery(told.values("created_at")[:1]))
    paginator = Paginator(rows.values(*RECALL_CLIENT_FIELDS, "notified_at"), per_page)
    paginator.__dict__["count"] = result.client_count  # counted above with the uses (a cached_property)
    result.page = paginator.get_page(page_number)
    clients = {row["pk"]: {**recall_client_row(row), "sessions": []} for row in result.page}
    if not clients:
        return result
    uses = (
        SessionBatch.objects.filter(batch_id__in=batch_ids, session_note__appointment__client_id__in=list(clients))
        .order_by(*RECALL_ORDER)
        .values(*RECALL_USE_FIELDS)
    )
    for row in uses:
        clients[row["session_note__appointment__client_id"]]["sessions"].append(recall_session_row(row))
    result.entries = list(clients.values())
    return result


class RecallUse(NamedTuple):
    """One use of a lot by one client's session, in plain values as the CSV writes it."""

    client_id: int
    first_name: str
    last_name: str
    email: str
    phone: str  # as people read it (national format for UK numbers)
    postcode: str
    channel: str  # the preferred channel's label
    day: date  # on the session's location's clock
    reference: str
    location: str
    technician: str
    product: str
    lot_number: str
    batch_location: str
    share_percent: int | None
    notified_at: datetime | None


# The columns recall_export_rows reads, in the order it unpacks them.
_USE_COLUMNS = (
    "session_note__appointment__client_id",
    "session_note__appointment__client__first_name",
    "session_note__appointment__client__last_name",
    "session_note__appointment__client__email",
    "session_note__appointment__client__phone",
    "session_note__appointment__client__postcode",
    "session_note__appointment__client__preferred_channel",
    "session_note__appointment__start",
    "session_note__appointment__location__time_zone",
    "session_note__appointment__reference",
    "session_note__appointment__location__name",
    "session_note__appointment__technician__display_name",
    "batch__product__brand",
    "batch__product__shade",
    "batch__lot_number",
    "batch__location__name",
    "share_percent",
)


def recall_export_rows(lot: str, batch_ids: list[int], *, chunk_size: int = 2000) -> Iterator[RecallUse]:
    """Every use of the lot's batches, ordered by client: the notices in one query, then one
    streamed query (chunk_size rows in memory at a time), read as tuples and built into rows
    without a dictionary per row (a chain-wide lot is thousands of rows)."""
    key = lot_key(lot)
    if not key or not batch_ids:
        return
    notified = dict(RecallNotice.objects.filter(lot_number=key).values_list("client_id", "created_at"))
    uses = (
        SessionBatch.objects.filter(batch_id__in=batch_ids)
        .order_by(*RECALL_ORDER)
        .values_list(*_USE_COLUMNS)
        .iterator(chunk_size=chunk_size)
    )
    channels = _channel_labels()
    zones: dict[str, ZoneInfo] = {}
    for (
        client_id, first_name, last_name, email, phone, postcode, channel,
        start, zone, reference, location, technician, brand, shade, lot_number, batch_location, share,
    ) in uses:  # fmt: skip
        tz = zones.get(zone) or zones.setdefault(zone, ZoneInfo(zone))
        yield RecallUse(
            client_id,
            first_name,
            last_name,
            email,
            phone_display(phone),
            postcode,
            channels.get(channel, channel),
            start.astimezone(tz).date(),
            reference,
            location,
            technician,
            _product_name(brand, shade),
            lot_number,
            batch_location,
            share,
            notified.get(client_id),
        )


# The client's pigment record -------------------------------------------------------------------


@dataclass
class PigmentLine:
    kind: str
    kind_label: str
    brand: str
    shade: str
    lot_number: str
    expires_on: date | None
    share_percent: int | None


@dataclass
class PigmentSession:
    appointment: Appointment
    day: date
    lines: list[PigmentLine]
    # What the note said in free text before batches were tracked (kept, never rewritten).
    legacy: dict[str, str]

    def as_dict(self) -> dict:
        return {
            "reference": self.appointment.reference,
            "date": self.day.isoformat(),
            "location": self.appointment.location.name,
            "products": [
                {
                    "type": line.kind,
                    "brand": line.brand,
                    "shade_or_size": line.shade,
                    "lot_number": line.lot_number or "unknown",
                    "expiry_date": line.expires_on.isoformat() if line.expires_on else None,
                    "share_of_blend_percent": line.share_percent,
                }
                for line in self.lines
            ],
            "recorded_as_text": self.legacy,
        }


LEGACY_FIELDS = ("pigment_brand", "pigment_shade", "pigment_blend", "needle")


def pigment_record(*, client: Client | int, up_to: Appointment | None = None) -> list[PigmentSession]:
    """Each treated session's products, shades, lots and needles, oldest first: two queries."""
    notes = (
        SessionNote.objects.filter(appointment__client=client)
        .select_related("appointment__location")
        .order_by("appointment__start", "pk")
    )
    if up_to is not None:
        notes = notes.filter(appointment__start__lte=up_to.start)
    notes = list(notes)
    uses: dict[int, list[PigmentLine]] = {}
    kind_labels = dict(Product.Kind.choices)
    rows = (
        SessionBatch.objects.filter(session_note__in=[n.pk for n in notes])
        .select_related("batch__product")
        .order_by("batch__product__kind", "-share_percent", "pk")
    )
    for use in rows:
        product = use.batch.product
        uses.setdefault(use.session_note_id, []).append(
            PigmentLine(
                kind=product.kind,
                kind_label=kind_labels.get(product.kind, product.kind),
                brand=product.brand,
                shade=product.shade,
                lot_number=use.batch.lot_number,
                expires_on=use.batch.expires_on,
                share_percent=use.share_percent,
            )
        )
    return [
        PigmentSession(
            appointment=note.appointment,
            day=session_day(note.appointment),
            lines=uses.get(note.pk, []),
            legacy={f: getattr(note, f) for f in LEGACY_FIELDS if getattr(note, f)},
        )
        for note in notes
    ]
