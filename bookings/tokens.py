"""Signed links that let a client see, move or cancel one booking without an account.

The token signs the appointment's id and reference with SECRET_KEY (django.core.signing),
so it cannot be guessed or edited into another client's booking. It stops working once
the appointment is over (the view answers 410).
"""

from __future__ import annotations

from django.core import signing

from .models import Appointment

SALT = "bookings.manage.v1"


class TokenInvalid(Exception):
    """Tampered, truncated or unknown: answered with 404."""


def booking_token_make(*, appointment: Appointment) -> str:
    return signing.dumps({"a": appointment.pk, "r": appointment.reference}, salt=SALT, compress=True)


def booking_token_load(token: str) -> Appointment:
    """The appointment a token names, or TokenInvalid."""
    try:
        payload = signing.loads(token, salt=SALT)
        pk, reference = int(payload["a"]), str(payload["r"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise TokenInvalid from None
    appointment = (
        Appointment.objects.select_related("client", "location", "technician", "treatment")
        .filter(pk=pk, reference=reference)
        .first()
    )
    if appointment is None:
        raise TokenInvalid
    return appointment
