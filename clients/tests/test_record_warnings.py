"""What the technician must see before starting: the client's own intake declarations (not yet
assessed) and past adverse reactions in the "Check before you start" box, and every session's
reactions, notes, settings and duration in the history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat, timezone

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory
from clients.intake import intake_record_save
from clients.models import SessionNote
from clients.tests.conftest import PASSWORD
from clients.tests.factories import ClientFactory, SessionNoteFactory

pytestmark = pytest.mark.django_db

DYE_QUESTION = "Have you ever reacted to a tattoo, permanent make-up, hair dye or numbing cream?"
DECLARED = [
    {"question": DYE_QUESTION, "answer": "yes", "details": "Hair dye, 2019: <b>swollen</b> scalp"},
    {"question": "Are you pregnant or breastfeeding?", "answer": "no", "details": ""},
]


def _warnings_box(body: str) -> str:
    start = body.index('id="clinical-warnings"')
    return body[start : body.index("</div>", start)]


def _booked_consultation(clinic, *, hours_ahead: int = 2) -> Appointment:
    """A new client's consultation later today with the clinic's technician; nobody has assessed them."""
    start = timezone.localtime(clinic["session"].end) + timedelta(hours=hours_ahead)
    return AppointmentFactory(
        client=ClientFactory(),
        technician=clinic["technician"],
        location=clinic["here"],
        start=start,
        end=start + timedelta(minutes=45),
    )


def _intake(appointment: Appointment, *, allergies: str, answers: list[dict]) -> None:
    intake_record_save(
        appointment=appointment,
        client=appointment.client,
        data={"medications": "Minoxidil", "allergies": allergies, "goals": "A hairline"},
        medical_answers=answers,
        completed_at=timezone.now(),
        by=None,
    )


def _day(appointment: Appointment) -> str:
    return dateformat.format(timezone.localtime(appointment.start, appointment.location.tz), "j M Y")


def test_what_the_client_declared_on_the_intake_is_in_the_warning_box_as_not_yet_assessed(client, clinic):
    consultation = _booked_consultation(clinic)
    _intake(consultation, allergies="Lidocaine, latex", answers=DECLARED)
    client.login(username="tech", password=PASSWORD)

    for url in (
        reverse("staff:appointment", args=[consultation.pk]),
        reverse("staff:client", args=[consultation.client_id]),
    ):
        body = client.get(url).content.decode()
        box = _warnings_box(body)
        assert "Check before you start" in box
        assert "declared by the client on the intake form, not yet assessed" in box.lower()
        assert "Lidocaine, latex" in box
        assert DYE_QUESTION in box
        # The client's text is escaped, never markup.
        assert "&lt;b&gt;swollen&lt;/b&gt;" in box
        assert "<b>swollen</b>" not in body
        assert "Minoxidil" not in box  # medicines are on the intake card, not a warning
        assert "No assessment yet" in body


def test_a_clean_intake_adds_no_warning_and_an_assessment_after_it_takes_over(client, clinic):
    clean = _booked_consultation(clinic)
    _intake(clean, allergies="None", answers=[{**DECLARED[0], "answer": "no", "details": ""}])
    client.login(username="tech", password=PASSWORD)
    assert 'id="clinical-warnings"' not in client.get(reverse("staff:client", args=[clean.client_id])).content.decode()

    # The clinic's client was assessed at an earlier consultation; an intake for a new one is not yet assessed.
    returning = _booked_consultation(clinic, hours_ahead=4)
    returning.client = clinic["client"]
    returning.save()
    _intake(returning, allergies="Lidocaine", answers=[])
    box = _warnings_box(client.get(reverse("staff:client", args=[clinic["client"].pk])).content.decode())
    assert "Nickel" in box
    assert "Lidocaine" in box
    assert "not yet assessed" in box

    response = client.post(
        reverse("staff:assessment", args=[returning.pk]),
        {"hair_loss_type": "male_pattern", "allergies": "Lidocaine (assessed)", "suitability": "suitable"},
    )
    assert response.status_code == 302
    box = _warnings_box(client.get(reverse("staff:client", args=[clinic["client"].pk])).content.decode())
    assert "Lidocaine (assessed)" in box
    assert "not yet assessed" not in box


def test_the_schedule_does_not_call_an_intake_declaring_an_allergy_prepared(client, clinic):
    declared = _booked_consultation(clinic)
    _intake(declared, allergies="Lidocaine, latex", answers=DECLARED)
    clean = _booked_consultation(clinic, hours_ahead=4)
    _intake(clean, allergies="", answers=[{**DECLARED[0], "answer": "no", "details": ""}])
    client.login(username="tech", password=PASSWORD)

    body = client.get(reverse("staff:schedule") + "?view=week").content.decode()

    declared_row = body[body.index(f"/staff/appointments/{declared.pk}/") :].split("</a>")[0]
    clean_row = body[body.index(f"/staff/appointments/{clean.pk}/") :].split("</a>")[0]
    assert "Prepared: intake done" not in declared_row
    assert "text-bg-success" not in declared_row
    assert "allergy or risk declared" in declared_row
    assert "Prepared: intake done" in clean_row


def test_the_history_shows_reactions_notes_settings_and_duration_and_an_allergy_is_carried_forward(client, clinic):
    earlier = clinic["note"].appointment
    SessionNote.objects.filter(pk=clinic["note"].pk).update(author=clinic["technician"].user)
    client.login(username="tech", password=PASSWORD)
    response = client.post(
        reverse("staff:session_note", args=[earlier.pk]),
        {
            "areas": ["mid", "crown"],
            "reactions": ["redness", "allergic"],
            "machine_settings": "Rotary 3.5 V",
            "duration_minutes": "185",
            "numbing_used": "Lidocaine 5% cream",
            "notes": "Raised welts <em>behind</em> the left ear",
            "next_time_notes": "Patch test a new pigment",
        },
    )
    assert response.status_code == 302

    body = client.get(reverse("staff:appointment", args=[clinic["session"].pk])).content.decode()

    history = body[body.index('id="history-heading"') :]
    assert "Mid-scalp, Crown" in history
    assert "mid, crown" not in history
    assert "Redness" in history
    assert "Allergic reaction to pigment" in history
    assert "Rotary 3.5 V" in history
    assert "185 min" in history
    assert "Lidocaine 5% cream" in history
    assert "Raised welts &lt;em&gt;behind&lt;/em&gt; the left ear" in history
    box = _warnings_box(body)
    assert "Allergic reaction to pigment" in box
    assert _day(earlier) in box
    assert "Redness" not in box  # expected healing, not a warning
    client_page = client.get(reverse("staff:client", args=[clinic["client"].pk])).content.decode()
    assert "Allergic reaction to pigment" in _warnings_box(client_page)


def _history_with_reactions(clinic, sessions: int, *, days_back: int) -> None:
    first = clinic["session"].start - timedelta(days=days_back)
    for n in range(sessions):
        start = first + timedelta(days=n * 15)
        appointment = AppointmentFactory(
            client=clinic["client"],
            technician=clinic["technician"],
            location=clinic["here"],
            kind=Appointment.Kind.TREATMENT_SESSION,
            start=start,
            end=start + timedelta(hours=3),
            status=Appointment.Status.COMPLETED,
            completed_at=start,
        )
        SessionNoteFactory(
            appointment=appointment,
            areas=["mid"],
            reactions=[SessionNote.Reaction.REDNESS, SessionNote.Reaction.ALLERGIC],
            notes=f"Session {n}",
            machine_settings="Rotary",
            duration_minutes=180,
        )
        consultation = AppointmentFactory(
            client=clinic["client"],
            technician=clinic["technician"],
            location=clinic["here"],
            start=start - timedelta(days=2),
            end=start - timedelta(days=2) + timedelta(minutes=45),
        )
        _intake(consultation, allergies=f"Latex {n}", answers=DECLARED)


@pytest.mark.parametrize("page", ["appointment", "client"])
def test_warnings_and_history_cost_the_same_queries_for_2_or_20_sessions(
    client, clinic, page, django_assert_max_num_queries
):
    url = {
        "appointment": reverse("staff:appointment", args=[clinic["session"].pk]),
        "client": reverse("staff:client", args=[clinic["client"].pk]),
    }[page]
    client.login(username="tech", password=PASSWORD)
    _history_with_reactions(clinic, 2, days_back=400)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200

    _history_with_reactions(clinic, 18, days_back=1200)
    with django_assert_max_num_queries(len(small.captured_queries)):
        body = client.get(url).content.decode()
    assert _warnings_box(body).count("Allergic reaction to pigment") == 20
