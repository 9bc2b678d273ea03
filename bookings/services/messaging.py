"""The outbox of client messages (aftercare day 4/7/10, 48-hour reminders, follow-ups)."""

from __future__ import annotations

from bookings.models import Appointment


def reminders_sync(*, appointment: Appointment) -> None:
    """Bring the appointment's pending messages in line with its current state.

    Call inside the transaction that books, moves, cancels, completes or un-completes the
    appointment: it creates, moves or cancels the rows so the outbox always matches.
    """
