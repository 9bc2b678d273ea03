"""The local Stripe stub as a pytest fixture: a real HTTP server in a thread, the settings
pointed at it, and helpers to deliver its signed webhooks through the test client."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bookings.payments.stub import StripeStub, serve_in_thread


@pytest.fixture
def stripe_stub(settings):
    stub = StripeStub()
    server = serve_in_thread(stub)
    settings.STRIPE_SECRET_KEY = "sk_test_local_stub"
    settings.STRIPE_WEBHOOK_SECRET = stub.webhook_secret
    settings.STRIPE_API_BASE = stub.public_url
    yield stub
    server.shutdown()
    server.server_close()


def deliver(client, stub: StripeStub, event: dict):
    """POST ``event`` to the webhook endpoint, signed as Stripe signs it."""
    body, header = stub.signed(event)
    return client.post(
        reverse("bookings:stripe_webhook"), data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
