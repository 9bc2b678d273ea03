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


def _redis_client(backend: RedisCache):
    """The backend's redis-py client: one per connection pool with the project's backend
    (smpclinic.cache.RedisCache), so the script registered on it below is registered once."""
    return backend._cache.get_client(write=True)


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


def _email_key(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"bookings:rl:email:{digest}"


def booking_email_limited(email: str) -> bool:
    """Count one booking for this e-mail address (hashed: no addresses in cache keys)."""
    return _over(_email_key(email), _limit("BOOKING_RATE_LIMIT_PER_EMAIL", 5))


# booking_ip_limited then, unless the address is over its limit, booking_email_limited, in one
# round trip: KEYS the address's and the e-mail's counters, ARGV the window and the address's limit.
_BOTH = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local ip = redis.call('INCR', KEYS[1])
if ip > tonumber(ARGV[2]) then
    return {ip, 0}
end
redis.call('SET', KEYS[2], 0, 'EX', ARGV[1], 'NX')
return {ip, redis.call('INCR', KEYS[2])}
"""
_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def booking_limited(*, ip: str, email: str) -> bool:
    """booking_ip_limited(ip) or booking_email_limited(email), counted the same way (the e-mail
    only when the address is not over its limit already), in one cache round trip on Redis."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return booking_ip_limited(ip) or booking_email_limited(email)
    ip_limit = _limit("BOOKING_RATE_LIMIT_PER_IP", 20)
    try:
        script = _scripts.get(backend)
        if script is None:
            script = _scripts[backend] = _redis_client(backend).register_script(_BOTH)
        keys = [backend.make_and_validate_key(f"bookings:rl:ip:{ip}"), backend.make_and_validate_key(_email_key(email))]
        ip_hits, email_hits = script(keys=keys, args=[WINDOW_SECONDS, ip_limit])
    except (ConnectionError, OSError, RedisError) as exc:
        logger.warning("rate limit not counted (%s): the cache did not answer", type(exc).__name__)
        return False
    return ip_hits > ip_limit or email_hits > _limit("BOOKING_RATE_LIMIT_PER_EMAIL", 5)
