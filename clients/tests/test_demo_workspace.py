from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from bookings.models import Technician

pytestmark = pytest.mark.django_db


def test_demo_technicians_can_open_their_workspace(client, clock_stopped):
    call_command("seed_demo", verbosity=0)
    technician = Technician.objects.select_related("user").first()
    assert technician.user.has_perm("clients.view_clinical")
    client.force_login(technician.user)
    response = client.get(reverse("staff:schedule"))
    assert response.status_code == 200
    assert response.context["technician"] == technician
