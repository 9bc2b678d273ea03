"""Prices are integers of pence; staff type pounds, parsed exactly through Decimal (never a float)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django import forms
from django.urls import reverse

from treatments.models import PriceGuide
from treatments.money import PoundsField, format_minor, minor_to_pounds, pounds_to_minor
from treatments.tests.factories import PriceGuideFactory, TreatmentFactory


@pytest.mark.parametrize(
    ("typed", "minor"),
    [
        ("1250", 125000),
        ("1,250", 125000),
        ("1,250.00", 125000),
        ("1250.5", 125050),
        ("£1,250.99", 125099),
        (" 0.01 ", 1),
        ("0", 0),
        ("1,234,567.89", 123456789),
        # A float would make this 1.1 * 100 = 110.00000000000001 somewhere along the way.
        ("1.10", 110),
        ("4.35", 435),
    ],
)
def test_pounds_parse_to_exact_pence(typed, minor):
    assert pounds_to_minor(typed) == minor
    assert PoundsField().clean(typed) == minor


@pytest.mark.parametrize("typed", ["12,50", "1,2500", "1.234", "1e3", "NaN", "Infinity", "£", "1 250", "١٢", "12.5.0"])
def test_anything_but_pounds_is_refused_with_a_clear_message(typed):
    with pytest.raises(forms.ValidationError) as caught:
        PoundsField().clean(typed)
    assert caught.value.messages == ["Enter an amount in pounds, e.g. 1250 or 1,250.00 (at most two decimals)."]


def test_a_float_is_never_taken_for_money():
    with pytest.raises(forms.ValidationError):
        PoundsField().clean(12.5)


def test_limits_and_empty_values():
    field = PoundsField(min_minor=0, required=False)
    assert field.clean("") is None
    with pytest.raises(forms.ValidationError, match="Enter at least £0"):
        field.clean("-1")
    with pytest.raises(forms.ValidationError, match="too large"):
        PoundsField(max_minor=100_00).clean("100.01")
    assert PoundsField().clean("-1") == -100


def test_stored_pence_show_as_pounds_in_a_form_and_on_a_page():
    assert PoundsField().prepare_value(125050) == "1250.50"
    assert minor_to_pounds(125000) == Decimal("1250.00")
    assert format_minor(125000) == "£1,250"
    assert format_minor(125050) == "£1,250.50"
    assert format_minor(-5) == "-£0.05"
    assert format_minor(125000, "EUR") == "1,250 EUR"
    assert format_minor(None) == ""


@pytest.mark.django_db
def test_the_admin_takes_a_price_guide_in_pounds_and_stores_pence(admin_client):
    treatment = TreatmentFactory()
    response = admin_client.post(
        reverse("admin:treatments_priceguide_add"),
        {
            "treatment": treatment.pk,
            "band": "N3",
            "location": "",
            "price_from_minor": "1,200",
            "price_to_minor": "1600.5",
        },
    )
    assert response.status_code == 302
    guide = PriceGuide.objects.get()
    assert (guide.price_from_minor, guide.price_to_minor, guide.currency) == (120000, 160050, "GBP")
    listing = admin_client.get(reverse("admin:treatments_priceguide_changelist")).content.decode()
    assert "£1,200" in listing
    assert "£1,600.50" in listing
    form = admin_client.get(reverse("admin:treatments_priceguide_change", args=[guide.pk])).content.decode()
    assert 'value="1200.00"' in form


@pytest.mark.django_db
def test_a_price_guide_typed_wrong_is_a_form_error_not_a_500(admin_client):
    guide = PriceGuideFactory()
    response = admin_client.post(
        reverse("admin:treatments_priceguide_change", args=[guide.pk]),
        {"treatment": guide.treatment_id, "band": guide.band, "location": "", "price_from_minor": "12,00"},
    )
    assert response.status_code == 200
    assert "Enter an amount in pounds" in response.content.decode()
    guide.refresh_from_db()
    assert guide.price_from_minor == 120000
