from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils import timezone

from clients.admin import MAX_SEARCH_LENGTH, ServiceAdminMixin
from clients.admin_paging import BigTableAdminMixin, SharedChoicesFormSet
from clients.phones import phone_display, phone_search_value
from clients.widgets import QuickSelectAdminMixin
from treatments.money import PoundsField

from . import (
    admin_clients,  # noqa: F401 - registers the client admin with its bookings
    admin_stock,  # noqa: F401 - registers products, batches, recalls and the session note's batches
    admin_waitlist,  # noqa: F401 - registers the waiting list
)
from .admin_attendance import AppointmentAttendanceAdminMixin
from .admin_board import DayBoardAdminMixin
from .admin_clients import reference_search_value
from .admin_desk import DeskPaymentsAdminMixin
from .admin_diary import DiaryAdminMixin
from .admin_exports import ExportViewMixin
from .admin_messages import MessageAdminMixin, MessageTemplateAdmin  # noqa: F401 - registers the template admin
from .admin_moves import CancelActionMixin, MoveActionMixin, WhenFilter, apply_to_each
from .admin_payments import DepositOverrideActionMixin, PaymentInline
from .models import (
    Appointment,
    BookingPolicy,
    BookingToMatch,
    Break,
    ClientMessage,
    Closure,
    Course,
    Location,
    OpeningHours,
    Technician,
    TimeOff,
    WorkingHours,
)
from .selectors import INTAKE_DONE, INTAKE_MISSING, BookingRequestError, intake_missing_q, intake_state
from .services.appointments import (
    DETAIL_FIELDS,
    STAFF_CHANNELS,
    allowed_targets,
    appointment_arrive,
    appointment_complete,
    appointment_confirm,
    appointment_confirmation_resend,
    appointment_details_update,
    appointment_mark_no_show,
    appointment_record_completed,
    appointment_staff_book,
    appointment_staff_move,
    appointment_status_change,
    appointment_uncomplete,
    appointment_undo_cancel,
    appointment_undo_no_show,
    may_transition,
)
from .services.booking import OVERLAP_CONSTRAINT, ChangeNotAllowed, SlotTaken
from .services.courses import COURSE_CREATE_FIELDS, COURSE_UPDATE_FIELDS, course_create, course_update
from .services.identity import client_match_merge, client_match_separate
from .zones import default_time_zone, local, time_zone_choices

Status = Appointment.Status


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    formset = SharedChoicesFormSet
    extra = 0


class LocationForm(forms.ModelForm):
    time_zone = forms.TypedChoiceField(choices=time_zone_choices, initial=default_time_zone)

    class Meta:
        model = Location
        fields = "__all__"  # noqa: DJ007 - the admin shows every field


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    form = LocationForm
    list_display = ["name", "city", "postcode", "phone", "time_zone", "is_active", "order"]
    list_editable = ["is_active", "order"]
    search_fields = ["name", "city", "postcode"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [OpeningHoursInline]


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    formset = SharedChoicesFormSet
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("location")


class BreakInline(admin.TabularInline):
    model = Break
    formset = SharedChoicesFormSet
    extra = 0


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    formset = SharedChoicesFormSet
    extra = 0


@admin.register(Technician)
class TechnicianAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "is_active"]
    list_filter = ["is_active", "locations"]
    search_fields = ["display_name", "user__username"]
    filter_horizontal = ["locations", "treatments"]
    autocomplete_fields = ["user"]
    inlines = [WorkingHoursInline, BreakInline, TimeOffInline]


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    list_display = ["reason", "start_date", "end_date", "location"]
    list_filter = ["location"]
    date_hierarchy = "start_date"


class AppointmentInline(admin.TabularInline):
    model = Appointment
    formset = SharedChoicesFormSet
    fields = ["reference", "kind", "session_number", "start", "end", "technician", "status"]
    # Read-only: times, technicians and statuses change on the appointment's own page, through
    # the availability engine and the services that complete, cancel and re-time its messages.
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("technician")


class CourseAdminForm(forms.ModelForm):
    """The status offers what staff may choose (cancel, or reopen a cancelled course); the
    course services judge it against the sessions, under the course's lock."""

    # Staff type pounds ("1,250.00" or "1250"); stored as an integer of pence.
    price_agreed_minor = PoundsField(required=False, min_minor=0, label="Price agreed (£)")

    class Meta:
        model = Course
        fields = "__all__"  # noqa: DJ007 - the admin shows every field

    STAFF_TARGETS = {
        Course.Status.PLANNED: (Course.Status.CANCELLED,),
        Course.Status.IN_PROGRESS: (Course.Status.CANCELLED,),
        Course.Status.COMPLETED: (),
        Course.Status.CANCELLED: (Course.Status.PLANNED, Course.Status.IN_PROGRESS, Course.Status.COMPLETED),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "status" in self.fields and not self.instance._state.adding:
            current = self.instance.status
            allowed = (current, *self.STAFF_TARGETS.get(current, ()))
            self.fields["status"].choices = [(v, label) for v, label in Course.Status.choices if v in allowed]


class AppointmentDeskPaymentsAdminMixin(DeskPaymentsAdminMixin):
    payments_for = "appointment"


@admin.register(Course)
class CourseAdmin(DeskPaymentsAdminMixin, ServiceAdminMixin, admin.ModelAdmin):
    """Every write goes through the course services: add -> course_create, a change ->
    course_update (the treatment's session range, the sessions booked and done, the status
    rules, the course's lock and the audit row). Its appointments are listed read-only."""

    form = CourseAdminForm
    list_display = ["__str__", "client", "treatment", "planned_sessions", "status", "created_at"]
    list_filter = ["status", "treatment"]
    list_select_related = ["client", "treatment"]
    search_fields = ["client__last_name", "client__email"]
    autocomplete_fields = ["client"]
    inlines = [AppointmentInline]

    def get_readonly_fields(self, request, obj=None):
        # A new course starts planned; a course stays with its client (its sessions are theirs);
        # completed_at follows the status.
        fixed = ["client"] if obj is not None else ["status"]
        # Every payment against the course is in its currency (the clinic's, for now).
        return [*fixed, "currency", "completed_at", "created_at", *super().get_readonly_fields(request, obj)]

    def has_delete_permission(self, request, obj=None):
        # A course is cancelled, never deleted: its sessions and audit trail stay.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            data = {f: form.cleaned_data[f] for f in form.changed_data if f in COURSE_UPDATE_FIELDS}
            saved = course_update(course=obj, data=data, by=request.user)
        else:
            data = {f: v for f, v in form.cleaned_data.items() if f in COURSE_CREATE_FIELDS}
            saved = course_create(data=data, by=request.user)
        self.adopt(obj, saved)

    def save_related(self, request, form, formsets, change):
        # The only inline is the read-only list of appointments, which the booking services keep.
        form.save_m2m()
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


class ClientMessageInline(admin.TabularInline):
    model = ClientMessage
    formset = SharedChoicesFormSet
    fields = ["kind", "channel", "sequence", "due_at", "status", "sent_at", "attempts", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False


class AppointmentAdminForm(forms.ModelForm):
    """The status field offers only the transitions the current status allows; the services
    judge the time (under the technician's lock) and the rules, not this form."""

    class Meta:
        model = Appointment
        fields = "__all__"  # noqa: DJ007 - the admin shows every field

    ADD_STATUSES = (Status.BOOKED, Status.CONFIRMED, Status.COMPLETED, Status.CANCELLED)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = None if self.instance._state.adding else self.instance.status
        if "status" in self.fields:
            allowed = self.ADD_STATUSES if current is None else (current, *allowed_targets(current))
            self.fields["status"].choices = [(v, label) for v, label in Status.choices if v in allowed]
        if "channel" in self.fields:
            channels = {*STAFF_CHANNELS, self.instance.channel} if current is not None else set(STAFF_CHANNELS)
            self.fields["channel"].choices = [(v, label) for v, label in Appointment.Channel.choices if v in channels]
            if current is None:
                self.initial.setdefault("channel", Appointment.Channel.STAFF)

    def validate_constraints(self):
        # Every constraint but the overlap: the technician's time is the services' to judge,
        # under the technician's lock and with the engine's reasons and nearest free times.
        exclude = self._get_validation_exclusions()
        errors: list[ValidationError] = []
        for constraint in Appointment._meta.constraints:
            if constraint.name == OVERLAP_CONSTRAINT:
                continue
            try:
                constraint.validate(Appointment, self.instance, exclude=exclude)
            except ValidationError as exc:
                errors.append(exc)
        if errors:
            self._update_errors(ValidationError(errors))


def _status_action(service, *, name: str, description: str, done: str):
    def action(modeladmin, request, queryset):
        apply_to_each(modeladmin, request, queryset.order_by("start"), service, done=done)

    action.__name__ = name
    return admin.action(description=description)(action)


class IntakeFilter(admin.SimpleListFilter):
    """Consultations whose client has, or has not yet, sent the intake form."""

    title = "intake form"
    parameter_name = "intake"

    def lookups(self, request, model_admin):
        return [(INTAKE_MISSING, "Missing (consultations to come)"), (INTAKE_DONE, "Sent (prepared)")]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == INTAKE_MISSING:
            return queryset.filter(intake_missing_q())
        if value == INTAKE_DONE:
            return queryset.filter(kind=Appointment.Kind.CONSULTATION, intake__completed_at__isnull=False)
        return queryset.none()


@admin.register(Appointment)
class AppointmentAdmin(
    QuickSelectAdminMixin,
    AppointmentAttendanceAdminMixin,
    MoveActionMixin,
    CancelActionMixin,
    DepositOverrideActionMixin,
    DiaryAdminMixin,
    DayBoardAdminMixin,
    AppointmentDeskPaymentsAdminMixin,
    ExportViewMixin,
    BigTableAdminMixin,
    ServiceAdminMixin,
    admin.ModelAdmin,
):
    """Every write goes through the booking services: add -> appointment_staff_book (or
    appointment_record_completed for a session entered afterwards), a new time or technician
    -> appointment_staff_move, a new status -> its transition, other fields ->
    appointment_details_update. Each writes its audit row and the client's messages."""

    form = AppointmentAdminForm
    list_display = [
        "reference",
        "local_start",
        "kind",
        "client",
        "technician",
        "location",
        "status",
        "intake_badge",
        "channel",
    ]
    list_filter = [WhenFilter, "status", "kind", IntakeFilter, "location", "technician", "channel"]
    list_select_related = ["client", "technician", "location", "intake"]
    # A reference or a phone number is an exact, indexed lookup (get_search_results); names and
    # e-mails are a "contains" search on the client, answered by its trigram indexes.
    search_fields = ["client__first_name", "client__last_name", "client__email"]
    search_help_text = "Booking reference (SMP-4K7QZ), client's whole phone number (any spacing), name or e-mail."
    date_hierarchy = "start"
    autocomplete_fields = ["client", "course"]
    inlines = [ClientMessageInline, PaymentInline]
    refusals = (ValidationError, PermissionDenied, SlotTaken, ChangeNotAllowed, BookingRequestError)
    error_code_fields = {
        "transition_not_allowed": "status",
        "not_started": "status",
        "not_movable": "start",
        "one_change_at_a_time": "status",
        "bad_channel": "channel",
        "id_not_checked": "status",
    }
    actions = [
        _status_action(appointment_confirm, name="confirm", description="Confirm", done="confirmed"),
        _status_action(appointment_arrive, name="arrive", description="Client arrived", done="marked arrived"),
        _status_action(appointment_complete, name="complete", description="Complete", done="completed"),
        _status_action(
            appointment_mark_no_show, name="mark_no_show", description="Mark no-show", done="marked no-show"
        ),
        _status_action(appointment_undo_no_show, name="undo_no_show", description="Undo no-show", done="booked again"),
        "cancel",
        _status_action(
            appointment_undo_cancel, name="undo_cancel", description="Undo cancellation", done="booked again"
        ),
        _status_action(appointment_uncomplete, name="uncomplete", description="Undo completion", done="back to booked"),
        "move",
        _status_action(
            appointment_confirmation_resend,
            name="resend_confirmation",
            description="Resend the booking confirmation",
            done="sent their confirmation again",
        ),
        "deposit_override",
    ]

    # Actions whose transition asks for more than changing appointments (clinical access, or the
    # right to undo): offered only to those the transition table lets make it.
    ACTION_TRANSITIONS = {
        "complete": (Status.ARRIVED, Status.COMPLETED),
        "undo_no_show": (Status.NO_SHOW, Status.BOOKED),
        "undo_cancel": (Status.CANCELLED, Status.BOOKED),
        "uncomplete": (Status.COMPLETED, Status.BOOKED),
    }

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        for name, (current, target) in self.ACTION_TRANSITIONS.items():
            if not may_transition(by=request.user, current=current, target=target):
                actions.pop(name, None)
        return actions

    READONLY = ["reference", "created_at", "updated_at", "cancelled_at", "completed_at"]
    READONLY += ["status_changed_at", "status_changed_by", "ics_sequence"]
    # What the booking was made for; changing it is a new booking (cancel and book again).
    FIXED_AFTER_BOOKING = ["client", "kind", "location", "treatment", "end"]

    def get_readonly_fields(self, request, obj=None):
        fixed = self.FIXED_AFTER_BOOKING if obj is not None else []
        return [*self.READONLY, *fixed, *super().get_readonly_fields(request, obj)]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if len(term) > MAX_SEARCH_LENGTH:
            return queryset.none(), False
        reference = reference_search_value(term) if term else None
        if reference:
            return queryset.filter(reference=reference), False
        phone = phone_search_value(term) if term else None
        if phone:
            return queryset.filter(Q(client__phone=phone)), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="intake")
    def intake_badge(self, obj: Appointment) -> str:
        return {INTAKE_DONE: "Prepared", INTAKE_MISSING: "Missing"}.get(intake_state(obj), "")

    @admin.display(description="start (clinic's time)", ordering="start")
    def local_start(self, obj: Appointment) -> str:
        return f"{local(obj.start, obj.location):%d/%m/%Y %H:%M %Z}"

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # An appointment's times are typed, checked and shown on its clinic's clock: a New York
        # booking made from London says 10:00 New York (the location cannot change after booking).
        location = self._location_of(request, object_id)
        if location is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with timezone.override(location.tz):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def _location_of(self, request, object_id) -> Location | None:
        if object_id:
            obj = self.get_object(request, object_id)
            return obj.location if obj is not None else None
        chosen = request.POST.get("location") or request.GET.get("location") or ""
        return Location.objects.filter(pk=chosen).first() if chosen.isdigit() else None

    def has_delete_permission(self, request, obj=None):
        # An appointment is cancelled, never deleted: its messages and audit trail stay.
        return False

    def refusal_messages(self, exc):
        if isinstance(exc, SlotTaken):
            # changeform_view made the clinic's zone the current one.
            free = ", ".join(f"{timezone.localtime(s.start):%a %d/%m %H:%M}" for s in exc.alternatives)
            return [
                (
                    "start",
                    "The technician is not free then (working hours, breaks, time off, closures and other "
                    f"appointments with their buffers). Nearest free times: {free or 'none nearby'}.",
                )
            ]
        if isinstance(exc, BookingRequestError):
            return [(exc.field, exc.message)]
        return super().refusal_messages(exc)

    def save_model(self, request, obj, form, change):
        saved = self._change(request, obj, form) if change else self._add(request, form)
        self.adopt(obj, saved)

    def save_related(self, request, form, formsets, change):
        # The only inline is the read-only list of messages, which the services keep.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def _add(self, request, form) -> Appointment:
        data = form.cleaned_data
        status = data.get("status") or Status.BOOKED
        common = {
            "by": request.user,
            "client": data["client"],
            "location": data["location"],
            "kind": data["kind"],
            "treatment": data.get("treatment"),
            "technician": data["technician"],
            "course": data.get("course"),
            "session_number": data.get("session_number"),
            "channel": data.get("channel") or Appointment.Channel.STAFF,
            "staff_notes": data.get("staff_notes", ""),
        }
        if status == Status.COMPLETED:
            return appointment_record_completed(start=data["start"], end=data["end"], **common)
        booked = appointment_staff_book(
            start=data["start"],
            length_minutes=int((data["end"] - data["start"]).total_seconds() // 60),
            client_message=data.get("client_message", ""),
            **common,
        )
        if status != Status.BOOKED:
            booked = appointment_status_change(appointment=booked, target=status, by=request.user)
        return booked

    def _change(self, request, obj, form) -> Appointment:
        data, changed = form.cleaned_data, set(form.changed_data)
        appointment = Appointment.objects.get(pk=obj.pk)
        moving = bool({"start", "technician"} & changed)
        if moving and "status" in changed:
            raise ValidationError("Change the time or the status, one at a time.", code="one_change_at_a_time")
        details = {f: data[f] for f in DETAIL_FIELDS if f in changed}
        if details:
            appointment = appointment_details_update(appointment=appointment, data=details, by=request.user)
        if moving:
            appointment = appointment_staff_move(
                appointment=appointment, start=data["start"], technician=data["technician"], by=request.user
            )
        if "status" in changed:
            appointment = appointment_status_change(appointment=appointment, target=data["status"], by=request.user)
        return appointment


@admin.register(ClientMessage)
class ClientMessageAdmin(MessageAdminMixin, BigTableAdminMixin, admin.ModelAdmin):
    """Every client message: status, due and sent times, attempts, last error; resend and cancel."""


@admin.register(BookingPolicy)
class BookingPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "slot_step_minutes",
        "consultation_minutes",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "minimum_notice_hours",
        "horizon_days",
        "change_notice_hours",
        "late_cancellation_hours",
        "no_show_limit",
    ]
    list_select_related = ["location"]


@admin.register(BookingToMatch)
class BookingToMatchAdmin(admin.ModelAdmin):
    """Reception's queue of online bookings made under an e-mail another client holds: the
    details as given beside the client they may be. Read-only; the two actions call the services."""

    list_display = ["__str__", "email", "phone_national", "bookings", "match_of", "match_phone", "created_at"]
    list_select_related = ["match_of"]
    search_fields = ["first_name", "last_name", "email"]
    actions = ["merge_into_match", "mark_different_person"]
    fields = ["first_name", "last_name", "email", "phone", "match_of", "match_status", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        pending = super().get_queryset(request).filter(match_status=BookingToMatch.MatchStatus.PENDING)
        return pending.prefetch_related("appointments")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("clients.view_client")

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("clients.change_client")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="bookings")
    def bookings(self, obj):
        return ", ".join(a.reference for a in obj.appointments.all())

    @admin.display(description="phone", ordering="phone")
    def phone_national(self, obj):
        return phone_display(obj.phone)

    @admin.display(description="their phone on record")
    def match_phone(self, obj):
        return phone_display(obj.match_of.phone) if obj.match_of else ""

    def get_search_results(self, request, queryset, search_term):
        phone = phone_search_value(search_term)
        if phone:
            return queryset.filter(phone=phone), False
        return super().get_search_results(request, queryset, search_term)

    @admin.action(permissions=["change"], description="Same person: merge into the client they match")
    def merge_into_match(self, request, queryset):
        self._apply(request, queryset, lambda p: client_match_merge(provisional=p, into=p.match_of, by=request.user))

    @admin.action(permissions=["change"], description="A different person sharing the e-mail")
    def mark_different_person(self, request, queryset):
        self._apply(request, queryset, lambda p: client_match_separate(provisional=p, by=request.user))

    def _apply(self, request, queryset, service) -> None:
        done = 0
        for provisional in queryset.select_related("match_of"):
            try:
                service(provisional)
            except ValidationError as exc:
                self.message_user(request, f"{provisional}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} booking(s) matched.", messages.SUCCESS)
