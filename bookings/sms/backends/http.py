"""An SMS provider's HTTP API: POST JSON {from, to, body, reference} with a bearer token,
answered with JSON {"id": ...}. The only module that talks to the provider."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from bookings.sms import SmsError

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 15


class SmsBackend:
    def __init__(self) -> None:
        if not settings.SMS_HTTP_URL.startswith("https://") or not settings.SMS_HTTP_TOKEN:
            raise ImproperlyConfigured("The HTTP SMS backend needs SMS_HTTP_URL (https://...) and SMS_HTTP_TOKEN.")
        self.url, self.token = settings.SMS_HTTP_URL, settings.SMS_HTTP_TOKEN

    def send(self, *, to: str, body: str, reference: str) -> str:
        payload = json.dumps({"from": settings.SMS_SENDER, "to": to, "body": body, "reference": reference}).encode()
        request = urllib.request.Request(  # noqa: S310 - https only, checked in __init__
            self.url,
            data=payload,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                # Lets a provider that supports it drop a repeat of a message it already accepted.
                "Idempotency-Key": reference,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                answer = json.loads(response.read().decode() or "{}")
        except urllib.error.HTTPError as exc:
            raise SmsError(f"provider answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise SmsError(f"provider unreachable or answered badly ({type(exc).__name__})") from None
        message_id = str(answer.get("id", ""))
        if not message_id:
            raise SmsError("provider answered without a message id")
        logger.info("sms %s accepted by provider as %s", reference, message_id)
        return message_id
