from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse

from bookings.models import Appointment, Location, Technician, WorkingHours
from clients.models import Client, Photo, SessionNote
from treatments.models import PriceGuide, Treatment

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, list]:
    return {
        model._meta.label: sorted(map(repr, model.objects.values()))
        for model in apps.get_models()
        if model._meta.app_label in {"treatments", "clients", "bookings", "auth"}
    }


@pytest.fixture
def demo(settings, clock_stopped):
    call_command("seed_demo", verbosity=0)


def test_the_demo_clinic_has_what_the_design_promises(demo):
    assert set(Location.objects.values_list("city", flat=True)) == {"Manchester", "Preston", "Nottingham"}
    assert Technician.objects.count() == 4
    assert WorkingHours.objects.values("technician").distinct().count() == 4
    assert set(Treatment.objects.values_list("category", flat=True)) == set(Treatment.Category.values)
    assert PriceGuide.objects.filter(location__isnull=False).exists()
    assert Client.objects.count() == 30
    assert Appointment.objects.filter(kind="consultation").count() == 30
    assert Appointment.objects.filter(kind="session", status="completed").exists()
    assert Appointment.objects.filter(status="booked").exists()
    assert SessionNote.objects.exists()
    photo = Photo.objects.first()
    assert photo is not None
    with photo.image.open("rb") as fh:
        assert fh.read(3) == b"\xff\xd8\xff"


def test_it_never_double_books_a_technician(demo):
    seen = []
    for appointment in Appointment.objects.filter(status__in=Appointment.ACTIVE_STATUSES).order_by(
        "technician", "start"
    ):
        if seen and seen[-1].technician_id == appointment.technician_id:
            assert appointment.start >= seen[-1].end
        seen.append(appointment)


def test_seeding_twice_changes_nothing(demo):
    before = snapshot()
    call_command("seed_demo", verbosity=0)
    assert snapshot() == before


def test_the_admin_accepts_the_demo_login_and_lists_the_seeded_data(demo, client, settings):
    from io import StringIO

    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert client.login(username=settings.DEMO_STAFF_USERNAME, password=settings.DEMO_STAFF_PASSWORD)
    # The demo manager shows the real second factor: the code from the published demo secret.
    to_code = client.get(reverse("admin:index"))
    assert to_code["Location"].startswith(reverse("accounts:otp_verify"))
    out = StringIO()
    call_command("demo_totp_code", stdout=out)
    device = TOTPDevice.objects.get(user__username=settings.DEMO_STAFF_USERNAME)
    verified = client.post(reverse("accounts:otp_verify"), {"device": device.persistent_id, "token": out.getvalue()})
    assert verified.status_code == 302
    for name in ["clients_client", "bookings_appointment", "treatments_treatment", "bookings_location"]:
        response = client.get(reverse(f"admin:{name}_changelist"))
        assert response.status_code == 200
    response = client.get(reverse("admin:bookings_location_changelist"))
    assert b"Nottingham" in response.content


def test_the_demo_code_command_needs_the_demo_device(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="seed_demo"):
        call_command("demo_totp_code")


def test_the_home_page_lists_the_catalogue(demo, client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Hairline design" in response.content
    assert b"Preston" in response.content


def test_every_technician_has_a_session_to_open_within_days_of_seeding(demo):
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    for technician in Technician.objects.all():
        upcoming = Appointment.objects.filter(
            technician=technician,
            kind="session",
            status="booked",
            start__date__gte=today,
            start__date__lte=today + timedelta(days=7),
        )
        assert upcoming.exists(), technician
