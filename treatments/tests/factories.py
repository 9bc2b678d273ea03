from __future__ import annotations

from decimal import Decimal

import factory

from treatments.models import PriceGuide, Treatment


class TreatmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Treatment
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Treatment {n}")
    slug = factory.Sequence(lambda n: f"treatment-{n}")
    category = Treatment.Category.HAIRLINE
    summary = "A natural hairline."
    who_for = "Receding hairlines."
    sessions_min = 2
    sessions_max = 3
    spacing_days_min = 14
    spacing_days_max = 21
    session_minutes_min = 180
    session_minutes_max = 300


class PriceGuideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriceGuide

    treatment = factory.SubFactory(TreatmentFactory)
    band = "N3"
    price_from = Decimal("1200")
    price_to = Decimal("1600")
