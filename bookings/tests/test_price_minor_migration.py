"""The migrations that moved prices from decimal pounds to integers of pence copy every amount
exactly (None stays None) and can be reversed."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from clients.tests.factories import ClientFactory
from treatments.tests.factories import TreatmentFactory

course_migration = importlib.import_module("bookings.migrations.0027_course_price_minor_units")
guide_migration = importlib.import_module("treatments.migrations.0008_price_minor_units")

BEFORE = [("bookings", "0026_merged_choices"), ("treatments", "0007_patch_tests")]
AFTER = [("bookings", "0027_course_price_minor_units"), ("treatments", "0008_price_minor_units")]


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        (Decimal("1250.00"), "GBP", 125000),
        (Decimal("999.99"), "GBP", 99999),
        (Decimal("0.01"), "GBP", 1),
        (Decimal("1234.5"), "GBP", 123450),
        (Decimal("0"), "GBP", 0),
        (Decimal("999999.99"), "GBP", 99999999),
        (Decimal("1500"), "JPY", 1500),
        (Decimal("12.50"), "KWD", 12500),
        (None, "GBP", None),
    ],
)
def test_the_course_copy_is_exact_and_reversible(amount, currency, minor):
    assert course_migration.to_minor(amount, currency) == minor
    assert course_migration.from_minor(minor, currency) == amount


def test_the_copy_refuses_to_drop_part_of_a_penny():
    with pytest.raises(ValueError, match="decimals"):
        course_migration.to_minor(Decimal("10.50"), "JPY")
    with pytest.raises(ValueError, match="decimals"):
        guide_migration.to_minor(Decimal("0.001"))


@pytest.mark.parametrize(("amount", "minor"), [(Decimal("1200.00"), 120000), (Decimal("0.07"), 7), (None, None)])
def test_the_price_guide_copy_is_exact_and_reversible(amount, minor):
    assert guide_migration.to_minor(amount) == minor
    assert guide_migration.from_minor(minor) == amount


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_migrating_forward_and_back_keeps_every_price_to_the_penny():
    old = _migrate(BEFORE)
    try:
        # Clients and treatments are untouched by these migrations: today's factories make them.
        treatment = TreatmentFactory()
        client = ClientFactory()
        PriceGuide = old.get_model("treatments", "PriceGuide")
        Course = old.get_model("bookings", "Course")
        PriceGuide.objects.create(treatment_id=treatment.pk, band="N3", price_from=Decimal("1200.00"), price_to=None)
        PriceGuide.objects.create(
            treatment_id=treatment.pk, band="N4", price_from=Decimal("1499.99"), price_to=Decimal("0.01") + 2000
        )
        priced = Course.objects.create(client_id=client.pk, treatment_id=treatment.pk, price_agreed=Decimal("1234.56"))
        unpriced = Course.objects.create(client_id=client.pk, treatment_id=treatment.pk, price_agreed=None)

        new = _migrate(AFTER)
        guides = new.get_model("treatments", "PriceGuide").objects.order_by("band")
        assert [(g.band, g.price_from_minor, g.price_to_minor, g.currency) for g in guides] == [
            ("N3", 120000, None, "GBP"),
            ("N4", 149999, 200001, "GBP"),
        ]
        courses = new.get_model("bookings", "Course").objects
        assert courses.get(pk=priced.pk).price_agreed_minor == 123456
        assert courses.get(pk=unpriced.pk).price_agreed_minor is None

        back = _migrate(BEFORE)
        guides = back.get_model("treatments", "PriceGuide").objects.order_by("band")
        assert [(g.price_from, g.price_to) for g in guides] == [
            (Decimal("1200.00"), None),
            (Decimal("1499.99"), Decimal("2000.01")),
        ]
        courses = back.get_model("bookings", "Course").objects
        assert courses.get(pk=priced.pk).price_agreed == Decimal("1234.56")
        assert courses.get(pk=unpriced.pk).price_agreed is None
    finally:
        _migrate(AFTER)
