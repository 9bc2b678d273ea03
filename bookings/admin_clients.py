"""The client admin with what bookings knows about a client: their appointments and courses,
their latest messages, a search by booking reference and a filter for who is coming back.

clients stands below bookings, so bookings extends the client's admin (as it does for the
message timeline) rather than clients reaching up."""

from __future__ import annotations

import re

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from clients.admin_paging import SharedChoicesFormSet
from clients.models import Client

from .admin_diary import booking_return
from .admin_messages import ClientMessagesAdmin
from .models import REFERENCE_ALPHABET, REFERENCE_PREFIX, Appointment, ClientMessage, Course
from .zones import local

# "SMP-4K7QZ", "smp 4k7qz", "SMP4K7QZ": a reference read out over the phone, in any case.
REFERENCE = re.compile(rf"SMP[-\s]?([{REFERENCE_ALPHABET}]{{5}})", re.IGNORECASE)
RECENT_MESSAGES = 10


def reference_search_value(term: str) -> str | None:
    """The booking reference a search term spells, normalised (SMP-4K7QZ), else None."""
    match = REFERENCE.fullmatch(term.strip())
    return f"{REFERENCE_PREFIX}{match.group(1).upper()}" if match else None


class UpcomingAppointmentFilter(admin.SimpleListFilter):
    """Clients with a booked or confirmed appointment still to come (an indexed EXISTS per client)."""

    title = "upcoming appointment"
    parameter_name = "upcoming"

    def lookups(self, request, model_admin):
        return [("yes", "Has one booked"), ("no", "None booked")]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in ("yes", "no"):
            return queryset.none()
        upcoming = Appointment.objects.filter(
            client=OuterRef("pk"),
            start__gte=timezone.now(),
            status__in=[Appointment.Status.BOOKED, Appointment.Status.CONFIRMED],
        )
        return queryset.filter(Exists(upcoming) if value == "yes" else ~Exists(upcoming))


class ClientAppointmentInline(admin.TabularInline):
    """Read-only: appointments change on their own page or by the list's actions, through the
    booking services."""

    model = Appointment
    formset = SharedChoicesFormSet
    display_only = True
    fields = ["reference", "kind", "clinic_start", "technician", "location", "status"]
    readonly_fields = fields
    ordering = ["-start"]
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "appointments (latest first)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("technician", "location")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="start (clinic's time)")
    def clinic_start(self, obj: Appointment) -> str:
        return f"{local(obj.start, obj.location):%a %d/%m/%Y %H:%M}" if obj.pk else "-"


class ClientCourseInline(admin.TabularInline):
    model = Course
    formset = SharedChoicesFormSet
    display_only = True
    fields = ["treatment", "planned_sessions", "status", "price_agreed_display", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("treatment")

    @admin.display(description="price agreed")
    def price_agreed_display(self, obj: Course) -> str:
        money = obj.price_agreed_money if obj.pk else None
        return str(money) if money is not None else "-"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ClientBookingsAdmin(ClientMessagesAdmin):
    search_help_text = (
        "Name, e-mail, a whole phone number (any spacing, e.g. 07700 900123) or booking reference (SMP-4K7QZ)."
    )
    list_filter = [*ClientMessagesAdmin.list_filter, UpcomingAppointmentFilter]
    readonly_fields = [*ClientMessagesAdmin.readonly_fields, "recent_messages"]
    inlines = [*ClientMessagesAdmin.inlines, ClientAppointmentInline, ClientCourseInline]

    def exact_search(self, term: str) -> Q | None:
        reference = reference_search_value(term)
        if reference:
            # The unique index on the reference finds the one appointment, then its client.
            return Q(pk__in=Appointment.objects.filter(reference=reference).values("client_id"))
        return super().exact_search(term)

    @admin.display(description="latest messages")
    def recent_messages(self, obj: Client) -> str:
        if obj is None or obj.pk is None:
            return "-"
        rows = (
            ClientMessage.objects.filter(appointment__client=obj)
            .select_related("appointment")
            .order_by("-due_at", "-pk")[:RECENT_MESSAGES]
        )
        lines = format_html_join(
            "",
            "<li>{}: {}, {} ({:%d/%m/%Y %H:%M})</li>",
            (
                (
                    m.appointment.reference,
                    m.get_kind_display(),
                    m.get_status_display().lower(),
                    timezone.localtime(m.sent_at or m.due_at),
                )
                for m in rows
            ),
        )
        return format_html("<ul>{}</ul>", lines) if lines else "None yet."

    def response_add(self, request, obj, post_url_continue=None):
        """A caller added from the diary's booking page goes back to it with the new client
        chosen (one click to book), rather than to the client list."""
        back = booking_return(request.GET.get("next", ""), client=obj)
        if back is None or {"_continue", "_addanother", IS_POPUP_VAR} & set(request.POST):
            return super().response_add(request, obj, post_url_continue)
        self.message_user(
            request, f"{obj.first_name} {obj.last_name} added: choose the kind and book.", messages.SUCCESS
        )
        return HttpResponseRedirect(back)


admin.site.unregister(Client)
admin.site.register(Client, ClientBookingsAdmin)
