"""Reads for the technician workspace, each a fixed number of queries however long the history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Prefetch
from django.utils import timezone

from bookings.availability import local_instant
from bookings.models import Appointment, Technician
from bookings.models_stock import Product, SessionBatch
from bookings.selectors import INTAKE_DONE, intake_state
from bookings.zones import default_tz
from clients.intake import intake_declarations
from clients.models import Assessment, Client, ConsentRecord, Intake, Photo, SessionNote


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return local_instant(day, time.min, tz=tz)


def schedule_zone(*, technician: Technician | None) -> ZoneInfo:
    """The zone a schedule is read in: the technician's (first) location's, else the clinic's default."""
    location = technician.locations.order_by("order", "name").first() if technician is not None else None
    return location.tz if location is not None else default_tz()


# Statuses an appointment that has ended should have moved on from (to completed or no-show).
STILL_OPEN = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED)


def schedule_technicians() -> list[Technician]:
    """The technicians a manager picks from on the schedule, in one query."""
    return list(Technician.objects.filter(is_active=True).only("pk", "display_name").order_by("display_name", "pk"))


def schedule_for(
    *, technician: Technician, first: date, last: date, today: date, now: datetime, tz: ZoneInfo
) -> dict[str, list[Appointment]]:
    """The appointments of one technician from ``first`` to ``last`` inclusive (days in ``tz``),
    split into days before today, today and days after. Each carries ``overdue``: it has ended
    but is still marked booked or confirmed.

    One technician at a time (a manager picks whom): the page stays one person's week however
    many technicians the clinic has, and the (technician, start) index answers it."""
    qs = Appointment.objects.filter(
        technician=technician,
        start__gte=_local_midnight(first, tz),
        start__lt=_local_midnight(last + timedelta(days=1), tz),
    ).select_related("client", "location", "treatment", "intake")
    today_start, tomorrow = _local_midnight(today, tz), _local_midnight(today + timedelta(days=1), tz)
    result: dict[str, list[Appointment]] = {"earlier": [], "today": [], "later": []}
    for appointment in qs.exclude(status=Appointment.Status.CANCELLED).order_by("start"):
        appointment.overdue = appointment.status in STILL_OPEN and appointment.end <= now
        appointment.intake_state = intake_state(appointment, now=now)
        # A sent intake that declares an allergy or a risk is not "prepared": it is work to check.
        appointment.intake_declares = appointment.intake_state == INTAKE_DONE and bool(
            intake_declarations(appointment.intake)
        )
        if appointment.start < today_start:
            result["earlier"].append(appointment)
        elif appointment.start < tomorrow:
            result["today"].append(appointment)
        else:
            result["later"].append(appointment)
    return result


# The domain's rare, serious reactions; the others (redness, swelling, scabs, itching, bruising,
# swollen lymph nodes) are ordinary healing. Every later session must see these before it starts.
ADVERSE_REACTIONS = (SessionNote.Reaction.ALLERGIC, SessionNote.Reaction.INFECTION)
AREA_LABELS = dict(SessionNote.Area.choices)
REACTION_LABELS = dict(SessionNote.Reaction.choices)


@dataclass(frozen=True)
class PastReaction:
    """An adverse reaction a session note recorded, carried into the warnings of later sessions."""

    label: str
    day: date  # the session's day on its location's clock
    appointment: Appointment
    pigments: list[str]


@dataclass
class ClientRecord:
    client: Client
    assessment: Assessment | None
    last_note: SessionNote | None
    pigments: list[str]
    timeline: list[Appointment]
    consents: list[ConsentRecord]
    warnings: list[tuple[str, str]] = field(default_factory=list)
    # The client's own answers on their latest intake form, while no assessment has been made since.
    declared: list[tuple[str, str]] = field(default_factory=list)
    declared_at: datetime | None = None
    past_reactions: list[PastReaction] = field(default_factory=list)

    @property
    def has_warnings(self) -> bool:
        return bool(self.warnings or self.declared or self.past_reactions)


def client_record(*, client: Client, before: Appointment | None = None) -> ClientRecord:
    """The client at a glance plus the history, in five queries.

    With ``before`` (the appointment being worked on), "last session's notes" are those of the
    latest session that started before it: never the note just written for this one.

    The warnings are the latest assessment's, what the client declared on an intake form sent
    after it (or with none made), and every adverse reaction a session note recorded."""
    assessment = Assessment.objects.filter(client=client).select_related("assessed_by").order_by("-assessed_at").first()
    timeline = list(
        Appointment.objects.filter(client=client)
        .select_related("technician", "treatment", "location", "session_note", "intake")
        .prefetch_related(
            Prefetch("photos", queryset=Photo.objects.order_by("angle", "phase")),
            Prefetch(
                "session_note__batch_uses",
                queryset=SessionBatch.objects.select_related("batch__product").order_by("-share_percent", "pk"),
            ),
        )
        .order_by("-start")
    )
    notes = [a.session_note for a in timeline if _note_of(a) is not None]
    if before is not None:
        notes_before = [n for n in notes if n.appointment_id != before.pk and n.appointment.start < before.start]
    else:
        notes_before = notes
    last_note = max(notes_before, key=lambda n: n.appointment.start, default=None)
    pigments: list[str] = []
    past_reactions: list[PastReaction] = []
    for note in notes:
        labels = _note_pigments(note)
        for label in labels:
            if label not in pigments:
                pigments.append(label)
        note.area_labels = [AREA_LABELS.get(a, a) for a in note.areas]
        note.reaction_rows = [(REACTION_LABELS.get(r, r), r in ADVERSE_REACTIONS) for r in note.reactions]
        session = note.appointment
        for reaction in note.reactions:
            if reaction in ADVERSE_REACTIONS:
                day = timezone.localtime(session.start, session.location.tz).date()
                past_reactions.append(PastReaction(REACTION_LABELS[reaction], day, session, labels))
    consents = list(ConsentRecord.objects.filter(client=client).select_related("wording", "witnessed_by"))
    record = ClientRecord(client, assessment, last_note, pigments, timeline, consents, past_reactions=past_reactions)
    if assessment is not None:
        if assessment.contraindications.strip():
            record.warnings.append(("Contraindications", assessment.contraindications))
        if assessment.allergies.strip():
            record.warnings.append(("Allergies", assessment.allergies))
        if assessment.suitability == Assessment.Suitability.NOT_SUITABLE:
            reason = assessment.suitability_notes or "Assessed as not suitable for SMP."
            record.warnings.append(("Not suitable", reason))
    intakes = [i for a in timeline if (i := _intake_of(a)) is not None and i.completed_at is not None]
    intake = max(intakes, key=lambda i: i.completed_at, default=None)
    if intake is not None and (assessment is None or assessment.assessed_at < intake.completed_at):
        record.declared = intake_declarations(intake)
        record.declared_at = intake.completed_at if record.declared else None
    return record


def _note_pigments(note: SessionNote) -> list[str]:
    """The pigment batches the session used; a note from before batches were tracked has its text."""
    labels = [str(u.batch.product) for u in note.batch_uses.all() if u.batch.product.kind == Product.Kind.PIGMENT]
    if not labels:
        label = " ".join(x for x in (note.pigment_brand, note.pigment_shade) if x)
        if note.pigment_blend:
            label = f"{label} ({note.pigment_blend})" if label else note.pigment_blend
        labels = [label] if label else []
    return labels


def _note_of(appointment: Appointment) -> SessionNote | None:
    try:
        return appointment.session_note
    except SessionNote.DoesNotExist:
        return None


def _intake_of(appointment: Appointment) -> Intake | None:
    try:
        return appointment.intake
    except Intake.DoesNotExist:
        return None
