"""Labels show the London date: 00:30 BST on 1 June is still 31 May in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clients.tests.factories import AssessmentFactory, ConsentRecordFactory

pytestmark = pytest.mark.django_db
JUST_AFTER_MIDNIGHT_BST = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)


def test_an_assessment_is_labelled_with_its_london_date():
    assessment = AssessmentFactory(assessed_at=JUST_AFTER_MIDNIGHT_BST)
    assert str(assessment).endswith("(01/06/2026)")


def test_a_consent_is_labelled_with_its_london_date():
    record = ConsentRecordFactory(given_at=JUST_AFTER_MIDNIGHT_BST)
    assert str(record).endswith("given 01/06/2026")
