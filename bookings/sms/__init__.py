"""Text messages through a pluggable backend (settings.SMS_BACKEND).

A backend is a class with `send(*, to: str, body: str, reference: str) -> str` returning the
provider's message id. Backends never log numbers or message text.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The provider refused or could not be reached; the outbox retries later."""


def get_backend():
    return import_string(settings.SMS_BACKEND)()


def send_sms(*, to: str, body: str, reference: str) -> str:
    return get_backend().send(to=to, body=body, reference=reference)
