"""Inline rows saved in the client admin are audited like the client itself."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from clients.models import AuditEvent, ConsentRecord
from clients.tests.factories import ClientFactory, ConsentWordingFactory
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db


def test_a_consent_added_inline_is_audited_with_the_manager_as_actor(client):
    manager = get_user_model().objects.create_superuser("boss", "boss@example.com", "a-long-password-1")
    login_as(client, manager)
    record = ClientFactory(phone="07700 900123")
    wording = ConsentWordingFactory()
    url = reverse("admin:clients_client_change", args=[record.pk])
    page = client.get(url).content.decode()
    data = dict(re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d*)"', page))
    data.update(
        {
            "first_name": record.first_name,
            "last_name": record.last_name,
            "email": record.email,
            "phone": record.phone,
            "preferred_channel": "email",
            "reminders_opt_in": "on",
            "consents-TOTAL_FORMS": "1",
            "consents-INITIAL_FORMS": "0",
            "consents-0-wording": wording.pk,
            "consents-0-given_at_0": "01/11/2026",
            "consents-0-given_at_1": "10:00:00",
            "consents-0-method": "paper",
            "consents-0-signed_name": "Sam Smith",
            "consents-0-client": record.pk,
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, re.findall(r"errorlist[^>]*>(.*?)</ul>", response.content.decode(), re.S)
    consent = ConsentRecord.objects.get(client=record)
    event = AuditEvent.objects.get(object_type="consentrecord", object_id=str(consent.pk))
    assert (event.action, event.actor, event.client_id_ref) == ("create", manager, record.pk)
