"""The outbox of client messages (aftercare day 4/7/10, 48-hour reminders, follow-ups).

What each appointment owes its client is computed here from the appointment's current
state; `reminders_sync` writes it as rows in the same transaction as the change, and
bookings.services.outbox sends the rows when they fall due.

Essential and non-essential messages: the day-4, day-7 and day-10 aftercare messages
protect the healing of skin the clinic has just treated, so every client gets them after
every session whatever `reminders_opt_in` says. The 48-hour reminder, the prompt to book
the next session and the touch-up recall are sent only while `reminders_opt_in` is on, and
carry an unsubscribe link. An erased client gets nothing at all.
"""

from __future__ import annotations

import calendar
import functools
import logging
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template import Context, Engine, TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from bookings.models import AftercareReminder, Appointment, Location, MessageTemplate
from bookings.zones import local, local_date

logger = logging.getLogger(__name__)

Milestone = AftercareReminder.Milestone
Status = AftercareReminder.Status

AFTERCARE_DAYS = {Milestone.AFTERCARE_DAY_4: 4, Milestone.AFTERCARE_DAY_7: 7, Milestone.AFTERCARE_DAY_10: 10}
AFTERCARE_ANCHORS = {
    Milestone.AFTERCARE_DAY_4: "day-4",
    Milestone.AFTERCARE_DAY_7: "day-7",
    Milestone.AFTERCARE_DAY_10: "day-10",
}
ESSENTIAL_MILESTONES = frozenset(AFTERCARE_DAYS)
TREATED_KINDS = (Appointment.Kind.TREATMENT_SESSION, Appointment.Kind.TOUCH_UP)
UPCOMING_STATUSES = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED)
REMINDER_LEAD = timedelta(hours=48)
# Booked closer than this to its start, an appointment gets no reminder: the client has just booked.
REMINDER_MIN_NOTICE = timedelta(hours=24)
# A session completed (or back-dated) this long after an aftercare day gets no message for that day.
AFTERCARE_TOO_LATE = timedelta(days=1)
UNSUBSCRIBE_SALT = "bookings.messages.unsubscribe"

MESSAGE_CONTEXT_HELP = (
    "first_name, clinic_name, treatment_name, session_date, appointment_kind, appointment_date, "
    "appointment_time, duration, is_treatment, location_name, location_address, location_phone, "
    "location_phone_link, aftercare_url, book_url, manage_url, unsubscribe_url"
)

# Staff-edited wording renders in an engine that can load no files and no tag libraries.
_SANDBOX = Engine(loaders=[("django.template.loaders.locmem.Loader", {})], libraries={}, autoescape=True)


@functools.lru_cache(maxsize=256)
def _compiled(source: str):
    # Wording changes rarely and compiling it dominates a send; keyed by the text itself, so an
    # edit in the admin is picked up at once.
    return _SANDBOX.from_string(source)


# Schedule ---------------------------------------------------------------------------------


def send_time_on(day: date, location: Location) -> datetime:
    """The configured send time on the location's clock on one of its calendar days."""
    hour, minute = (int(part) for part in settings.AFTERCARE_SEND_TIME.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=location.tz)


def add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def _next_session_booked(appointment: Appointment) -> bool:
    if appointment.course_id is None:
        return False
    return (
        Appointment.objects.filter(
            course_id=appointment.course_id,
            kind=Appointment.Kind.TREATMENT_SESSION,
            status__in=Appointment.ACTIVE_STATUSES,
            start__gt=appointment.start,
        )
        .exclude(pk=appointment.pk)
        .exists()
    )


def _ends_course(appointment: Appointment) -> bool:
    if appointment.kind == Appointment.Kind.TOUCH_UP:
        return True
    course = appointment.course
    if course is None:
        return False
    if appointment.session_number is not None:
        return appointment.session_number >= course.planned_sessions
    return course.status == course.Status.COMPLETED


def _touch_up_booked_since(appointment: Appointment) -> bool:
    return (
        Appointment.objects.filter(
            client_id=appointment.client_id,
            kind=Appointment.Kind.TOUCH_UP,
            status__in=Appointment.ACTIVE_STATUSES,
            start__gt=appointment.start,
        )
        .exclude(pk=appointment.pk)
        .exists()
    )


def owed_milestones(appointment: Appointment) -> dict[str, datetime]:
    """What the appointment owes its client in its current state: milestone -> due time.

    Only state decides here (no clock), so the same rules serve both writing the rows and
    checking, at send time, that a message is still owed.
    """
    client = appointment.client
    if client.erased_at is not None:
        return {}
    owed: dict[str, datetime] = {}
    opted_in = client.reminders_opt_in
    if appointment.status in UPCOMING_STATUSES and opted_in:
        owed[Milestone.REMINDER_48H] = appointment.start - REMINDER_LEAD
    if appointment.status == Appointment.Status.COMPLETED and appointment.kind in TREATED_KINDS:
        location = appointment.location
        # Day 4 is counted in the clinic's calendar days and sent on its clock.
        day = local_date(appointment.start, location)
        for milestone, days in AFTERCARE_DAYS.items():
            owed[milestone] = send_time_on(day + timedelta(days=days), location)
        if not opted_in:
            return owed
        if appointment.kind == Appointment.Kind.TREATMENT_SESSION and appointment.course_id:
            course = appointment.course
            more_planned = appointment.session_number is None or appointment.session_number < course.planned_sessions
            if more_planned and course.status != course.Status.CANCELLED and not _next_session_booked(appointment):
                owed[Milestone.NEXT_SESSION_PROMPT] = send_time_on(day + timedelta(days=10), location)
        if _ends_course(appointment) and not _touch_up_booked_since(appointment):
            owed[Milestone.TOUCH_UP_RECALL] = send_time_on(add_months(day, settings.TOUCH_UP_RECALL_MONTHS), location)
    return owed


def channel_for(client) -> str:
    if client.preferred_channel == "sms" and client.phone:
        return AftercareReminder.Channel.SMS
    return AftercareReminder.Channel.EMAIL


def _wanted_now(appointment: Appointment, now: datetime) -> dict[str, datetime]:
    """owed_milestones, less what is pointless to start sending at this moment."""
    wanted = owed_milestones(appointment)
    reminder_due = wanted.get(Milestone.REMINDER_48H)
    if reminder_due is not None:
        if appointment.start - now < REMINDER_MIN_NOTICE:
            del wanted[Milestone.REMINDER_48H]
        else:
            wanted[Milestone.REMINDER_48H] = max(reminder_due, now)
    for milestone in AFTERCARE_DAYS:
        if milestone in wanted and wanted[milestone] < now - AFTERCARE_TOO_LATE:
            del wanted[milestone]
    return wanted


def reminders_sync(*, appointment: Appointment, now: datetime | None = None) -> None:
    """Bring the appointment's pending messages in line with its current state.

    Call inside the transaction that books, moves, cancels, completes or un-completes the
    appointment: it creates, moves or cancels the rows so the outbox always matches.
    Rows already being sent or sent are history and are left alone.
    """
    now = now or timezone.now()
    appointment = Appointment.objects.select_related("client", "course", "location").get(pk=appointment.pk)
    with transaction.atomic():
        wanted = _wanted_now(appointment, now)
        channel = channel_for(appointment.client)
        # Locked so a dispatcher cannot claim a row while this transaction moves or cancels it
        # (its SKIP LOCKED passes over them until we commit).
        existing = {
            r.milestone: r for r in AftercareReminder.objects.select_for_update().filter(appointment=appointment)
        }
        for milestone in Milestone.values:
            row, due = existing.get(milestone), wanted.get(milestone)
            if due is not None and row is None:
                AftercareReminder.objects.create(
                    appointment=appointment, milestone=milestone, channel=channel, due_at=due
                )
            elif due is not None and row.status == Status.PENDING:
                if row.due_at != due or row.channel != channel:
                    row.due_at, row.channel = due, channel
                    row.save(update_fields=["due_at", "channel", "updated_at"])
            elif due is not None and row.status == Status.CANCELLED:
                _reopen(row, due_at=due, channel=channel)
            elif due is None and row is not None and row.status == Status.PENDING:
                row.status = Status.CANCELLED
                row.save(update_fields=["status", "updated_at"])
        if appointment.course_id and appointment.kind == Appointment.Kind.TREATMENT_SESSION:
            _cancel_prompts_now_booked(course_id=appointment.course_id)


def _reopen(row: AftercareReminder, *, due_at: datetime, channel: str) -> None:
    row.status, row.due_at, row.channel = Status.PENDING, due_at, channel
    row.attempts, row.next_attempt_at, row.last_error = 0, None, ""
    row.claim_token, row.claimed_at = "", None
    row.save()


def _cancel_prompts_now_booked(*, course_id: int) -> None:
    prompts = AftercareReminder.objects.select_for_update().filter(
        appointment__course_id=course_id, milestone=Milestone.NEXT_SESSION_PROMPT, status=Status.PENDING
    )
    for prompt in prompts.select_related("appointment"):
        if _next_session_booked(prompt.appointment):
            prompt.status = Status.CANCELLED
            prompt.save(update_fields=["status", "updated_at"])


def client_messages_cancel(*, client) -> int:
    """Cancel every pending message to a client (on erasure or opt-out). Returns how many."""
    rows = AftercareReminder.objects.filter(appointment__client=client, status=Status.PENDING)
    if client.erased_at is None:
        rows = rows.exclude(milestone__in=ESSENTIAL_MILESTONES)
    return rows.update(status=Status.CANCELLED, updated_at=timezone.now())


def skip_reason(reminder: AftercareReminder, *, now: datetime) -> str:
    """Why a claimed message must not go out after all ('' when it should)."""
    appointment = reminder.appointment
    client = appointment.client
    if client.erased_at is not None:
        return "Skipped: the client's data was erased."
    if reminder.milestone not in owed_milestones(appointment):
        if reminder.milestone == Milestone.NEXT_SESSION_PROMPT and _next_session_booked(appointment):
            return "Skipped: the next session is booked."
        if reminder.milestone not in ESSENTIAL_MILESTONES and not client.reminders_opt_in:
            return "Skipped: the client opted out of reminders and follow-ups."
        return "Skipped: the appointment no longer needs this message."
    if reminder.milestone == Milestone.REMINDER_48H and appointment.start <= now:
        return "Skipped: the appointment has already started."
    if channel_for(client) == AftercareReminder.Channel.EMAIL and not client.email:
        return "Skipped: the client has no e-mail address or mobile number."
    return ""


# Staff actions ------------------------------------------------------------------------------


def reminder_resend(*, reminder: AftercareReminder, by, now: datetime | None = None) -> AftercareReminder:
    """Queue a message to go out again at the next dispatch (the send-time checks still apply)."""
    now = now or timezone.now()
    with transaction.atomic():
        row = AftercareReminder.objects.select_for_update().get(pk=reminder.pk)
        if row.status == Status.SENDING:
            raise ValidationError("This message is being sent right now; try again in a few minutes.")
        row.status, row.due_at, row.attempts, row.next_attempt_at = Status.PENDING, now, 0, None
        row.last_error, row.claim_token, row.claimed_at = "", "", None
        row.save()
    logger.info("message %s queued again by user %s", row.pk, getattr(by, "pk", None))
    return row


def reminder_cancel(*, reminder: AftercareReminder, by) -> AftercareReminder:
    with transaction.atomic():
        row = AftercareReminder.objects.select_for_update().get(pk=reminder.pk)
        if row.status not in (Status.PENDING, Status.FAILED):
            raise ValidationError("Only a pending or failed message can be cancelled.")
        row.status = Status.CANCELLED
        row.save(update_fields=["status", "updated_at"])
    logger.info("message %s cancelled by user %s", row.pk, getattr(by, "pk", None))
    return row


# Wording -----------------------------------------------------------------------------------


def unsubscribe_token(client) -> str:
    return signing.dumps({"c": client.pk}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_client_id(token: str) -> int:
    """The client id a token was made for; raises signing.BadSignature if it was not ours."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        raise signing.BadSignature("Malformed token.")
    return data["c"]


def _site(path: str) -> str:
    return settings.SITE_URL + path


def _book_url() -> str:
    for name in ("bookings:book", "bookings:book_consultation"):
        try:
            return _site(reverse(name))
        except NoReverseMatch:
            continue
    return _site("/")


def _manage_url(appointment: Appointment) -> str:
    from bookings.tokens import booking_token_make

    try:
        return _site(reverse("bookings:manage", args=[booking_token_make(appointment=appointment)]))
    except NoReverseMatch:
        return _site("/")


def _duration_words(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest:
        parts.append(f"{rest} minutes")
    return " ".join(parts) or "an hour"


def _long_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def message_context(reminder: AftercareReminder) -> dict:
    """The small, plain-string context every template renders against."""
    appointment = reminder.appointment
    client, location = appointment.client, appointment.location
    treatment = appointment.treatment or (appointment.course.treatment if appointment.course_id else None)
    start = local(appointment.start, location)
    anchor = AFTERCARE_ANCHORS.get(reminder.milestone)
    essential = reminder.milestone in ESSENTIAL_MILESTONES
    address = ", ".join(
        p for p in (location.address_line1, location.address_line2, location.city, location.postcode) if p
    )
    return {
        "first_name": client.first_name,
        "clinic_name": settings.CLINIC_NAME,
        "treatment_name": treatment.name if treatment else appointment.get_kind_display().lower(),
        "session_date": _long_date(start.date()),
        "appointment_kind": appointment.get_kind_display().lower(),
        "appointment_date": _long_date(start.date()),
        "appointment_time": f"{start:%H:%M}",
        "duration": _duration_words(appointment.duration_minutes),
        "is_treatment": appointment.kind in TREATED_KINDS,
        "location_name": location.name,
        "location_address": address,
        "location_phone": location.phone,
        "location_phone_link": location.phone.replace(" ", ""),
        "aftercare_url": _site(f"/aftercare/#{anchor}" if anchor else "/aftercare/"),
        "book_url": _book_url(),
        "manage_url": _manage_url(appointment),
        "unsubscribe_url": ""
        if essential
        else _site(reverse("client_messages:unsubscribe", args=[unsubscribe_token(client)])),
    }


def _default_wording(milestone: str) -> dict[str, str]:
    folder = "aftercare" if milestone in ESSENTIAL_MILESTONES else "messages"
    base = f"emails/{folder}/{milestone}"
    engine = Engine.get_default()
    return {
        "subject": engine.get_template(f"{base}.subject.txt").source,
        "text_body": engine.get_template(f"{base}.txt").source,
        "html_body": engine.get_template(f"{base}.html").source,
        "sms_body": engine.get_template(f"{base}.sms.txt").source,
    }


def wording_for(*, milestone: str, treatment_id: int | None) -> dict[str, str]:
    """Staff's wording for the milestone: the treatment's own, else the general one, else the files."""
    templates = MessageTemplate.objects.filter(
        milestone=milestone, treatment_id__in=[treatment_id] if treatment_id else []
    )
    chosen = templates.first() or MessageTemplate.objects.filter(milestone=milestone, treatment__isnull=True).first()
    if chosen is None:
        return _default_wording(milestone)
    return {f: getattr(chosen, f) for f in ("subject", "text_body", "html_body", "sms_body")}


def render_wording(wording: dict[str, str], context: dict) -> dict[str, str]:
    """Render staff wording in the sandbox: subject, text and HTML e-mail (in the layout), SMS."""

    def render(source: str, *, html: bool) -> str:
        return _compiled(source).render(Context(context, autoescape=html))

    subject = " ".join(render(wording["subject"], html=False).split())
    body_html = render(wording["html_body"], html=True)
    body_text = render(wording["text_body"], html=False).strip()
    layout = {**context, "subject": subject}
    return {
        "subject": subject,
        "text": render_to_string("emails/messages/layout.txt", {**layout, "body": body_text}),
        "html": render_to_string("emails/messages/layout.html", {**layout, "body": mark_safe(body_html)}),  # noqa: S308 - rendered with autoescape above
        "sms": " ".join(render(wording["sms_body"], html=False).split()),
        "unsubscribe_url": context.get("unsubscribe_url", ""),
    }


def message_render(reminder: AftercareReminder, *, wordings: dict | None = None) -> dict[str, str]:
    """The message's subject, text, HTML and SMS. `wordings` caches staff wording for one batch."""
    appointment = reminder.appointment
    treatment_id = appointment.treatment_id or (appointment.course.treatment_id if appointment.course_id else None)
    wordings = {} if wordings is None else wordings
    key = (reminder.milestone, treatment_id)
    if key not in wordings:
        wordings[key] = wording_for(milestone=reminder.milestone, treatment_id=treatment_id)
    return render_wording(wordings[key], message_context(reminder))


def wording_check(wording: dict[str, str]) -> None:
    """Raise ValidationError if staff wording does not render against the sample context."""
    for field, source in wording.items():
        try:
            _SANDBOX.from_string(source).render(Context(sample_context()))
        # {% url %} and {% include %} parse, then fail when rendered: the same message, never a 500.
        except (TemplateSyntaxError, TemplateDoesNotExist, NoReverseMatch) as exc:
            raise ValidationError({field: f"This wording does not render: {exc}"}) from None


def sample_context(*, milestone: str = Milestone.AFTERCARE_DAY_4) -> dict:
    """What a preview renders with: made-up values, never a real client's."""
    anchor = AFTERCARE_ANCHORS.get(milestone)
    return {
        "first_name": "Sam",
        "clinic_name": settings.CLINIC_NAME,
        "treatment_name": "Hairline design",
        "session_date": "Wednesday 21 October 2026",
        "appointment_kind": "treatment session",
        "appointment_date": "Friday 23 October 2026",
        "appointment_time": "10:00",
        "duration": "3 hours",
        "is_treatment": True,
        "location_name": "Manchester",
        "location_address": "1 High Street, Manchester, M1 1AA",
        "location_phone": "0161 496 0000",
        "location_phone_link": "01614960000",
        "aftercare_url": _site(f"/aftercare/#{anchor}" if anchor else "/aftercare/"),
        "book_url": _book_url(),
        "manage_url": _site("/booking/sample/"),
        "unsubscribe_url": "" if milestone in ESSENTIAL_MILESTONES else _site("/messages/unsubscribe/sample/"),
    }
