"""Signed links that let a client see, move or cancel one booking without an account.

The token signs the appointment's id and reference with SECRET_KEY (django.core.signing),
so it cannot be guessed or edited into another client's booking. It stops working once
the appointment is over (the view answers 410).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

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


# The e-mail confirmation link (double opt-in): signs who booked (the appointment, the record made
# for the details as given, the address the link goes to) and the marketing choice, so none of it
# can be edited. TimestampSigner underneath: it expires, and the appointment's email_confirmed_at
# makes a second use a no-op.
IDENTITY_SALT = "bookings.identity.v1"
IDENTITY_MAX_AGE = timedelta(days=7)


class TokenExpired(Exception):
    """Genuine but older than IDENTITY_MAX_AGE: answered with 410."""


@dataclass(frozen=True)
class IdentityClaim:
    appointment_id: int
    reference: str
    client_id: int
    email_digest: str
    marketing_opt_in: bool

    def names_address(self, email: str) -> bool:
        """Whether the link went to this address (any case)."""
        return constant_time_compare(self.email_digest, identity_email_digest(email))


def identity_email_digest(email: str) -> str:
    """The address a confirmation link went to, as a keyed digest. A signed token is only base64
    (anyone can read it) and URLs end up in access logs, Django's 404/410 warnings and browser
    histories, so the link must not carry the address itself."""
    return salted_hmac(IDENTITY_SALT, email.lower(), algorithm="sha256").hexdigest()[:32]


def identity_token_make(*, appointment: Appointment, marketing_opt_in: bool) -> str:
    payload = {
        "a": appointment.pk,
        "r": appointment.reference,
        "c": appointment.client_id,
        "e": identity_email_digest(appointment.client.email),
        "m": int(bool(marketing_opt_in)),
    }
    return signing.dumps(payload, salt=IDENTITY_SALT, compress=True)


def identity_token_load(token: str) -> IdentityClaim:
    """What a confirmation link claims, or TokenExpired / TokenInvalid."""
    try:
        payload = signing.loads(token, salt=IDENTITY_SALT, max_age=IDENTITY_MAX_AGE)
        return IdentityClaim(
            appointment_id=int(payload["a"]),
            reference=str(payload["r"]),
            client_id=int(payload["c"]),
            # Links sent before the address became a digest (at most IDENTITY_MAX_AGE old) carry it.
            email_digest=identity_email_digest(str(payload["e"])) if "@" in str(payload["e"]) else str(payload["e"]),
            marketing_opt_in=bool(payload["m"]),
        )
    except signing.SignatureExpired:
        raise TokenExpired from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise TokenInvalid from None


# The session record link in each aftercare message: the session's aftercare and the pigments,
# lots and needles used (the client's own record, EN 17169). It signs the appointment's id and
# reference like the booking link, under its own salt, and does not expire: a client may need
# their pigment record years later (a reaction, a touch-up elsewhere).
SESSION_RECORD_SALT = "bookings.session_record.v1"


def session_record_token_make(*, appointment: Appointment) -> str:
    return signing.dumps({"a": appointment.pk, "r": appointment.reference}, salt=SESSION_RECORD_SALT, compress=True)


def session_record_token_load(token: str) -> Appointment:
    """The appointment a session record link names, or TokenInvalid."""
    try:
        payload = signing.loads(token, salt=SESSION_RECORD_SALT)
        pk, reference = int(payload["a"]), str(payload["r"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise TokenInvalid from None
    appointment = (
        Appointment.objects.select_related("client", "location", "technician", "treatment")
        .filter(pk=pk, reference=reference, client__erased_at__isnull=True)
        .first()
    )
    if appointment is None:
        raise TokenInvalid
    return appointment


# The intake form's link: signs the consultation's id and reference, and expires (TimestampSigner
# underneath) after INTAKE_LINK_DAYS. Every message that carries it, and the booking's own page,
# signs a fresh one, so a client who booked months ahead still gets a working link.
INTAKE_SALT = "bookings.intake.v1"


def intake_token_make(*, appointment: Appointment) -> str:
    return signing.dumps({"a": appointment.pk, "r": appointment.reference}, salt=INTAKE_SALT, compress=True)


def intake_token_load(token: str) -> Appointment:
    """The appointment an intake link names, or TokenExpired / TokenInvalid."""
    try:
        payload = signing.loads(token, salt=INTAKE_SALT, max_age=timedelta(days=settings.INTAKE_LINK_DAYS))
        pk, reference = int(payload["a"]), str(payload["r"])
    except signing.SignatureExpired:
        raise TokenExpired from None
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


# The waiting list's claim link: signs one offer's id. It needs no age limit of its own: the
# offer stops being claimable when its time is booked or passes (the page says so).
WAITLIST_SALT = "bookings.waitlist.offer.v1"


def waitlist_offer_token_make(*, offer_id: int) -> str:
    return signing.dumps({"o": int(offer_id)}, salt=WAITLIST_SALT, compress=True)


def waitlist_offer_token_load(token: str) -> int:
    """The offer id a claim link names, or TokenInvalid."""
    try:
        return int(signing.loads(token, salt=WAITLIST_SALT)["o"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise TokenInvalid from None
