"""The outbox builds each e-mail as Django would, without a new header class per header, a
header parsed anew for every message or a new boundary per message."""

from __future__ import annotations

import email.policy
import re

from django.core.mail import EmailMultiAlternatives

from bookings.services.outbox import _OutboxEmail

LONG = "A long line of text that goes well past seventy-eight characters, as wording does. " * 2


def _email(cls, *, to: str = "sam@example.com", body: str = "Keep your scalp dry.\n" + LONG, ics: bool = True):
    message = cls(
        "Your aftercare \N{EN DASH} day 4",
        body,
        to=[to],
        headers={"Message-ID": "<outbox-7@clinic.example>", "X-SMP-Outbox-Id": "7"},
    )
    message.attach_alternative("<p>Keep your scalp <strong>dry</strong> \N{EN DASH} \N{POUND SIGN}0.</p>", "text/html")
    if ics:
        message.attach("SMP-7K3QX.ics", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar")
    return message


def _normalised(raw: bytes) -> bytes:
    # The boundaries and the Date differ between any two builds.
    raw = re.sub(rb"=+\d+==", b"BOUNDARY", raw)
    return re.sub(rb"Date: [^\n]+", b"Date: -", raw)


def _build(cls, policy, **kwargs) -> bytes:
    return _normalised(_email(cls, **kwargs).message(policy=policy).as_bytes())


def test_an_outbox_email_is_byte_for_byte_the_standard_message():
    for policy in (email.policy.default, email.policy.SMTP):
        for ics in (True, False):
            # Three times: the second and third reuse the headers and boundaries of the first.
            for to in ("sam@example.com", "sam@example.com", "alex@example.com"):
                assert _build(_OutboxEmail, policy, to=to, ics=ics) == _build(
                    EmailMultiAlternatives, policy, to=to, ics=ics
                )
        assert _normalised(
            _email(_OutboxEmail).message(policy=policy).as_bytes(policy=policy.clone(linesep="\r\n"))
        ) == _normalised(
            _email(EmailMultiAlternatives).message(policy=policy).as_bytes(policy=policy.clone(linesep="\r\n"))
        )


def test_the_boundaries_are_drawn_once_and_never_clash_with_the_text():
    def boundaries(message) -> list[str]:
        return [part.get_boundary() for part in message.walk() if part.is_multipart()]

    first = _email(_OutboxEmail).message(policy=email.policy.SMTP)
    first.as_bytes()
    second = _email(_OutboxEmail, to="alex@example.com").message(policy=email.policy.SMTP)
    second.as_bytes()
    assert boundaries(first) == boundaries(second)  # mixed, then alternative: the same each time
    assert len(set(boundaries(first))) == 2
    assert first["Content-Type"] is second["Content-Type"]  # one header object for both

    # Short ASCII lines go as they are (7bit, no quoted-printable "=3D"): wording that happens
    # to hold the shared boundary gets a fresh one from the stdlib.
    clash = _email(_OutboxEmail, body=f"--{boundaries(first)[1]}\n").message(policy=email.policy.SMTP)
    raw = clash.as_bytes()
    assert f"--{boundaries(first)[1]}".encode() in raw
    assert boundaries(clash)[1] != boundaries(first)[1]
    assert boundaries(clash)[1] not in clash.get_payload(0).get_payload(0).get_content()


def test_the_header_classes_are_made_once_per_header_name():
    def classes_made() -> set[int]:
        message = _OutboxEmail("Subject", "Body", to=["sam@example.com"]).message(policy=email.policy.SMTP)
        return {id(type(message[name])) for name in ("Subject", "To", "Content-Type")}

    assert classes_made() == classes_made()
    standard = EmailMultiAlternatives("Subject", "Body", to=["sam@example.com"]).message(policy=email.policy.SMTP)
    again = EmailMultiAlternatives("Subject", "Body", to=["sam@example.com"]).message(policy=email.policy.SMTP)
    assert type(standard["Subject"]) is not type(again["Subject"])  # what the stdlib does, and what it costs
