"""Where and when: locations, technicians and their hours, courses, appointments and
the outbox of messages each appointment owes its client."""

from __future__ import annotations

import secrets
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.postgres.fields import RangeOperators
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Func, Q, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from clients.models import Client
from treatments.models import PriceBand

from .constraints import PostgresExclusionConstraint
from .money import Money
from .zones import default_time_zone, validate_time_zone

# No 0/O, 1/I/L or U: references are read out over the phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "SMP-"


def generate_reference() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(5))


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Location(models.Model):
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)
    address_line1 = models.CharField(max_length=120)
    address_line2 = models.CharField(max_length=120, blank=True)
    city = models.CharField(max_length=80)
    postcode = models.CharField(max_length=10)
    phone = models.CharField(max_length=20)
    email = models.EmailField(blank=True)
    directions = models.TextField(blank=True, help_text="How to get there, in words: transport, parking, entrance.")
    latitude = models.DecimalField(max_digits=8, decimal_places=5, null=True, blank=True)
    longitude = models.DecimalField(max_digits=8, decimal_places=5, null=True, blank=True)
    is_active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)
    time_zone = models.CharField(
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text="IANA name, e.g. Europe/London or America/New_York: hours, closures and every time "
        "shown or sent about this clinic are in this zone.",
    )

    review_url = models.URLField(
        "review link",
        blank=True,
        help_text="Where the review request after a course sends this clinic's clients (e.g. its Google "
        "reviews page). Empty: the clinic-wide REVIEW_URL setting; with neither, no review request is sent.",
    )

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("treatments:locations") + f"#{self.slug}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def time_zone_label(self) -> str:
        """How a client reads the zone next to a time: "London time", "New York time"."""
        return self.time_zone.rsplit("/", 1)[-1].replace("_", " ") + " time"


class OpeningHours(models.Model):
    """When a location's doors are open (shown to clients; bookings follow technicians' hours)."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["location", "weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(closes__gt=F("opens")),
                name="openinghours_closes_after_opens",
                violation_error_message="Closing time must be after opening time.",
                violation_error_code="openinghours_closes_after_opens",
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="openinghours_weekday_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.location} {self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Technician(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="technician")
    display_name = models.CharField(max_length=80)
    bio = models.TextField(blank=True)
    locations = models.ManyToManyField(Location, related_name="technicians")
    treatments = models.ManyToManyField("treatments.Treatment", related_name="technicians", blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class WorkingHours(models.Model):
    """A technician's regular weekly hours at one location (wall-clock times in the location's zone)."""

    technician = models.ForeignKey(Technician, on_delete=models.CASCADE, related_name="working_hours")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["technician", "weekday", "start_time"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")),
                name="workinghours_end_after_start",
                violation_error_message="The end of the working hours must be after their start.",
                violation_error_code="workinghours_end_after_start",
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="workinghours_weekday_valid"),
        ]

    def __str__(self) -> str:
        hours = f"{self.start_time:%H:%M}-{self.end_time:%H:%M}"
        return f"{self.technician} at {self.location}, {self.get_weekday_display()} {hours}"


class Break(models.Model):
    """A recurring weekly break, such as lunch."""

    technician = models.ForeignKey(Technician, on_delete=models.CASCADE, related_name="breaks")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["technician", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")),
                name="break_end_after_start",
                violation_error_message="The end of the break must be after its start.",
                violation_error_code="break_end_after_start",
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="break_weekday_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.technician} break {self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class TimeOff(models.Model):
    technician = models.ForeignKey(Technician, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="timeoff_end_after_start",
                violation_error_message="The end of the time off must be after its start.",
                violation_error_code="timeoff_end_after_start",
            )
        ]

    def __str__(self) -> str:
        # Stored in UTC; staff read UK time (in summer UTC is an hour behind).
        start, end = timezone.localtime(self.start), timezone.localtime(self.end)
        return f"{self.technician} off {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"


class Closure(models.Model):
    """Days a location (or, with no location, every location) is closed: bank holidays, refits."""

    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="closures",
        help_text="Leave empty to close every location.",
    )
    start_date = models.DateField()
    end_date = models.DateField()
    reason = models.CharField(max_length=120)

    class Meta:
        ordering = ["start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="closure_end_not_before_start",
                violation_error_message="The last day of the closure cannot be before its first day.",
                violation_error_code="closure_end_not_before_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} ({self.start_date:%d/%m/%Y}-{self.end_date:%d/%m/%Y})"


class Course(models.Model):
    """A client's planned sessions of one treatment."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="courses")
    treatment = models.ForeignKey("treatments.Treatment", on_delete=models.PROTECT, related_name="courses")
    planned_sessions = models.PositiveSmallIntegerField(default=3)
    price_band = models.CharField(max_length=20, blank=True, choices=PriceBand.choices)
    # An integer of minor units (pence) in ``currency``; staff type pounds (treatments.money.PoundsField).
    price_agreed_minor = models.BigIntegerField("price agreed", null=True, blank=True)
    # The currency the price is agreed in: every payment against the course is in it too.
    currency = models.CharField(
        max_length=3,
        default="GBP",
        validators=[RegexValidator(r"^[A-Z]{3}$", "A three-letter ISO 4217 currency code in capitals, e.g. GBP.")],
        help_text="ISO 4217 code of the price agreed and of every payment against the course.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_sessions__gte=1) & Q(planned_sessions__lte=5),
                name="course_planned_sessions_1_to_5",
                violation_error_message="A course has 1 to 5 planned sessions.",
                violation_error_code="course_planned_sessions_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(price_agreed_minor__isnull=True) | Q(price_agreed_minor__gte=0),
                name="course_price_not_negative",
                violation_error_message="The price agreed cannot be negative.",
                violation_error_code="course_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.treatment} course #{self.pk}"

    @property
    def price_agreed_money(self):
        """The price agreed as Money (minor units and the course's currency), or None."""
        return None if self.price_agreed_minor is None else Money(self.price_agreed_minor, self.currency)


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = models.DateTimeField()


# No appointment lasts longer (a database check): what starts a day before a period cannot reach it.
MAX_APPOINTMENT_LENGTH = timedelta(days=1)


class Appointment(models.Model):
    class Kind(models.TextChoices):
        CONSULTATION = "consultation", "Consultation"
        TREATMENT_SESSION = "session", "Treatment session"
        TOUCH_UP = "touch_up", "Touch-up"
        PATCH_TEST = "patch_test", "Patch test"

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CONFIRMED = "confirmed", "Confirmed"
        ARRIVED = "arrived", "Arrived"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"
        PENDING_PAYMENT = "pending_payment", "Awaiting deposit"
        HOLD_RELEASED = "hold_released", "Released (deposit not paid)"

    class Channel(models.TextChoices):
        ONLINE = "online", "Online"
        PHONE = "phone", "Phone"
        IN_PERSON = "in_person", "In person"
        STAFF = "staff", "Staff (admin)"

    class CancelledVia(models.TextChoices):
        CLIENT_LINK = "client_link", "The client, through their booking link"
        STAFF = "staff", "Staff"

    # Statuses that hold the technician's time (the exclusion constraint's condition says the same).
    ACTIVE_STATUSES = (Status.BOOKED, Status.CONFIRMED, Status.ARRIVED, Status.COMPLETED)
    # Statuses that keep anyone else off the technician's time: the active ones and an online
    # booking held while its deposit is paid (until hold_expires_at; then it is released).
    SLOT_STATUSES = (*ACTIVE_STATUSES, Status.PENDING_PAYMENT)

    reference = models.CharField(max_length=12, unique=True, default=generate_reference, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="appointments")
    technician = models.ForeignKey(Technician, on_delete=models.PROTECT, related_name="appointments")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="appointments")
    treatment = models.ForeignKey(
        "treatments.Treatment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        help_text="For a consultation, the treatment the client is interested in (optional).",
    )
    course = models.ForeignKey(Course, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments")
    session_number = models.PositiveSmallIntegerField(null=True, blank=True)
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.STAFF)
    client_message = models.TextField("client's description", blank=True)
    staff_notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Who made the last status change and when (a no-show marked by mistake is traced here and in
    # the audit trail, which keeps every change).
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    # Attendance, kept apart from status_changed_* (which the next change overwrites): who marked
    # the no-show and when, and how a cancellation came (late or not, by whom, through what).
    no_show_marked_at = models.DateTimeField("no-show marked at", null=True, blank=True, editable=False)
    no_show_marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name="no-show marked by",
    )
    late_cancellation = models.BooleanField(
        default=False,
        editable=False,
        help_text="Cancelled within the booking policy's late-cancellation notice before the start.",
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    cancelled_via = models.CharField(max_length=20, choices=CancelledVia.choices, blank=True, editable=False)
    # Calendar files name the appointment by UID; every move or cancel raises SEQUENCE so the
    # client's calendar replaces its event instead of adding a second one. Never goes down.
    ics_sequence = models.PositiveIntegerField("calendar sequence", default=0, editable=False)
    hold_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="An online booking awaiting its deposit holds the time until then, and is released after.",
    )
    email_confirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the owner of the e-mail given on the online form confirmed it through the link sent to it.",
    )

    class Meta:
        ordering = ["start"]
        permissions = [
            ("undo_appointment_status", "Can undo a no-show, a cancellation or a completion"),
            ("export_appointments", "Can export appointments and their clients for a period (CSV)"),
            ("view_dashboard", "Can view the clinic dashboard (bookings, conversion, revenue, messages)"),
        ]
        indexes = [
            models.Index(fields=["technician", "start"]),
            models.Index(fields=["status", "start"]),
            # The dashboard counts one kind over a period (consultations for the conversion,
            # sessions and touch-ups for revenue and recalls): a range per kind, not the
            # period's every appointment.
            models.Index(fields=["kind", "start"], name="appointment_kind_start_idx"),
            # "Has a touch-up been booked since?" is asked once per recall candidate; the
            # touch-ups alone are a small fraction of the table.
            models.Index(
                fields=["client", "start"], name="appointment_touch_up_idx", condition=models.Q(kind="touch_up")
            ),
            # A client's no-shows and late cancellations, counted on an online booking by someone
            # with records (selectors.ContactOnRecord.attendance): a few rows, not every appointment.
            models.Index(
                fields=["client"],
                name="appointment_missed_idx",
                condition=Q(status="no_show") | Q(status="cancelled", late_cancellation=True),
            ),
            # A clinic's diary and day board: its appointments over a few days, found by range
            # (with the longest appointment bounding how early one can start and still show).
            models.Index(fields=["location", "start"], name="appointment_location_start_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="appointment_end_after_start",
                violation_error_message="The appointment must end after it starts.",
                violation_error_code="appointment_end_after_start",
            ),
            # The longest session is a few hours; a day is the bound that lets a diary find the
            # appointments overlapping its days by their start (the index above).
            models.CheckConstraint(
                condition=Q(end__lte=F("start") + MAX_APPOINTMENT_LENGTH),
                name="appointment_at_most_a_day",
                violation_error_message="An appointment lasts at most a day.",
                violation_error_code="appointment_at_most_a_day",
            ),
            models.CheckConstraint(
                condition=Q(session_number__isnull=True) | Q(course__isnull=False, session_number__gte=1),
                name="appointment_session_number_needs_course",
                violation_error_message="A session number needs a course (and starts at 1).",
                violation_error_code="appointment_session_number_needs_course",
            ),
            models.CheckConstraint(
                condition=~Q(kind="consultation") | Q(course__isnull=True),
                name="appointment_consultation_not_in_course",
                violation_error_message="A consultation is not part of a course: leave the course empty.",
                violation_error_code="appointment_consultation_not_in_course",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="appointment_completed_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="appointment_cancelled_has_time",
            ),
            models.CheckConstraint(
                condition=Q(late_cancellation=False) | Q(status="cancelled"),
                name="appointment_late_cancellation_is_cancelled",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["pending_payment", "hold_released"]) | Q(hold_expires_at__isnull=False),
                name="appointment_payment_hold_expires",
            ),
            models.CheckConstraint(
                condition=Q(no_show_marked_at__isnull=True) | Q(status="no_show"),
                name="appointment_no_show_mark_is_no_show",
            ),
            PostgresExclusionConstraint(
                name="appointment_no_technician_overlap",
                expressions=[
                    ("technician", RangeOperators.EQUAL),
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                ],
                condition=Q(status__in=["booked", "confirmed", "arrived", "completed", "pending_payment"]),
                violation_error_message="The technician already has an appointment at that time.",
                violation_error_code="appointment_no_technician_overlap",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.get_kind_display()}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


class ClientMessage(models.Model):
    """The outbox: one row per message owed to a client about an appointment.

    Scheduled kinds (aftercare day 4, 7 and 10, the 48-hour reminder, follow-ups) are one row
    per appointment and kind, kept in line with the appointment by reminders_sync. Change
    kinds (confirmation, moved, cancelled) are one row per change and channel, keyed by the
    appointment's calendar sequence, with what the message must say frozen in `payload`.

    Rows are written in the same transaction as the change that makes them due;
    a periodic task claims and sends them, so the schedule lives in the database.
    """

    class Kind(models.TextChoices):
        AFTERCARE_DAY_4 = "aftercare_day4", "Aftercare: day 4"
        AFTERCARE_DAY_7 = "aftercare_day7", "Aftercare: day 7"
        AFTERCARE_DAY_10 = "aftercare_day10", "Aftercare: day 10"
        REMINDER_48H = "reminder_48h", "Reminder 48 hours before"
        NEXT_SESSION_PROMPT = "next_session_prompt", "Next session not booked"
        TOUCH_UP_RECALL = "touch_up_recall", "Touch-up recall"
        INTAKE_REMINDER = "intake_reminder", "Intake form not filled in (2 days before)"
        REVIEW_REQUEST = "review_request", "Review request (course healed)"
        CONFIRMATION = "confirmation", "Booking confirmed"
        MOVED = "moved", "Booking moved"
        CANCELLED = "cancelled", "Booking cancelled"
        IDENTITY_CONFIRM = "identity_confirm", "Confirm your e-mail (online booking)"
        RECEIPT = "receipt", "Payment receipt"
        BATCH_RECALL = "batch_recall", "Pigment or needle batch recall"
        WAITLIST_JOINED = "waitlist_joined", "Waiting list: joined"
        WAITLIST_OFFER = "waitlist_offer", "Waiting list: a time is free"
        WAITLIST_GONE = "waitlist_gone", "Waiting list: the time has gone"

    # Sent because something changed, once per change; the others follow a schedule.
    CHANGE_KINDS = (Kind.CONFIRMATION, Kind.MOVED, Kind.CANCELLED)
    # Sent once per appointment, by e-mail only, never re-synced: the double opt-in link goes to
    # the address given on the online form (a phone number proves nothing about that address).
    # The waiting list's messages go to the address on the waiting-list entry (there is no
    # appointment yet), once, by e-mail.
    WAITLIST_KINDS = (Kind.WAITLIST_JOINED, Kind.WAITLIST_OFFER, Kind.WAITLIST_GONE)
    ONE_OFF_KINDS = (Kind.IDENTITY_CONFIRM, Kind.RECEIPT, *WAITLIST_KINDS)
    # Sent again for every payment (and every time staff ask): not one per appointment.
    REPEATABLE_KINDS = (Kind.RECEIPT,)
    # Safety notices (a recalled batch): one per client and lot (bookings.RecallNotice keeps that),
    # on the client's preferred channel, whatever their reminder settings; staff wrote the wording.
    NOTICE_KINDS = (Kind.BATCH_RECALL,)

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SMS = "sms", "SMS"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="messages", null=True, blank=True
    )
    waitlist_entry = models.ForeignKey(
        "bookings.WaitlistEntry", on_delete=models.CASCADE, related_name="messages", null=True, blank=True
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    sequence = models.PositiveIntegerField(
        default=0, help_text="The appointment's calendar sequence when a change message was queued."
    )
    payload = models.JSONField(
        default=dict, blank=True, help_text="What a change message says, as it was at the change (times in UTC)."
    )
    due_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at"]
        verbose_name = "client message"
        indexes = [
            models.Index(fields=["status", "due_at"], name="clientmessage_status_due_idx"),
            # The dashboard's aftercare weeks: three kinds over a period, not every message.
            models.Index(fields=["kind", "due_at"], name="clientmessage_kind_due_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "kind"],
                condition=~Q(kind__in=["confirmation", "moved", "cancelled", "receipt", "batch_recall"]),
                name="clientmessage_one_per_appointment_kind",
            ),
            models.UniqueConstraint(
                fields=["appointment", "kind", "sequence", "channel"],
                condition=Q(kind__in=["confirmation", "moved", "cancelled"]),
                name="clientmessage_one_per_change_channel",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="clientmessage_sent_has_time",
            ),
            # About an appointment, or (the waiting list's kinds) about a waiting-list entry.
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["waitlist_joined", "waitlist_offer", "waitlist_gone"])
                    & Q(appointment__isnull=True, waitlist_entry__isnull=False)
                )
                | (
                    ~Q(kind__in=["waitlist_joined", "waitlist_offer", "waitlist_gone"])
                    & Q(appointment__isnull=False, waitlist_entry__isnull=True)
                ),
                name="clientmessage_about_one_thing",
                violation_error_code="message_subject",
            ),
        ]

    def __str__(self) -> str:
        if self.appointment_id is None:
            return f"{self.get_kind_display()} for waiting list {self.waitlist_entry_id}"
        return f"{self.get_kind_display()} for {self.appointment.reference}"


class BookingPolicy(models.Model):
    """How bookings work: one clinic-wide row (no location) and optional per-location overrides."""

    location = models.OneToOneField(
        Location,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="booking_policy",
        help_text="Leave empty for the clinic-wide policy; a location's own policy overrides it.",
    )
    slot_step_minutes = models.PositiveSmallIntegerField(
        "offer a start time every (minutes)", default=15, validators=[MinValueValidator(5)]
    )
    buffer_before_minutes = models.PositiveSmallIntegerField("preparation before each appointment (minutes)", default=0)
    buffer_after_minutes = models.PositiveSmallIntegerField("clean-up after each appointment (minutes)", default=15)
    minimum_notice_hours = models.PositiveSmallIntegerField("minimum notice for online bookings (hours)", default=12)
    horizon_days = models.PositiveSmallIntegerField(
        "how far ahead clients may book (days)", default=90, validators=[MinValueValidator(1)]
    )
    consultation_minutes = models.PositiveSmallIntegerField(
        "consultation length (minutes)", default=45, validators=[MinValueValidator(15)]
    )
    patch_test_minutes = models.PositiveSmallIntegerField(
        "patch test length (minutes)", default=15, validators=[MinValueValidator(15)]
    )
    touch_up_minutes = models.PositiveSmallIntegerField(
        "touch-up length when no treatment is given (minutes)", default=120, validators=[MinValueValidator(15)]
    )
    change_notice_hours = models.PositiveSmallIntegerField(
        "clients may move or cancel online until (hours before)", default=24
    )
    late_cancellation_hours = models.PositiveSmallIntegerField(
        "a cancellation is late within (hours before)",
        default=48,
        help_text="Cancelled by the client or by staff closer to the start than this: recorded as a late cancellation.",
    )
    no_show_limit = models.PositiveSmallIntegerField(
        "online booking asks to call after (no-shows)",
        null=True,
        blank=True,
        default=2,
        validators=[MinValueValidator(1)],
        help_text="After this many no-shows (at any location), the online booking form asks the person to "
        "call the clinic instead of booking. Empty: never. Staff can always book them.",
    )
    late_cancellations_count = models.BooleanField(
        "late cancellations count towards that limit",
        default=False,
        help_text="Count late cancellations as well as no-shows for the limit above.",
    )

    class Meta:
        verbose_name = "booking policy"
        verbose_name_plural = "booking policies"
        constraints = [
            # At most one clinic-wide row: the location's OneToOne covers the per-location rows.
            models.UniqueConstraint(
                Coalesce("location", Value(0)),
                name="bookingpolicy_one_clinic_wide",
                violation_error_message="There is already a clinic-wide booking policy.",
                violation_error_code="bookingpolicy_one_clinic_wide",
            ),
            models.CheckConstraint(condition=Q(slot_step_minutes__gte=5), name="bookingpolicy_step_at_least_5"),
            models.CheckConstraint(condition=Q(horizon_days__gte=1), name="bookingpolicy_horizon_positive"),
            models.CheckConstraint(
                condition=Q(consultation_minutes__gte=15), name="bookingpolicy_consultation_at_least_15"
            ),
            models.CheckConstraint(
                condition=Q(no_show_limit__isnull=True) | Q(no_show_limit__gte=1),
                name="bookingpolicy_no_show_limit_positive",
                violation_error_message="The no-show limit is at least 1 (leave it empty for no limit).",
                violation_error_code="bookingpolicy_no_show_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"Booking policy: {self.location or 'all locations'}"


class MessageTemplate(models.Model):
    """The wording of one kind of client message, edited by staff in the admin.

    Rendered with Django template syntax against a small context of plain strings
    (see bookings.services.messaging.MESSAGE_CONTEXT_HELP); a treatment's own template
    wins over the general one for the same kind.
    """

    kind = models.CharField(max_length=30, choices=ClientMessage.Kind.choices)
    treatment = models.ForeignKey(
        "treatments.Treatment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="message_templates",
        help_text="Leave empty for the wording every treatment uses unless it has its own.",
    )
    subject = models.CharField(max_length=200)
    text_body = models.TextField("plain-text e-mail")
    html_body = models.TextField("HTML e-mail (the part inside the clinic's layout)")
    sms_body = models.TextField("text message", max_length=480)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "treatment"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(treatment__isnull=True),
                name="messagetemplate_one_general_per_kind",
                violation_error_message="There is already a general template for this message.",
                violation_error_code="messagetemplate_one_general_per_kind",
            ),
            models.UniqueConstraint(
                fields=["kind", "treatment"],
                name="messagetemplate_one_per_kind_treatment",
                violation_error_message="This treatment already has a template for this message.",
                violation_error_code="messagetemplate_one_per_kind_treatment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.treatment or 'all treatments'})"


class BookingToMatch(Client):
    """Reception's queue: clients created by an online booking under an e-mail another client holds."""

    class Meta:
        proxy = True
        verbose_name = "online booking to match"
        verbose_name_plural = "online bookings to match"


class WaitlistEntry(models.Model):
    """A client waiting for a consultation at a location between two dates, when no free time
    suited them. Offers go to entries in the order they joined (bookings.services.waitlist)."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        BOOKED = "booked", "Booked from an offer"
        WITHDRAWN = "withdrawn", "Withdrawn"
        EXPIRED = "expired", "Expired (its last day passed)"

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="waitlist_entries")
    treatment = models.ForeignKey(
        "treatments.Treatment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="waitlist_entries",
        help_text="The treatment the client is interested in (the consultation is about it), if they said.",
    )
    earliest_date = models.DateField("from", help_text="The first day the client could come (the location's calendar).")
    latest_date = models.DateField("until", help_text="The last day the client could come.")
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    email = models.EmailField()
    phone = models.CharField(max_length=30)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.WAITING)
    joined_at = models.DateTimeField(default=timezone.now, editable=False)
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        help_text="The booking made from an offer.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["joined_at", "id"]
        verbose_name = "waiting-list entry"
        verbose_name_plural = "waiting list"
        indexes = [models.Index(fields=["location", "status", "joined_at"], name="waitlist_location_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(latest_date__gte=F("earliest_date")),
                name="waitlist_range_in_order",
                violation_error_message="The last day must be on or after the first day.",
                violation_error_code="range_order",
            ),
        ]

    def __str__(self) -> str:
        return f"Waiting at {self.location}, {self.earliest_date:%d/%m/%Y}-{self.latest_date:%d/%m/%Y} (#{self.pk})"


class WaitlistRelease(models.Model):
    """A time freed by a cancellation or a move, offered to the waiting list: the first claim
    through an offer's link books it; the row lock on it lets exactly one claim through."""

    class Status(models.TextChoices):
        OPEN = "open", "Offered"
        CLAIMED = "claimed", "Claimed"
        GONE = "gone", "Gone (booked elsewhere or past)"

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="waitlist_releases")
    start = models.DateTimeField()
    freed_from = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", help_text="What freed it."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "freed time offered to the waiting list"
        indexes = [models.Index(fields=["status", "start"], name="waitlist_release_open_idx")]

    def __str__(self) -> str:
        return f"{self.location} {self.start:%Y-%m-%d %H:%M} ({self.get_status_display()})"


class WaitlistOffer(models.Model):
    """One waiting client's offer of one freed time (their claim link signs its id)."""

    class Status(models.TextChoices):
        OFFERED = "offered", "Offered"
        CLAIMED = "claimed", "Claimed"
        GONE = "gone", "Gone to someone else"
        EXPIRED = "expired", "Expired"

    release = models.ForeignKey(WaitlistRelease, on_delete=models.CASCADE, related_name="offers")
    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    position = models.PositiveSmallIntegerField(help_text="The entry's place in the queue when offered (1 = first).")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OFFERED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["release", "position"]
        constraints = [
            models.UniqueConstraint(fields=["release", "entry"], name="waitlist_one_offer_per_entry"),
        ]

    def __str__(self) -> str:
        return f"Offer {self.pk} of {self.release_id} to entry {self.entry_id}"


# The stock and money models live in modules of their own; imported here so Django finds them.
from .models_payments import DepositPolicy, Payment, WebhookEvent  # noqa: E402, F401
from .models_stock import Batch, Product, RecallNotice, SessionBatch  # noqa: E402, F401
