"""The withdrawal note is free text straight from the request: a NUL character in it (PostgreSQL
refuses NUL in text) is a 400 naming the note, not a 500, and the consent stays as it was, so the
withdrawal can be sent again with the note retyped."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import ConsentRecord
from clients.tests.conftest import PASSWORD
from clients.tests.factories import ConsentRecordFactory

pytestmark = pytest.mark.django_db


def test_a_withdrawal_note_with_a_null_character_is_refused_and_changes_nothing(client, clinic):
    record = ConsentRecordFactory(client=clinic["client"])
    client.login(username="tech", password=PASSWORD)
    url = reverse("staff:consent_withdraw", args=[clinic["client"].pk, record.pk])

    response = client.post(url, {"note": "by\x00 phone"})

    assert response.status_code == 400
    assert "note must not contain a null character" in response.content.decode()
    assert ConsentRecord.objects.get(pk=record.pk).withdrawn_at is None

    assert client.post(url, {"note": "by phone"}).status_code == 302
    assert ConsentRecord.objects.get(pk=record.pk).withdrawal_note == "by phone"
