"""Reads for the technician workspace, each a fixed number of queries however long the history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Prefetch

from bookings.availability import local_instant
from bookings.models import Appointment, Technician
from bookings.zones import default_tz
from clients.models import Assessment, Client, ConsentRecord, Photo, SessionNote


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return local_instant(day, time.min, tz=tz)


def schedule_zone(*, technician: Technician | None) -> ZoneInfo:
    """The zone a schedule is read in: the technician's (first) location's, else the clinic's default."""
    location = technician.locations.order_by("order", "name").first() if technician is not None else None
    return location.tz if location is not None else default_tz()


def schedule_for(*, technician: Technician | None, today: date, tz: ZoneInfo) -> dict[str, list[Appointment]]:
    """Today's and the rest of this week's appointments (Monday to Sunday, days in ``tz``) of one
    technician, or of everyone when technician is None (a manager)."""
    week_start = today - timedelta(days=today.weekday())
    week_end = week_start + timedelta(days=7)
    qs = Appointment.objects.filter(
        start__gte=_local_midnight(week_start, tz), start__lt=_local_midnight(week_end, tz)
    ).select_related("client", "location", "treatment", "technician")
    if technician is not None:
        qs = qs.filter(technician=technician)
    today_start, tomorrow = _local_midnight(today, tz), _local_midnight(today + timedelta(days=1), tz)
    result: dict[str, list[Appointment]] = {"today": [], "week": []}
    for appointment in qs.exclude(status=Appointment.Status.CANCELLED).order_by("start"):
        result["today" if today_start <= appointment.start < tomorrow else "week"].append(appointment)
    return result


@dataclass
class ClientRecord:
    client: Client
    assessment: Assessment | None
    last_note: SessionNote | None
    pigments: list[str]
    timeline: list[Appointment]
    consents: list[ConsentRecord]
    warnings: list[tuple[str, str]] = field(default_factory=list)


def client_record(*, client: Client) -> ClientRecord:
    """The client at a glance plus the history, in five queries."""
    assessment = Assessment.objects.filter(client=client).select_related("assessed_by").order_by("-assessed_at").first()
    timeline = list(
        Appointment.objects.filter(client=client)
        .select_related("technician", "treatment", "location", "session_note")
        .prefetch_related(Prefetch("photos", queryset=Photo.objects.order_by("angle", "phase")))
        .order_by("-start")
    )
    notes = [a.session_note for a in timeline if _note_of(a) is not None]
    last_note = max(notes, key=lambda n: n.appointment.start, default=None)
    pigments: list[str] = []
    for note in notes:
        label = " ".join(x for x in (note.pigment_brand, note.pigment_shade) if x)
        if note.pigment_blend:
            label = f"{label} ({note.pigment_blend})" if label else note.pigment_blend
        if label and label not in pigments:
            pigments.append(label)
    consents = list(ConsentRecord.objects.filter(client=client).select_related("wording", "witnessed_by"))
    record = ClientRecord(client, assessment, last_note, pigments, timeline, consents)
    if assessment is not None:
        if assessment.contraindications.strip():
            record.warnings.append(("Contraindications", assessment.contraindications))
        if assessment.allergies.strip():
            record.warnings.append(("Allergies", assessment.allergies))
        if assessment.suitability == Assessment.Suitability.NOT_SUITABLE:
            reason = assessment.suitability_notes or "Assessed as not suitable for SMP."
            record.warnings.append(("Not suitable", reason))
    return record


def _note_of(appointment: Appointment) -> SessionNote | None:
    try:
        return appointment.session_note
    except SessionNote.DoesNotExist:
        return None
