"""Keeps text messages in memory (`outbox`), like Django's locmem mailer: for tests."""

from __future__ import annotations

outbox: list[dict[str, str]] = []


class SmsBackend:
    def send(self, *, to: str, body: str, reference: str) -> str:
        outbox.append({"to": to, "body": body, "reference": reference})
        return f"locmem-{len(outbox)}"
