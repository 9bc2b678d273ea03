"""Celery tasks for bookings: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task
from django.utils.dateparse import parse_datetime

from bookings.services import deposits as payments
from bookings.services import outbox, waitlist


@shared_task(name="bookings.reminders_dispatch", ignore_result=True, soft_time_limit=240, time_limit=300)
def reminders_dispatch(now: str | None = None) -> dict[str, int]:
    """Send the outbox's due messages. Beat calls it every minute with the real time; `now`
    (ISO 8601 with offset) fixes the clock, which is how tests move it forward."""
    fixed = parse_datetime(now) if now else None
    if now and (fixed is None or fixed.tzinfo is None):
        raise ValueError("now must be an ISO 8601 date-time with a UTC offset")
    return outbox.reminders_dispatch(now=fixed)


@shared_task(name="bookings.dashboard_snapshots_refresh", ignore_result=True, soft_time_limit=240, time_limit=280)
def dashboard_snapshots_refresh() -> int:
    """Recompute the dashboard's default view for every location and each one (beat, every 5 minutes)."""
    from django.utils import timezone

    from bookings.dashboard import dashboard_snapshots_refresh as refresh

    return refresh(now=timezone.now())


@shared_task(name="bookings.payment_holds_release", ignore_result=True, soft_time_limit=50, time_limit=60)
def payment_holds_release() -> int:
    """Release online bookings whose deposit was not paid in time (beat, every minute)."""
    return payments.payment_holds_release()


@shared_task(name="bookings.refunds_retry", ignore_result=True, soft_time_limit=50, time_limit=60)
def refunds_retry() -> int:
    """Send refunds the provider could not take at the time (beat, every minute)."""
    return payments.refunds_retry()


@shared_task(name="bookings.waitlist_release_offer", ignore_result=True, soft_time_limit=60, time_limit=90)
def waitlist_release_offer(location_id: int, start: str, freed_from_id: int | None = None) -> None:
    """Offer a freed time (ISO 8601 with offset) to the waiting list."""
    moment = parse_datetime(start)
    if moment is None or moment.tzinfo is None:
        raise ValueError("start must be an ISO 8601 date-time with a UTC offset")
    waitlist.waitlist_release_offer(location_id=location_id, start=moment, freed_from_id=freed_from_id)


@shared_task(name="bookings.waitlist_expire", ignore_result=True, soft_time_limit=60, time_limit=90)
def waitlist_expire() -> dict[str, int]:
    return waitlist.waitlist_expire()
