"""Staff editing prices and treatments in the admin read what is wrong in words, not the
database constraint's name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from treatments.models import PriceGuide
from treatments.tests.factories import PriceGuideFactory

pytestmark = pytest.mark.django_db


def test_a_second_all_locations_price_for_a_stage_is_explained(admin_client):
    existing = PriceGuideFactory(band="N3")
    response = admin_client.post(
        reverse("admin:treatments_priceguide_add"),
        {
            "treatment": existing.treatment_id,
            "band": "N3",
            "location": "",
            "price_from_minor": "1000",
            "price_to_minor": "",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "This treatment already has an all-locations price for this stage." in html
    assert "priceguide_one_default_per_band" not in html
    assert PriceGuide.objects.count() == 1


def test_a_price_range_upside_down_is_explained(admin_client):
    existing = PriceGuideFactory(band="N3")
    response = admin_client.post(
        reverse("admin:treatments_priceguide_add"),
        {
            "treatment": existing.treatment_id,
            "band": "N4",
            "location": "",
            "price_from_minor": "1600",
            "price_to_minor": "1200",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "The &#x27;to&#x27; price cannot be below the &#x27;from&#x27; price." in html
    assert PriceGuide.objects.count() == 1
