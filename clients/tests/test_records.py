"""Assessments, session notes, consent, export and erasure through the staff pages and services."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Assessment, AuditEvent, Client, ConsentRecord, ConsentWording, Photo, SessionNote
from clients.tests.factories import ConsentRecordFactory, ConsentWordingFactory, PhotoFactory

pytestmark = pytest.mark.django_db


def login(client, username):
    from django.contrib.auth import get_user_model

    from smpclinic.tests.logins import login_as

    login_as(client, get_user_model().objects.get(username=username))
    return client


def test_the_appointment_page_puts_contraindications_and_allergies_in_an_alert(client, clinic):
    response = login(client, "tech").get(reverse("staff:appointment", args=[clinic["session"].pk]))
    body = response.content.decode()
    alert = body[body.index('id="clinical-warnings"') : body.index("</div>", body.index('id="clinical-warnings"'))]
    assert 'role="alert"' in body
    assert "Keloid scarring" in alert
    assert "Nickel" in alert
    assert "Darken the crown slightly" in body  # last session's notes for next time
    assert AuditEvent.objects.filter(action="view", object_type="client_record", actor__username="tech").count() == 1


def test_a_technician_records_an_assessment_and_the_change_is_audited_without_health_text(client, clinic):
    http = login(client, "tech")
    url = reverse("staff:assessment", args=[clinic["consultation"].pk])
    data = {
        "hair_loss_type": "male_pattern",
        "stage": "N4",
        "skin_type": "oily",
        "contraindications": "Keloid scarring",
        "allergies": "Latex",
        "suitability": "suitable",
    }
    assert http.post(url, data).status_code == 302
    assessment = Assessment.objects.get(appointment=clinic["consultation"])
    assert (assessment.stage, assessment.allergies) == ("N4", "Latex")
    event = AuditEvent.objects.filter(object_type="assessment").latest("at")
    assert event.action == "update"
    assert set(event.fields) == {"stage", "skin_type", "allergies", "suitability"}
    assert "Latex" not in json.dumps([event.fields, event.detail])


def test_a_session_note_is_saved_with_checkbox_areas_and_reactions(client, clinic):
    http = login(client, "tech")
    url = reverse("staff:session_note", args=[clinic["session"].pk])
    data = {
        "areas": ["hairline", "crown"],
        "reactions": ["redness"],
        "pigment_brand": "Brand",
        "pigment_shade": "3",
        "needle": "1RL 0.18",
        "depth": "standard",
        "duration_minutes": "180",
        "next_time_notes": "Blend temples",
    }
    assert http.post(url, data).status_code == 302
    note = SessionNote.objects.get(appointment=clinic["session"])
    assert (note.areas, note.reactions, note.author) == (["hairline", "crown"], ["redness"], clinic["technician"].user)
    assert AuditEvent.objects.filter(object_type="sessionnote", action="create", object_id=str(note.pk)).exists()


def test_a_bad_session_note_answers_400_with_the_reason(client, clinic):
    response = login(client, "tech").post(
        reverse("staff:session_note", args=[clinic["session"].pk]), {"areas": ["ceiling"], "duration_minutes": "-5"}
    )
    assert response.status_code == 400
    assert not SessionNote.objects.filter(appointment=clinic["session"]).exists()
    assert "ceiling" in response.content.decode()


def test_the_session_note_form_says_the_duration_is_in_minutes(client, clinic):
    page = login(client, "tech").get(reverse("staff:session_note", args=[clinic["session"].pk])).content.decode()
    assert "Duration (minutes)" in page
    assert "Duration minutes" not in page


def test_consent_is_signed_with_a_typed_name_and_the_witness_and_version_recorded(client, clinic):
    ConsentWordingFactory(kind="clinical_photos", version=1, text="Old")
    current = ConsentWordingFactory(kind="clinical_photos", version=2, text="New")
    http = login(client, "tech")
    response = http.post(
        reverse("staff:consents", args=[clinic["client"].pk]),
        {"wordings": [current.pk], "signed_name": "Pat Client"},
    )
    assert response.status_code == 302
    record = ConsentRecord.objects.get(client=clinic["client"])
    assert (record.wording, record.signed_name, record.witnessed_by, record.method) == (
        current,
        "Pat Client",
        clinic["technician"].user,
        "tablet",
    )
    assert record.given_at <= timezone.now()


def test_the_consent_list_names_the_witness_as_the_form_did(client, clinic):
    """The form says "Witnessed by Tess Tech"; the record it makes must not say "witnessed by tech"."""
    user = clinic["technician"].user
    user.first_name, user.last_name = "Tess", "Tech"
    user.save(update_fields=["first_name", "last_name"])
    wording = ConsentWordingFactory(kind="clinical_photos", version=1)
    http = login(client, "tech")
    url = reverse("staff:consents", args=[clinic["client"].pk])
    assert http.post(url, {"wordings": [wording.pk], "signed_name": "Pat Client"}).status_code == 302
    page = http.get(url).content.decode()
    assert "witnessed by Tess Tech" in page
    assert "witnessed by tech" not in page


def test_an_old_wording_cannot_be_signed(client, clinic):
    old = ConsentWordingFactory(kind="clinical_photos", version=1)
    ConsentWordingFactory(kind="clinical_photos", version=2)
    response = login(client, "tech").post(
        reverse("staff:consents", args=[clinic["client"].pk]), {"wordings": [old.pk], "signed_name": "Pat Client"}
    )
    assert response.status_code == 400
    assert not ConsentRecord.objects.exists()


def test_withdrawing_marketing_photo_consent_takes_the_photos_off_the_results_page(client, clinic):
    wording = ConsentWordingFactory(kind=ConsentWording.Kind.MARKETING_PHOTOS, version=1)
    record = ConsentRecordFactory(client=clinic["client"], wording=wording)
    clinic["photo"].marketing_consent = True
    clinic["photo"].save()
    public = reverse("treatments:results_photo", args=[clinic["photo"].pk, "full"])
    assert client.get(public).status_code == 200  # on the results page while consent stands
    response = login(client, "tech").post(reverse("staff:consent_withdraw", args=[clinic["client"].pk, record.pk]))
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.withdrawn_at is not None
    assert not Photo.objects.filter(marketing_consent=True).exists()
    assert AuditEvent.objects.filter(action="withdraw", object_id=str(record.pk)).exists()
    assert client.get(public).status_code == 404


def test_a_manager_exports_the_complete_record_as_one_zip(client, clinic):
    PhotoFactory(client=clinic["client"], angle="crown")
    response = login(client, "boss").get(reverse("staff:export", args=[clinic["client"].pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    record = json.loads(archive.read("record.json"))
    assert record["client"]["email"] == clinic["client"].email
    assert len(record["assessments"]) == 1
    assert len(record["session_notes"]) == 1
    assert len(record["photos"]) == 2
    for photo in record["photos"]:
        assert archive.read(photo["file"])[:2] == b"\xff\xd8"
    assert AuditEvent.objects.filter(
        action="export", client_id_ref=clinic["client"].pk, actor=clinic["manager"]
    ).exists()


def test_a_manager_erases_a_client_keeping_an_anonymous_treatment_record(
    client, clinic, django_capture_on_commit_callbacks
):
    photo = clinic["photo"]
    storage, names = photo.image.storage, [photo.image.name]
    http = login(client, "boss")
    assert http.post(reverse("staff:erase", args=[clinic["client"].pk]), {"confirm": "no"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(reverse("staff:erase", args=[clinic["client"].pk]), {"confirm": "ERASE"})
    assert response.status_code == 302
    erased = Client.objects.get(pk=clinic["client"].pk)
    assert erased.erased_at is not None
    assert (erased.email, erased.phone, erased.address, erased.date_of_birth) == ("", "", "", None)
    assert str(erased) == f"Erased client #{erased.pk}"
    assert not Photo.objects.filter(client=erased).exists()
    assert not any(storage.exists(n) for n in names)
    note = SessionNote.objects.get(pk=clinic["note"].pk)
    assert note.pigment_shade == "2"
    assert note.next_time_notes == ""
    assert Assessment.objects.filter(client=erased).exists()
    assert AuditEvent.objects.filter(action="erase", client_id_ref=erased.pk, actor=clinic["manager"]).exists()


def test_client_search_finds_by_name_or_reference_and_only_at_the_technicians_locations(client, clinic):
    from clients.tests.factories import ClientFactory

    ClientFactory(first_name="Elsewhere", last_name="Person")  # no appointment here: never listed
    http = login(client, "tech")
    by_name = http.get(reverse("staff:clients"), {"q": clinic["client"].last_name})
    assert list(by_name.context["page"]) == [clinic["client"]]
    by_reference = http.get(reverse("staff:clients"), {"q": clinic["session"].reference.lower()})
    assert list(by_reference.context["page"]) == [clinic["client"]]
    assert list(http.get(reverse("staff:clients"), {"q": "Elsewhere"}).context["page"]) == []


def test_opening_an_existing_session_note_or_assessment_is_logged(client, clinic):
    http = login(client, "tech")
    note_appointment = clinic["note"].appointment
    assert http.get(reverse("staff:session_note", args=[note_appointment.pk])).status_code == 200
    assert http.get(reverse("staff:assessment", args=[clinic["consultation"].pk])).status_code == 200
    logged = set(
        AuditEvent.objects.filter(action="view", actor__username="tech").values_list("object_type", "object_id")
    )
    assert logged == {("sessionnote", str(clinic["note"].pk)), ("assessment", str(clinic["assessment"].pk))}
