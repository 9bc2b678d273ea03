"""The client's address, for every limit keyed by address: the booking form's rate limit
(bookings.ratelimit) and the staff login lockout (axes' AXES_CLIENT_IP_CALLABLE).

It lives here, below smpclinic, so both read the address the same way: one rule for which
header to trust."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the address the trusted proxy put in DJANGO_TRUSTED_PROXY_HEADER.

    Of a comma-separated list (X-Forwarded-For) the right-most entry is the one our proxy
    appended; whatever stands left of it the client may have written itself. A header that is
    missing or not an address falls back to REMOTE_ADDR rather than to a value a client chose.
    """
    header = settings.TRUSTED_PROXY_HEADER
    if header:
        raw = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        forwarded = _valid(raw.rsplit(",", 1)[-1]) if raw else None
        if forwarded:
            return forwarded
    return _valid(request.META.get("REMOTE_ADDR"))
