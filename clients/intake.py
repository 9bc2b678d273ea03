"""The intake form's part of the client record: the clinic's questions and the client's answers.

Writes go through `intake_record_save` (audited by field name, never by content). The whole
submission (answers, consent to photos, the photos, the reminder it makes unnecessary) is
bookings.services.intake.intake_submit, which calls down into this module and clients.services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.forms.models import model_to_dict

from .models import Client, Intake, IntakeQuestion
from .services import _save_with_audit

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import AbstractBaseUser

    # A bookings.Appointment, typed as the Model it is: records sit below bookings, never import it.
    from django.db.models import Model as Appointment

INTAKE_TEXT_FIELDS = ("medications", "allergies", "previous_treatments", "goals")


def intake_questions() -> list[IntakeQuestion]:
    """The questions asked now, in the clinic's order."""
    return list(IntakeQuestion.objects.filter(is_active=True).order_by("order", "pk"))


@transaction.atomic
def intake_record_save(
    *,
    appointment: Appointment,
    client: Client,
    data: dict[str, Any],
    medical_answers: list[dict[str, str]],
    completed_at: datetime,
    by: AbstractBaseUser | None,
) -> Intake:
    """Create or replace the answers of one appointment's intake, with an audit row naming the
    fields that changed. `by` is None when the client sent it through their link."""
    # Locked: a double tap on "Send" must leave one intake and two honest audit rows, not an error.
    intake = Intake.objects.select_for_update().filter(appointment=appointment).first()
    before = model_to_dict(intake) if intake else None
    if intake is None:
        intake = Intake(appointment=appointment, client=client)
    for field in INTAKE_TEXT_FIELDS:
        setattr(intake, field, data.get(field, "").replace("\x00", "").strip())
    intake.medical_answers = medical_answers
    intake.completed_at = completed_at
    _save_with_audit(instance=intake, before=before, by=by, client_id=client.pk)
    return intake


# What a client types in "Allergies" when they have none: not a warning. Anything else is.
_NOTHING_DECLARED = {
    "",
    "-",
    "none",
    "no",
    "nil",
    "n/a",
    "na",
    "no allergies",
    "none known",
    "not known",
    "nka",
    "nkda",
}


def allergy_declared(text: str) -> bool:
    """The text (an intake's or an assessment's "Allergies") names an allergy, rather than saying
    there is none ("None", "n/a", "NKDA", blank...)."""
    return text.strip().lower().rstrip(".") not in _NOTHING_DECLARED


def intake_declarations(intake: Intake | None) -> list[tuple[str, str]]:
    """What the client declared on a sent intake form that a technician must check before
    starting, as (label, text): the allergies they gave and every question answered yes (each
    question is a screening question for a contraindication or a past reaction to dye, ink or
    numbing cream). Their own words, not yet assessed; no query."""
    if intake is None or intake.completed_at is None:
        return []
    declared = []
    allergies = intake.allergies.strip()
    if allergy_declared(allergies):
        declared.append(("Allergies", allergies))
    for answer in intake.medical_yes:
        details = (answer.get("details") or "").strip()
        declared.append((answer.get("question") or "Medical question", f"Yes: {details}" if details else "Yes"))
    return declared
