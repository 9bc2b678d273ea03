from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from clients.models import Client
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client):
    login_as(client, get_user_model().objects.create_superuser("boss", "boss@example.com", "a-long-password-1"))
    return client


def _add(manager, phone: str):
    return manager.post(
        reverse("admin:clients_client_add"),
        {
            "first_name": "Sam",
            "last_name": "Smith",
            "email": "sam@example.com",
            "phone": phone,
            "preferred_channel": "email",
            "reminders_opt_in": "on",
            "assessments-TOTAL_FORMS": "0",
            "assessments-INITIAL_FORMS": "0",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
        },
    )


def test_the_admin_refuses_a_phone_that_is_not_a_uk_number(manager):
    response = _add(manager, "call me maybe")
    assert response.status_code == 200
    assert "Enter a UK phone number" in response.content.decode()
    assert not Client.objects.exists()


def test_the_admin_stores_uk_numbers_in_one_format(manager):
    response = _add(manager, "+44 7700 900123")
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Client.objects.get().phone == "07700 900123"
