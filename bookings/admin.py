from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.utils import timezone

from .admin_messages import MessageAdminMixin, MessageTemplateAdmin  # noqa: F401 - registers the template admin
from .models import (
    AftercareReminder,
    Appointment,
    BookingPolicy,
    Break,
    Closure,
    Course,
    Location,
    OpeningHours,
    Technician,
    TimeOff,
    WorkingHours,
)
from .selectors import BookingRequestError, availability_compute
from .services.appointments import appointment_complete, appointment_uncomplete
from .services.booking import ChangeNotAllowed, SlotTaken, _is_overlap_violation, appointment_book, appointment_cancel
from .services.messaging import reminders_sync
from .zones import default_time_zone, local, local_date, time_zone_choices


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
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
    extra = 0


class BreakInline(admin.TabularInline):
    model = Break
    extra = 0


class TimeOffInline(admin.TabularInline):
    model = TimeOff
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
    fields = ["reference", "kind", "session_number", "start", "end", "technician", "status"]
    # Read-only: times, technicians and statuses change on the appointment's own page, through
    # the availability engine and the services that complete, cancel and re-time its messages.
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["__str__", "client", "treatment", "planned_sessions", "status", "created_at"]
    list_filter = ["status", "treatment"]
    list_select_related = ["client", "treatment"]
    search_fields = ["client__last_name", "client__email"]
    autocomplete_fields = ["client"]
    inlines = [AppointmentInline]


class ReminderInline(admin.TabularInline):
    model = AftercareReminder
    fields = ["milestone", "channel", "due_at", "status", "sent_at", "attempts", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ["reference", "local_start", "kind", "client", "technician", "location", "status", "channel"]
    list_filter = ["status", "kind", "location", "technician", "channel"]
    list_select_related = ["client", "technician", "location"]
    search_fields = ["reference", "client__last_name", "client__email"]
    date_hierarchy = "start"
    autocomplete_fields = ["client", "course"]
    readonly_fields = ["reference", "created_at", "updated_at", "cancelled_at", "completed_at"]
    inlines = [ReminderInline]

    @admin.display(description="start (clinic's time)", ordering="start")
    def local_start(self, obj: Appointment) -> str:
        return f"{local(obj.start, obj.location):%d/%m/%Y %H:%M %Z}"

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # An appointment's times are shown and typed on its clinic's clock.
        obj = self.get_object(request, object_id) if object_id else None
        if obj is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with timezone.override(obj.location.tz):
            return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(AftercareReminder)
class AftercareReminderAdmin(MessageAdminMixin, admin.ModelAdmin):
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
    ]
    list_select_related = ["location"]


def _on_clinic_clock(value, location: Location):
    """The admin's widgets read a wall-clock time in the active zone; staff typed it on the
    chosen clinic's clock (a New York booking made from London still says 10:00 New York)."""
    current = timezone.get_current_timezone()
    if location.time_zone == str(current):
        return value
    return timezone.make_aware(timezone.make_naive(value, current), location.tz)


class AppointmentBookingForm(forms.ModelForm):
    """The admin's appointment form, checked against the availability engine: staff book with
    the same rules as clients (working hours, breaks, time off, closures, buffers), without
    the online minimum notice and horizon."""

    class Meta:
        model = Appointment
        fields = "__all__"  # noqa: DJ007 - the admin shows every field, as before

    ENGINE_FIELDS = frozenset({"start", "end", "technician", "location", "status", "kind", "treatment"})

    def clean(self):
        cleaned = super().clean()
        technician, location = cleaned.get("technician"), cleaned.get("location")
        if location is not None:
            for name in ("start", "end"):
                if cleaned.get(name) is not None:
                    cleaned[name] = _on_clinic_clock(cleaned[name], location)
        start, end = cleaned.get("start"), cleaned.get("end")
        holds_time = cleaned.get("status") in (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED)
        adding_completed = self.instance._state.adding and cleaned.get("status") == Appointment.Status.COMPLETED
        if adding_completed and start and start > timezone.now():
            self.add_error("status", "An appointment cannot be completed before it has started.")
        if not (start and end and technician and location and end > start and holds_time):
            return cleaned
        if not self.instance._state.adding:
            changed = self.ENGINE_FIELDS & set(self.changed_data)
            if not changed:
                return cleaned
            if changed == {"status"} and self.initial.get("status") in Appointment.ACTIVE_STATUSES:
                return cleaned  # e.g. un-completing: it already holds this time
        day = local_date(start, location)
        try:
            slots = availability_compute(
                location=location,
                kind=cleaned.get("kind"),
                treatment=cleaned.get("treatment"),
                start_date=day,
                days=1,
                technician=technician,
                length_minutes=int((end - start).total_seconds() // 60),
                apply_notice=False,
                exclude_appointment_id=self.instance.pk,
            )
        except BookingRequestError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
            return cleaned
        if not any(slot.start == start for slot in slots[day]):
            free = ", ".join(f"{local(s.start, location):%H:%M}" for s in slots[day][:12]) or "none"
            self.add_error(
                "start",
                f"{technician} is not free then at {location} (working hours, breaks, time off, closures "
                f"and other appointments with their buffers). Free start times that day: {free}.",
            )
        return cleaned


admin.site.unregister(Appointment)


@admin.register(Appointment)
class AppointmentBookingAdmin(AppointmentAdmin):
    """New appointments go through the booking service (technician lock, exclusion constraint,
    reminders_sync); edits are checked by the engine in the form and guarded by the constraint."""

    form = AppointmentBookingForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A race lost between the form's check and the save (or a status change the services
        # refuse) is a message on the form, never a 500; nothing was saved.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SlotTaken as exc:
            message = f"{exc.message} Choose another time."
        except (ChangeNotAllowed, ValidationError) as exc:
            message = getattr(exc, "message", None) or "; ".join(exc.messages)
        except IntegrityError as exc:
            if not _is_overlap_violation(exc):
                raise
            message = "That time was just taken by another appointment of this technician. Choose another time."
        self.message_user(request, f"Not saved: {message}", level=messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        if change:
            return self._save_change(request, obj, form)
        if obj.status == Appointment.Status.COMPLETED:
            # Recording a session already done: the row, then the completion the workspace would
            # make (completed time, course progress, aftercare), in the admin's transaction.
            obj.status = Appointment.Status.BOOKED
            super().save_model(request, obj, form, change)
            done = appointment_complete(appointment=obj, by=request.user)
            obj.status, obj.completed_at = done.status, done.completed_at
            return None
        if obj.status == Appointment.Status.CANCELLED and obj.cancelled_at is None:
            obj.cancelled_at = timezone.now()
        if obj.status not in (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED):
            return super().save_model(request, obj, form, change)
        booked = appointment_book(
            client=obj.client,
            location=obj.location,
            kind=obj.kind,
            start=obj.start,
            treatment=obj.treatment,
            technician=obj.technician,
            course=obj.course,
            session_number=obj.session_number,
            length_minutes=int((obj.end - obj.start).total_seconds() // 60),
            channel=obj.channel or Appointment.Channel.STAFF,
            client_message=obj.client_message,
        )
        # Keep the admin's object (it is logged and redirected to): it is now the booked row,
        # and saving it stores the form's remaining fields (status, staff notes).
        obj.pk, obj.reference, obj.created_at = booked.pk, booked.reference, booked.created_at
        obj._state.adding = False
        obj.save()
        return None

    def _save_change(self, request, obj, form):
        """Edits keep the services' rules: completing writes the aftercare, un-completing and
        cancelling withdraw unsent messages, and a move re-times the pending ones."""
        Status = Appointment.Status
        new_status = obj.status
        previous = form.initial.get("status", new_status)
        with transaction.atomic():
            obj.status = previous
            obj.save()
            if new_status != previous:
                if new_status == Status.COMPLETED:
                    appointment_complete(appointment=obj, by=request.user)
                elif new_status == Status.CANCELLED:
                    appointment_cancel(appointment=obj, by_client=False)
                else:
                    if previous == Status.COMPLETED:
                        appointment_uncomplete(appointment=obj, by=request.user)
                    Appointment.objects.filter(pk=obj.pk).update(status=new_status, cancelled_at=None)
            obj.refresh_from_db()
            reminders_sync(appointment=obj)
