"""The outbox of client messages: booking confirmed, moved and cancelled, aftercare day
4/7/10, 48-hour reminders, follow-ups.

Two sorts of row. Change messages (confirmation, moved, cancelled) are queued by
`client_message_queue` in the transaction that books, moves or cancels, one per change and
channel, with what they must say frozen on the row. Scheduled messages are computed here from
the appointment's current state; `reminders_sync` writes them as rows in the same transaction
as the change. bookings.services.outbox sends the rows when they fall due.

Essential and non-essential messages: the day-4, day-7 and day-10 aftercare messages
protect the healing of skin the clinic has just treated, so every client gets them after
every session whatever `reminders_opt_in` says. The 48-hour reminder, the prompt to book
the next session and the touch-up recall are sent only while `reminders_opt_in` is on, and
carry an unsubscribe link. Change messages are transactional: the client asked for (or
must know about) the change, so they too ignore `reminders_opt_in`. An erased client gets
nothing at all.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time as monotonic_clock
from datetime import UTC, date, datetime, time, timedelta

from celery import current_app
from django.conf import settings
from django.core import signing
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.template import Context, Engine, TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from kombu.exceptions import OperationalError as KombuOperationalError

from bookings.models import Appointment, ClientMessage, Location, MessageTemplate
from bookings.zones import add_months, local, local_date
from clients.models import AuditEvent, Client, SessionNote
from clients.services import audit_record

logger = logging.getLogger(__name__)

# bookings.tasks.reminders_dispatch, named rather than imported (see _wake_now).
DISPATCH_TASK = "bookings.reminders_dispatch"

Kind = ClientMessage.Kind
Status = ClientMessage.Status

AFTERCARE_DAYS = {Kind.AFTERCARE_DAY_4: 4, Kind.AFTERCARE_DAY_7: 7, Kind.AFTERCARE_DAY_10: 10}
AFTERCARE_ANCHORS = {
    Kind.AFTERCARE_DAY_4: "day-4",
    Kind.AFTERCARE_DAY_7: "day-7",
    Kind.AFTERCARE_DAY_10: "day-10",
}
ESSENTIAL_KINDS = frozenset(AFTERCARE_DAYS)
# Messages that carry a consultation's intake link.
INTAKE_LINK_KINDS = frozenset({Kind.CONFIRMATION, Kind.MOVED, Kind.INTAKE_REMINDER})
CHANGE_KINDS = frozenset(ClientMessage.CHANGE_KINDS)
ONE_OFF_KINDS = frozenset(ClientMessage.ONE_OFF_KINDS)
NOTICE_KINDS = frozenset(ClientMessage.NOTICE_KINDS)
SCHEDULED_KINDS = tuple(k for k in Kind.values if k not in CHANGE_KINDS | ONE_OFF_KINDS | NOTICE_KINDS)
# Sent whatever reminders_opt_in says, so they carry no unsubscribe link.
NO_OPT_OUT_KINDS = ESSENTIAL_KINDS | CHANGE_KINDS | ONE_OFF_KINDS | NOTICE_KINDS
WAITLIST_KINDS = frozenset(ClientMessage.WAITLIST_KINDS)
TREATED_KINDS = (Appointment.Kind.TREATMENT_SESSION, Appointment.Kind.TOUCH_UP)
UPCOMING_STATUSES = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED)
REMINDER_LEAD = timedelta(hours=48)
# Booked closer than this to its start, an appointment gets no reminder: the client has just booked.
REMINDER_MIN_NOTICE = timedelta(hours=24)
# A session completed (or back-dated) this long after an aftercare day gets no message for that day.
AFTERCARE_TOO_LATE = timedelta(days=1)
UNSUBSCRIBE_SALT = "bookings.messages.unsubscribe"
# The intake form's reminder goes out this many of the clinic's calendar days before the consultation.
INTAKE_REMINDER_DAYS = 2
INTAKE_REMINDER_GRACE = timedelta(hours=1)
# Reactions recorded on any session note that make a client someone never asked for a review.
COMPLICATION_REACTIONS = frozenset({SessionNote.Reaction.INFECTION, SessionNote.Reaction.ALLERGIC})

MESSAGE_CONTEXT_HELP = (
    "first_name, clinic_name, treatment_name, session_date, appointment_kind, appointment_date, "
    "appointment_time, appointment_end_time, time_zone_label (e.g. London time), duration, reference, "
    "technician_name, is_treatment, "
    "is_consultation, previous_date, previous_time (a moved booking's old time), location_name, "
    "location_address, location_phone, location_phone_link, aftercare_url, book_url, manage_url, "
    "unsubscribe_url, confirm_url (the e-mail confirmation link of an online booking), waitlist_from, waitlist_until, "
    "claim_url (the waiting list's link to book a freed time), "
    "receipt_number, receipt_what, receipt_amount, receipt_method, receipt_date, balance (a payment receipt), "
    "session_record_url (aftercare: the session's aftercare and pigment record page), "
    "lot_number, notice_subject, notice_body (a batch recall: the lot and the wording staff wrote for it), "
    "intake_url (a consultation's intake form), review_url (the clinic's review link)"
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


def _intake_done(appointment: Appointment) -> bool:
    """Whether the client has sent the consultation's intake form (one query unless the
    appointment came with select_related("intake"))."""
    try:
        intake = appointment.intake
    except ObjectDoesNotExist:
        return False
    return intake.completed_at is not None


def review_url_for(location: Location) -> str:
    return location.review_url or settings.REVIEW_URL


def _marketing_allowed(client: Client) -> bool:
    """A review request is marketing: only by a channel the client opted into (an unticked box
    on the booking form, or a withdrawn consent, is an opt-out)."""
    if channel_for(client) == ClientMessage.Channel.SMS:
        return client.marketing_sms_opt_in
    return client.marketing_email_opt_in


def _had_complication(client_id: int) -> bool:
    notes = SessionNote.objects.filter(appointment__client_id=client_id).values_list("reactions", flat=True)
    return any(COMPLICATION_REACTIONS.intersection(reactions or ()) for reactions in notes)


def _review_owed(appointment: Appointment) -> bool:
    """The last session of a course owes one review request, unless the client opted out of
    marketing, had a recorded complication, the course was cancelled, the clinic set no review
    link, or another session of the course already owes (or sent) it: once per course."""
    course = appointment.course
    if course is None or course.status == course.Status.CANCELLED or not _ends_course(appointment):
        return False
    client = appointment.client
    if not review_url_for(appointment.location) or not _marketing_allowed(client):
        return False
    if _had_complication(client.pk):
        return False
    return not (
        ClientMessage.objects.filter(
            appointment__course_id=course.pk,
            kind=Kind.REVIEW_REQUEST,
            status__in=(Status.PENDING, Status.SENDING, Status.SENT),
        )
        .exclude(appointment_id=appointment.pk)
        .exists()
    )


def owed_kinds(appointment: Appointment) -> dict[str, datetime]:
    """What the appointment owes its client in its current state: kind -> due time.

    Only state decides here (no clock), so the same rules serve both writing the rows and
    checking, at send time, that a message is still owed.
    """
    client = appointment.client
    if client.erased_at is not None:
        return {}
    owed: dict[str, datetime] = {}
    opted_in = client.reminders_opt_in
    if appointment.status in UPCOMING_STATUSES and opted_in:
        owed[Kind.REMINDER_48H] = appointment.start - REMINDER_LEAD
        if appointment.kind == Appointment.Kind.CONSULTATION and not _intake_done(appointment):
            location = appointment.location
            day = local_date(appointment.start, location) - timedelta(days=INTAKE_REMINDER_DAYS)
            owed[Kind.INTAKE_REMINDER] = send_time_on(day, location)
    if appointment.status == Appointment.Status.COMPLETED and appointment.kind in TREATED_KINDS:
        location = appointment.location
        # Day 4 is counted in the clinic's calendar days and sent on its clock.
        day = local_date(appointment.start, location)
        for kind, days in AFTERCARE_DAYS.items():
            owed[kind] = send_time_on(day + timedelta(days=days), location)
        if not opted_in:
            return owed
        if appointment.kind == Appointment.Kind.TREATMENT_SESSION and appointment.course_id:
            course = appointment.course
            more_planned = appointment.session_number is None or appointment.session_number < course.planned_sessions
            if more_planned and course.status != course.Status.CANCELLED and not _next_session_booked(appointment):
                owed[Kind.NEXT_SESSION_PROMPT] = send_time_on(day + timedelta(days=10), location)
        if _ends_course(appointment) and not _touch_up_booked_since(appointment):
            owed[Kind.TOUCH_UP_RECALL] = send_time_on(add_months(day, settings.TOUCH_UP_RECALL_MONTHS), location)
        if appointment.kind == Appointment.Kind.TREATMENT_SESSION and _review_owed(appointment):
            owed[Kind.REVIEW_REQUEST] = send_time_on(day + timedelta(days=settings.REVIEW_REQUEST_DAYS), location)
    return owed


def channel_for(client) -> str:
    if client.preferred_channel == "sms" and client.phone:
        return ClientMessage.Channel.SMS
    return ClientMessage.Channel.EMAIL


def _wanted_now(appointment: Appointment, now: datetime) -> dict[str, datetime]:
    """owed_kinds, less what is pointless to start sending at this moment."""
    wanted = owed_kinds(appointment)
    reminder_due = wanted.get(Kind.REMINDER_48H)
    if reminder_due is not None:
        if appointment.start - now < REMINDER_MIN_NOTICE:
            del wanted[Kind.REMINDER_48H]
        else:
            wanted[Kind.REMINDER_48H] = max(reminder_due, now)
    # Booked (or moved) inside the two days: the confirmation has just carried the link. The grace
    # keeps a row that fell due moments ago, still waiting for the dispatcher, when a confirm or
    # another change syncs the appointment meanwhile.
    if Kind.INTAKE_REMINDER in wanted and wanted[Kind.INTAKE_REMINDER] < now - INTAKE_REMINDER_GRACE:
        del wanted[Kind.INTAKE_REMINDER]
    for kind in AFTERCARE_DAYS:
        if kind in wanted and wanted[kind] < now - AFTERCARE_TOO_LATE:
            del wanted[kind]
    return wanted


def reminders_sync(*, appointment: Appointment, now: datetime | None = None) -> None:
    """Bring the appointment's pending messages in line with its current state.

    Call inside the transaction that books, moves, cancels, completes or un-completes the
    appointment: it creates, moves or cancels the rows so the outbox always matches.
    Rows already being sent or sent are history and are left alone. (A booking writes its
    first rows with appointment_messages_new instead.)
    """
    now = now or timezone.now()
    appointment = Appointment.objects.select_related("client", "course", "location", "intake").get(pk=appointment.pk)
    with transaction.atomic():
        wanted = _wanted_now(appointment, now)
        channel = channel_for(appointment.client)
        # Locked so a dispatcher cannot claim a row while this transaction moves or cancels it
        # (its SKIP LOCKED passes over them until we commit).
        existing = {
            r.kind: r
            for r in ClientMessage.objects.select_for_update().filter(appointment=appointment, kind__in=SCHEDULED_KINDS)
        }
        for kind in SCHEDULED_KINDS:
            row, due = existing.get(kind), wanted.get(kind)
            if due is not None and row is None:
                ClientMessage.objects.create(appointment=appointment, kind=kind, channel=channel, due_at=due)
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


def _reopen(row: ClientMessage, *, due_at: datetime, channel: str) -> None:
    row.status, row.due_at, row.channel = Status.PENDING, due_at, channel
    row.attempts, row.next_attempt_at, row.last_error = 0, None, ""
    row.claim_token, row.claimed_at = "", None
    row.save()


def _cancel_prompts_now_booked(*, course_id: int) -> None:
    prompts = ClientMessage.objects.select_for_update().filter(
        appointment__course_id=course_id, kind=Kind.NEXT_SESSION_PROMPT, status=Status.PENDING
    )
    for prompt in prompts.select_related("appointment"):
        if _next_session_booked(prompt.appointment):
            prompt.status = Status.CANCELLED
            prompt.save(update_fields=["status", "updated_at"])


def client_messages_cancel(*, client) -> int:
    """Cancel every pending message to a client (on erasure or opt-out). Returns how many."""
    rows = ClientMessage.objects.filter(appointment__client=client, status=Status.PENDING)
    if client.erased_at is None:
        rows = rows.exclude(kind__in=NO_OPT_OUT_KINDS)
    return rows.update(status=Status.CANCELLED, updated_at=timezone.now())


def client_reminders_opt_out(*, client: Client) -> Client:
    """The client's own unsubscribe link: reminders and follow-ups stop, the pending ones are
    cancelled (essential aftercare and booking changes still go), and the trail says so."""
    with transaction.atomic():
        # Locked: a second click while the first is saving changes nothing twice.
        client = Client.objects.select_for_update().get(pk=client.pk)
        if not client.reminders_opt_in:
            return client
        client.reminders_opt_in = False
        client.save(update_fields=["reminders_opt_in", "updated_at"])
        cancelled = client_messages_cancel(client=client)
        audit_record(
            actor=None,
            action=AuditEvent.Action.UPDATE,
            object_type="client",
            object_id=client.pk,
            client_id=client.pk,
            fields=["reminders_opt_in"],
            detail=f"unsubscribe link; {cancelled} pending messages cancelled",
        )
    return client


def changes_superseded(messages: list[ClientMessage]) -> set[int]:
    """The ids of the change messages in a batch that a later change replaces, in one query
    (what _change_skip_reason asks message by message)."""
    changes = [m for m in messages if m.kind in CHANGE_KINDS]
    if not changes:
        return set()
    latest: dict[tuple[int, str], int] = {}
    rows = ClientMessage.objects.filter(
        appointment_id__in={m.appointment_id for m in changes},
        kind__in=CHANGE_KINDS,
        status__in=(Status.PENDING, Status.SENDING, Status.SENT),
    ).values_list("appointment_id", "channel", "sequence")
    for appointment_id, channel, sequence in rows:
        key = (appointment_id, channel)
        latest[key] = max(latest.get(key, sequence), sequence)
    return {m.pk for m in changes if latest.get((m.appointment_id, m.channel), -1) > m.sequence}


def skip_reason(reminder: ClientMessage, *, now: datetime, superseded: set[int] | None = None) -> str:
    """Why a claimed message must not go out after all ('' when it should).

    `superseded` (from changes_superseded) saves a batch one query per change message."""
    if reminder.kind in WAITLIST_KINDS:
        return _waitlist_skip_reason(reminder, now=now)
    appointment = reminder.appointment
    client = appointment.client
    if client.erased_at is not None:
        return "Skipped: the client's data was erased."
    if reminder.kind in CHANGE_KINDS:
        return _change_skip_reason(reminder, now=now, superseded=superseded)
    if reminder.kind == Kind.RECEIPT:
        # A receipt is asked for by staff after the fact: the appointment's time does not matter.
        return "" if client.email else "Skipped: the client has no e-mail address."
    if reminder.kind in NOTICE_KINDS:
        if channel_for(client) == ClientMessage.Channel.EMAIL and not client.email:
            return "Skipped: the client has no e-mail address or mobile number."
        return ""
    if reminder.kind == Kind.IDENTITY_CONFIRM:
        if appointment.email_confirmed_at is not None:
            return "Skipped: the e-mail address is confirmed already."
        if not client.email:
            return "Skipped: the client has no e-mail address."
        return ""
    if reminder.kind not in owed_kinds(appointment):
        if reminder.kind == Kind.NEXT_SESSION_PROMPT and _next_session_booked(appointment):
            return "Skipped: the next session is booked."
        if reminder.kind not in ESSENTIAL_KINDS and not client.reminders_opt_in:
            return "Skipped: the client opted out of reminders and follow-ups."
        if reminder.kind == Kind.INTAKE_REMINDER and _intake_done(appointment):
            return "Skipped: the intake form has been filled in."
        if reminder.kind == Kind.REVIEW_REQUEST:
            return "Skipped: no review request is owed (opted out of marketing, a complication, or sent already)."
        return "Skipped: the appointment no longer needs this message."
    if reminder.kind in (Kind.REMINDER_48H, Kind.INTAKE_REMINDER) and appointment.start <= now:
        return "Skipped: the appointment has already started."
    if channel_for(client) == ClientMessage.Channel.EMAIL and not client.email:
        return "Skipped: the client has no e-mail address or mobile number."
    return ""


def _waitlist_skip_reason(message: ClientMessage, *, now: datetime) -> str:
    entry = message.waitlist_entry
    if entry.status == entry.Status.WITHDRAWN:
        return "Skipped: the waiting-list entry was withdrawn."
    if message.kind == Kind.WAITLIST_OFFER:
        from bookings.models import WaitlistOffer

        offer = WaitlistOffer.objects.select_related("release").filter(pk=(message.payload or {}).get("offer")).first()
        if offer is None or offer.status != WaitlistOffer.Status.OFFERED or offer.release.start <= now:
            return "Skipped: the time offered has gone."
    return ""


def _change_skip_reason(message: ClientMessage, *, now: datetime, superseded: set[int] | None) -> str:
    appointment, client = message.appointment, message.appointment.client
    if appointment.start <= now:
        return "Skipped: the appointment has already started."
    if superseded is not None:
        newer = message.pk in superseded
    else:
        newer = ClientMessage.objects.filter(
            appointment_id=appointment.pk,
            channel=message.channel,
            kind__in=CHANGE_KINDS,
            sequence__gt=message.sequence,
            status__in=(Status.PENDING, Status.SENDING, Status.SENT),
        ).exists()
    if newer:
        # A later change says everything this one would (and its calendar file wins anyway).
        return "Skipped: a later change to the booking replaces this message."
    if message.channel == ClientMessage.Channel.SMS and not client.phone:
        return "Skipped: the client has no mobile number."
    if message.channel == ClientMessage.Channel.EMAIL and not client.email:
        return "Skipped: the client has no e-mail address."
    return ""


# Change messages ------------------------------------------------------------------------------


def change_channels(client) -> list[str]:
    """Every channel a change message goes by: e-mail and SMS, where the client has them."""
    channels = []
    if client.email:
        channels.append(ClientMessage.Channel.EMAIL)
    if client.phone:
        channels.append(ClientMessage.Channel.SMS)
    return channels


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def client_message_queue(
    *, appointment: Appointment, kind: str, payload: dict | None = None, now: datetime | None = None
) -> list[ClientMessage]:
    """Queue a change message (booking confirmed, moved or cancelled) on every channel the
    client has, due now, at the appointment's current calendar sequence.

    Call inside the transaction that makes the change, after bumping `ics_sequence` for a move
    or cancel: the rows commit with the change or not at all. What the message must say (the
    appointment's times now, plus `payload`, e.g. a move's previous start) is frozen on the row,
    because the appointment may change again before the worker sends it. Queuing the same
    change twice is harmless (one row per change and channel). The worker is woken once the
    transaction commits.
    """
    if kind not in CHANGE_KINDS | ONE_OFF_KINDS:
        raise ValueError(f"{kind!r} is not a change message; scheduled kinds are written by reminders_sync")
    now = now or timezone.now()
    appointment = Appointment.objects.select_related("client").get(pk=appointment.pk)
    client = appointment.client
    if client.erased_at is not None:
        return []
    frozen = _frozen(appointment, payload)
    rows = []
    with transaction.atomic():
        channels = change_channels(client)
        if kind in ONE_OFF_KINDS:
            channels = [c for c in channels if c == ClientMessage.Channel.EMAIL]
        for channel in channels:
            row, _ = ClientMessage.objects.get_or_create(
                appointment=appointment,
                kind=kind,
                sequence=appointment.ics_sequence,
                channel=channel,
                defaults={"due_at": now, "payload": frozen},
            )
            rows.append(row)
    if rows:
        transaction.on_commit(_wake_dispatcher)
    return rows


def waitlist_message_queue(
    *, entry, kind: str, payload: dict | None = None, now: datetime | None = None
) -> ClientMessage:
    """Queue one of the waiting list's e-mails to the address on the entry, due now. Call inside
    the transaction that makes it owed; the worker is woken once that commits."""
    if kind not in WAITLIST_KINDS:
        raise ValueError(f"{kind!r} is not a waiting-list message")
    row = ClientMessage.objects.create(
        waitlist_entry=entry,
        kind=kind,
        channel=ClientMessage.Channel.EMAIL,
        due_at=now or timezone.now(),
        payload=payload or {},
    )
    transaction.on_commit(_wake_dispatcher)
    return row


def _frozen(appointment: Appointment, payload: dict | None) -> dict:
    return {"start": _iso(appointment.start), "end": _iso(appointment.end), **(payload or {})}


def appointment_messages_new(
    *, appointment: Appointment, confirm: bool, now: datetime | None = None, confirm_payload: dict | None = None
) -> list[ClientMessage]:
    """Every row an appointment just inserted in this transaction owes, in one INSERT: the
    scheduled messages reminders_sync would write and, with `confirm`, the confirmation on each
    channel (as client_message_queue would queue it).

    `appointment` must be the instance just saved, its client (and course) loaded: nothing is
    read back, and no row for it can exist yet, so there is nothing to reconcile.
    """
    now = now or timezone.now()
    client = appointment.client
    # Just inserted: it has no intake yet, and asking the database would cost the booking a query.
    Appointment.intake.related.set_cached_value(appointment, None)
    wanted = _wanted_now(appointment, now)
    channel = channel_for(client)
    rows = [
        ClientMessage(appointment=appointment, kind=kind, channel=channel, due_at=wanted[kind])
        for kind in SCHEDULED_KINDS
        if kind in wanted
    ]
    if confirm and client.erased_at is None:
        frozen = _frozen(appointment, confirm_payload)
        rows += [
            ClientMessage(
                appointment=appointment,
                kind=Kind.CONFIRMATION,
                sequence=appointment.ics_sequence,
                channel=change_channel,
                due_at=now,
                payload=frozen,
            )
            for change_channel in change_channels(client)
        ]
    rows = ClientMessage.objects.bulk_create(rows)
    if appointment.course_id and appointment.kind == Appointment.Kind.TREATMENT_SESSION:
        _cancel_prompts_now_booked(course_id=appointment.course_id)
    if any(row.kind in CHANGE_KINDS for row in rows):
        transaction.on_commit(_wake_dispatcher)
    return rows


# One wake-up a second per process is plenty: a dispatch sends every row due, so a burst of
# bookings needs one, not one each (the publish is the slowest part of a booking's commit).
WAKE_INTERVAL_SECONDS = 1.0


class _WakeThrottle:
    """Wakes at most once per WAKE_INTERVAL_SECONDS; a wake asked for sooner is sent when the
    interval is up (one timer at a time), so every committed row is followed by a wake-up
    within about a second, never dropped."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = float("-inf")
        self.timer: threading.Timer | None = None
        # The throttle's own clock: a test replaces it here, never the time module everyone shares.
        self.clock = monotonic_clock.monotonic

    def __call__(self) -> None:
        with self.lock:
            now = self.clock()
            wait = self.last + WAKE_INTERVAL_SECONDS - now
            if wait <= 0:
                self.last = now
            elif self.timer is not None:
                return
            else:
                self.timer = threading.Timer(wait, self._trailing)
                self.timer.daemon = True
                self.timer.start()
                return
        _wake_now()

    def _trailing(self) -> None:
        with self.lock:
            self.timer = None
            self.last = self.clock()
        _wake_now()

    def reset(self) -> None:
        """Forget the last wake and cancel a pending one (tests)."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = None
            self.last = float("-inf")


_wake_dispatcher = _WakeThrottle()


def _wake_now() -> None:
    """Ask a worker to dispatch now rather than at beat's next tick. A broker that is down
    costs nothing but that minute: the rows are committed and beat's tick finds them.

    The task is sent by name: bookings.tasks imports the outbox, which imports this module."""
    try:
        # No publish retries: this runs after the commit of a request and must not hold it up.
        current_app.send_task(DISPATCH_TASK, retry=False, expires=55)
    except (KombuOperationalError, OSError) as exc:
        logger.warning("dispatcher not woken (%s); beat will pick the message up", type(exc).__name__)


# For other services that queue rows themselves (a recall's notices), to call on commit.
wake_dispatcher = _wake_dispatcher


# Staff actions ------------------------------------------------------------------------------


def reminder_resend(*, reminder: ClientMessage, by, now: datetime | None = None) -> ClientMessage:
    """Queue a message to go out again at the next dispatch (the send-time checks still apply)."""
    now = now or timezone.now()
    with transaction.atomic():
        row = ClientMessage.objects.select_for_update().get(pk=reminder.pk)
        if row.status == Status.SENDING:
            raise ValidationError("This message is being sent right now; try again in a few minutes.")
        row.status, row.due_at, row.attempts, row.next_attempt_at = Status.PENDING, now, 0, None
        row.last_error, row.claim_token, row.claimed_at = "", "", None
        row.save()
    logger.info("message %s queued again by user %s", row.pk, getattr(by, "pk", None))
    return row


def reminder_cancel(*, reminder: ClientMessage, by) -> ClientMessage:
    with transaction.atomic():
        row = ClientMessage.objects.select_for_update().get(pk=reminder.pk)
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


# What django.urls.reverse leaves as it is: a signed token's characters (base64url, ":" and ".").
_TOKEN_AS_IS = re.compile(r"[A-Za-z0-9_.:-]+\Z")
_TOKEN_SLOT = "0token0"


def _urlconf() -> tuple:
    # reverse() answers differently only when one of these does.
    return settings.ROOT_URLCONF, get_urlconf(), get_script_prefix()


@functools.lru_cache(maxsize=64)
def _route(name: str, urlconf: tuple, *, with_token: bool) -> tuple[str, str]:
    url = reverse(name, args=[_TOKEN_SLOT] if with_token else None)
    before, _, after = url.partition(_TOKEN_SLOT)
    return before, after


def _token_url(name: str, token: str) -> str:
    """reverse(name, args=[token]) for the signed-link routes (one <str:token> each), the route
    looked up once per process rather than for every message. Raises NoReverseMatch as reverse
    does."""
    if not _TOKEN_AS_IS.match(token):
        return reverse(name, args=[token])
    before, after = _route(name, _urlconf(), with_token=True)
    return before + token + after


def _book_url() -> str:
    for name in ("bookings:book", "bookings:book_consultation"):
        try:
            return _site(_route(name, _urlconf(), with_token=False)[0])
        except NoReverseMatch:
            continue
    return _site("/")


def _manage_url(appointment: Appointment) -> str:
    from bookings.tokens import booking_token_make

    try:
        return _site(_token_url("bookings:manage", booking_token_make(appointment=appointment)))
    except NoReverseMatch:
        return _site("/")


def intake_url(appointment: Appointment) -> str:
    """A fresh link to the consultation's intake form (signed now: INTAKE_LINK_DAYS from here)."""
    from bookings.tokens import intake_token_make

    try:
        return _site(_token_url("bookings:intake", intake_token_make(appointment=appointment)))
    except NoReverseMatch:
        return _site("/")


def _confirm_url(message: ClientMessage) -> str:
    """The double opt-in link, signed when the message is rendered (so its 7 days run from the
    send) over the marketing choice frozen on the row at booking."""
    from bookings.tokens import identity_token_make

    marketing = bool((message.payload or {}).get("marketing_opt_in"))
    token = identity_token_make(appointment=message.appointment, marketing_opt_in=marketing)
    try:
        return _site(_token_url("bookings:identity_confirm", token))
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


def message_times(message: ClientMessage) -> tuple[datetime, datetime]:
    """The start and end a message speaks of: frozen on a change message, else the appointment's."""
    appointment = message.appointment
    payload = message.payload or {}
    if message.kind in CHANGE_KINDS and payload.get("start") and payload.get("end"):
        return datetime.fromisoformat(payload["start"]), datetime.fromisoformat(payload["end"])
    return appointment.start, appointment.end


def message_recipient(message: ClientMessage):
    """Who the message goes to: the appointment's client, or the waiting-list entry (both have
    first_name, email and phone)."""
    if message.appointment_id is None:
        return message.waitlist_entry
    return message.appointment.client


def _waitlist_context(message: ClientMessage) -> dict:
    """The waiting list's messages: the keys every wording may use, filled from the entry and
    the time offered (frozen on the row), plus the claim link of an offer."""
    from bookings.tokens import waitlist_offer_token_make

    entry = message.waitlist_entry
    location = entry.location
    payload = message.payload or {}
    start = local(datetime.fromisoformat(payload["start"]), location) if payload.get("start") else None
    end = local(datetime.fromisoformat(payload["end"]), location) if payload.get("end") else None
    claim_url = ""
    if message.kind == Kind.WAITLIST_OFFER and payload.get("offer"):
        claim_url = _site(_token_url("bookings:waitlist_claim", waitlist_offer_token_make(offer_id=payload["offer"])))
    address = ", ".join(
        p for p in (location.address_line1, location.address_line2, location.city, location.postcode) if p
    )
    return {
        **{key: "" for key in sample_context()},
        "first_name": entry.first_name,
        "clinic_name": settings.CLINIC_NAME,
        "treatment_name": entry.treatment.name if entry.treatment_id else "consultation",
        "appointment_kind": "free consultation",
        "appointment_date": _long_date(start.date()) if start else "",
        "appointment_time": f"{start:%H:%M}" if start else "",
        "appointment_end_time": f"{end:%H:%M}" if end else "",
        "time_zone_label": location.time_zone_label,
        "is_consultation": True,
        "is_treatment": False,
        "is_aftercare": False,
        "location_name": location.name,
        "location_address": address,
        "location_phone": location.phone,
        "location_phone_link": location.phone.replace(" ", ""),
        "waitlist_from": _long_date(entry.earliest_date),
        "waitlist_until": _long_date(entry.latest_date),
        "claim_url": claim_url,
        "book_url": _book_url(),
        "aftercare_url": _site("/aftercare/"),
    }


def message_context(reminder: ClientMessage) -> dict:
    """The small, plain-string context every template renders against."""
    if reminder.kind in WAITLIST_KINDS:
        return _waitlist_context(reminder)
    appointment = reminder.appointment
    client, location = appointment.client, appointment.location
    treatment = appointment.treatment or (appointment.course.treatment if appointment.course_id else None)
    start_at, end_at = message_times(reminder)
    start, end = local(start_at, location), local(end_at, location)
    previous = (reminder.payload or {}).get("previous_start")
    previous = local(datetime.fromisoformat(previous), location) if previous else None
    anchor = AFTERCARE_ANCHORS.get(reminder.kind)
    no_opt_out = reminder.kind in NO_OPT_OUT_KINDS
    address = ", ".join(
        p for p in (location.address_line1, location.address_line2, location.city, location.postcode) if p
    )
    context = {
        "first_name": client.first_name,
        "clinic_name": settings.CLINIC_NAME,
        "treatment_name": treatment.name if treatment else appointment.get_kind_display().lower(),
        "session_date": _long_date(start.date()),
        "appointment_kind": appointment.get_kind_display().lower(),
        "appointment_date": _long_date(start.date()),
        "appointment_time": f"{start:%H:%M}",
        "appointment_end_time": f"{end:%H:%M}",
        "time_zone_label": location.time_zone_label,
        "duration": _duration_words(int((end_at - start_at).total_seconds() // 60)),
        "reference": appointment.reference,
        "technician_name": appointment.technician.display_name,
        "is_treatment": appointment.kind in TREATED_KINDS,
        "is_consultation": appointment.kind == Appointment.Kind.CONSULTATION,
        "is_aftercare": reminder.kind in ESSENTIAL_KINDS,
        "previous_date": _long_date(previous.date()) if previous else "",
        "previous_time": f"{previous:%H:%M}" if previous else "",
        "location_name": location.name,
        "location_address": address,
        "location_phone": location.phone,
        "location_phone_link": location.phone.replace(" ", ""),
        "aftercare_url": _site(f"/aftercare/#{anchor}" if anchor else "/aftercare/"),
        "book_url": _book_url(),
        "manage_url": _manage_url(appointment),
        "confirm_url": _confirm_url(reminder) if reminder.kind == Kind.IDENTITY_CONFIRM else "",
        # A paid deposit and its terms, frozen on the confirmation (the layout prints it).
        "deposit": str((reminder.payload or {}).get("deposit", "")) if reminder.kind == Kind.CONFIRMATION else "",
        # A receipt's figures, frozen on the row when staff queued it (bookings.services.receipts).
        **_receipt_context(reminder),
        "intake_url": intake_url(appointment)
        if appointment.kind == Appointment.Kind.CONSULTATION and reminder.kind in INTAKE_LINK_KINDS
        else "",
        "review_url": review_url_for(location) if reminder.kind == Kind.REVIEW_REQUEST else "",
        "unsubscribe_url": ""
        if no_opt_out
        else _site(_token_url("client_messages:unsubscribe", unsubscribe_token(client))),
        "session_record_url": _session_record_url(appointment) if reminder.kind in ESSENTIAL_KINDS else "",
    }
    if reminder.kind in NOTICE_KINDS:
        context.update(notice_context(reminder.payload or {}, context))
    return context


def notice_context(payload: dict, context: dict) -> dict:
    """A notice's own wording (frozen on the row when staff sent it), rendered in the sandbox
    against the message's context, so "{{ first_name }}" in it greets each client."""
    base = {**context, "lot_number": payload.get("lot_number", "")}
    rendered = {}
    for key in ("subject", "body"):
        try:
            rendered[f"notice_{key}"] = _compiled(payload.get(key, "")).render(Context(base, autoescape=False))
        except (TemplateSyntaxError, TemplateDoesNotExist, NoReverseMatch):
            rendered[f"notice_{key}"] = payload.get(key, "")
    return {**rendered, "lot_number": base["lot_number"]}


def _session_record_url(appointment: Appointment) -> str:
    from bookings.tokens import session_record_token_make

    try:
        return _site(_token_url("bookings:session_record", session_record_token_make(appointment=appointment)))
    except NoReverseMatch:
        return ""


RECEIPT_FIELDS = ("receipt_number", "receipt_what", "receipt_amount", "receipt_method", "receipt_date", "balance")


def _receipt_context(message: ClientMessage) -> dict[str, str]:
    payload = (message.payload or {}) if message.kind == Kind.RECEIPT else {}
    return {name: str(payload.get(name, "")) for name in RECEIPT_FIELDS}


def _default_wording(kind: str) -> dict[str, str]:
    folder = "aftercare" if kind in ESSENTIAL_KINDS else "messages"
    base = f"emails/{folder}/{kind}"
    engine = Engine.get_default()
    return {
        "subject": engine.get_template(f"{base}.subject.txt").source,
        "text_body": engine.get_template(f"{base}.txt").source,
        "html_body": engine.get_template(f"{base}.html").source,
        "sms_body": engine.get_template(f"{base}.sms.txt").source,
    }


def wording_for(*, kind: str, treatment_id: int | None) -> dict[str, str]:
    """Staff's wording for the kind: the treatment's own, else the general one, else the files."""
    templates = MessageTemplate.objects.filter(kind=kind, treatment_id__in=[treatment_id] if treatment_id else [])
    chosen = templates.first() or MessageTemplate.objects.filter(kind=kind, treatment__isnull=True).first()
    if chosen is None:
        return _default_wording(kind)
    return {f: getattr(chosen, f) for f in ("subject", "text_body", "html_body", "sms_body")}


WORDING_FIELDS = ("subject", "text_body", "html_body", "sms_body")
PREVIEW_LINES = 3
PREVIEW_CHARS = 240


def wording_table() -> dict[tuple[str, int | None], dict[str, str]]:
    """Every wording staff wrote, in one query: (kind, treatment id or None) -> wording."""
    return {(t.kind, t.treatment_id): {f: getattr(t, f) for f in WORDING_FIELDS} for t in MessageTemplate.objects.all()}


def message_preview(message: ClientMessage, *, table: dict) -> tuple[str, str]:
    """The subject and the first lines of what the message says (its SMS text for a text
    message), for a list of many messages: no query of its own when the message's appointment,
    client, location, technician, treatment and course come with it and `table` is from
    wording_table (which also caches the file wording it falls back to)."""
    treatment_id = _treatment_id(message)
    key = ("resolved", message.kind, treatment_id)
    if key not in table:
        table[key] = (
            (table.get((message.kind, treatment_id)) if treatment_id else None)
            or table.get((message.kind, None))
            or _default_wording(message.kind)
        )
    wording = table[key]
    try:
        context = Context(message_context(message), autoescape=False)
        subject = " ".join(_compiled(wording["subject"]).render(context).split())
        sms = message.channel == ClientMessage.Channel.SMS
        body = _compiled(wording["sms_body" if sms else "text_body"]).render(context)
    except (TemplateSyntaxError, TemplateDoesNotExist, NoReverseMatch):
        return "", "(this wording does not render: see the message templates)"
    lines = [line.strip() for line in body.splitlines() if line.strip()][:PREVIEW_LINES]
    text = " ".join(lines)
    return subject, text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1].rstrip() + "…"


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
        "manage_url": context.get("manage_url", ""),
    }


def _treatment_id(message: ClientMessage) -> int | None:
    if message.appointment_id is None:
        return message.waitlist_entry.treatment_id if message.waitlist_entry_id else None
    appointment = message.appointment
    return appointment.treatment_id or (appointment.course.treatment_id if appointment.course_id else None)


def wordings_for_batch(messages: list[ClientMessage]) -> dict[tuple[str, int | None], dict[str, str]]:
    """The wording of every message in a batch, in one query, keyed as message_render's cache.

    The messages' appointments and courses must come with them (select_related)."""
    keys = {(m.kind, _treatment_id(m)) for m in messages}
    table = {
        (t.kind, t.treatment_id): {f: getattr(t, f) for f in WORDING_FIELDS}
        for t in MessageTemplate.objects.filter(kind__in={kind for kind, _ in keys})
    }
    files: dict[str, dict[str, str]] = {}
    wordings = {}
    for kind, treatment_id in keys:
        chosen = (table.get((kind, treatment_id)) if treatment_id else None) or table.get((kind, None))
        if chosen is None:
            chosen = files.setdefault(kind, _default_wording(kind))
        wordings[kind, treatment_id] = chosen
    return wordings


def message_render(reminder: ClientMessage, *, wordings: dict | None = None) -> dict[str, str]:
    """The message's subject, text, HTML and SMS. `wordings` caches staff wording for one batch."""
    wordings = {} if wordings is None else wordings
    key = (reminder.kind, _treatment_id(reminder))
    if key not in wordings:
        wordings[key] = wording_for(kind=reminder.kind, treatment_id=key[1])
    return render_wording(wordings[key], message_context(reminder))


def wording_check(wording: dict[str, str]) -> None:
    """Raise ValidationError if staff wording does not render against the sample context."""
    for field, source in wording.items():
        try:
            _SANDBOX.from_string(source).render(Context(sample_context()))
        # {% url %} and {% include %} parse, then fail when rendered: the same message, never a 500.
        except (TemplateSyntaxError, TemplateDoesNotExist, NoReverseMatch) as exc:
            raise ValidationError({field: f"This wording does not render: {exc}"}) from None


def sample_context(*, kind: str = Kind.AFTERCARE_DAY_4) -> dict:
    """What a preview renders with: made-up values, never a real client's."""
    anchor = AFTERCARE_ANCHORS.get(kind)
    return {
        "first_name": "Sam",
        "clinic_name": settings.CLINIC_NAME,
        "treatment_name": "Hairline design",
        "session_date": "Wednesday 21 October 2026",
        "appointment_kind": "treatment session",
        "appointment_date": "Friday 23 October 2026",
        "appointment_time": "10:00",
        "appointment_end_time": "13:00",
        "time_zone_label": "London time",
        "duration": "3 hours",
        "reference": "SMP-7K3QX",
        "technician_name": "Amara",
        "is_treatment": True,
        "is_consultation": False,
        "is_aftercare": kind in ESSENTIAL_KINDS,
        "previous_date": "Tuesday 20 October 2026",
        "previous_time": "14:30",
        "location_name": "Manchester",
        "location_address": "1 High Street, Manchester, M1 1AA",
        "location_phone": "0161 496 0000",
        "location_phone_link": "01614960000",
        "aftercare_url": _site(f"/aftercare/#{anchor}" if anchor else "/aftercare/"),
        "book_url": _book_url(),
        "manage_url": _site("/booking/sample/"),
        "confirm_url": _site("/book/confirm/sample/"),
        "intake_url": _site("/intake/sample/"),
        "review_url": settings.REVIEW_URL or "https://example.com/reviews",
        "unsubscribe_url": "" if kind in NO_OPT_OUT_KINDS else _site("/messages/unsubscribe/sample/"),
        "receipt_number": "R-000123",
        "receipt_what": "Payment",
        "receipt_amount": "£450.00",
        "receipt_method": "Card terminal",
        "receipt_date": "Friday 23 October 2026",
        "balance": "£1,050.00",
        "session_record_url": _site("/booking/record/sample/") if kind in ESSENTIAL_KINDS else "",
        "lot_number": "LT-2041",
        "notice_subject": "About a pigment batch used in your treatment",
        "notice_body": "The maker of a pigment batch used in your treatment has recalled it. Please call us.",
        "waitlist_from": "Monday 2 November 2026",
        "waitlist_until": "Friday 27 November 2026",
        "claim_url": _site("/book/waitlist/offer/sample/"),
    }
