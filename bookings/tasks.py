"""Celery tasks for bookings: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task
from django.utils.dateparse import parse_datetime

from bookings.services import outbox


@shared_task(name="bookings.reminders_dispatch", ignore_result=True, soft_time_limit=240, time_limit=300)
def reminders_dispatch(now: str | None = None) -> dict[str, int]:
    """Send the outbox's due messages. Beat calls it every minute with the real time; `now`
    (ISO 8601 with offset) fixes the clock, which is how tests move it forward."""
    fixed = parse_datetime(now) if now else None
    if now and (fixed is None or fixed.tzinfo is None):
        raise ValueError("now must be an ISO 8601 date-time with a UTC offset")
    return outbox.reminders_dispatch(now=fixed)
