"""Time off is labelled in UK time wherever the admin shows it (it is stored in UTC)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from bookings.tests.factories import LocationFactory, TimeOffFactory, technician_working
from smpclinic.tests.logins import login_as

LONDON = ZoneInfo("Europe/London")

pytestmark = pytest.mark.django_db


def test_summer_time_off_shows_the_hours_the_technician_is_away_on_the_admin_page(client):
    tech = technician_working(location=LocationFactory())
    time_off = TimeOffFactory(
        technician=tech,
        start=datetime(2026, 7, 14, 9, tzinfo=LONDON),
        end=datetime(2026, 7, 14, 13, tzinfo=LONDON),
    )
    assert str(time_off).endswith("off 2026-07-14 09:00 to 2026-07-14 13:00")
    user = get_user_model().objects.create_superuser("boss", "boss@smpclinic.example", "a-long-test-password")
    login_as(client, user)
    html = client.get(reverse("admin:bookings_technician_change", args=[tech.pk])).content.decode()
    assert "off 2026-07-14 09:00 to 2026-07-14 13:00" in html
    assert "08:00" not in html
