"""The intake form before a consultation: its signed link, what it stores (through the records
services, with audit rows), what it refuses (4xx, never 500, nothing lost), and the reminder
two days before."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from bookings.models import Appointment, ClientMessage
from bookings.services.intake import INTAKE_MAX_PHOTOS, IntakeClosed, intake_submit
from bookings.services.messaging import message_render, reminders_sync
from bookings.services.outbox import reminders_dispatch
from bookings.tests.factories import AppointmentFactory
from bookings.tokens import intake_token_make
from clients.intake import intake_record_save
from clients.models import AuditEvent, ConsentRecord, ConsentWording, Intake, IntakeQuestion, Photo
from clients.tests.factories import ConsentWordingFactory
from clients.tests.images import jpeg

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 6, 10, 10, 30, tzinfo=LONDON)
M = ClientMessage.Kind
S = ClientMessage.Status
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def questions():
    # The clinic's own wording replaces the starting questions the migration seeds.
    IntakeQuestion.objects.all().delete()
    return [
        IntakeQuestion.objects.create(text="Do you have a skin condition on your scalp?", order=1),
        IntakeQuestion.objects.create(text="Are you pregnant or breastfeeding?", order=2),
        IntakeQuestion.objects.create(text="A retired question", order=3, is_active=False),
    ]


@pytest.fixture
def photo_wording():
    return ConsentWordingFactory(
        kind=ConsentWording.Kind.CLINICAL_PHOTOS, text="I agree to clinical photos.", effective_from=NOW
    )


def _consultation(days_ahead: int = 10, **kwargs) -> Appointment:
    start = datetime.combine(NOW.date() + timedelta(days=days_ahead), datetime.min.time(), tzinfo=LONDON).replace(
        hour=11
    )
    appointment = AppointmentFactory(kind=Appointment.Kind.CONSULTATION, start=start, end=start + timedelta(minutes=45))
    for field, value in kwargs.items():
        setattr(appointment, field, value)
    appointment.save()
    return appointment


def _url(appointment: Appointment) -> str:
    return reverse("bookings:intake", kwargs={"token": intake_token_make(appointment=appointment)})


def _photo(name: str = "scalp.jpg", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg(gps=True, **kwargs), content_type="image/jpeg")


def _post_data(questions, **extra) -> dict:
    data = {
        f"q{questions[0].pk}": "yes",
        f"q{questions[0].pk}_details": "Mild psoriasis behind the left ear.",
        f"q{questions[1].pk}": "no",
        "medications": "Finasteride 1 mg daily",
        "allergies": "Latex",
        "previous_treatments": "FUE transplant in 2022",
        "goals": "A soft, natural hairline",
    }
    data.update(extra)
    return data


# The link ---------------------------------------------------------------------------------


def test_the_link_opens_the_form_without_a_login(client, questions):
    appointment = _consultation()

    response = client.get(_url(appointment))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Do you have a skin condition on your scalp?" in body
    assert "A retired question" not in body
    assert 'accept="image/*"' in body
    assert "capture" in body
    assert "multiple" in body


def test_an_expired_link_is_410_and_says_how_to_get_a_new_one(client, settings, questions):
    settings.INTAKE_LINK_DAYS = 5
    appointment = _consultation(days_ahead=20)
    url = _url(appointment)

    with time_machine.travel(NOW + timedelta(days=5, minutes=1), tick=False):
        get = client.get(url)
        post = client.post(url, _post_data(questions))

    assert get.status_code == post.status_code == 410
    assert "expired" in get.content.decode()
    assert not Intake.objects.exists()


def test_a_tampered_link_is_404(client, questions):
    appointment = _consultation()

    response = client.get(_url(appointment)[:-3] + "abc/")

    assert response.status_code == 404


@pytest.mark.parametrize("change", ["cancelled", "started", "session"])
def test_the_form_closes_once_the_consultation_is_cancelled_or_started(client, questions, change):
    appointment = _consultation(days_ahead=1)
    url = _url(appointment)
    if change == "cancelled":
        Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.CANCELLED, cancelled_at=NOW)
    elif change == "session":
        Appointment.objects.filter(pk=appointment.pk).update(kind=Appointment.Kind.TREATMENT_SESSION)
    moment = appointment.start + timedelta(minutes=1) if change == "started" else NOW

    with time_machine.travel(moment, tick=False):
        response = client.post(url, _post_data(questions))

    assert response.status_code == 410
    assert not Intake.objects.exists()


# What it stores ---------------------------------------------------------------------------


def test_answers_and_photos_land_in_the_record_with_audit_rows_and_no_metadata(client, questions, photo_wording):
    appointment = _consultation()

    response = client.post(
        _url(appointment),
        _post_data(questions, photos=[_photo("a.jpg"), _photo("b.jpg")], photo_consent="on"),
    )

    assert response.status_code == 302
    intake = Intake.objects.get(appointment=appointment)
    assert intake.client_id == appointment.client_id
    assert intake.completed_at == NOW
    assert intake.medications == "Finasteride 1 mg daily"
    assert intake.medical_answers == [
        {
            "question": "Do you have a skin condition on your scalp?",
            "answer": "yes",
            "details": "Mild psoriasis behind the left ear.",
        },
        {"question": "Are you pregnant or breastfeeding?", "answer": "no", "details": ""},
    ]
    photos = list(Photo.objects.filter(appointment=appointment))
    assert len(photos) == 2
    assert {(p.phase, p.angle, p.marketing_consent, p.uploaded_by_id) for p in photos} == {
        (Photo.Phase.INTAKE, Photo.Angle.CLIENT_OWN, False, None)
    }
    for photo in photos:
        with photo.image.open("rb") as fh, Image.open(io.BytesIO(fh.read())) as stored:
            assert not stored.getexif()
            assert "exif" not in stored.info
    consent = ConsentRecord.objects.get(client=appointment.client)
    assert (consent.wording, consent.method, consent.signed_name) == (
        photo_wording,
        ConsentRecord.Method.ONLINE,
        appointment.client.full_name,
    )
    trail = AuditEvent.objects.filter(client_id_ref=appointment.client_id)
    assert sorted(trail.values_list("object_type", "action")) == [
        ("consentrecord", "create"),
        ("intake", "create"),
        ("photo", "create"),
        ("photo", "create"),
    ]
    intake_row = trail.get(object_type="intake")
    assert "medications" in intake_row.fields
    assert intake_row.actor is None
    # The trail holds field names, never the health text.
    assert "Finasteride" not in str(list(trail.values_list("fields", "detail")))
    assert client.get(response.url).content.decode().count("Thank you") == 1


def test_sending_again_replaces_the_answers_and_adds_photos_up_to_four(client, questions, photo_wording):
    appointment = _consultation()
    url = _url(appointment)
    client.post(url, _post_data(questions, photos=[_photo(), _photo()], photo_consent="on"))

    response = client.post(url, _post_data(questions, goals="Density at the crown", photos=[_photo(), _photo()]))

    assert response.status_code == 302
    intake = Intake.objects.get()
    assert intake.goals == "Density at the crown"
    assert Photo.objects.filter(appointment=appointment, phase=Photo.Phase.INTAKE).count() == INTAKE_MAX_PHOTOS
    assert ConsentRecord.objects.count() == 1  # consent given once, not asked again
    assert AuditEvent.objects.filter(object_type="intake", action="update", fields=["goals"]).count() == 1


# What it refuses --------------------------------------------------------------------------


def _saved_first(client, questions, *, photos: int = 3):
    appointment = _consultation()
    url = _url(appointment)
    response = client.post(url, _post_data(questions, photos=[_photo() for _ in range(photos)], photo_consent="on"))
    assert response.status_code == 302
    return appointment, url


def test_more_than_four_photos_at_once_is_400_and_saves_nothing(client, questions, photo_wording):
    appointment = _consultation()

    response = client.post(
        _url(appointment), _post_data(questions, photos=[_photo() for _ in range(5)], photo_consent="on")
    )

    assert response.status_code == 400
    assert "at most 4 photos" in response.content.decode()
    assert not Intake.objects.exists()
    assert not Photo.objects.exists()


def test_photos_beyond_four_in_all_are_refused_and_what_was_sent_is_kept(client, questions, photo_wording):
    appointment, url = _saved_first(client, questions, photos=3)

    response = client.post(url, _post_data(questions, goals="Changed", photos=[_photo(), _photo()]))

    assert response.status_code == 400
    assert "1 more can be added" in response.content.decode()
    assert Intake.objects.get().goals == "A soft, natural hairline"
    assert Photo.objects.filter(appointment=appointment).count() == 3


def test_a_file_that_is_not_a_photo_is_400_and_what_was_sent_is_kept(client, questions, photo_wording):
    appointment, url = _saved_first(client, questions, photos=1)
    fake = SimpleUploadedFile("scalp.jpg", b"%PDF-1.7 not a photo at all", content_type="image/jpeg")

    response = client.post(url, _post_data(questions, goals="Changed", photos=[_photo(), fake]))

    assert response.status_code == 400
    body = response.content.decode()
    assert "not a JPEG, PNG or WebP photo" in body
    assert "anything you sent before is kept" in body
    assert Intake.objects.get().goals == "A soft, natural hairline"
    assert Photo.objects.filter(appointment=appointment).count() == 1


def test_a_photo_over_the_size_limit_is_400(client, questions, photo_wording, monkeypatch):
    monkeypatch.setattr("clients.services.MAX_UPLOAD_BYTES", 200)
    appointment = _consultation()

    response = client.post(
        _url(appointment), _post_data(questions, photos=[_photo(size=(400, 300))], photo_consent="on")
    )

    assert response.status_code == 400
    assert "the limit is 15 MB" in response.content.decode()
    assert not Photo.objects.exists()
    assert not Intake.objects.exists()


def test_photos_need_the_clients_consent(client, questions, photo_wording):
    appointment = _consultation()

    response = client.post(_url(appointment), _post_data(questions, photos=[_photo()]))

    assert response.status_code == 400
    assert "Tick the box to let us keep your photos" in response.content.decode()
    assert not Photo.objects.exists()
    assert not Intake.objects.exists()


def test_a_refused_form_says_the_photos_chosen_were_not_sent(client, questions, photo_wording):
    appointment = _consultation()
    data = _post_data(questions, photos=[_photo()], photo_consent="on")
    del data[f"q{questions[0].pk}"]

    response = client.post(_url(appointment), data)

    # The browser cannot be given the files back: without a word the client resends without them.
    assert response.status_code == 400
    assert 'id="photos-not-sent"' in response.content.decode()
    assert "choose them again" in response.content.decode()
    without_photos = _post_data(questions)
    del without_photos[f"q{questions[0].pk}"]
    assert 'id="photos-not-sent"' not in client.post(_url(appointment), without_photos).content.decode()


def test_the_error_summary_takes_the_focus_and_each_error_is_tied_to_its_field(client, questions, photo_wording):
    appointment = _consultation()

    html = client.post(_url(appointment), _post_data(questions, photos=[_photo()])).content.decode()

    assert 'id="intake-errors" tabindex="-1" autofocus' in html
    assert 'aria-describedby="id_photo_consent-error"' in html
    assert 'id="id_photo_consent-error"' in html


def test_every_question_needs_an_answer(client, questions):
    appointment = _consultation()
    data = _post_data(questions)
    del data[f"q{questions[1].pk}"]

    response = client.post(_url(appointment), data)

    assert response.status_code == 400
    assert "Answer yes or no." in response.content.decode()
    assert not Intake.objects.exists()


def test_the_service_refuses_a_closed_appointment(questions):
    appointment = _consultation()
    Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.CANCELLED, cancelled_at=NOW)

    with pytest.raises(IntakeClosed):
        intake_submit(appointment=appointment, data={}, medical_answers=[])


# The reminder two days before ---------------------------------------------------------------


def _intake_rows(appointment: Appointment) -> list[ClientMessage]:
    return list(ClientMessage.objects.filter(appointment=appointment, kind=M.INTAKE_REMINDER))


def test_a_consultation_owes_a_reminder_at_nine_two_days_before():
    appointment = _consultation(days_ahead=10)
    reminders_sync(appointment=appointment)

    (row,) = _intake_rows(appointment)
    assert row.status == S.PENDING
    assert timezone.localtime(row.due_at, LONDON) == datetime(2026, 6, 18, 9, 0, tzinfo=LONDON)


def test_a_consultation_booked_inside_two_days_gets_no_intake_reminder():
    appointment = _consultation(days_ahead=1)
    reminders_sync(appointment=appointment)

    assert _intake_rows(appointment) == []


def test_the_reminder_goes_once_with_a_working_link_however_often_the_dispatcher_runs(client, mailoutbox, questions):
    appointment = _consultation(days_ahead=10)
    reminders_sync(appointment=appointment)
    (row,) = _intake_rows(appointment)

    with time_machine.travel(row.due_at, tick=False):
        reminders_dispatch(now=row.due_at)
        reminders_dispatch(now=row.due_at + timedelta(minutes=1))
        intake_mails = [m for m in mailoutbox if "Two minutes before" in m.subject]
        assert len(intake_mails) == 1
        link = next(w for w in intake_mails[0].body.split() if "/intake/" in w)
        assert client.get(link.removeprefix("http://127.0.0.1:8000")).status_code == 200
    row.refresh_from_db()
    assert row.status == S.SENT


def test_sending_the_form_cancels_the_reminder(questions):
    appointment = _consultation(days_ahead=10)
    reminders_sync(appointment=appointment)

    intake_submit(appointment=appointment, data={"goals": "Hairline"}, medical_answers=[])

    (row,) = _intake_rows(appointment)
    assert row.status == S.CANCELLED


def test_a_reminder_already_claimed_is_skipped_when_the_form_came_in_meanwhile(mailoutbox):
    appointment = _consultation(days_ahead=10)
    reminders_sync(appointment=appointment)
    (row,) = _intake_rows(appointment)
    # Written without the outbox sync: the send-time check alone must stop the message.
    intake_record_save(
        appointment=appointment, client=appointment.client, data={}, medical_answers=[], completed_at=NOW, by=None
    )

    reminders_dispatch(now=row.due_at)

    row.refresh_from_db()
    assert row.status == S.CANCELLED
    assert "intake form has been filled in" in row.last_error
    assert not [m for m in mailoutbox if "Two minutes before" in m.subject]


def test_a_client_who_opted_out_of_reminders_gets_no_intake_reminder():
    appointment = _consultation(days_ahead=10)
    appointment.client.reminders_opt_in = False
    appointment.client.save()
    reminders_sync(appointment=appointment)

    assert _intake_rows(appointment) == []


def test_the_confirmation_carries_the_intake_link_for_a_consultation_only():
    consultation = _consultation(days_ahead=10)
    confirmation = ClientMessage.objects.create(
        appointment=consultation, kind=M.CONFIRMATION, due_at=NOW, payload={}, channel="email"
    )
    session = AppointmentFactory(kind=Appointment.Kind.TREATMENT_SESSION)
    other = ClientMessage.objects.create(appointment=session, kind=M.CONFIRMATION, due_at=NOW, channel="email")

    assert "/intake/" in message_render(confirmation)["text"]
    assert "/intake/" in message_render(confirmation)["sms"]
    assert "/intake/" not in message_render(other)["text"]


def test_an_intake_photo_can_never_be_marked_for_the_results_page(questions, photo_wording):
    from django.core.exceptions import ValidationError

    from clients.services import photo_update

    appointment = _consultation()
    intake_submit(appointment=appointment, data={}, medical_answers=[], photos=[_photo()], photo_consent=True)
    photo = Photo.objects.get()

    with pytest.raises(ValidationError) as refused:
        photo_update(photo=photo, data={"marketing_consent": True}, by=None)

    assert refused.value.error_dict["marketing_consent"][0].code == "intake_photo_private"
    photo.refresh_from_db()
    assert photo.marketing_consent is False


def test_a_reminder_just_due_survives_a_sync_before_the_dispatcher_runs():
    appointment = _consultation(days_ahead=10)
    reminders_sync(appointment=appointment)
    (row,) = _intake_rows(appointment)

    reminders_sync(appointment=appointment, now=row.due_at + timedelta(seconds=20))

    row.refresh_from_db()
    assert row.status == S.PENDING
