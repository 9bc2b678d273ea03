"""Fixed-window rate limits on the public booking form, kept in Django's cache (Redis in
production), so a bot cannot fill the diary or mail-bomb an address."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 3600


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _over(key: str, limit: int) -> bool:
    cache.add(key, 0, WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:
        # The key expired between add and incr: this is the first hit of a new window.
        cache.set(key, 1, WINDOW_SECONDS)
        count = 1
    return count > limit


def booking_ip_limited(ip: str) -> bool:
    """Count one booking attempt from this address; True once it is over the hourly limit."""
    return _over(f"bookings:rl:ip:{ip}", _limit("BOOKING_RATE_LIMIT_PER_IP", 20))


def booking_email_limited(email: str) -> bool:
    """Count one booking for this e-mail address (hashed: no addresses in cache keys)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return _over(f"bookings:rl:email:{digest}", _limit("BOOKING_RATE_LIMIT_PER_EMAIL", 5))
