"""The waiting list: join it, offer freed times to it, claim an offer, withdraw, expire.

A time freed by a cancellation or a move (bookings.services.waitlist_hooks, on commit, through
a Celery task) becomes a WaitlistRelease if the availability engine says an online consultation
can start then; every waiting entry for that location whose days cover it gets an offer, in the
order they joined, each by e-mail through the outbox with its own signed claim link. The first
claim books it through online_consultation_book; the others are told it has gone.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from bookings import zones
from bookings.models import Appointment, ClientMessage, Location, WaitlistEntry, WaitlistOffer, WaitlistRelease
from bookings.selectors import availability_compute, booking_policy_for
from bookings.services.booking import SlotTaken, online_consultation_book
from bookings.services.messaging import waitlist_message_queue
from clients.models import AuditEvent
from clients.services import audit_record
from treatments.models import Treatment

logger = logging.getLogger(__name__)

Kind = ClientMessage.Kind
# How far ahead a client may wait: a year, as far as /book/ lets anyone look.
MAX_WAIT_DAYS = 366


class OfferGone(Exception):
    """The offer can no longer be claimed: booked by someone else, passed, or withdrawn."""

    def __init__(self, message: str = "Sorry, that time has gone."):
        super().__init__(message)
        self.message = message


def _audit(*, actor, action: str, obj, fields, detail: str) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=obj._meta.model_name,
        object_id=obj.pk,
        client_id=None,
        fields=fields,
        detail=detail,
    )


def waitlist_join(
    *,
    location: Location,
    treatment: Treatment | None,
    earliest_date: date,
    latest_date: date,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    now: datetime | None = None,
) -> WaitlistEntry:
    """A client joins the waiting list (the public form); the confirmation goes through the outbox."""
    now = now or timezone.now()
    today = zones.local_date(now, location)
    if earliest_date < today:
        raise ValidationError({"earliest_date": "Choose today or a later day."}, code="past")
    if latest_date < earliest_date:
        raise ValidationError({"latest_date": "The last day must be on or after the first day."}, code="range_order")
    if latest_date > today + timedelta(days=MAX_WAIT_DAYS):
        raise ValidationError({"latest_date": "Choose a day within the next year."}, code="too_far")
    entry = WaitlistEntry(
        location=location,
        treatment=treatment,
        earliest_date=earliest_date,
        latest_date=latest_date,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        joined_at=now,
    )
    entry.full_clean()
    with transaction.atomic():
        entry.save()
        _audit(
            actor=None,
            action=AuditEvent.Action.CREATE,
            obj=entry,
            fields=[
                "location",
                "treatment",
                "earliest_date",
                "latest_date",
                "first_name",
                "last_name",
                "email",
                "phone",
            ],
            detail="waiting-list form",
        )
        waitlist_message_queue(entry=entry, kind=Kind.WAITLIST_JOINED, now=now)
    logger.info("waiting list joined entry=%s location=%s", entry.pk, location.pk)
    return entry


def waitlist_release_offer(
    *, location_id: int, start: datetime, freed_from_id: int | None = None, now: datetime | None = None
) -> WaitlistRelease | None:
    """Offer a freed time to the waiting list (the task calls this once the freeing committed).

    Offered only if the availability engine (the one every booking asks) says an online
    consultation can start then: not inside the minimum notice, not overlapping another booking,
    within the horizon. None when nothing is offered."""
    now = now or timezone.now()
    location = Location.objects.filter(pk=location_id, is_active=True).first()
    if location is None or start <= now:
        return None
    policy = booking_policy_for(location)
    day = zones.local_date(start, location)
    slots = availability_compute(
        location=location, kind=Appointment.Kind.CONSULTATION, start_date=day, days=1, policy=policy, now=now
    )
    found = next((s for s in slots[day] if s.start == start), None)
    if found is None:
        logger.info("freed time not offered (not bookable online) location=%s", location.pk)
        return None
    with transaction.atomic():
        if WaitlistRelease.objects.filter(location=location, start=start, status=WaitlistRelease.Status.OPEN).exists():
            return None
        # Locked in join order so a withdrawal or a claim elsewhere cannot change them meanwhile.
        entries = list(
            WaitlistEntry.objects.select_for_update()
            .filter(
                location=location,
                status=WaitlistEntry.Status.WAITING,
                earliest_date__lte=day,
                latest_date__gte=day,
            )
            .order_by("joined_at", "pk")[: settings.WAITLIST_OFFERS_PER_TIME]
        )
        if not entries:
            return None
        release = WaitlistRelease.objects.create(location=location, start=start, freed_from_id=freed_from_id)
        payload = {"start": found.start.isoformat(), "end": found.end.isoformat()}
        for position, entry in enumerate(entries, start=1):
            offer = WaitlistOffer.objects.create(release=release, entry=entry, position=position)
            # Queued in join order: the outbox sends in due time, then id order.
            waitlist_message_queue(
                entry=entry, kind=Kind.WAITLIST_OFFER, payload={**payload, "offer": offer.pk}, now=now
            )
        _audit(
            actor=None,
            action=AuditEvent.Action.CREATE,
            obj=release,
            fields=["location", "start"],
            detail=f"freed time offered to {len(entries)} waiting",
        )
    logger.info("freed time offered release=%s offers=%s", release.pk, len(entries))
    return release


def waitlist_offer_load(offer_id: int) -> WaitlistOffer | None:
    return (
        WaitlistOffer.objects.select_related("release__location", "entry__treatment", "entry__location")
        .filter(pk=offer_id)
        .first()
    )


def offer_claimable(offer: WaitlistOffer, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        offer.status == WaitlistOffer.Status.OFFERED
        and offer.release.status == WaitlistRelease.Status.OPEN
        and offer.entry.status == WaitlistEntry.Status.WAITING
        and offer.release.start > now
    )


def _close(release: WaitlistRelease, *, status: str, winner: WaitlistOffer | None, now: datetime) -> None:
    """Close a release: the other offers are gone, and each of those clients is told."""
    release.status, release.closed_at = status, now
    release.save(update_fields=["status", "closed_at"])
    others = release.offers.select_related("entry").filter(status=WaitlistOffer.Status.OFFERED)
    if winner is not None:
        others = others.exclude(pk=winner.pk)
    payload = {"start": release.start.isoformat()}
    for offer in others:
        offer.status = WaitlistOffer.Status.GONE
        offer.save(update_fields=["status"])
        if offer.entry.status == WaitlistEntry.Status.WAITING:
            waitlist_message_queue(entry=offer.entry, kind=Kind.WAITLIST_GONE, payload=payload, now=now)


def waitlist_offer_claim(
    *, offer_id: int, health_consent: bool, late_change_accepted: bool = False, now: datetime | None = None
) -> Appointment:
    """Book the offered time for the client the offer was sent to, through the booking service.

    Raises OfferGone when someone else claimed it first, it passed, or the time was booked
    another way meanwhile; BookingRequestError (consent, the change-window notice, the clinic's
    attendance policy) as online_consultation_book does."""
    now = now or timezone.now()
    with transaction.atomic():
        offer = WaitlistOffer.objects.filter(pk=offer_id).first()
        if offer is None:
            raise OfferGone("This offer no longer exists.")
        # Lock the freed time: of every claim of it (ten clicks of one link, or ten clients'
        # links), one at a time gets past here, and only the first finds it open.
        release = WaitlistRelease.objects.select_for_update().select_related("location").get(pk=offer.release_id)
        offer = WaitlistOffer.objects.select_for_update().select_related("entry").get(pk=offer_id)
        entry = offer.entry
        offer.release = release
        if not offer_claimable(offer, now=now):
            raise OfferGone()
        try:
            appointment = online_consultation_book(
                location=release.location,
                start=release.start,
                treatment=entry.treatment,
                first_name=entry.first_name,
                last_name=entry.last_name,
                email=entry.email,
                phone=entry.phone,
                description="",
                health_consent=health_consent,
                marketing_opt_in=False,
                late_change_accepted=late_change_accepted,
            )
        except SlotTaken:
            # Booked another way since it was offered: gone for everyone.
            _close(release, status=WaitlistRelease.Status.GONE, winner=None, now=now)
            gone = True
        else:
            gone = False
            offer.status = WaitlistOffer.Status.CLAIMED
            offer.save(update_fields=["status"])
            entry.status, entry.appointment = WaitlistEntry.Status.BOOKED, appointment
            entry.save(update_fields=["status", "appointment", "updated_at"])
            # The entry is served: its other open offers quietly lapse.
            WaitlistOffer.objects.filter(entry=entry, status=WaitlistOffer.Status.OFFERED).exclude(pk=offer.pk).update(
                status=WaitlistOffer.Status.EXPIRED
            )
            _close(release, status=WaitlistRelease.Status.CLAIMED, winner=offer, now=now)
            _audit(
                actor=None,
                action=AuditEvent.Action.UPDATE,
                obj=entry,
                fields=["status", "appointment"],
                detail="booked from a waiting-list offer",
            )
    if gone:
        # Committed above (the release closed and the others told); this claimer is told too.
        raise OfferGone()
    logger.info("waiting-list offer claimed offer=%s ref=%s", offer.pk, appointment.reference)
    return appointment


def waitlist_entry_withdraw(*, entry: WaitlistEntry, by) -> WaitlistEntry:
    """Staff take an entry off the list (the client asked): no more offers go to it."""
    with transaction.atomic():
        entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        if entry.status != WaitlistEntry.Status.WAITING:
            raise ValidationError("Only a waiting entry can be withdrawn.", code="not_waiting")
        entry.status = WaitlistEntry.Status.WITHDRAWN
        entry.save(update_fields=["status", "updated_at"])
        entry.offers.filter(status=WaitlistOffer.Status.OFFERED).update(status=WaitlistOffer.Status.EXPIRED)
        _audit(actor=by, action=AuditEvent.Action.UPDATE, obj=entry, fields=["status"], detail="withdrawn by staff")
    return entry


def waitlist_expire(*, now: datetime | None = None) -> dict[str, int]:
    """Close offers whose time has passed and entries whose last day has passed (periodic)."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locked, skipping any a claim holds: that claim decides those itself.
        releases = list(
            WaitlistRelease.objects.select_for_update(skip_locked=True).filter(
                status=WaitlistRelease.Status.OPEN, start__lte=now
            )
        )
        for release in releases:
            release.status, release.closed_at = WaitlistRelease.Status.GONE, now
            release.save(update_fields=["status", "closed_at"])
            release.offers.filter(status=WaitlistOffer.Status.OFFERED).update(status=WaitlistOffer.Status.EXPIRED)
        expired = 0
        waiting = WaitlistEntry.objects.select_related("location").filter(
            status=WaitlistEntry.Status.WAITING, latest_date__lt=now.date() + timedelta(days=1)
        )
        for entry in waiting:
            if entry.latest_date < zones.local_date(now, entry.location):
                entry.status = WaitlistEntry.Status.EXPIRED
                entry.save(update_fields=["status", "updated_at"])
                expired += 1
    return {"releases": len(releases), "entries": expired}
