from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from treatments.models import AftercareMilestone, Page, PriceGuide, Treatment


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
    price_from_minor = 120000  # pence
    price_to_minor = 160000


class AftercareMilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AftercareMilestone
        django_get_or_create = ["anchor"]

    anchor = factory.Sequence(lambda n: f"step-{n}")
    label = factory.Sequence(lambda n: f"Day {n}")
    title = "Keep it dry"
    body = "No showers.\nNo sweating."


class PageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Page
        django_get_or_create = ["key"]

    key = Page.Key.HOME
    title = "Scalp micropigmentation"
    meta_description = "SMP for hair loss."
    intro = "Tiny dots of pigment that look like hair."


def published_pair(*, treatment: Treatment | None = None, angle: str = "front", client=None, **appointment):
    """A client with active marketing-photo consent and a before/after pair marked for the site."""
    from bookings.tests.factories import AppointmentFactory
    from clients.models import ConsentWording, Photo
    from clients.tests.factories import ClientFactory, ConsentRecordFactory, ConsentWordingFactory, PhotoFactory

    client = client or ClientFactory()
    wording = ConsentWordingFactory(kind=ConsentWording.Kind.MARKETING_PHOTOS)
    ConsentRecordFactory(client=client, wording=wording, given_at=timezone.now() - timedelta(days=30))
    session = AppointmentFactory(client=client, treatment=treatment or TreatmentFactory(), **appointment)
    common = {"client": client, "appointment": session, "angle": angle, "marketing_consent": True}
    before = PhotoFactory(phase=Photo.Phase.BEFORE, taken_at=timezone.now() - timedelta(days=20), **common)
    after = PhotoFactory(phase=Photo.Phase.AFTER, taken_at=timezone.now() - timedelta(days=1), **common)
    return before, after
