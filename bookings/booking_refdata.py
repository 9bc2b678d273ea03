"""A per-process copy of the rows the public booking POST reads on every request and staff change
rarely: the clinic by its slug, the treatment by its slug, the booking policy, the health-data
consent wordings and the deposit policy that applies.

Invalidated by a version bump: saving or deleting any of those rows (admin, services, shell,
factories: a post_save/post_delete receiver, see BookingsConfig.ready) clears this process's copy
at once and again when the change commits, and then bumps a shared version in the cache (Redis in
production). Other
processes compare the shared version at most once every VERSION_CHECK_SECONDS, so a change
reaches them within that second: harmless, since a booking that arrives a second after an admin
save cannot be told from one that arrived a second before it. A cache that does not answer
counts as a change: the rows are read again, from the database, a second later. A change that
sends no signal (bulk_create, a queryset update(), SQL by hand) reaches every process within
MAX_AGE_SECONDS (five minutes), the longest any copy is kept.

Only the online booking path (the POST of /book/ and bookings.services.booking.online_book)
reads through it; every other reader still asks the database. Callers get copies, so nothing a
request does to an instance reaches another request.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from bookings.models import BookingPolicy, Location
from bookings.models_payments import DepositPolicy
from bookings.payments.selectors import deposit_policy_for
from bookings.selectors import booking_policy_for
from clients.models import ConsentWording
from treatments.models import Treatment

logger = logging.getLogger(__name__)

VERSION_KEY = "bookings:refdata:version"
VERSION_CHECK_SECONDS = 1.0
# A change that sends no signal (a bulk_create, a queryset update(), SQL by hand) bumps nothing:
# whatever the version says, a copy is not kept longer than this.
MAX_AGE_SECONDS = 300.0
_MISSING = object()


class _Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[tuple, Any] = {}
        self.version: object = None
        self.checked_at = float("-inf")
        self.filled_since = float("-inf")

    def clear(self) -> None:
        with self.lock:
            self.entries = {}
            self.checked_at = float("-inf")
            self.filled_since = time.monotonic()


_store = _Store()


def _shared_version() -> object:
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(VERSION_KEY)
    except (ConnectionError, OSError, RedisError) as exc:
        logger.warning("booking reference data: version not read (%s)", type(exc).__name__)
        return _MISSING
    return version


def _current_entries() -> dict[tuple, Any]:
    """This process's entries, emptied first if the shared version moved since the last look
    or they are older than MAX_AGE_SECONDS."""
    now = time.monotonic()
    if now - _store.checked_at < VERSION_CHECK_SECONDS:
        return _store.entries
    version = _shared_version()
    with _store.lock:
        if version is _MISSING or version != _store.version or now - _store.filled_since > MAX_AGE_SECONDS:
            _store.entries = {}
            _store.filled_since = now
        _store.version = version
        _store.checked_at = now
        return _store.entries


def _memo[T](key: tuple, load: Callable[[], T], *, keep_none: bool = True) -> T:
    entries = _current_entries()
    value = entries.get(key, _MISSING)
    if value is _MISSING:
        value = load()
        if value is not None or keep_none:
            entries[key] = value
    return copy.copy(value)


def refdata_changed(**_kwargs) -> None:
    """The receiver for a save or delete of a cached model: forget this process's copy now, and
    again with a bump of the shared version once the change commits (a request between the two
    may have read the old row again)."""
    _store.clear()
    transaction.on_commit(_bump)


def _bump() -> None:
    _store.clear()
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except (ConnectionError, OSError, RedisError) as exc:
        logger.warning("booking reference data: version not bumped (%s)", type(exc).__name__)


def refdata_clear() -> None:
    """Forget this process's copy (tests that change rows behind the models' backs)."""
    _store.clear()


def location_by_slug(slug: str) -> Location | None:
    """The active location with this slug, or None. Only slugs found are kept: whatever a form
    is sent must not grow the copy."""
    return _memo(
        ("location", slug), lambda: Location.objects.filter(is_active=True, slug=slug).first(), keep_none=False
    )


def treatment_by_slug(slug: str) -> Treatment | None:
    """The active treatment with this slug, or None (only slugs found are kept)."""
    return _memo(
        ("treatment", slug), lambda: Treatment.objects.filter(is_active=True, slug=slug).first(), keep_none=False
    )


def booking_policy(location: Location) -> BookingPolicy:
    """bookings.selectors.booking_policy_for, from the copy."""
    return _memo(("policy", location.pk), lambda: booking_policy_for(location))


def consent_wording_in_force(*, kind: str, now: datetime) -> ConsentWording | None:
    """The latest wording of this kind in force at ``now`` (None if none is): every wording of
    the kind is kept, so one that takes effect later needs no save to come into force."""
    wordings = _memo(("wordings", kind), lambda: tuple(ConsentWording.objects.filter(kind=kind).order_by("-version")))
    for wording in wordings:
        if wording.effective_from <= now:
            return copy.copy(wording)
    return None


def deposit_policy(*, kind: str, location: Location, treatment: Treatment | None) -> DepositPolicy | None:
    """bookings.payments.selectors.deposit_policy_for, from the copy."""
    key = ("deposit", kind, location.pk, treatment.pk if treatment is not None else None)
    return _memo(key, lambda: deposit_policy_for(kind=kind, location=location, treatment=treatment))
