"""The appointment list's "Cancel" asks first: a page says, for each appointment chosen, what
cancelling it now means (a late cancellation recorded, a paid deposit kept or refunded, the
client told) from the rules the cancel applies; only "Yes, cancel" cancels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from bookings.models import Appointment, ClientMessage
from bookings.models_payments import Payment
from bookings.tests.factories import (
    AppointmentFactory,
    BookingPolicyFactory,
    LocationFactory,
    PaymentFactory,
    technician_working,
)
from clients.models import AuditEvent
from clients.tests.factories import staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
S = Appointment.Status
APPOINTMENTS = "admin:bookings_appointment_changelist"


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def desk(client):
    user = staff_user(role="Reception", username="desk")
    login_as(client, user)
    return user


@pytest.fixture
def location():
    location = LocationFactory(name="Manchester Clinic")
    BookingPolicyFactory(late_cancellation_hours=48, no_show_limit=2, late_cancellations_count=True)
    technician_working(location=location)
    return location


def _booked(location, *, hours_ahead: float, status=S.BOOKED) -> Appointment:
    start = NOW + timedelta(hours=hours_ahead)
    return AppointmentFactory(
        technician=location.technicians.get(),
        location=location,
        start=start,
        end=start + timedelta(minutes=45),
        status=status,
    )


def _cancel(client, *appointments: Appointment, **extra):
    return client.post(
        reverse(APPOINTMENTS),
        {"action": "cancel", "index": 0, "_selected_action": [a.pk for a in appointments], **extra},
    )


def test_cancel_first_says_what_it_means_for_each_and_changes_nothing(client, desk, location):
    late = _booked(location, hours_ahead=30)
    PaymentFactory(
        appointment=late,
        client=late.client,
        amount_minor=5000,
        terms={"refundable_until_hours": 48, "late_cancellation_forfeit_percent": 50, "no_show_forfeit_percent": 100},
    )
    early = _booked(location, hours_ahead=24 * 10)
    missed = _booked(location, hours_ahead=-3, status=S.NO_SHOW)

    response = _cancel(client, late, early, missed)
    assert response.status_code == 200
    html = unescape(response.content.decode())
    late_row = html[html.index(f'id="cancel-{late.pk}"') : html.index(f'id="cancel-{early.pk}"')]
    assert "Late cancellation:" in late_row
    assert "counts towards the online booking limit (2)" in late_row
    assert "£25.00 kept and £25.00 refunded" in late_row
    early_row = html[html.index(f'id="cancel-{early.pk}"') : html.index(f'id="cancel-{missed.pk}"')]
    assert "Late cancellation" not in early_row
    assert "Deposit" not in early_row
    assert "No-show: not cancelled" in html
    assert 'value="Yes, cancel"' in html

    assert set(Appointment.objects.values_list("status", flat=True)) == {S.BOOKED, S.NO_SHOW}
    assert not Payment.objects.exclude(kind=Payment.Kind.DEPOSIT).exists()
    assert not ClientMessage.objects.filter(kind=ClientMessage.Kind.CANCELLED).exists()
    assert not AuditEvent.objects.filter(object_type="appointment").exists()


def test_yes_cancel_cancels_each_through_the_service_and_reports_the_rest(client, desk, location):
    late = _booked(location, hours_ahead=30)
    missed = _booked(location, hours_ahead=-3, status=S.NO_SHOW)

    response = _cancel(client, late, missed, apply="1")
    assert response.status_code == 302
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 appointment(s) cancelled." in notes
    assert any(missed.reference in n and "not changed" in n for n in notes)
    late.refresh_from_db()
    missed.refresh_from_db()
    assert (late.status, late.late_cancellation, late.cancelled_by) == (S.CANCELLED, True, desk)
    assert missed.status == S.NO_SHOW
    assert ClientMessage.objects.filter(appointment=late, kind=ClientMessage.Kind.CANCELLED).exists()
    event = AuditEvent.objects.get(object_type="appointment", object_id=str(late.pk))
    assert (event.actor, event.detail) == (desk, "status booked -> cancelled")


def test_nothing_to_cancel_offers_no_button(client, desk, location):
    missed = _booked(location, hours_ahead=-3, status=S.NO_SHOW)
    html = _cancel(client, missed).content.decode()
    assert "Yes, cancel" not in html
    assert "Back to the appointments" in html
