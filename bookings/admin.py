from django.contrib import admin

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


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "postcode", "phone", "is_active", "order"]
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
    readonly_fields = ["reference"]
    extra = 0
    show_change_link = True


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
    list_display = ["reference", "start", "kind", "client", "technician", "location", "status", "channel"]
    list_filter = ["status", "kind", "location", "technician", "channel"]
    list_select_related = ["client", "technician", "location"]
    search_fields = ["reference", "client__last_name", "client__email"]
    date_hierarchy = "start"
    autocomplete_fields = ["client", "course"]
    readonly_fields = ["reference", "created_at", "updated_at", "cancelled_at", "completed_at"]
    inlines = [ReminderInline]


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
