"""Patch tests: a first session of a treatment that needs one (or for a client with allergies on
record, assessed or declared on the intake form) is refused on every booking path until a clear
result is recorded long enough before it, and so is the next session after an allergic reaction
until a clear test done since; the course planner books the patch test first; the result (with its
photo) is part of the client's record."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bookings.models import Appointment, Course
from bookings.services import courses as planner
from bookings.services.appointments import appointment_staff_book
from bookings.services.safety import BookingRefused
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from bookings.tests.test_booking_admin import _post_add
from bookings.tokens import booking_token_make
from clients.models import AuditEvent, Client, ConsentWording, Intake, PatchTest, Photo, SessionNote
from clients.services import patch_test_record
from clients.tests import images
from clients.tests.conftest import PASSWORD
from clients.tests.factories import (
    AssessmentFactory,
    ClientFactory,
    ConsentWordingFactory,
    PatchTestFactory,
    SessionNoteFactory,
    staff_user,
)
from smpclinic.tests.logins import login_as
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)  # a Monday, GMT
START = datetime(2026, 11, 10, 10, tzinfo=LONDON)  # the first session asked for


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def place():
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    location = LocationFactory(slug="manchester", name="Manchester")
    treatment = TreatmentFactory(
        slug="density", name="Density", needs_patch_test=True, session_minutes_min=120, session_minutes_max=180
    )
    technician = technician_working(location=location, user=staff_user(role="Technician", username="tech"))
    technician.treatments.add(treatment)
    return {
        "location": location,
        "treatment": treatment,
        "technician": technician,
        "manager": staff_user(role="Manager", username="boss"),
    }


def _book_first_session(place, client, start=START):
    return appointment_staff_book(
        by=place["manager"],
        client=client,
        location=place["location"],
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=place["treatment"],
        technician=place["technician"],
        start=start,
    )


def _two_session_plan(place, person):
    return planner.course_plan_with_patch_test(
        client=person,
        location=place["location"],
        treatment=place["treatment"],
        technician=place["technician"],
        first_date=NOW.date() + timedelta(days=1),
        sessions=2,
    )


def _sessions(client):
    return Appointment.objects.filter(client=client, kind=Appointment.Kind.TREATMENT_SESSION)


# The rule, at the booking service every path shares ----------------------------------------


def test_a_first_session_without_a_patch_test_is_refused(place):
    person = ClientFactory()
    with pytest.raises(BookingRefused, match="A patch test must be recorded clear") as refused:
        _book_first_session(place, person)
    assert refused.value.code == "patch_test_required"
    assert not _sessions(person).exists()


def test_a_clear_patch_test_48_hours_before_allows_the_first_session(place):
    person = ClientFactory()
    PatchTestFactory(client=person, tested_at=START - timedelta(hours=48))
    booked = _book_first_session(place, person)
    assert booked.start == START
    assert _sessions(person).count() == 1


def test_a_clear_patch_test_less_than_48_hours_before_is_too_recent(place):
    person = ClientFactory()
    PatchTestFactory(client=person, tested_at=START - timedelta(hours=48) + timedelta(minutes=1))
    with pytest.raises(BookingRefused, match="less than 48 hours") as refused:
        _book_first_session(place, person)
    assert refused.value.code == "patch_test_too_recent"
    assert not _sessions(person).exists()


def test_the_wait_follows_the_treatments_own_setting(place):
    place["treatment"].patch_test_hours = 72
    place["treatment"].save()
    person = ClientFactory()
    PatchTestFactory(client=person, tested_at=START - timedelta(hours=60))
    with pytest.raises(BookingRefused, match="less than 72 hours"):
        _book_first_session(place, person)


def test_a_reaction_after_a_clear_test_refuses_the_first_session(place):
    person = ClientFactory()
    PatchTestFactory(client=person, tested_at=START - timedelta(days=20))
    PatchTestFactory(client=person, tested_at=START - timedelta(days=5), result=PatchTest.Result.REACTION)
    with pytest.raises(BookingRefused, match="showed a reaction") as refused:
        _book_first_session(place, person)
    assert refused.value.code == "patch_test_reaction"
    assert not _sessions(person).exists()


def test_assessed_allergies_call_for_a_patch_test_whatever_the_treatment_says(place):
    place["treatment"].needs_patch_test = False
    place["treatment"].save()
    without, allergic = ClientFactory(), ClientFactory()
    AssessmentFactory(client=allergic, allergies="Nickel; reacted to hair dye")
    assert _book_first_session(place, without).start == START
    with pytest.raises(BookingRefused, match="A patch test must be recorded clear"):
        _book_first_session(place, allergic)


def test_only_the_first_session_needs_the_patch_test(place):
    person = ClientFactory()
    AppointmentFactory(  # session 1, done elsewhere in the diary before the patch-test rule existed
        client=person,
        location=place["location"],
        technician=place["technician"],
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=place["treatment"],
        start=START - timedelta(days=21),
        end=START - timedelta(days=21) + timedelta(hours=2),
        status=Appointment.Status.COMPLETED,
        completed_at=START - timedelta(days=21),
    )
    assert _book_first_session(place, person).start == START


# Allergies the client declared, and a reaction to pigment at a session ---------------------


def _intake(person, *, allergies, completed_at):
    appointment = AppointmentFactory(client=person, kind=Appointment.Kind.CONSULTATION, start=completed_at)
    return Intake.objects.create(client=person, appointment=appointment, allergies=allergies, completed_at=completed_at)


def _done_session(place, person, *, start, reactions=()):
    session = AppointmentFactory(
        client=person,
        location=place["location"],
        technician=place["technician"],
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=place["treatment"],
        start=start,
        end=start + timedelta(hours=2),
        status=Appointment.Status.COMPLETED,
        completed_at=start + timedelta(hours=2),
    )
    SessionNoteFactory(appointment=session, reactions=list(reactions))
    return session


@pytest.mark.parametrize(
    ("declared", "refused"), [("Latex, and hair dye brought me out in a rash", True), ("None.", False), ("nkda", False)]
)
def test_allergies_declared_on_the_intake_call_for_a_patch_test(place, declared, refused):
    place["treatment"].needs_patch_test = False
    place["treatment"].save()
    person = ClientFactory()
    _intake(person, allergies=declared, completed_at=NOW - timedelta(days=3))
    if refused:
        with pytest.raises(BookingRefused, match="A patch test must be recorded clear") as refusal:
            _book_first_session(place, person)
        assert refusal.value.code == "patch_test_required"
        assert not _sessions(person).exists()
    else:
        assert _book_first_session(place, person).start == START


def test_the_newest_word_on_allergies_counts_assessment_or_intake(place):
    place["treatment"].needs_patch_test = False
    place["treatment"].save()
    assessed_since, declared_since = ClientFactory(), ClientFactory()
    # Declared, then assessed as none by the technician: the assessment is the newer word.
    _intake(assessed_since, allergies="Nickel", completed_at=NOW - timedelta(days=10))
    AssessmentFactory(client=assessed_since, allergies="None known", assessed_at=NOW - timedelta(days=5))
    # Assessed as none, then a new intake form names one: the client's newer word.
    AssessmentFactory(client=declared_since, allergies="", assessed_at=NOW - timedelta(days=10))
    _intake(declared_since, allergies="Nickel", completed_at=NOW - timedelta(days=5))
    assert _book_first_session(place, assessed_since).start == START
    with pytest.raises(BookingRefused, match="A patch test must be recorded clear"):
        _book_first_session(place, declared_since)


def test_after_an_allergic_reaction_the_next_session_needs_a_patch_test_done_since(place):
    place["treatment"].needs_patch_test = False
    place["treatment"].save()
    person = ClientFactory()
    PatchTestFactory(client=person, tested_at=START - timedelta(days=40))  # clear, before session 1
    _done_session(place, person, start=START - timedelta(days=21), reactions=[SessionNote.Reaction.ALLERGIC])

    with pytest.raises(BookingRefused, match="allergic reaction to pigment at the session of 20 Oct 2026") as refused:
        _book_first_session(place, person)
    assert refused.value.code == "patch_test_after_reaction"
    assert _sessions(person).count() == 1

    since = PatchTestFactory(client=person, tested_at=START - timedelta(hours=47))
    with pytest.raises(BookingRefused, match="less than 48 hours") as refused:
        _book_first_session(place, person)
    assert refused.value.code == "patch_test_too_recent"

    since.tested_at = START - timedelta(hours=49)
    since.save()
    assert _book_first_session(place, person).start == START


def test_other_reactions_or_a_reaction_after_the_time_asked_for_need_no_patch_test(place):
    place["treatment"].needs_patch_test = False
    place["treatment"].save()
    person = ClientFactory()
    _done_session(place, person, start=START - timedelta(days=21), reactions=[SessionNote.Reaction.REDNESS])
    _done_session(place, person, start=START + timedelta(days=21), reactions=[SessionNote.Reaction.ALLERGIC])
    assert _book_first_session(place, person).start == START


def test_the_planner_puts_a_patch_test_before_the_next_session_after_a_reaction(place):
    place["treatment"].needs_patch_test = False
    place["treatment"].save()
    person = ClientFactory()
    _done_session(place, person, start=NOW - timedelta(days=14), reactions=[SessionNote.Reaction.ALLERGIC])
    plan = _two_session_plan(place, person)
    assert plan.patch_test_due
    assert plan.patch_test is not None
    assert plan.sessions[0].start - plan.patch_test.start >= timedelta(hours=48)


# Three ways in: the client's own link, the workspace, the admin ------------------------------


def test_online_a_client_cannot_move_their_first_session_too_close_to_the_patch_test(client, place):
    """The public site books consultations; a session reaches a client's hands through the manage
    link, and moving it must keep the patch test's wait."""
    person = ClientFactory()
    PatchTestFactory(client=person, tested_at=NOW - timedelta(hours=1))
    first = _book_first_session(place, person)  # 10 November: days after the test
    too_soon = datetime(2026, 11, 3, 10, tzinfo=LONDON)  # 26 hours after the test
    url = reverse("bookings:manage", kwargs={"token": booking_token_make(appointment=first)})
    response = client.post(url, {"action": "reschedule", "start": too_soon.isoformat()})
    assert response.status_code == 400
    assert "less than 48 hours" in response.content.decode()
    first.refresh_from_db()
    assert first.start == START


def test_the_public_session_page_refuses_a_session_without_a_clear_patch_test_and_books_nothing(client, place):
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    clients_before = Client.objects.count()
    response = client.post(
        reverse("bookings:book_session"),
        {
            "location": "manchester",
            "treatment": "density",
            "start": START.isoformat(),
            "first_name": "Pat",
            "last_name": "Newman",
            "email": "pat@example.com",
            "phone": "07700 900123",
            "date_of_birth": "1985-03-14",
            "description": "",
            "health_consent": "on",
            "website": "",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    # In the client's words, with what to do: the rule's own message is for staff ("recorded").
    assert "needs a clear patch test at the clinic before the session" in html
    assert "Please call Manchester on" in html
    assert "must be recorded clear" not in html
    assert not Appointment.objects.exists()
    assert Client.objects.count() == clients_before  # the whole booking rolled back, its new record too


def test_in_the_workspace_a_course_cannot_book_its_first_session_without_a_patch_test(client, place):
    person = ClientFactory()
    consultation = AppointmentFactory(
        client=person,
        location=place["location"],
        technician=place["technician"],
        start=NOW - timedelta(days=2),
        end=NOW - timedelta(days=2) + timedelta(minutes=45),
    )
    client.login(username="tech", password=PASSWORD)
    starts = [START, START + timedelta(days=14)]
    response = client.post(
        reverse("staff:course_plan", args=[consultation.pk]),
        {
            "action": "book",
            "treatment": place["treatment"].pk,
            "planned_sessions": 2,
            "first_date": START.date().isoformat(),
            **{f"start_{n}": s.strftime("%Y-%m-%dT%H:%M") for n, s in enumerate(starts, start=1)},
        },
    )
    assert response.status_code == 400
    assert "needs a clear patch test at least 48 hours before the first session" in response.content.decode()
    assert not _sessions(person).exists()
    assert not Course.objects.filter(client=person).exists()


def test_in_the_admin_a_first_session_without_a_patch_test_is_refused_on_the_form(client, place):
    login_as(client, place["manager"])
    person = ClientFactory()
    response = _post_add(
        client,
        kind="session",
        client=person.pk,
        treatment=place["treatment"].pk,
        technician=place["technician"].pk,
        location=place["location"].pk,
        start=START,
        end=START + timedelta(hours=3),
    )
    assert response.status_code == 200  # the form again, with the reason
    assert "A patch test must be recorded clear before the first session" in response.content.decode()
    assert not _sessions(person).exists()
    assert not AuditEvent.objects.filter(object_type="appointment").exists()


def test_in_the_admin_a_first_session_after_a_clear_patch_test_is_booked(client, place):
    login_as(client, place["manager"])
    person = ClientFactory()
    PatchTestFactory(client=person, tested_at=NOW - timedelta(days=1))
    response = _post_add(
        client,
        kind="session",
        client=person.pk,
        treatment=place["treatment"].pk,
        technician=place["technician"].pk,
        location=place["location"].pk,
        start=START,
        end=START + timedelta(hours=3),
    )
    assert response.status_code == 302
    assert _sessions(person).get().start == START


# The course planner books the patch test first ---------------------------------------------


def test_the_planner_proposes_the_patch_test_at_least_48_hours_before_session_1(place):
    person = ClientFactory()
    plan = _two_session_plan(place, person)
    assert plan.patch_test_due
    assert plan.patch_test is not None
    assert plan.sessions[0] is not None
    assert plan.sessions[0].start - plan.patch_test.start >= timedelta(hours=48)


def test_the_planner_books_the_patch_test_first_and_the_first_session_once_it_is_clear(place):
    person = ClientFactory()
    patch_at = datetime(2026, 11, 3, 9, tzinfo=LONDON)
    starts = [START, START + timedelta(days=14)]
    common = {
        "client": person,
        "treatment": place["treatment"],
        "location": place["location"],
        "technician": place["technician"],
        "planned_sessions": 2,
        "price_band": "",
        "price_agreed_minor": None,
        "starts": starts,
        "by": place["technician"].user,
    }
    with pytest.raises(ValidationError) as refused:
        planner.course_create_and_book(**common)
    assert refused.value.code == "patch_test_required"
    with pytest.raises(ValidationError) as late:
        planner.course_create_and_book(**common, patch_test_start=START - timedelta(hours=24))
    assert late.value.code == "patch_test_too_late"

    course = planner.course_create_and_book(**common, patch_test_start=patch_at)
    patch = course.appointments.get()
    assert (patch.kind, patch.start, patch.end - patch.start) == (
        Appointment.Kind.PATCH_TEST,
        patch_at,
        timedelta(minutes=15),
    )
    assert not _sessions(person).exists()  # not until the result is in
    with pytest.raises(ValidationError) as pending:  # planning again says where the patch test stands
        planner.course_create_and_book(**common)
    assert pending.value.code == "patch_test_pending"

    with pytest.raises(BookingRefused):  # booked, but no result yet
        planner.next_session_book(appointment=patch, start=START, technician=place["technician"], by=place["manager"])
    with time_machine.travel(datetime(2026, 11, 5, 9, tzinfo=LONDON), tick=False):
        patch_test_record(
            client=person, appointment=patch, result="clear", tested_at=patch.start, by=place["technician"].user
        )
        session = planner.next_session_book(
            appointment=patch, start=START, technician=place["technician"], by=place["manager"]
        )
    assert (session.session_number, session.course, session.start) == (1, course, START)


def test_the_course_page_shows_the_patch_test_time_and_books_it(client, place):
    person = ClientFactory()
    consultation = AppointmentFactory(
        client=person,
        location=place["location"],
        technician=place["technician"],
        start=NOW - timedelta(days=2),
        end=NOW - timedelta(days=2) + timedelta(minutes=45),
    )
    client.login(username="tech", password=PASSWORD)
    url = reverse("staff:course_plan", args=[consultation.pk])
    fields = {"treatment": place["treatment"].pk, "planned_sessions": 2, "first_date": "2026-11-03"}
    proposed = client.post(url, {"action": "propose", **fields})
    assert proposed.status_code == 200
    form = proposed.context["form"]
    patch_at, first = form.cleaned_data["patch_test_start"], form.cleaned_data["start_1"]
    assert patch_at is not None
    assert first - patch_at >= timedelta(hours=48)
    values = {k: form.data[k] for k in ("patch_test_start", "start_1", "start_2")}
    booked = client.post(url, {"action": "book", **fields, **values}, follow=True)
    assert "Patch test booked for" in booked.content.decode()
    assert Appointment.objects.filter(client=person, kind=Appointment.Kind.PATCH_TEST).count() == 1
    assert not _sessions(person).exists()


# The result, part of the record -------------------------------------------------------------


def test_a_technician_records_a_result_with_a_photo_served_only_through_the_permission_check(client, place):
    person = ClientFactory()
    patch = AppointmentFactory(
        client=person,
        location=place["location"],
        technician=place["technician"],
        kind=Appointment.Kind.PATCH_TEST,
        start=NOW - timedelta(hours=50),
        end=NOW - timedelta(hours=50) + timedelta(minutes=15),
    )
    client.login(username="tech", password=PASSWORD)
    response = client.post(
        reverse("staff:patch_test", args=[patch.pk]),
        {
            "result": "reaction",
            "tested_at": "2026-10-31T06:00",
            "notes": "Raised red patch behind the left ear.",
            "photo": SimpleUploadedFile("site.jpg", images.jpeg(gps=True), content_type="image/jpeg"),
            "photo_angle": "left",
        },
    )
    assert response.status_code == 302
    result = PatchTest.objects.get(client=person)
    assert (result.result, result.appointment, result.recorded_by) == ("reaction", patch, place["technician"].user)
    assert result.photo.phase == Photo.Phase.PATCH_TEST
    events = AuditEvent.objects.filter(client_id_ref=person.pk, action=AuditEvent.Action.CREATE)
    assert set(events.values_list("object_type", flat=True)) == {"patchtest", "photo"}
    assert "notes" in events.get(object_type="patchtest").fields

    page = client.get(reverse("staff:appointment", args=[patch.pk])).content.decode()
    assert "Raised red patch behind the left ear." in page
    photo_url = reverse("staff:photo_file", args=[result.photo.pk, "full"])
    assert photo_url in page
    assert client.get(photo_url).status_code == 200
    client.logout()
    assert client.get(photo_url).status_code == 302  # to the login page
    elsewhere = technician_working(location=LocationFactory(), user=staff_user(role="Technician", username="far"))
    client.login(username=elsewhere.user.username, password=PASSWORD)
    assert client.get(photo_url).status_code == 404


def test_a_result_for_the_future_is_refused_with_a_message(client, place):
    person = ClientFactory()
    patch = AppointmentFactory(
        client=person,
        location=place["location"],
        technician=place["technician"],
        kind=Appointment.Kind.PATCH_TEST,
        start=NOW - timedelta(hours=1),
        end=NOW - timedelta(minutes=45),
    )
    client.login(username="tech", password=PASSWORD)
    response = client.post(
        reverse("staff:patch_test", args=[patch.pk]), {"result": "clear", "tested_at": "2026-11-09T10:00"}
    )
    assert response.status_code == 400
    assert re.search(r"recorded once the pigment is on the skin", response.content.decode())
    assert not PatchTest.objects.exists()


def test_the_admin_records_a_result_through_the_service(client, place):
    login_as(client, place["manager"])
    person = ClientFactory()
    url = reverse("admin:clients_patchtest_add")
    response = client.post(
        url,
        {
            "client": person.pk,
            "appointment": "",
            "tested_at_0": "01/11/2026",
            "tested_at_1": "09:00:00",
            "result": "clear",
            "notes": "Nothing after 48 hours.",
            "photo_angle": "back",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    result = PatchTest.objects.get(client=person)
    assert result.recorded_by == place["manager"]
    assert AuditEvent.objects.filter(object_type="patchtest", object_id=str(result.pk), actor=place["manager"]).exists()
    page = client.get(reverse("admin:clients_client_change", args=[person.pk])).content.decode()
    assert "Nothing after 48 hours." in page


def test_the_patch_test_kind_is_bookable_for_15_minutes_with_any_technician(place):
    person = ClientFactory()
    booked = appointment_staff_book(
        by=place["manager"],
        client=person,
        location=place["location"],
        kind=Appointment.Kind.PATCH_TEST,
        start=datetime.combine(START.date(), time(9), tzinfo=LONDON),
    )
    assert booked.end - booked.start == timedelta(minutes=15)
