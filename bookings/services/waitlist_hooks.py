"""The booking service's one call into the waiting list: a time was freed (cancelled or moved
away from), so once that commits a task offers it to the clients waiting for it.

Kept apart from bookings.services.waitlist, which books through the booking service: this
module imports nothing of it, so the two never import each other.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import current_app
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from bookings.models import Appointment

logger = logging.getLogger(__name__)

# bookings.tasks.waitlist_release_offer, named rather than imported (tasks import the services).
RELEASE_TASK = "bookings.waitlist_release_offer"


def waitlist_notify_freed(*, appointment: Appointment, start: datetime, now: datetime | None = None) -> None:
    """Call inside the transaction that cancels or moves ``appointment`` away from ``start``.

    Only a consultation-sized time in the future is worth offering; the task checks with the
    availability engine that it is really free for an online booking before offering it."""
    if start <= (now or timezone.now()):
        return
    args = {"location_id": appointment.location_id, "start": start.isoformat(), "freed_from_id": appointment.pk}
    transaction.on_commit(lambda: _send(args))


def _send(kwargs: dict) -> None:
    try:
        # No publish retries: this runs after the commit of a request and must not hold it up.
        # Where the task is registered (a worker, or a process that imported bookings.tasks)
        # apply_async, so CELERY_TASK_ALWAYS_EAGER runs it in place; elsewhere by name.
        task = current_app.tasks.get(RELEASE_TASK)
        if task is not None:
            task.apply_async(kwargs=kwargs, retry=False)
        else:
            current_app.send_task(RELEASE_TASK, kwargs=kwargs, retry=False)
    except (KombuOperationalError, OSError) as exc:
        logger.warning("waiting list not told of a freed time (%s); it is not offered", type(exc).__name__)
