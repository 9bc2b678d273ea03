"""A NUL character in an availability parameter is a 400 naming the parameter (PostgreSQL would
refuse it in the query with a ValueError, a 500)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bookings.tests.factories import BookingPolicyFactory, LocationFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("location=%00", "location"),
        ("location=manchester&treatment=%00", "treatment"),
        ("location=man%00chester", "location"),
    ],
)
def test_a_null_character_in_a_parameter_is_a_400_naming_it(client, query, parameter):
    BookingPolicyFactory()
    LocationFactory(slug="manchester")

    response = client.get(f"{reverse('bookings:api_availability')}?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["parameter"] == parameter
