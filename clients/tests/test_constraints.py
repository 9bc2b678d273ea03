from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from clients.models import Client, ConsentWording
from clients.tests.factories import ClientFactory, ConsentRecordFactory, ConsentWordingFactory

pytestmark = pytest.mark.django_db


def test_it_rejects_a_second_client_with_the_same_email_in_other_case():
    ClientFactory(email="sam@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientFactory(email="Sam@Example.com")


def test_clients_without_email_are_not_duplicates_of_each_other():
    ClientFactory(email="")
    ClientFactory(email="")
    assert Client.objects.filter(email="").count() == 2


def test_it_rejects_a_second_wording_with_the_same_version():
    ConsentWordingFactory(kind="treatment", version=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentWording.objects.create(kind="treatment", version=1, text="x", effective_from="2026-01-01T00:00Z")


def test_it_rejects_a_withdrawal_before_the_consent_was_given():
    record = ConsentRecordFactory()
    record.withdrawn_at = record.given_at - timedelta(days=1)
    with pytest.raises(IntegrityError, match="consentrecord_withdrawn_after_given"), transaction.atomic():
        record.save()
