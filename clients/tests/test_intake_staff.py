"""Who is prepared: the intake badge on the technician's schedule, the consultation page, and
reception's appointment list and diary, each a constant number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory
from clients.intake import intake_record_save
from clients.models import AuditEvent
from clients.tests.conftest import PASSWORD
from clients.tests.factories import ClientFactory, staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db

ANSWERS = [
    {"question": "Do you have a skin condition on your scalp?", "answer": "yes", "details": "Psoriasis"},
    {"question": "Are you pregnant or breastfeeding?", "answer": "no", "details": ""},
]
# No to every question and no allergies: nothing for the technician to check first.
CLEAR = [{**answer, "answer": "no", "details": ""} for answer in ANSWERS]


def _consultations(
    clinic, count: int, *, prepared: bool, hour: int = 1, answers: list[dict] = ANSWERS
) -> list[Appointment]:
    """Consultations later today with the clinic's technician, 45 minutes apart."""
    now = timezone.localtime(clinic["session"].end)
    made = []
    for n in range(count):
        start = now + timedelta(hours=hour, minutes=50 * n)
        appointment = AppointmentFactory(
            client=ClientFactory(),
            technician=clinic["technician"],
            location=clinic["here"],
            start=start,
            end=start + timedelta(minutes=45),
        )
        if prepared:
            intake_record_save(
                appointment=appointment,
                client=appointment.client,
                data={"medications": "Minoxidil", "goals": "A hairline"},
                medical_answers=answers,
                completed_at=timezone.now(),
                by=None,
            )
        made.append(appointment)
    return made


def test_the_schedule_shows_who_is_prepared_and_who_is_not(client, clinic):
    (ready,) = _consultations(clinic, 1, prepared=True, answers=CLEAR)
    (missing,) = _consultations(clinic, 1, prepared=False, hour=3)
    (declared,) = _consultations(clinic, 1, prepared=True, hour=5)
    client.login(username="tech", password=PASSWORD)

    body = client.get(reverse("staff:schedule") + "?view=week").content.decode()

    ready_row = body[body.index(f"/staff/appointments/{ready.pk}/") :][:900]
    missing_row = body[body.index(f"/staff/appointments/{missing.pk}/") :][:900]
    session_row = body[body.index(f"/staff/appointments/{clinic['session'].pk}/") :][:900]
    assert "Prepared: intake done" in ready_row.split("</a>")[0]
    assert "Intake missing" in missing_row.split("</a>")[0]
    declared_row = body[body.index(f"/staff/appointments/{declared.pk}/") :].split("</a>")[0]
    assert "Intake done: allergy or risk declared" in declared_row
    assert "Prepared" not in declared_row
    assert "data-intake" not in session_row.split("</a>")[0]


def test_the_schedule_costs_the_same_queries_for_2_or_12_consultations(client, clinic, django_assert_max_num_queries):
    url = reverse("staff:schedule") + "?view=week"
    _consultations(clinic, 1, prepared=True, answers=CLEAR)
    _consultations(clinic, 1, prepared=False, hour=2)
    client.login(username="tech", password=PASSWORD)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    _consultations(clinic, 5, prepared=True, hour=4, answers=CLEAR)
    _consultations(clinic, 3, prepared=True, hour=14)
    _consultations(clinic, 5, prepared=False, hour=9)

    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert response.content.decode().count("Prepared: intake done") == 6
    assert response.content.decode().count('data-intake="declared"') == 3


def test_the_consultation_page_shows_the_intake_and_audits_the_view(client, clinic):
    (ready,) = _consultations(clinic, 1, prepared=True)
    client.login(username="tech", password=PASSWORD)

    body = client.get(reverse("staff:appointment", args=[ready.pk])).content.decode()

    assert "Allergy or risk declared" in body  # a yes is to check, not "prepared"
    assert "Do you have a skin condition on your scalp?" in body
    assert "Psoriasis" in body
    assert "Minoxidil" in body
    view = AuditEvent.objects.filter(action="view", client_id_ref=ready.client_id).latest("at")
    assert "intake" in view.fields


def test_another_clinics_technician_cannot_open_the_intake(client, clinic):
    (ready,) = _consultations(clinic, 1, prepared=True)
    client.login(username="othertech", password=PASSWORD)

    response = client.get(reverse("staff:appointment", args=[ready.pk]))

    assert response.status_code in (403, 404)
    assert "Minoxidil" not in response.content.decode()


def test_receptions_appointment_list_filters_missing_intakes_in_constant_queries(
    client, clinic, django_assert_max_num_queries
):
    ready = _consultations(clinic, 1, prepared=True)
    missing = _consultations(clinic, 1, prepared=False, hour=3)
    login_as(client, staff_user(role="Reception"))
    url = reverse("admin:bookings_appointment_changelist") + "?intake=missing"
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        response = client.get(url)
    assert {a.pk for a in response.context["cl"].result_list} == {missing[0].pk}
    assert ready[0].reference not in response.content.decode()
    assert "Missing" in response.content.decode()

    missing += _consultations(clinic, 8, prepared=False, hour=5)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert {a.pk for a in response.context["cl"].result_list} == {a.pk for a in missing}

    done = client.get(reverse("admin:bookings_appointment_changelist") + "?intake=done")
    assert [a.pk for a in done.context["cl"].result_list] == [ready[0].pk]


def test_the_diary_marks_prepared_and_missing_consultations(client, clinic):
    _consultations(clinic, 1, prepared=True)
    _consultations(clinic, 1, prepared=False, hour=3)
    login_as(client, staff_user(role="Reception"))

    response = client.get(
        reverse("admin:bookings_appointment_diary") + f"?location={clinic['here'].pk}&view=day"
        f"&date={timezone.localdate(clinic['session'].start).isoformat()}"
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("diary-intake-done") == 1
    assert body.count("diary-intake-missing") >= 1
