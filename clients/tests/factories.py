from __future__ import annotations

from datetime import date, timedelta

import factory
from django.utils import timezone

from clients.models import Assessment, Client, ConsentRecord, ConsentWording, PatchTest, Photo, SessionNote


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"client{n}@example.com")
    phone = factory.Sequence(lambda n: f"07700 9{n % 100000:05d}")
    # An adult whose photo ID was checked at their consultation: a first session can be completed.
    # ClientFactory(id_checked_at=None) for a client whose ID nobody has seen yet.
    date_of_birth = date(1985, 3, 14)
    id_checked_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    id_document = Client.IdDocument.PASSPORT


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assessment

    client = factory.SubFactory(ClientFactory)
    assessed_at = factory.LazyFunction(timezone.now)
    hair_loss_type = Assessment.HairLossType.MALE_PATTERN
    stage = "N3"


class ConsentWordingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentWording
        django_get_or_create = ["kind", "version"]

    kind = ConsentWording.Kind.HEALTH_DATA
    version = 1
    text = "I consent."
    effective_from = factory.LazyFunction(timezone.now)


class ConsentRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentRecord

    client = factory.SubFactory(ClientFactory)
    wording = factory.SubFactory(ConsentWordingFactory)
    given_at = factory.LazyFunction(timezone.now)
    method = ConsentRecord.Method.ONLINE


class PhotoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Photo

    client = factory.SubFactory(ClientFactory)
    image = factory.django.ImageField(width=64, height=48, format="JPEG")
    angle = Photo.Angle.FRONT
    phase = Photo.Phase.BEFORE
    taken_at = factory.LazyFunction(timezone.now)


class SessionNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionNote

    appointment = factory.SubFactory("bookings.tests.factories.AppointmentFactory", kind="session")
    areas = factory.LazyFunction(lambda: ["hairline"])
    pigment_shade = "2"


def staff_user(*, role: str, username: str | None = None, **kwargs):
    """A user in one of the role groups the roles migration creates (Manager, Reception, Technician)."""
    from django.contrib.auth.models import Group

    from bookings.tests.factories import UserFactory
    from clients.roles import roles_ensure

    roles_ensure()
    user = UserFactory(**({"username": username} if username else {}), **kwargs)
    user.is_staff = role in {"Manager", "Reception"}
    user.save(update_fields=["is_staff"])
    user.groups.add(Group.objects.get(name=role))
    return user


class PatchTestFactory(factory.django.DjangoModelFactory):
    """A clear patch test done a week ago (well over the 48 hours a first session waits)."""

    class Meta:
        model = PatchTest

    client = factory.SubFactory(ClientFactory)
    tested_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=7))
    result = PatchTest.Result.CLEAR
