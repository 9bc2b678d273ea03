"""The withdrawal note is free text straight from the request: a NUL character in it is dropped,
not a 500 (PostgreSQL refuses NUL in text), and the withdrawal still takes effect."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import ConsentRecord
from clients.tests.conftest import PASSWORD
from clients.tests.factories import ConsentRecordFactory

pytestmark = pytest.mark.django_db


def test_a_withdrawal_note_with_a_null_character_is_stored_without_it(client, clinic):
    record = ConsentRecordFactory(client=clinic["client"])
    client.login(username="tech", password=PASSWORD)

    response = client.post(
        reverse("staff:consent_withdraw", args=[clinic["client"].pk, record.pk]), {"note": "by\x00 phone"}
    )

    assert response.status_code == 302
    record = ConsentRecord.objects.get(pk=record.pk)
    assert record.withdrawn_at is not None
    assert record.withdrawal_note == "by phone"
