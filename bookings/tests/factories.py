from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from bookings.models import (
    Appointment,
    BookingPolicy,
    Break,
    ClientMessage,
    Closure,
    Course,
    DepositPolicy,
    Location,
    Payment,
    Technician,
    TimeOff,
    WorkingHours,
)
from bookings.models_stock import Batch, Product
from clients.tests.factories import ClientFactory
from treatments.tests.factories import TreatmentFactory

LONDON = ZoneInfo("Europe/London")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@smpclinic.example")
    password = factory.django.Password("a-long-test-password")


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")
    address_line1 = "1 High Street"
    city = "Manchester"
    postcode = "M1 1AA"
    phone = "0161 496 0000"


class TechnicianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Technician
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Technician {n}")

    @factory.post_generation
    def locations(self, create, extracted, **kwargs):
        if create:
            self.locations.set(extracted if extracted is not None else [LocationFactory()])


class WorkingHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingHours

    technician = factory.SubFactory(TechnicianFactory)
    location = factory.SubFactory(LocationFactory)
    weekday = 0
    start_time = time(9)
    end_time = time(17)


class ClosureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Closure

    start_date = factory.LazyFunction(lambda: datetime(2026, 12, 25).date())
    end_date = factory.SelfAttribute("start_date")
    reason = "Christmas Day"


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    client = factory.SubFactory(ClientFactory)
    treatment = factory.SubFactory(TreatmentFactory)
    planned_sessions = 3


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    kind = Appointment.Kind.CONSULTATION
    client = factory.SubFactory(ClientFactory)
    technician = factory.SubFactory(TechnicianFactory)
    location = factory.SubFactory(LocationFactory)
    start = factory.Sequence(lambda n: datetime(2026, 12, 1, 10, tzinfo=LONDON) + timedelta(days=n))
    end = factory.LazyAttribute(lambda a: a.start + timedelta(minutes=45))


class ClientMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClientMessage

    appointment = factory.SubFactory(AppointmentFactory, kind=Appointment.Kind.TREATMENT_SESSION)
    kind = ClientMessage.Kind.AFTERCARE_DAY_4
    due_at = factory.LazyAttribute(lambda r: r.appointment.start + timedelta(days=4))


class BreakFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Break

    technician = factory.SubFactory(TechnicianFactory)
    weekday = 0
    start_time = time(13)
    end_time = time(13, 45)


class TimeOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeOff

    technician = factory.SubFactory(TechnicianFactory)
    start = factory.LazyFunction(lambda: datetime(2026, 12, 1, 9, tzinfo=LONDON))
    end = factory.LazyAttribute(lambda t: t.start + timedelta(hours=4))
    reason = "Training"


class BookingPolicyFactory(factory.django.DjangoModelFactory):
    """The clinic-wide policy unless a location is given (one per location, one clinic-wide)."""

    class Meta:
        model = BookingPolicy
        django_get_or_create = ["location"]

    location = None
    slot_step_minutes = 15
    buffer_before_minutes = 0
    buffer_after_minutes = 15
    minimum_notice_hours = 12
    horizon_days = 90
    consultation_minutes = 45
    change_notice_hours = 24


def technician_working(*, location: Location, weekdays=range(7), start=time(9), end=time(17), **kwargs) -> Technician:
    """A technician at the location with the same hours on the given weekdays."""
    technician = TechnicianFactory(locations=[location], **kwargs)
    for weekday in weekdays:
        WorkingHoursFactory(technician=technician, location=location, weekday=weekday, start_time=start, end_time=end)
    return technician


class DepositPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DepositPolicy

    kind = DepositPolicy.Kind.TREATMENT_SESSION
    amount_minor = 5000
    currency = "GBP"
    refundable_until_hours = 48


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    kind = Payment.Kind.DEPOSIT
    status = Payment.Status.SUCCEEDED
    method = Payment.Method.CARD_TERMINAL
    amount_minor = 5000
    currency = "GBP"
    client = factory.SubFactory(ClientFactory)
    appointment = factory.SubFactory(AppointmentFactory, client=factory.SelfAttribute("..client"))
    succeeded_at = factory.LazyFunction(lambda: datetime(2026, 11, 1, 10, tzinfo=LONDON))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    kind = Product.Kind.PIGMENT
    brand = "Acme Pigments"
    shade = factory.Sequence(lambda n: f"Shade {n}")


class BatchFactory(factory.django.DjangoModelFactory):
    """A batch in date for years from 2026 (tests that read the clock give their own dates)."""

    class Meta:
        model = Batch

    product = factory.SubFactory(ProductFactory)
    location = factory.SubFactory(LocationFactory)
    lot_number = factory.Sequence(lambda n: f"LOT-{n:05d}")
    received_on = factory.LazyFunction(lambda: datetime(2020, 1, 1).date())
    expires_on = factory.LazyFunction(lambda: datetime(2099, 12, 31).date())
    supplier = "Acme Ltd"


class WaitlistEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "bookings.WaitlistEntry"

    location = factory.SubFactory(LocationFactory)
    earliest_date = factory.LazyFunction(lambda: timezone.localdate())
    latest_date = factory.LazyAttribute(lambda o: o.earliest_date + timedelta(days=30))
    first_name = "Robin"
    last_name = factory.Sequence(lambda n: f"Waiting{n}")
    email = factory.Sequence(lambda n: f"waiting{n}@example.com")
    phone = "+447700900123"


class WaitlistReleaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "bookings.WaitlistRelease"

    location = factory.SubFactory(LocationFactory)
    start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=3))


class WaitlistOfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "bookings.WaitlistOffer"

    release = factory.SubFactory(WaitlistReleaseFactory)
    entry = factory.SubFactory(WaitlistEntryFactory, location=factory.SelfAttribute("..release.location"))
    position = factory.Sequence(lambda n: n + 1)
