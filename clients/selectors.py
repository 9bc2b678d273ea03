"""Reads of client records, each a fixed number of queries however long the history."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

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


def client_search(*, clients: QuerySet[Client], query: str) -> QuerySet[Client]:
    """Clients matching a name, e-mail, phone or booking reference; erased clients are left out."""
    clients = clients.filter(erased_at__isnull=True)
    # Phones are stored in E.164: a number typed in any spelling is one exact lookup.
    phone = phone_search_value(query)
    if phone:
        return clients.filter(phone=phone).order_by("last_name", "first_name", "pk")
    for word in query.split()[:4]:
        clients = clients.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | Q(phone__icontains=word)
            | Q(appointments__reference__iexact=word)
        )
    return clients.distinct().order_by("last_name", "first_name", "pk")
