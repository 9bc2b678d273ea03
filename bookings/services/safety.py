"""The safety rules every booking path shares: age (18 or over), and a patch test before a first
session and before the next session after an allergic reaction to pigment.

appointment_book and appointment_reschedule call these, so the public form, the client's manage
link, the staff workspace, the course planner and the admin all refuse the same bookings with the
same words; appointment_complete calls first_session_id_check. Refusals are BookingRefused, a
BookingRequestError (every caller already answers it with a 4xx and its message) with a code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from bookings import zones
from bookings.models import Appointment, Location
from bookings.selectors import BookingRequestError
from clients.ages import under_age_message
from clients.intake import allergy_declared
from clients.models import Assessment, Client, Intake, PatchTest, SessionNote
from treatments.models import Treatment

# Sessions that put pigment in the skin: the first of them is the one a patch test must precede.
PIGMENT_KINDS = (Appointment.Kind.TREATMENT_SESSION, Appointment.Kind.TOUCH_UP)
# Appointments that still happen (or happened): a cancelled or missed session was never a first.
HELD = (
    Appointment.Status.BOOKED,
    Appointment.Status.CONFIRMED,
    Appointment.Status.ARRIVED,
    Appointment.Status.COMPLETED,
)


class BookingRefused(BookingRequestError):
    """A booking the safety rules refuse; ``code`` says which rule (callers branch on it)."""

    def __init__(self, field: str, message: str, *, code: str):
        super().__init__(field, message)
        self.code = code


def age_check(*, client: Client, start: datetime, location: Location) -> None:
    """Refuse a client known to be under 18 on the appointment's day at the clinic (its zone,
    Europe/London unless the location says otherwise). A client with no date of birth yet is
    checked at the consultation (client_id_check_record), before any first session is completed."""
    if client.date_of_birth is None:
        return
    refusal = under_age_message(born=client.date_of_birth, day=zones.local_date(start, location))
    if refusal:
        raise BookingRefused("date_of_birth", refusal, code="under_18")


def is_first_session(*, client: Client, start: datetime, exclude_appointment_id: int | None = None) -> bool:
    """No pigment session of the client's, held or done, starts before ``start``."""
    earlier = Appointment.objects.filter(client=client, kind__in=PIGMENT_KINDS, status__in=HELD, start__lt=start)
    if exclude_appointment_id is not None:
        earlier = earlier.exclude(pk=exclude_appointment_id)
    return not earlier.exists()


def allergy_on_record(*, client: Client) -> bool:
    """The newest word on the client's allergies names one: the latest assessment's, or the
    client's own intake form when it was sent after that assessment (or there is none yet)."""
    assessed = Assessment.objects.filter(client=client).order_by("-assessed_at").values_list("assessed_at", "allergies")
    declared = (
        Intake.objects.filter(client=client, completed_at__isnull=False)
        .order_by("-completed_at")
        .values_list("completed_at", "allergies")
    )
    newest = max((row for row in (assessed.first(), declared.first()) if row is not None), default=None)
    return newest is not None and allergy_declared(newest[1])


def patch_test_needed(*, client: Client, treatment: Treatment | None) -> bool:
    """The treatment asks for one, or the client's allergies on record name one."""
    if treatment is not None and treatment.needs_patch_test:
        return True
    return allergy_on_record(client=client)


def allergic_reaction_before(
    *, client: Client, start: datetime, exclude_appointment_id: int | None = None
) -> datetime | None:
    """When the client's latest allergic reaction to pigment before ``start`` happened (a pigment
    session's note records it), on that session's clinic clock, or None. ``exclude_appointment_id``
    is the session being moved: its own reaction still counts, dated no later than its note was
    last saved (the session may already stand at a later time than the one it reacted at)."""
    notes = (
        SessionNote.objects.filter(appointment__client=client, appointment__kind__in=PIGMENT_KINDS)
        .filter(Q(appointment__start__lt=start) | Q(appointment_id=exclude_appointment_id))
        .values_list(
            "appointment_id", "appointment__start", "updated_at", "appointment__location__time_zone", "reactions"
        )
    )
    reacted = []
    for appointment_id, started, noted, zone, reactions in notes:
        if SessionNote.Reaction.ALLERGIC not in (reactions or ()):
            continue
        # The session being moved reacted before its note was saved, wherever it stands now.
        when = min(started, noted) if appointment_id == exclude_appointment_id else started
        if when < start:
            reacted.append(when.astimezone(ZoneInfo(zone)))
    return max(reacted, default=None)


def patch_test_hours(treatment: Treatment | None) -> int:
    return (
        treatment.patch_test_hours if treatment is not None else Treatment._meta.get_field("patch_test_hours").default
    )


@dataclass(frozen=True)
class PatchTestStatus:
    ok: bool
    code: str
    message: str
    latest: PatchTest | None = None


def patch_test_status(
    *,
    client: Client,
    treatment: Treatment | None,
    start: datetime,
    reaction_at: datetime | None = None,
    location: Location | None = None,
) -> PatchTestStatus:
    """Whether a first session may start at ``start``: the latest patch test recorded before it is
    clear and was done at least the treatment's hours before (a reaction after a clear test wins).
    With ``reaction_at`` (a session's allergic reaction), only a test done after it counts."""
    hours = patch_test_hours(treatment)
    tests = PatchTest.objects.filter(client=client, tested_at__lte=start)
    if reaction_at is not None:
        tests = tests.filter(tested_at__gt=reaction_at)
    latest = tests.order_by("-tested_at", "-pk").first()
    if latest is None and reaction_at is not None:
        return PatchTestStatus(
            False,
            "patch_test_after_reaction",
            "The client had an allergic reaction to pigment at the session of "
            f"{reaction_at:%d %b %Y}: record a clear patch test done after it, "
            f"at least {hours} hours before the next session.",
        )
    if latest is None:
        return PatchTestStatus(
            False,
            "patch_test_required",
            "A patch test must be recorded clear before the first session: book a patch test "
            f"at least {hours} hours before it.",
        )
    if not latest.is_clear:
        return PatchTestStatus(
            False,
            "patch_test_reaction",
            "The client's latest patch test showed a reaction: the session cannot be booked. "
            "Discuss it with the technician (a new patch test can be recorded if appropriate).",
            latest,
        )
    earliest = latest.tested_at + timedelta(hours=hours)
    if start < earliest:
        when = zones.local(earliest, location) if location is not None else timezone.localtime(earliest)
        return PatchTestStatus(
            False,
            "patch_test_too_recent",
            f"The patch test was done less than {hours} hours before this time: the session can "
            f"start from {when:%a %d %b %Y %H:%M}.",
            latest,
        )
    return PatchTestStatus(True, "patch_test_clear", "", latest)


def patch_test_required(
    *,
    client: Client,
    treatment: Treatment | None,
    start: datetime,
    exclude_appointment_id: int | None = None,
    location: Location | None = None,
) -> PatchTestStatus | None:
    """For a pigment session at ``start``: None when it needs no patch test, else the patch-test
    status it must pass. It needs one when it follows a session with an allergic reaction to
    pigment (a test done since), or when it is the client's first and the treatment or their
    allergies call for one."""
    reaction_at = allergic_reaction_before(client=client, start=start, exclude_appointment_id=exclude_appointment_id)
    if reaction_at is None and not (
        patch_test_needed(client=client, treatment=treatment)
        and is_first_session(client=client, start=start, exclude_appointment_id=exclude_appointment_id)
    ):
        return None
    return patch_test_status(
        client=client, treatment=treatment, start=start, reaction_at=reaction_at, location=location
    )


def patch_test_check(
    *,
    client: Client,
    kind: str,
    treatment: Treatment | None,
    start: datetime,
    exclude_appointment_id: int | None = None,
    location: Location | None = None,
) -> None:
    """Refuse a pigment session that needs a patch test without a clear one in time (times in the
    refusal on ``location``'s clock)."""
    if kind not in PIGMENT_KINDS:
        return
    # Locked (callers are inside the booking's transaction): a result recorded at this moment
    # (patch_test_record locks the same row) is either seen here or recorded after the booking.
    list(Client.objects.select_for_update().filter(pk=client.pk).values_list("pk", flat=True))
    status = patch_test_required(
        client=client,
        treatment=treatment,
        start=start,
        exclude_appointment_id=exclude_appointment_id,
        location=location,
    )
    if status is not None and not status.ok:
        raise BookingRefused("start", status.message, code=status.code)


def booking_safety_check(
    *,
    client: Client,
    kind: str,
    treatment: Treatment | None,
    start: datetime,
    location: Location,
    exclude_appointment_id: int | None = None,
) -> None:
    """Every booking and move: the age rule, then the patch-test rule."""
    age_check(client=client, start=start, location=location)
    patch_test_check(
        client=client,
        kind=kind,
        treatment=treatment,
        start=start,
        exclude_appointment_id=exclude_appointment_id,
        location=location,
    )


def first_session_id_check(*, appointment: Appointment) -> None:
    """A first treatment session is completed only once the client's photo ID has been checked."""
    if appointment.kind != Appointment.Kind.TREATMENT_SESSION:
        return
    client = Client.objects.only("id_checked_at").get(pk=appointment.client_id)
    if client.id_checked_at is not None:
        return
    done_before = (
        Appointment.objects.filter(
            client_id=appointment.client_id,
            kind__in=PIGMENT_KINDS,
            status=Appointment.Status.COMPLETED,
            start__lt=appointment.start,
        )
        .exclude(pk=appointment.pk)
        .exists()
    )
    if not done_before:
        raise ValidationError(
            "The client's photo ID has not been checked: record the ID check (consultation page or the "
            "client in the admin) before completing their first session.",
            code="id_not_checked",
        )
