"""Reads of client records, each a fixed number of queries however long the history."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import CharField, F, Q, QuerySet, Value
from django.db.models.functions import Concat

from .models import Client, ConsentRecord, Photo
from .phones import phone_search_value

if TYPE_CHECKING:
    pass


def photos_by_angle(*, client: Client, angle: str) -> list[dict]:
    """One row per session for one angle: its before and after photos side by side."""
    rows: dict[int | None, dict] = defaultdict(lambda: {"appointment": None, "before": [], "after": []})
    qs: QuerySet[Photo] = (
        Photo.objects.filter(client=client, angle=angle).select_related("appointment").order_by("taken_at")
    )
    for photo in qs:
        row = rows[photo.appointment_id]
        row["appointment"] = photo.appointment
        row["taken_at"] = row.get("taken_at") or photo.taken_at
        row[photo.phase].append(photo)
    return sorted(rows.values(), key=lambda r: r["taken_at"])


def consent_is_active(*, client_id: int, kind: str) -> bool:
    """Whether the client has given, and not withdrawn, consent of this kind."""
    return ConsentRecord.objects.filter(client_id=client_id, wording__kind=kind, withdrawn_at__isnull=True).exists()


# A booking reference as staff type it: SMP-7KQ2M, smp-7kq2m or SMP7KQ2M (bookings makes them).
REFERENCE_SHAPE = re.compile(r"^SMP-?([0-9A-Z]{5})$", re.IGNORECASE)
SEARCH_WORDS = 4


@dataclass
class SearchPage:
    """One page of a search, without a total: "next" exists when one more row was there."""

    clients: list[Client]
    next_after: int | None

    def __iter__(self):
        return iter(self.clients)

    def __len__(self) -> int:
        return len(self.clients)


def _word_matches(word: str) -> Q:
    reference = REFERENCE_SHAPE.match(word)
    if reference:
        # Exact and case-exact on the unique index: one appointment at most, so the join to it
        # cannot repeat a client (no DISTINCT) and no scan of every appointment's reference.
        return Q(appointments__reference=f"SMP-{reference.group(1).upper()}")
    # icontains is UPPER(column) LIKE UPPER('%word%'): the trigram indexes on UPPER(...) answer it.
    match = Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
    return match


def client_search(*, clients: QuerySet[Client], query: str, after: int | None = None, size: int = 25) -> SearchPage:
    """Clients matching every word of ``query`` (a name, e-mail, phone or booking reference),
    erased clients left out, a page of ``size`` after the client ``after`` in name order.

    Keyset paging on (last_name, first_name, pk) and no count: deep pages cost what the first
    does, and a search never counts its matches twice."""
    matches = clients.filter(erased_at__isnull=True)
    # Phones are stored in E.164: a number typed in any spelling is one exact, indexed lookup.
    phone = phone_search_value(query)
    words = [] if phone else query.split()[:SEARCH_WORDS]
    if phone:
        matches = matches.filter(phone=phone)
    for word in words:
        matches = matches.filter(_word_matches(word))
    if after is not None:
        cursor = clients.filter(pk=after).values_list("last_name", "first_name").first()
        if cursor is not None:
            last_name, first_name = cursor
            # The last_name >= bound lets an index on the order start where the page starts.
            matches = matches.filter(last_name__gte=last_name).filter(
                Q(last_name__gt=last_name) | Q(first_name__gt=first_name) | Q(first_name=first_name, pk__gt=after)
            )
    first_key = F("last_name")
    if any(len(word) >= 3 for word in words):
        # The same order, through an expression the name index cannot serve: otherwise the planner
        # walks that index from "A" filtering every row for a rare word (150 ms at 100,000
        # clients), where the trigram indexes give the few matches to sort (a few ms). Words too
        # short for a trigram match too often for the walk to go far.
        first_key = Concat("last_name", Value(""), output_field=CharField())
    rows = list(matches.order_by(first_key, "first_name", "pk")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return SearchPage(clients=rows, next_after=rows[-1].pk if more else None)
