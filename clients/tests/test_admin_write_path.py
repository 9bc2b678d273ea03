"""The client admin writes through the client services: client edits, consents given and withdrawn
inline, session notes and photos each leave their audit row with the staff member as actor."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from clients.models import AuditEvent, Client, ConsentRecord
from clients.tests.conftest import PASSWORD
from clients.tests.factories import ConsentRecordFactory, ConsentWordingFactory
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db


def _client_form(client, record: Client, **extra) -> dict:
    page = client.get(reverse("admin:clients_client_change", args=[record.pk])).content.decode()
    data = dict(re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d*)"', page))
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="((?:consents|assessments)-\d+-id)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and value:
            data[name.group(1)] = value.group(1)
    data.update(
        {
            "first_name": record.first_name,
            "last_name": record.last_name,
            "email": record.email,
            "phone": record.phone,
            "preferred_channel": record.preferred_channel,
            "reminders_opt_in": "on",
            **extra,
        }
    )
    return data


def _errors(response) -> list[str]:
    return re.findall(r"errorlist[^>]*>(.*?)</ul>", response.content.decode(), re.S)


def test_a_client_added_in_the_admin_is_created_by_the_service_and_audited(client, clinic):
    client.login(username="desk", password=PASSWORD)
    response = client.post(
        reverse("admin:clients_client_add"),
        {
            "first_name": "Sam",
            "last_name": "Smith",
            "email": "sam@example.com",
            "phone": "07700 900123",
            "preferred_channel": "email",
            "reminders_opt_in": "on",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, _errors(response)
    created = Client.objects.get(email="sam@example.com")
    event = AuditEvent.objects.get(object_type="client", action="create")
    assert (event.actor, event.object_id, event.client_id_ref) == (clinic["reception"], str(created.pk), created.pk)
    assert {"first_name", "last_name", "email", "phone"} <= set(event.fields)


def test_a_consent_withdrawn_inline_goes_through_the_consent_service(client, clinic):
    record = clinic["client"]
    Client.objects.filter(pk=record.pk).update(marketing_email_opt_in=True)
    consent = ConsentRecordFactory(client=record, wording=ConsentWordingFactory(kind="marketing_messages", version=1))
    login_as(client, clinic["manager"])
    data = _client_form(client, record, **{"consents-0-withdraw": "on", "consents-0-withdrawal_note": "By phone"})
    data.update({"consents-0-client": record.pk, "assessments-TOTAL_FORMS": "0", "assessments-INITIAL_FORMS": "0"})
    response = client.post(reverse("admin:clients_client_change", args=[record.pk]), data)
    assert response.status_code == 302, _errors(response)
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert consent.withdrawal_note == "By phone"
    record.refresh_from_db()
    # What the service does and a bare save would not: marketing stops at once.
    assert record.marketing_email_opt_in is False
    event = AuditEvent.objects.get(object_type="consentrecord", action="withdraw")
    assert (event.actor, event.object_id, event.fields) == (clinic["manager"], str(consent.pk), ["withdrawn_at"])


def test_a_given_consent_cannot_be_rewritten_inline(client, clinic):
    record = clinic["client"]
    consent = ConsentRecordFactory(client=record, signed_name="Sam Smith")
    login_as(client, clinic["manager"])
    data = _client_form(client, record, **{"consents-0-signed_name": "Someone Else"})
    data.update({"consents-0-client": record.pk, "assessments-TOTAL_FORMS": "0", "assessments-INITIAL_FORMS": "0"})
    client.post(reverse("admin:clients_client_change", args=[record.pk]), data)
    consent.refresh_from_db()
    assert consent.signed_name == "Sam Smith"
    assert not AuditEvent.objects.filter(object_type="consentrecord").exists()
    assert ConsentRecord.objects.filter(client=record).count() == 1


def test_a_session_note_changed_in_the_admin_is_saved_by_the_service_and_audited(client, clinic):
    note = clinic["note"]
    note.author = clinic["technician"].user
    note.save()
    login_as(client, clinic["manager"])
    response = client.post(
        reverse("admin:clients_sessionnote_change", args=[note.pk]),
        {
            "areas": '["hairline"]',
            "reactions": "[]",
            "depth": "deeper",
            "next_time_notes": note.next_time_notes,
            # The batches used (bookings' inline on this page): none.
            "batch_uses-TOTAL_FORMS": "0",
            "batch_uses-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, re.findall(r"errors field-(\w+)", response.content.decode())
    note.refresh_from_db()
    assert note.depth == "deeper"
    event = AuditEvent.objects.get(object_type="sessionnote", action="update")
    assert (event.actor, event.object_id, event.client_id_ref) == (
        clinic["manager"],
        str(note.pk),
        clinic["client"].pk,
    )
    assert event.fields == ["depth"]


def test_a_photo_changed_in_the_admin_is_saved_by_the_service_and_audited(client, clinic):
    photo = clinic["photo"]
    login_as(client, clinic["manager"])
    response = client.post(
        reverse("admin:clients_photo_change", args=[photo.pk]),
        {
            "appointment": photo.appointment_id,
            "angle": "crown",
            "phase": photo.phase,
            "taken_at_0": "01/01/2026",
            "taken_at_1": "10:00",
            "caption": "",
        },
    )
    assert response.status_code == 302, _errors(response)
    photo.refresh_from_db()
    assert photo.angle == "crown"
    event = AuditEvent.objects.get(object_type="photo", action="update")
    assert event.actor == clinic["manager"]
    assert "angle" in event.fields
