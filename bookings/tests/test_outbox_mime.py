"""The outbox builds each e-mail as Django would, without a new header class per header."""

from __future__ import annotations

import email.policy
import re

from django.core.mail import EmailMultiAlternatives

from bookings.services.outbox import _OutboxEmail


def _build(cls, policy) -> bytes:
    message = cls(
        "Your aftercare \N{EN DASH} day 4",
        "Keep your scalp dry.\n"
        + "A long line of text that goes well past seventy-eight characters, as wording does. " * 2,
        to=["sam@example.com"],
        headers={"Message-ID": "<outbox-7@clinic.example>", "X-SMP-Outbox-Id": "7"},
    )
    message.attach_alternative("<p>Keep your scalp <strong>dry</strong> \N{EN DASH} \N{POUND SIGN}0.</p>", "text/html")
    message.attach("SMP-7K3QX.ics", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar")
    raw = message.message(policy=policy).as_bytes()
    # The boundaries and the Date differ between any two builds.
    raw = re.sub(rb"=+\d+==", b"BOUNDARY", raw)
    return re.sub(rb"Date: [^\n]+", b"Date: -", raw)


def test_an_outbox_email_is_byte_for_byte_the_standard_message():
    for policy in (email.policy.default, email.policy.SMTP):
        assert _build(_OutboxEmail, policy) == _build(EmailMultiAlternatives, policy)


def test_the_header_classes_are_made_once_per_header_name():
    def classes_made() -> set[int]:
        message = _OutboxEmail("Subject", "Body", to=["sam@example.com"]).message(policy=email.policy.SMTP)
        return {id(type(message[name])) for name in ("Subject", "To", "Content-Type")}

    assert classes_made() == classes_made()
    standard = EmailMultiAlternatives("Subject", "Body", to=["sam@example.com"]).message(policy=email.policy.SMTP)
    again = EmailMultiAlternatives("Subject", "Body", to=["sam@example.com"]).message(policy=email.policy.SMTP)
    assert type(standard["Subject"]) is not type(again["Subject"])  # what the stdlib does, and what it costs
