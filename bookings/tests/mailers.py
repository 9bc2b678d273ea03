"""Mailers for tests and bench/reminders.py (selected with MAILER_BACKEND in a worker's env).

RecordingEmailBackend writes each message to its own file named after the outbox row it
carries (X-SMP-Outbox-Id), the sending process and a random suffix, so counting files per row
counts deliveries. A delay, in seconds, read before every message from the file `.delay` in
the mail folder (or TEST_MAILER_DELAY), makes sends slow: a `<row>.sending-<pid>` marker is
written first, so a test knows when to kill the worker in the middle of a send. A number n in
the file `.kill-after` makes the sending process kill itself (SIGKILL, nothing cleans up) when
it is handed its (n+1)-th message, before writing it: a worker dying in the middle of a batch.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage as ParsedMessage
from pathlib import Path
from smtplib import SMTPRecipientsRefused

from django.core.mail.backends.base import BaseEmailBackend


def _delay(folder: Path) -> float:
    control = folder / ".delay"
    raw = control.read_text().strip() if control.exists() else os.environ.get("TEST_MAILER_DELAY", "0")
    return float(raw or 0)


class RecordingEmailBackend(BaseEmailBackend):
    def __init__(self, *, file_path: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.folder = Path(file_path)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.handed = 0

    def send_messages(self, email_messages) -> int:
        kill = self.folder / ".kill-after"
        for message in email_messages:
            if kill.exists() and self.handed >= int(kill.read_text()):
                os.kill(os.getpid(), signal.SIGKILL)
            self.handed += 1
            row = message.extra_headers.get("X-SMP-Outbox-Id", "none")
            delay = _delay(self.folder)
            if delay:
                (self.folder / f"{row}.sending-{os.getpid()}").touch()
                time.sleep(delay)
            final = self.folder / f"{row}.{os.getpid()}.{uuid.uuid4().hex[:8]}.eml"
            partial = final.with_suffix(".part")
            partial.write_bytes(message.message().as_bytes())
            partial.rename(final)
        return len(email_messages)


class RefusingEmailBackend(BaseEmailBackend):
    """A mail server that refuses every recipient (its error names the address)."""

    def send_messages(self, email_messages) -> int:
        raise SMTPRecipientsRefused({m.to[0]: (550, b"mailbox unavailable") for m in email_messages})


def delivered(folder: Path) -> Counter[str]:
    """Outbox row id -> how many copies were written."""
    return Counter(p.name.split(".", 1)[0] for p in Path(folder).glob("*.eml"))


def senders(folder: Path) -> set[str]:
    return {p.name.split(".")[1] for p in Path(folder).glob("*.eml")}


def read_all(folder: Path) -> list[ParsedMessage]:
    return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(Path(folder).glob("*.eml"))]
