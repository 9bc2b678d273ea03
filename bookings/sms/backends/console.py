"""The default SMS backend: sends nothing and logs only the message's reference."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


class SmsBackend:
    def send(self, *, to: str, body: str, reference: str) -> str:
        logger.info("sms %s not sent (console backend, %s characters)", reference, len(body))
        return f"console-{reference}"
