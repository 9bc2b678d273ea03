"""/booking/<token>/: "Cancel my booking" asks first (with what cancelling now means), and the
move list neither offers nor accepts the booking's own time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Appointment, BookingPolicy, ClientMessage
from bookings.models_payments import Payment
from bookings.services.booking import AlreadyThatTime, appointment_reschedule
from bookings.tests.factories import (
    AppointmentFactory,
    BookingPolicyFactory,
    LocationFactory,
    PaymentFactory,
    technician_working,
)
from bookings.tokens import booking_token_make

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
START = datetime(2026, 12, 1, 10, tzinfo=UTC)  # a Tuesday; London is on UTC in December


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def location():
    location = LocationFactory(slug="manchester", name="Manchester Clinic", city="Manchester", postcode="M1 1AA")
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24, late_cancellation_hours=48)
    technician_working(location=location)
    return location


def _booking(location, start=START) -> Appointment:
    return AppointmentFactory(
        technician=location.technicians.get(),
        location=location,
        start=start,
        end=start + timedelta(minutes=45),
        channel="online",
    )


def _manage(appointment: Appointment) -> str:
    return reverse("bookings:manage", kwargs={"token": booking_token_make(appointment=appointment)})


class _Forms(HTMLParser):
    """The page's forms as a browser sees them: method, action and the inputs it would send."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: dict[str, dict] = {}
        self._current: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._current = {
                "method": (attrs.get("method") or "get").lower(),
                "action": attrs.get("action"),
                "data": {},
            }
            self.forms[attrs.get("id", f"form-{len(self.forms)}")] = self._current
        elif (
            tag == "input"
            and self._current is not None
            and attrs.get("name")
            and "disabled" not in attrs
            and (attrs.get("type") not in ("radio", "checkbox") or "checked" in attrs)
        ):
            self._current["data"][attrs["name"]] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def _submit(client, page_url: str, html: str, form_id: str):
    """Press the form's button the way a browser would (no JavaScript)."""
    form = _Forms(html).forms[form_id]
    url = form["action"] or page_url.split("?")[0]
    if form["method"] == "post":
        return client.post(url, form["data"])
    return client.get(url, form["data"])


def _start_values(html: str) -> set[str]:
    """The times the move form lets the client pick."""
    values = set()

    class Radios(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "input" and attrs.get("name") == "start" and "disabled" not in attrs:
                values.add(attrs["value"])

    Radios().feed(html)
    return values


# Cancelling asks first -----------------------------------------------------------------------


def test_cancel_my_booking_asks_first_then_cancels_and_offers_to_book_again(
    client, location, django_assert_max_num_queries
):
    booking = _booking(location)
    url = _manage(booking)
    page = client.get(url).content.decode()
    assert "Cancel my booking" in page

    with django_assert_max_num_queries(6):
        asked = _submit(client, url, page, "cancel-form")

    # Nothing has happened yet: the booking stands and nothing is queued for the client.
    booking.refresh_from_db()
    assert booking.status == Appointment.Status.BOOKED
    assert not ClientMessage.objects.filter(appointment=booking).exists()
    assert asked.status_code == 200
    html = unescape(asked.content.decode())
    assert "Cancel this booking?" in html
    assert "Tuesday 1 December 2026, 10:00" in html
    assert "Manchester Clinic" in html
    assert "Yes, cancel it" in html
    assert "Keep my booking" in html
    # A month ahead: neither late nor a deposit, so nothing about either.
    assert "late cancellation" not in html
    assert "deposit" not in html.lower()

    # "Keep my booking" goes back to the booking, still booked.
    assert f'href="{url}" id="cancel-keep"' in asked.content.decode()

    done = _submit(client, url, asked.content.decode(), "cancel-confirm-form")
    assert done.status_code == 302
    booking.refresh_from_db()
    assert booking.status == Appointment.Status.CANCELLED
    assert booking.late_cancellation is False
    kinds = set(ClientMessage.objects.filter(appointment=booking).values_list("kind", flat=True))
    assert kinds == {ClientMessage.Kind.CANCELLED}
    after = client.get(done["Location"]).content.decode()
    assert "Your booking has been cancelled" in after
    assert 'href="/book/?location=manchester"' in after
    assert "Cancel my booking" not in after


def test_the_confirmation_says_a_cancellation_is_late_and_what_the_deposit_rule_keeps(client, location):
    # 30 hours ahead: still cancellable online (24 hours' notice) but late (48 hours).
    booking = _booking(location, start=NOW + timedelta(hours=30))
    PaymentFactory(
        appointment=booking,
        client=booking.client,
        amount_minor=5000,
        terms={"refundable_until_hours": 48, "late_cancellation_forfeit_percent": 50, "no_show_forfeit_percent": 100},
    )
    url = _manage(booking)
    asked = client.get(url, {"confirm": "cancel"})
    assert asked.status_code == 200
    html = unescape(asked.content.decode())
    assert "less than 48 hours away, so Manchester Clinic will record this as a late cancellation" in html
    assert "£25.00 of your £50.00 deposit will be kept and £25.00 refunded" in html
    assert "book by phone" not in html  # late cancellations do not count towards the limit here
    assert not Payment.objects.exclude(kind=Payment.Kind.DEPOSIT).exists()

    assert client.post(url, {"action": "cancel"}).status_code == 302
    booking.refresh_from_db()
    assert booking.late_cancellation is True
    kept = Payment.objects.get(kind=Payment.Kind.FORFEIT)
    refund = Payment.objects.get(kind=Payment.Kind.REFUND)
    assert (kept.amount_minor, refund.amount_minor) == (2500, 2500)


def test_the_confirmation_says_an_early_cancellation_refunds_the_deposit(client, location):
    booking = _booking(location)
    PaymentFactory(appointment=booking, client=booking.client, amount_minor=5000, terms={"refundable_until_hours": 48})
    html = unescape(client.get(_manage(booking), {"confirm": "cancel"}).content.decode())
    assert "Your deposit of £50.00 will be refunded in full" in html
    assert "late cancellation" not in html


def test_the_confirmation_says_when_late_cancellations_count_towards_booking_by_phone(client, location):
    BookingPolicy.objects.filter(location=None).update(late_cancellations_count=True, no_show_limit=2)
    booking = _booking(location, start=NOW + timedelta(hours=30))
    html = unescape(client.get(_manage(booking), {"confirm": "cancel"}).content.decode())
    assert "once there are 2, we ask you to book by phone instead of online" in html


def test_inside_the_change_notice_the_confirmation_step_is_not_offered(client, location):
    booking = _booking(location, start=NOW + timedelta(hours=20))
    response = client.get(_manage(booking), {"confirm": "cancel"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Yes, cancel it" not in html
    assert "within 24 hours" in html


# Moving to the time it already has -------------------------------------------------------------


def test_the_move_list_shows_the_current_time_marked_and_does_not_offer_it(client, location):
    booking = _booking(location)
    response = client.get(_manage(booking), {"start": "2026-12-01"})
    assert response.status_code == 200
    html = response.content.decode()
    offered = _start_values(html)
    assert "2026-12-01T10:00:00+00:00" not in offered
    assert "2026-12-01T11:00:00+00:00" in offered  # its neighbours are offered as usual
    assert '10:00 <span class="small">(your current time)</span>' in html


@pytest.mark.parametrize("start", ["2026-12-01T10:00:00+00:00", "2026-12-01T11:00:00+01:00"])
def test_moving_to_the_same_time_says_so_and_queues_nothing(client, location, start):
    booking = _booking(location)
    before = (booking.start, booking.technician_id, booking.ics_sequence)
    response = client.post(_manage(booking), {"action": "reschedule", "start": start})
    assert response.status_code == 400
    html = unescape(response.content.decode())
    assert "That is already your booking's time" in html
    assert "has been moved" not in html
    booking.refresh_from_db()
    assert (booking.start, booking.technician_id, booking.ics_sequence) == before
    assert not ClientMessage.objects.filter(appointment=booking).exists()


def test_the_service_refuses_a_clients_move_to_the_same_time_but_staff_may_keep_it(location):
    booking = _booking(location)
    with pytest.raises(AlreadyThatTime):
        appointment_reschedule(appointment=booking, start=START, by_client=True)
    kept = appointment_reschedule(appointment=booking, start=START)  # staff: same time, nothing queued
    assert kept.start == START
    assert not ClientMessage.objects.filter(appointment=booking, kind=ClientMessage.Kind.MOVED).exists()
