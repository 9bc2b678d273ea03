from __future__ import annotations

import pytest

from bookings.models import AftercareReminder
from bookings.services.erasure import client_erase
from bookings.tests.factories import AftercareReminderFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_erasing_a_client_cancels_every_pending_message_at_once():
    day4 = AftercareReminderFactory(milestone=AftercareReminder.Milestone.AFTERCARE_DAY_4)
    client = day4.appointment.client
    reminder = AftercareReminderFactory(appointment__client=client, milestone=AftercareReminder.Milestone.REMINDER_48H)
    other = AftercareReminderFactory()

    client_erase(client=client, by=UserFactory(is_superuser=True))

    day4.refresh_from_db()
    reminder.refresh_from_db()
    other.refresh_from_db()
    assert (day4.status, reminder.status) == ("cancelled", "cancelled")
    assert other.status == "pending"
