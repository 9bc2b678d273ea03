"""Writes for bookings, one module per capability: booking.py (book, move, cancel),
appointments.py (complete, un-complete), messaging.py (the outbox of client messages)."""
