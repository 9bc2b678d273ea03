"""A Redis that accepts connections but never answers (a network black hole, a hung server)
costs the booking form's rate limit a few seconds at most, then it fails open: no hung request."""

from __future__ import annotations

import socket
import time

import pytest
from django.core.cache import caches

from bookings.ratelimit import booking_ip_limited

pytestmark = pytest.mark.redis


@pytest.fixture
def silent_redis():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # the kernel accepts connections; nothing ever reads or replies
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def test_rate_limit_gives_up_on_a_silent_redis_within_seconds_and_lets_the_booking_through(
    redis_url, silent_redis, settings
):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": silent_redis}}
    caches.__dict__.pop("settings", None)
    try:
        began = time.monotonic()
        assert booking_ip_limited("203.0.113.9") is False
        assert time.monotonic() - began < 5
    finally:
        caches.__dict__.pop("settings", None)
