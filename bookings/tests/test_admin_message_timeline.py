"""A client's message timeline in the admin is in due order (latest first) for every role,
whether or not the user sees the list's action checkbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from bookings.models import ClientMessage
from bookings.tests.factories import AppointmentFactory
from clients.tests.factories import staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db
M = ClientMessage.Kind
DUE = datetime(2026, 11, 10, 9, tzinfo=UTC)


@pytest.mark.parametrize("role", ["Manager", "Reception"])
def test_the_clients_message_timeline_lists_the_latest_due_first(client, role):
    appointment = AppointmentFactory(kind="session")
    for days, kind, channel in (
        (0, M.AFTERCARE_DAY_4, "email"),
        (3, M.AFTERCARE_DAY_7, "sms"),
        (6, M.AFTERCARE_DAY_10, "email"),
    ):
        ClientMessage.objects.create(
            appointment=appointment, kind=kind, channel=channel, due_at=DUE + timedelta(days=days)
        )
    login_as(client, staff_user(role=role))
    page = client.get(reverse("admin:clients_client_change", args=[appointment.client_id])).content.decode()
    timeline = re.search(r'href="([^"]*clientmessage/\?client=[^"]*)"', page).group(1).replace("&amp;", "&")

    response = client.get(timeline)

    assert response.status_code == 200
    listed = [r.kind for r in response.context["cl"].result_list]
    assert listed == [M.AFTERCARE_DAY_10, M.AFTERCARE_DAY_7, M.AFTERCARE_DAY_4]
