"""The payment provider behind a small interface, so another provider can be added.

A provider creates a hosted checkout for an amount, refunds a payment (idempotently: the same
key twice is one refund), expires a checkout it no longer wants, and turns a webhook request into
an Event after checking its signature. Stripe is the one implementation; settings point it at
Stripe or at the local stub (bookings.payments.stub) through STRIPE_API_BASE.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings

from bookings.money import Money

logger = logging.getLogger(__name__)

# Seconds a signed webhook stays acceptable (Stripe's own default): a replay later is refused.
WEBHOOK_TOLERANCE = 300


class ProviderError(Exception):
    """The provider refused or could not be reached; nothing is known to have happened."""


class BadWebhook(Exception):
    """A webhook request that is unsigned, wrongly signed or malformed."""


@dataclass(frozen=True)
class Checkout:
    id: str
    url: str


@dataclass(frozen=True)
class Refund:
    id: str
    status: str


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    object_id: str
    # The fields of the event's object the services read (never the customer's details).
    payment_status: str = ""
    payment_id: str = ""
    amount_minor: int | None = None
    currency: str = ""
    metadata: dict = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str

    def create_checkout(
        self,
        *,
        amount: Money,
        description: str,
        reference: str,
        success_url: str,
        cancel_url: str,
        expires_at: datetime,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> Checkout: ...

    def expire_checkout(self, *, checkout_id: str) -> None: ...

    def refund(self, *, payment_id: str, amount: Money, idempotency_key: str, reason: str) -> Refund: ...

    def verify_webhook(self, payload: bytes, sig_header: str | None) -> Event: ...


class StripeProvider:
    """Stripe Checkout (one-off payments) through the official library's StripeClient."""

    name = "stripe"
    # Stripe refuses a Checkout Session that expires sooner than this after its creation.
    MIN_CHECKOUT_MINUTES = 30

    def __init__(self, *, secret_key: str, webhook_secret: str, api_base: str):
        import stripe

        self._stripe = stripe
        self.webhook_secret = webhook_secret
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=2,
        )

    def create_checkout(
        self,
        *,
        amount: Money,
        description: str,
        reference: str,
        success_url: str,
        cancel_url: str,
        expires_at: datetime,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> Checkout:
        params = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": amount.currency.lower(),
                        "unit_amount": amount.minor,
                        "product_data": {"name": description},
                    },
                }
            ],
            "client_reference_id": reference,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": int(expires_at.timestamp()),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        }
        try:
            session = self.client.v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key})
        except self._stripe.StripeError as exc:
            raise ProviderError(f"checkout not created: {type(exc).__name__}") from exc
        return Checkout(id=session.id, url=session.url)

    def expire_checkout(self, *, checkout_id: str) -> None:
        try:
            self.client.v1.checkout.sessions.expire(checkout_id)
        except self._stripe.InvalidRequestError:
            # Already complete or expired: nothing left to stop.
            logger.info("checkout %s could not be expired (complete or expired already)", checkout_id)
        except self._stripe.StripeError as exc:
            raise ProviderError(f"checkout not expired: {type(exc).__name__}") from exc

    def refund(self, *, payment_id: str, amount: Money, idempotency_key: str, reason: str) -> Refund:
        params = {"payment_intent": payment_id, "amount": amount.minor, "metadata": {"reason": reason[:500]}}
        try:
            refund = self.client.v1.refunds.create(params, {"idempotency_key": idempotency_key})
        except self._stripe.StripeError as exc:
            raise ProviderError(f"refund not created: {type(exc).__name__}") from exc
        return Refund(id=refund.id, status=refund.status or "")

    def verify_webhook(self, payload: bytes, sig_header: str | None) -> Event:
        if not sig_header:
            raise BadWebhook("unsigned")
        try:
            # The library's check (HMAC-SHA256 of "t.payload", timestamp within its tolerance);
            # the body is then read as plain JSON, only the fields the services need.
            self._stripe.WebhookSignature.verify_header(payload, sig_header, self.webhook_secret, WEBHOOK_TOLERANCE)
        except self._stripe.SignatureVerificationError as exc:
            raise BadWebhook("bad signature") from exc
        except (ValueError, TypeError) as exc:
            raise BadWebhook("malformed") from exc
        try:
            event = json.loads(payload)
            obj = event["data"]["object"]
            amount = obj.get("amount_total")
            return Event(
                id=str(event["id"]),
                type=str(event["type"]),
                object_id=str(obj.get("id") or ""),
                payment_status=str(obj.get("payment_status") or ""),
                payment_id=str(obj.get("payment_intent") or ""),
                amount_minor=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
                currency=str(obj.get("currency") or "").upper(),
                metadata={str(k): str(v) for k, v in (obj.get("metadata") or {}).items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadWebhook("malformed") from exc


def checkout_origin() -> str:
    """The origin of the hosted checkout pages: a booking form posts, then is redirected there,
    so the form's page must allow it in CSP form-action (browsers check redirects too)."""
    if settings.PAYMENTS_STUB and settings.STRIPE_API_BASE:
        parts = urlsplit(settings.STRIPE_API_BASE)
        return f"{parts.scheme}://{parts.netloc}"
    return "https://checkout.stripe.com"


def provider() -> PaymentProvider:
    """The configured provider (Stripe, or the stub when STRIPE_API_BASE points at it)."""
    return StripeProvider(
        secret_key=settings.STRIPE_SECRET_KEY,
        webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
        api_base=settings.STRIPE_API_BASE,
    )
