"""Who booked: a public booking under someone else's e-mail reaches nothing of theirs until the
address's owner confirms through the signed link, or reception matches it in the admin."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from bookings.models import Appointment, ClientMessage
from bookings.services.outbox import reminders_dispatch
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from bookings.tokens import booking_token_make, identity_token_make
from clients.models import AuditEvent, Client, ConsentRecord, ConsentWording
from clients.tests.factories import ClientFactory, ConsentWordingFactory, PhotoFactory, staff_user

pytestmark = pytest.mark.django_db
BOOK = reverse("bookings:book")
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
SLOT = "2026-12-01T10:00:00+00:00"


@pytest.fixture(autouse=True)
def frozen():
    cache.clear()
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
    cache.clear()


@pytest.fixture
def manchester():
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="manchester", name="Manchester")
    technician_working(location=location)
    return location


@pytest.fixture
def sam(manchester):
    """A client of long standing: details, no online consent, no marketing."""
    return ClientFactory(first_name="Sam", last_name="Taylor", email="sam@example.com", phone="07700 900111")


def _book(http, **overrides):
    data = {
        "location": "manchester",
        "treatment": "",
        "start": SLOT,
        "first_name": "Mallory",
        "last_name": "Impostor",
        "email": "sam@example.com",
        "phone": "07700 900999",
        "description": "Not really Sam.",
        "health_consent": "on",
        "date_of_birth": "1985-03-14",
        "marketing_opt_in": "on",
        "website": "",
        **overrides,
    }
    response = http.post(BOOK, data)
    assert response.status_code == 302, response.content.decode()[:500]
    return Appointment.objects.order_by("-pk").first()


def _confirm_url(appointment, *, marketing=True) -> str:
    return reverse(
        "bookings:identity_confirm", args=[identity_token_make(appointment=appointment, marketing_opt_in=marketing)]
    )


def _snapshot(client: Client) -> tuple:
    client.refresh_from_db()
    return (
        client.first_name,
        client.last_name,
        client.phone,
        client.marketing_email_opt_in,
        client.consents.count(),
        client.appointments.count(),
    )


def test_a_booking_under_another_clients_email_changes_nothing_of_theirs_until_the_link_is_used(client, sam):
    before = _snapshot(sam)

    appointment = _book(client)

    assert _snapshot(sam) == before
    provisional = appointment.client
    assert provisional.pk != sam.pk
    assert (provisional.first_name, provisional.phone) == ("Mallory", "07700 900999")
    assert (provisional.match_of, provisional.match_status) == (sam, Client.MatchStatus.PENDING)
    assert provisional.marketing_email_opt_in is False
    booked_page = client.get(reverse("bookings:booked", args=[booking_token_make(appointment=appointment)]))
    assert "07700 900111" not in booked_page.content.decode()

    assert client.post(_confirm_url(appointment)).status_code == 200

    sam.refresh_from_db()
    assert (sam.first_name, sam.phone) == ("Sam", "07700 900111")
    assert sam.marketing_email_opt_in is True
    assert list(sam.appointments.all()) == [appointment]
    assert sam.consents.get().wording.kind == ConsentWording.Kind.HEALTH_DATA
    assert not Client.objects.filter(pk=provisional.pk).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MERGE, client_id_ref=sam.pk, actor=None).exists()


def test_a_brand_new_address_keeps_its_health_consent_at_once_and_marketing_after_the_link(client, manchester):
    appointment = _book(client, email="new@example.com")
    new = appointment.client
    assert (new.match_of, new.match_status) == (None, "")
    assert new.consents.get().wording.kind == ConsentWording.Kind.HEALTH_DATA
    assert new.marketing_email_opt_in is False

    client.post(_confirm_url(appointment))

    new.refresh_from_db()
    assert new.marketing_email_opt_in is True
    appointment.refresh_from_db()
    assert appointment.email_confirmed_at == NOW


def test_opening_the_link_only_shows_a_button_so_scanners_confirm_nothing(client, sam):
    appointment = _book(client)
    before = _snapshot(sam)

    page = client.get(_confirm_url(appointment))

    assert page.status_code == 200
    assert 'method="post"' in page.content.decode()
    assert "Sam" not in page.content.decode()
    assert _snapshot(sam) == before
    appointment.refresh_from_db()
    assert appointment.email_confirmed_at is None


def test_a_link_older_than_seven_days_has_expired(client, sam, frozen):
    appointment = _book(client)
    url = _confirm_url(appointment)
    before = _snapshot(sam)

    frozen.shift(timedelta(days=7, minutes=1))

    assert client.get(url).status_code == 410
    assert client.post(url).status_code == 410
    assert _snapshot(sam) == before


def test_a_tampered_link_or_a_manage_link_is_not_recognised(client, sam):
    appointment = _book(client)
    token = identity_token_make(appointment=appointment, marketing_opt_in=False)
    head, sep, tail = token.rpartition(":")
    tampered = f"{head}{sep}{'A' if tail[0] != 'A' else 'B'}{tail[1:]}"
    before = _snapshot(sam)

    for bad in (tampered, token[:-3], booking_token_make(appointment=appointment), "nonsense"):
        url = reverse("bookings:identity_confirm", args=[bad])
        assert client.get(url).status_code == 404, bad
        assert client.post(url).status_code == 404, bad

    assert _snapshot(sam) == before


def test_a_used_link_replayed_changes_nothing_even_after_the_client_opted_out(client, sam):
    appointment = _book(client)
    url = _confirm_url(appointment)
    assert client.post(url).status_code == 200
    Client.objects.filter(pk=sam.pk).update(marketing_email_opt_in=False)
    events = AuditEvent.objects.count()

    replay = client.post(url)

    assert replay.status_code == 200
    assert "Already confirmed" in replay.content.decode()
    sam.refresh_from_db()
    assert sam.marketing_email_opt_in is False
    assert AuditEvent.objects.count() == events


def test_confirming_a_shared_address_leaves_the_match_to_reception(client, sam):
    ClientFactory(email="sam@example.com", match_of=sam, match_status=Client.MatchStatus.SEPARATE)
    appointment = _book(client)

    client.post(_confirm_url(appointment))

    appointment.refresh_from_db()
    assert appointment.client.match_status == Client.MatchStatus.PENDING
    assert appointment.email_confirmed_at == NOW
    assert not sam.appointments.exists()


def test_a_technician_elsewhere_who_books_under_a_clients_email_still_cannot_open_their_record(client, sam, manchester):
    photo = PhotoFactory(client=sam)
    AppointmentFactory(client=sam, location=manchester)
    leeds = LocationFactory(slug="leeds", name="Leeds")
    leeds_tech = staff_user(role="Technician", username="leedstech")
    technician_working(location=leeds, user=leeds_tech)
    client.force_login(leeds_tech)

    appointment = _book(client, location="leeds")

    assert appointment.location == leeds
    for url in (
        reverse("staff:client", args=[sam.pk]),
        reverse("staff:compare", args=[sam.pk]),
        reverse("staff:photo_file", args=[photo.pk, "thumb"]),
        reverse("staff:photo_file", args=[photo.pk, "full"]),
    ):
        assert client.get(url).status_code == 404, url
    # The booking itself is theirs to work on: the record of the details as given, flagged.
    page = client.get(reverse("staff:client", args=[appointment.client_id]))
    assert page.status_code == 200
    assert 'id="identity-unconfirmed"' in page.content.decode()
    appointment_page = client.get(reverse("staff:appointment", args=[appointment.pk])).content.decode()
    assert 'id="identity-unconfirmed"' in appointment_page


def test_reception_sees_bookings_to_match_and_merges_one_with_an_audit_row(client, sam, django_assert_max_num_queries):
    appointment = _book(client)
    _book(client, email="other@example.com", start="2026-12-01T11:00:00+00:00")
    provisional = appointment.client
    desk = staff_user(role="Reception", username="desk")
    client.force_login(desk)
    changelist = reverse("admin:bookings_bookingtomatch_changelist")

    with django_assert_max_num_queries(12):
        listing = client.get(changelist)
    assert listing.status_code == 200
    html = listing.content.decode()
    assert appointment.reference in html
    assert "other@example.com" not in html
    detail = client.get(reverse("admin:bookings_bookingtomatch_change", args=[provisional.pk]))
    assert detail.status_code == 200
    assert "Mallory" in detail.content.decode()

    response = client.post(changelist, {"action": "merge_into_match", "_selected_action": [provisional.pk], "index": 0})

    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.client_id == sam.pk
    assert not Client.objects.filter(pk=provisional.pk).exists()
    audit = AuditEvent.objects.get(action=AuditEvent.Action.MERGE, client_id_ref=sam.pk)
    assert audit.actor == desk
    assert "appointments" in audit.fields
    assert ConsentRecord.objects.filter(client=sam).count() == 1
    # Reception's merge is not the owner's opt-in.
    sam.refresh_from_db()
    assert sam.marketing_email_opt_in is False


def test_reception_marks_a_different_person_sharing_the_address(client, sam):
    appointment = _book(client)
    desk = staff_user(role="Reception", username="desk")
    client.force_login(desk)
    changelist = reverse("admin:bookings_bookingtomatch_changelist")

    client.post(changelist, {"action": "mark_different_person", "_selected_action": [appointment.client_id]})

    appointment.refresh_from_db()
    assert appointment.client.match_status == Client.MatchStatus.SEPARATE
    assert not sam.appointments.exists()
    assert appointment.reference not in client.get(changelist).content.decode()
    assert AuditEvent.objects.filter(actor=desk, object_id=str(appointment.client_id), fields=["match_status"]).exists()


def test_a_technician_cannot_reach_the_bookings_to_match(client, sam):
    _book(client)
    client.force_login(staff_user(role="Technician", username="tech"))
    assert client.get(reverse("admin:bookings_bookingtomatch_changelist")).status_code in (302, 403)


def _identity_messages(appointment):
    return list(ClientMessage.objects.filter(appointment=appointment, kind=ClientMessage.Kind.IDENTITY_CONFIRM))


def test_the_link_reaches_the_address_through_the_outbox_and_links_the_booking(client, sam, mailoutbox):
    appointment = _book(client)

    assert mailoutbox == []  # nothing is sent inside the request
    (queued,) = _identity_messages(appointment)
    assert (queued.channel, queued.payload["marketing_opt_in"]) == (ClientMessage.Channel.EMAIL, True)

    reminders_dispatch(now=NOW)

    (mail,) = [m for m in mailoutbox if m.extra_headers["X-SMP-Outbox-Id"] == str(queued.pk)]
    assert mail.to == ["sam@example.com"]
    assert "07700 900111" not in mail.body
    (url,) = re.findall(r"https?://\S+/book/confirm/\S+/", mail.body)
    assert client.post(urlsplit(url).path).status_code == 200
    sam.refresh_from_db()
    assert list(sam.appointments.all()) == [appointment]
    assert sam.marketing_email_opt_in is True


def test_a_new_address_that_asks_for_no_news_gets_no_link(client, manchester):
    appointment = _book(client, email="new@example.com", marketing_opt_in="")
    assert _identity_messages(appointment) == []


def test_the_link_is_not_sent_once_the_address_is_confirmed(client, sam, mailoutbox):
    appointment = _book(client)
    client.post(_confirm_url(appointment))

    reminders_dispatch(now=NOW)

    (queued,) = _identity_messages(appointment)
    assert queued.status == ClientMessage.Status.CANCELLED
    assert "confirmed already" in queued.last_error
