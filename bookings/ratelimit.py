"""Fixed-window rate limits on the public booking form, kept in Django's cache (Redis in
production), so a bot cannot fill the diary or mail-bomb an address."""

from __future__ import annotations

import hashlib
import logging
import weakref

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

WINDOW_SECONDS = 3600
logger = logging.getLogger(__name__)


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


# Django's Redis backend builds a new client object (a few hundred dict entries of response
# callbacks) for every call; the client is thread-safe and its pool is the backend's, so one
# per backend serves the process.
_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _redis_client(backend: RedisCache):
    client = _clients.get(backend)
    if client is None:
        client = _clients[backend] = backend._cache.get_client(write=True)
    return client


def _count(key: str) -> int:
    """Count one hit in the key's window; return the hits so far, this one included."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # One round trip instead of three (add, exists, incr): start the window if there is
        # none and count the hit in one MULTI, so the window can't expire between the two.
        redis_key = backend.make_and_validate_key(key)
        pipe = _redis_client(backend).pipeline(transaction=True)
        pipe.set(redis_key, 0, ex=WINDOW_SECONDS, nx=True)
        pipe.incr(redis_key)
        return pipe.execute()[1]
    backend.add(key, 0, WINDOW_SECONDS)
    try:
        return backend.incr(key)
    except ValueError:
        # The key expired between add and incr: this is the first hit of a new window.
        backend.set(key, 1, WINDOW_SECONDS)
        return 1


def _over(key: str, limit: int) -> bool:
    try:
        return _count(key) > limit
    except (ConnectionError, OSError, RedisError) as exc:
        # The cache is down: let the booking through (the technician lock and the database
        # still hold every rule) rather than turn a cache outage into refused bookings.
        logger.warning("rate limit not counted (%s): the cache did not answer", type(exc).__name__)
        return False


def booking_ip_limited(ip: str) -> bool:
    """Count one booking attempt from this address; True once it is over the hourly limit."""
    return _over(f"bookings:rl:ip:{ip}", _limit("BOOKING_RATE_LIMIT_PER_IP", 20))


def booking_email_limited(email: str) -> bool:
    """Count one booking for this e-mail address (hashed: no addresses in cache keys)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return _over(f"bookings:rl:email:{digest}", _limit("BOOKING_RATE_LIMIT_PER_EMAIL", 5))
