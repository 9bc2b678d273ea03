"""Erasure reaches the waiting list: the entry a client booked from, and any other under their
address, keep no name, e-mail or phone, and get no more offers or messages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bookings.models import ClientMessage, WaitlistEntry, WaitlistOffer
from bookings.tests.factories import ClientMessageFactory, WaitlistEntryFactory, WaitlistOfferFactory
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db


def test_erasing_a_client_erases_their_waiting_list_entries(client, clinic, django_capture_on_commit_callbacks):
    person = clinic["client"]
    booked_from = WaitlistEntryFactory(
        location=clinic["here"],
        first_name=person.first_name,
        last_name=person.last_name,
        email=person.email,
        phone=str(person.phone),
        status=WaitlistEntry.Status.BOOKED,
        appointment=clinic["consultation"],
    )
    offer = WaitlistOfferFactory(
        release__location=clinic["here"],
        entry__first_name=person.first_name,
        entry__email=person.email.upper(),
    )
    still_waiting = offer.entry
    owed = ClientMessageFactory(
        appointment=None,
        waitlist_entry=still_waiting,
        kind=ClientMessage.Kind.WAITLIST_OFFER,
        payload={"offer": offer.pk},
        due_at=offer.release.start,
    )
    someone_else = WaitlistEntryFactory(location=clinic["here"])
    login_as(client, clinic["manager"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("staff:erase", args=[person.pk]), {"confirm": "ERASE"})

    assert response.status_code == 302
    for entry in (booked_from, still_waiting):
        entry.refresh_from_db()
        assert (entry.first_name, entry.last_name, entry.email, entry.phone) == ("Erased", "client", "", "")
    assert booked_from.status == WaitlistEntry.Status.BOOKED
    assert still_waiting.status == WaitlistEntry.Status.WITHDRAWN
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.EXPIRED
    owed.refresh_from_db()
    assert owed.status == ClientMessage.Status.CANCELLED
    someone_else.refresh_from_db()
    assert someone_else.first_name == "Robin"
    assert someone_else.status == WaitlistEntry.Status.WAITING
