"""The waiting list: joining it, a freed time offered in join order through the outbox,
the first claim booking it through the booking service, and everyone else told it has gone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from bookings import tasks  # noqa: F401 - registers the task the cancel and move hand the freed time to
from bookings.models import Appointment, ClientMessage, WaitlistEntry, WaitlistOffer, WaitlistRelease
from bookings.services.appointments import appointment_staff_cancel, appointment_staff_move
from bookings.services.booking import appointment_book, appointment_cancel
from bookings.services.outbox import reminders_dispatch
from bookings.services.waitlist import waitlist_expire, waitlist_release_offer
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, WaitlistEntryFactory, technician_working
from clients.models import AuditEvent, ConsentWording
from clients.tests.factories import ClientFactory, ConsentWordingFactory, staff_user
from smpclinic.celery import app as celery_app

pytestmark = pytest.mark.django_db
JOIN = reverse("bookings:waitlist_join")
# Monday 2 November 2026, 08:00 London (GMT).
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
FREED = datetime(2026, 11, 10, 10, tzinfo=UTC)  # a Tuesday a week ahead
Kind = ClientMessage.Kind


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def eager_tasks():
    """The freed-time task runs in place when the cancel commits (the real task, no broker)."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_eager_propagates = False


@pytest.fixture
def location():
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="manchester", name="Manchester", phone="0161 496 0000")
    technician_working(location=location)
    return location


def _join_data(**overrides):
    return {
        "location": "manchester",
        "treatment": "",
        "earliest_date": "2026-11-05",
        "latest_date": "2026-11-20",
        "first_name": "Jo",
        "last_name": "Waiting",
        "email": "jo@example.com",
        "phone": "07700 900111",
        **overrides,
    }


def _entry(location, first_day: int, last_day: int, *, days_ago: int = 1, **fields) -> WaitlistEntry:
    """An entry for days of November 2026, joined `days_ago` days before NOW."""
    return WaitlistEntryFactory(
        location=location,
        earliest_date=date(2026, 11, first_day),
        latest_date=date(2026, 11, last_day),
        joined_at=NOW - timedelta(days=days_ago),
        **fields,
    )


def _booked_at(location, start=FREED) -> Appointment:
    return appointment_book(
        client=ClientFactory(), location=location, kind=Appointment.Kind.CONSULTATION, start=start, channel="phone"
    )


def _links(mailoutbox) -> dict[str, str]:
    return {m.to[0]: re.search(r"https?://\S+/book/waitlist/offer/\S+/", m.body).group(0) for m in mailoutbox}


# Joining -----------------------------------------------------------------------------------


def test_the_join_form_is_prefilled_from_the_booking_page_link(client, location):
    response = client.get(JOIN, {"location": "manchester"})
    assert response.status_code == 200
    assert '<option value="manchester" selected>' in response.content.decode()


def test_joining_records_the_entry_audits_it_and_confirms_by_email_through_the_outbox(client, location, mailoutbox):
    response = client.post(JOIN, _join_data())
    assert response.status_code == 302
    assert response["Location"] == reverse("bookings:waitlist_joined")
    entry = WaitlistEntry.objects.get()
    assert (entry.earliest_date, entry.latest_date, entry.phone) == (
        date(2026, 11, 5),
        date(2026, 11, 20),
        "+447700900111",
    )
    assert AuditEvent.objects.filter(object_type="waitlistentry", object_id=str(entry.pk), action="create").exists()
    message = ClientMessage.objects.get(waitlist_entry=entry)
    assert message.kind == Kind.WAITLIST_JOINED
    assert mailoutbox == []  # nothing is sent in the request
    reminders_dispatch(now=NOW)
    (mail,) = mailoutbox
    assert mail.to == ["jo@example.com"]
    assert "waiting list" in mail.subject
    assert "Thursday 5 November 2026 until Friday 20 November 2026" in mail.body


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"earliest_date": ""}, "earliest_date", "Choose the first day you could come."),
        ({"earliest_date": "nonsense"}, "earliest_date", "Enter a date."),
        ({"latest_date": "2026-11-04"}, "latest_date", "The last day must be on or after the first day."),
        ({"earliest_date": "2026-10-01"}, "earliest_date", "Choose today or a later day."),
        ({"latest_date": "2031-01-01"}, "latest_date", "Choose a day within the next year."),
        ({"location": "atlantis"}, "location", "Choose a clinic from the list."),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"earliest_date": "2026-11-05\x00"}, None, None),
    ],
)
def test_bad_input_to_the_join_form_is_a_clear_400(client, location, overrides, field, message):
    response = client.post(JOIN, _join_data(**overrides))
    assert response.status_code == 400
    if field:
        assert message in response.context["form"].errors[field]
    assert not WaitlistEntry.objects.exists()


# Offers ------------------------------------------------------------------------------------


def test_a_cancellation_offers_the_time_to_the_waiting_in_join_order(
    location, eager_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    appointment = _booked_at(location)
    first = _entry(location, 5, 20, days_ago=3, email="first@example.com")
    second = _entry(location, 10, 10, days_ago=1, email="second@example.com")
    # Joined between them, but their days do not cover the freed time, or another clinic.
    _entry(location, 11, 30, days_ago=2)
    _entry(LocationFactory(), 5, 20, days_ago=4)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        appointment_staff_cancel(appointment=appointment, by=staff_user(role="Reception"))

    release = WaitlistRelease.objects.get()
    assert (release.location, release.start, release.freed_from_id) == (location, FREED, appointment.pk)
    offers = list(release.offers.order_by("position"))
    assert [(o.entry, o.position) for o in offers] == [(first, 1), (second, 2)]
    queued = ClientMessage.objects.filter(kind=Kind.WAITLIST_OFFER).order_by("due_at", "id")
    assert [m.waitlist_entry for m in queued] == [first, second]

    reminders_dispatch(now=NOW)
    offers_sent = [m for m in mailoutbox if "is free" in m.subject]
    assert [m.to[0] for m in offers_sent] == ["first@example.com", "second@example.com"]
    assert "Tuesday 10 November 2026 at 10:00" in offers_sent[0].body
    links = _links(offers_sent)
    assert links["first@example.com"] != links["second@example.com"]


def test_a_move_offers_the_time_it_left(location, eager_tasks, django_capture_on_commit_callbacks):
    appointment = _booked_at(location)
    entry = WaitlistEntryFactory(location=location, earliest_date=date(2026, 11, 10), latest_date=date(2026, 11, 10))
    with django_capture_on_commit_callbacks(execute=True):
        appointment_staff_move(
            appointment=appointment, start=FREED + timedelta(days=1), by=staff_user(role="Reception")
        )
    release = WaitlistRelease.objects.get()
    assert release.start == FREED
    assert release.offers.get().entry == entry


def test_a_client_cancelling_by_their_link_frees_the_time_too(
    location, eager_tasks, django_capture_on_commit_callbacks
):
    appointment = _booked_at(location)
    WaitlistEntryFactory(location=location, earliest_date=date(2026, 11, 10), latest_date=date(2026, 11, 10))
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(appointment=appointment, by_client=True)
    assert WaitlistRelease.objects.get().offers.count() == 1


def test_a_freed_time_inside_the_minimum_notice_is_not_offered(location):
    WaitlistEntryFactory(location=location, earliest_date=date(2026, 11, 2), latest_date=date(2026, 11, 3))
    soon = datetime(2026, 11, 2, 15, tzinfo=UTC)  # 7 hours away: online booking needs 12
    assert waitlist_release_offer(location_id=location.pk, start=soon) is None
    assert not WaitlistRelease.objects.exists()


# Claims ------------------------------------------------------------------------------------


@pytest.fixture
def offered(location):
    """A freed Tuesday 10:00 offered to two waiting clients (first joined first)."""
    first = _entry(location, 5, 20, days_ago=2, email="first@example.com", last_name="First")
    second = _entry(location, 5, 20, days_ago=1, email="second@example.com")
    release = waitlist_release_offer(location_id=location.pk, start=FREED)
    return release, first, second


def _claim_url(offer: WaitlistOffer) -> str:
    from bookings.tokens import waitlist_offer_token_make

    return reverse("bookings:waitlist_claim", args=[waitlist_offer_token_make(offer_id=offer.pk)])


def test_the_first_claim_books_the_time_and_the_others_are_told_it_has_gone(client, offered, mailoutbox):
    release, first, second = offered
    second_offer, first_offer = release.offers.get(entry=second), release.offers.get(entry=first)
    # Opening the link books nothing (mail scanners open links): it shows the time and a button.
    page = client.get(_claim_url(second_offer))
    assert page.status_code == 200
    assert "Tuesday 10 November 2026, 10:00" in page.content.decode()
    assert not Appointment.objects.filter(start=FREED, status="booked").exists()

    response = client.post(_claim_url(second_offer), {"health_consent": "on"})
    assert response.status_code == 302
    assert "/book/booked/" in response["Location"]
    appointment = Appointment.objects.get(start=FREED, status__in=Appointment.ACTIVE_STATUSES)
    assert appointment.client.email == "second@example.com"
    assert appointment.channel == Appointment.Channel.ONLINE
    second.refresh_from_db()
    assert (second.status, second.appointment) == (WaitlistEntry.Status.BOOKED, appointment)
    release.refresh_from_db()
    assert release.status == WaitlistRelease.Status.CLAIMED
    first_offer.refresh_from_db()
    assert first_offer.status == WaitlistOffer.Status.GONE
    assert ClientMessage.objects.filter(waitlist_entry=first, kind=Kind.WAITLIST_GONE).count() == 1
    assert not ClientMessage.objects.filter(waitlist_entry=second, kind=Kind.WAITLIST_GONE).exists()

    # The first-joined client's link now says sorry, and books nothing.
    late = client.post(_claim_url(first_offer), {"health_consent": "on"})
    assert late.status_code == 410
    assert "Sorry, that time has gone" in late.content.decode()
    assert Appointment.objects.filter(start=FREED, status__in=Appointment.ACTIVE_STATUSES).count() == 1

    reminders_dispatch(now=NOW)
    subjects = {(m.to[0], m.subject) for m in mailoutbox}
    assert ("first@example.com", "The time on Tuesday 10 November 2026 has gone") in subjects
    # The offer to the first was superseded before it went: the outbox skips it at send time.
    assert not any(to == "first@example.com" and "is free" in subject for to, subject in subjects)
    # The booking's own confirmation goes to the client who claimed it.
    assert any(to == "second@example.com" and "consultation is booked" in subject for to, subject in subjects)


def test_a_claim_without_consent_is_a_clear_400(client, offered):
    release, first, _ = offered
    response = client.post(_claim_url(release.offers.get(entry=first)), {})
    assert response.status_code == 400
    assert "consent" in response.content.decode()
    assert not Appointment.objects.filter(start=FREED, status="booked").exists()


def test_a_time_booked_another_way_meanwhile_is_gone_for_everyone(client, offered, location):
    release, first, second = offered
    _booked_at(location)  # reception booked it by phone before anyone claimed
    response = client.post(_claim_url(release.offers.get(entry=first)), {"health_consent": "on"})
    assert response.status_code == 410
    release.refresh_from_db()
    assert release.status == WaitlistRelease.Status.GONE
    assert ClientMessage.objects.filter(kind=Kind.WAITLIST_GONE, waitlist_entry__in=[first, second]).count() == 2


def test_an_offer_expires_when_its_time_passes(client, offered):
    release, first, _ = offered
    url = _claim_url(release.offers.get(entry=first))
    with time_machine.travel(FREED + timedelta(minutes=1), tick=False):
        assert client.get(url).status_code == 410
        assert waitlist_expire() == {"releases": 1, "entries": 0}
    release.refresh_from_db()
    assert release.status == WaitlistRelease.Status.GONE
    assert set(release.offers.values_list("status", flat=True)) == {WaitlistOffer.Status.EXPIRED}


def test_a_claim_inside_the_change_window_needs_the_notice_accepted(client, location):
    entry = WaitlistEntryFactory(location=location, earliest_date=date(2026, 11, 3), latest_date=date(2026, 11, 3))
    soon = datetime(2026, 11, 3, 9, tzinfo=UTC)  # 25 hours ahead now; claimed 2 hours later it is 23
    release = waitlist_release_offer(location_id=location.pk, start=soon)
    url = _claim_url(release.offers.get(entry=entry))
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        page = client.get(url).content.decode()
        assert 'id="change-window-notice"' in page
        refused = client.post(url, {"health_consent": "on"})
        assert refused.status_code == 400
        assert not Appointment.objects.filter(start=soon).exists()
        booked = client.post(url, {"health_consent": "on", "late_change_accepted": "on"})
    assert booked.status_code == 302


def test_a_tampered_link_is_404(client, offered):
    assert client.get(reverse("bookings:waitlist_claim", args=["nonsense"])).status_code == 404


def test_staff_withdraw_an_entry_in_the_admin_through_the_service(admin_client, offered):
    release, first, _ = offered
    url = reverse("admin:bookings_waitlistentry_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200
    response = admin_client.post(url, {"action": "withdraw_entries", "_selected_action": [first.pk]})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.status == WaitlistEntry.Status.WITHDRAWN
    assert release.offers.get(entry=first).status == WaitlistOffer.Status.EXPIRED
    assert AuditEvent.objects.filter(
        object_type="waitlistentry", object_id=str(first.pk), detail="withdrawn by staff"
    ).exists()


def test_the_waiting_list_admin_is_for_staff_only(client, offered):
    response = client.get(reverse("admin:bookings_waitlistentry_changelist"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]
