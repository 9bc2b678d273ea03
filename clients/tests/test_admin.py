from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import AuditEvent
from clients.tests.conftest import PASSWORD
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db

CLINICAL_CHANGELISTS = [
    "admin:clients_sessionnote_changelist",
    "admin:clients_photo_changelist",
    "admin:clients_auditevent_changelist",
]


def test_reception_cannot_open_clinical_models_or_the_audit_trail(client, clinic):
    client.login(username="desk", password=PASSWORD)
    for name in CLINICAL_CHANGELISTS:
        assert client.get(reverse(name)).status_code == 403, name
    index = client.get(reverse("admin:index")).content.decode()
    for label in ("Session notes", "Photos", "Audit events"):
        assert label not in index


def test_reception_sees_contact_details_without_the_assessment_inline(client, clinic):
    client.login(username="desk", password=PASSWORD)
    response = client.get(reverse("admin:clients_client_change", args=[clinic["client"].pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert clinic["client"].email in body
    assert "Keloid scarring" not in body
    assert "Nickel" not in body


def test_the_manager_sees_the_audit_trail_read_only(client, clinic):
    login_as(client, clinic["manager"])
    client.get(reverse("staff:appointment", args=[clinic["session"].pk]))
    event = AuditEvent.objects.get(action="view")
    assert client.get(reverse("admin:clients_auditevent_changelist")).status_code == 200
    assert client.get(reverse("admin:clients_auditevent_change", args=[event.pk])).status_code == 200
    assert client.post(reverse("admin:clients_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:clients_auditevent_add")).status_code == 403


def test_a_change_made_in_the_admin_is_audited_by_field_name(client, clinic):
    client.login(username="desk", password=PASSWORD)
    c = clinic["client"]
    url = reverse("admin:clients_client_change", args=[c.pk])
    data = {
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": c.email,
        "phone": "07700 900999",
        "date_of_birth": c.date_of_birth.isoformat() if c.date_of_birth else "",
        "preferred_channel": "email",
        "reminders_opt_in": "on",
        "consents-TOTAL_FORMS": "0",
        "consents-INITIAL_FORMS": "0",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(object_type="client", action="update")
    assert event.fields == ["phone"]
    assert event.actor == clinic["reception"]
    assert "07700" not in event.detail


def test_a_photo_goes_on_the_results_page_only_with_active_marketing_consent(client, clinic):
    from clients.tests.factories import ConsentRecordFactory, ConsentWordingFactory

    photo = clinic["photo"]
    login_as(client, clinic["manager"])
    url = reverse("admin:clients_photo_change", args=[photo.pk])
    data = {
        "client": photo.client_id,
        "appointment": photo.appointment_id,
        "angle": photo.angle,
        "phase": photo.phase,
        "taken_at_0": "01/01/2026",
        "taken_at_1": "10:00",
        "marketing_consent": "on",
        "caption": "",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert "no active consent to marketing use of photos" in response.content.decode()
    photo.refresh_from_db()
    assert photo.marketing_consent is False

    ConsentRecordFactory(client=photo.client, wording=ConsentWordingFactory(kind="marketing_photos", version=1))
    assert client.post(url, data).status_code == 302
    photo.refresh_from_db()
    assert photo.marketing_consent is True


def test_clinical_pages_in_the_admin_log_the_view(client, clinic):
    login_as(client, clinic["manager"])
    assert client.get(reverse("admin:clients_sessionnote_change", args=[clinic["note"].pk])).status_code == 200
    assert client.get(reverse("admin:clients_client_change", args=[clinic["client"].pk])).status_code == 200
    views = set(AuditEvent.objects.filter(action="view", actor=clinic["manager"]).values_list("object_type", "detail"))
    assert views == {("sessionnote", "admin"), ("client_record", "admin")}
    record_view = AuditEvent.objects.get(action="view", object_type="client_record", actor=clinic["manager"])
    assert record_view.fields == ["assessments", "patch_tests"]  # the clinical inlines the page shows


def test_reception_opening_a_client_in_the_admin_is_not_a_clinical_view(client, clinic):
    client.login(username="desk", password=PASSWORD)
    assert client.get(reverse("admin:clients_client_change", args=[clinic["client"].pk])).status_code == 200
    assert not AuditEvent.objects.filter(action="view").exists()
