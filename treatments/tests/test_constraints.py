from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from bookings.tests.factories import LocationFactory
from treatments.models import PriceGuide
from treatments.tests.factories import PriceGuideFactory, TreatmentFactory

pytestmark = pytest.mark.django_db


def test_it_rejects_a_course_range_with_max_below_min():
    with pytest.raises(IntegrityError, match="treatment_sessions_range"), transaction.atomic():
        TreatmentFactory(sessions_min=3, sessions_max=2)


def test_it_rejects_spacing_with_max_below_min():
    with pytest.raises(IntegrityError, match="treatment_spacing_range"), transaction.atomic():
        TreatmentFactory(spacing_days_min=21, spacing_days_max=14)


def test_it_rejects_sessions_shorter_than_fifteen_minutes():
    with pytest.raises(IntegrityError, match="treatment_session_length_range"), transaction.atomic():
        TreatmentFactory(session_minutes_min=10, session_minutes_max=60)


def test_it_rejects_a_price_range_upside_down():
    with pytest.raises(IntegrityError, match="priceguide_price_range"), transaction.atomic():
        PriceGuideFactory(price_from_minor=200000, price_to_minor=100000)


def test_it_rejects_two_clinic_wide_prices_for_one_band():
    guide = PriceGuideFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        PriceGuide.objects.create(treatment=guide.treatment, band=guide.band, price_from_minor=100)


def test_it_rejects_two_prices_for_one_band_at_one_location():
    location = LocationFactory()
    guide = PriceGuideFactory(location=location)
    with pytest.raises(IntegrityError), transaction.atomic():
        PriceGuide.objects.create(treatment=guide.treatment, location=location, band=guide.band, price_from_minor=100)


def test_a_location_may_override_the_clinic_wide_price():
    guide = PriceGuideFactory()
    override = PriceGuideFactory(treatment=guide.treatment, band=guide.band, location=LocationFactory())
    assert override.pk != guide.pk


def test_touch_up_price_is_a_share_of_the_original():
    treatment = TreatmentFactory(touch_up_percent=25)
    assert treatment.touch_up_price(200000) == 50000  # pence
    assert treatment.touch_up_price(123450) == 30900  # £308.625 -> whole pounds, as before
