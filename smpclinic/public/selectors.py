"""Reads for the public site that span the apps (clinics and their hours, consented results photos);
the catalogue's own reads are in treatments.selectors. Each is a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from bookings.models import Location, OpeningHours, Weekday
from clients.models import ConsentRecord, ConsentWording, Photo
from treatments.models import Treatment


def location_list_public() -> QuerySet[Location]:
    return Location.objects.filter(is_active=True)


def location_list_with_hours() -> QuerySet[Location]:
    return location_list_public().prefetch_related(
        Prefetch("opening_hours", queryset=OpeningHours.objects.order_by("weekday", "opens"))
    )


@dataclass(frozen=True)
class DayHours:
    weekday: int
    name: str
    intervals: list[OpeningHours]


def location_week(location: Location) -> list[DayHours]:
    """Monday to Sunday, each day with its opening intervals (empty: closed). Uses prefetched hours."""
    by_day: dict[int, list[OpeningHours]] = {}
    for hours in location.opening_hours.all():
        by_day.setdefault(hours.weekday, []).append(hours)
    return [DayHours(day.value, day.label, by_day.get(day.value, [])) for day in Weekday]


# Results: before/after photos ------------------------------------------------------


def photo_list_public() -> QuerySet[Photo]:
    """Photos that may appear on /results/ right now, and nothing else.

    All three must hold at the moment of the request: the photo is marked for marketing, the
    client has an unwithdrawn consent to marketing use of photos, and the client is not erased.
    Only before and after photos: a client's own intake photos and patch-test photos are
    private whatever their flags.
    """
    consent = ConsentRecord.objects.filter(
        client=OuterRef("client"),
        wording__kind=ConsentWording.Kind.MARKETING_PHOTOS,
        withdrawn_at__isnull=True,
        given_at__lte=timezone.now(),
    )
    return (
        Photo.objects.filter(marketing_consent=True, client__erased_at__isnull=True)
        .filter(phase__in=[Photo.Phase.BEFORE, Photo.Phase.AFTER])
        .filter(Exists(consent))
    )


@dataclass(frozen=True)
class ResultPair:
    before: Photo
    after: Photo

    @property
    def treatment(self) -> Treatment | None:
        for photo in (self.after, self.before):
            if photo.appointment_id and photo.appointment.treatment_id:
                return photo.appointment.treatment
        return None


def result_pair_list(*, treatment_slug: str | None = None, limit: int | None = None) -> list[ResultPair]:
    """Before/after pairs: per client and angle, the first 'before' and the latest 'after' photo.

    One query; pairing happens in Python because a pair spans two rows.
    """
    photos = (
        photo_list_public().select_related("appointment__treatment").order_by("client_id", "angle", "taken_at", "pk")
    )
    firsts: dict[tuple[int, str], Photo] = {}
    lasts: dict[tuple[int, str], Photo] = {}
    for photo in photos:
        key = (photo.client_id, photo.angle)
        if photo.phase == Photo.Phase.BEFORE:
            firsts.setdefault(key, photo)
        else:
            lasts[key] = photo
    pairs = [ResultPair(firsts[key], after) for key, after in lasts.items() if key in firsts]
    if treatment_slug:
        pairs = [pair for pair in pairs if pair.treatment is not None and pair.treatment.slug == treatment_slug]
    pairs.sort(key=lambda pair: (pair.after.taken_at, pair.after.pk), reverse=True)
    return pairs[:limit] if limit is not None else pairs


def photo_get_public(*, pk: int) -> Photo | None:
    return photo_list_public().filter(pk=pk).first()
