"""No-shows and late cancellations where reception looks: beside the client in the client list
and on their page, and on the appointment form when booking them again.

Mixins, so the client and appointment admins stay where they are: every count comes from
bookings.selectors.client_attendance_counts, one query per page whatever its length.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html

from .selectors import NO_ATTENDANCE_ISSUES, AttendanceCounts, client_attendance_counts

ATTENDANCE_FIELD = "attendance_summary"


def attendance_text(counts: AttendanceCounts) -> str:
    """ "2 no-shows (last 12/10/2026), 1 late cancellation", or "" when there is nothing to say."""
    if not counts:
        return ""
    if counts.last_no_show is None:
        return counts.label
    last = f" (last {timezone.localtime(counts.last_no_show):%d/%m/%Y})"
    no_shows, *rest = counts.label.split(", ")
    return ", ".join([no_shows + last, *rest])


def _summary(counts: AttendanceCounts) -> str:
    text = attendance_text(counts)
    if not text:
        return "No no-shows or late cancellations."
    return format_html("<strong>⚠ {}</strong>", text)


class ClientAttendanceAdminMixin:
    """The client admin with each client's no-shows and late cancellations: a column in the list
    (counted for the page's rows in one query) and a section at the top of the client's page."""

    def get_list_display(self, request):
        return [*super().get_list_display(request), "attendance"]

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)  # evaluated here; the page renders these same objects
        counts = client_attendance_counts(row.pk for row in rows)
        for row in rows:
            row.attendance_counts = counts.get(row.pk, NO_ATTENDANCE_ISSUES)
        return changelist

    @admin.display(description="no-shows / late cancellations")
    def attendance(self, obj) -> str:
        # Set for the page's rows by get_changelist_instance: never a query per row.
        counts = getattr(obj, "attendance_counts", NO_ATTENDANCE_ISSUES)
        return counts.label or "-"

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, ATTENDANCE_FIELD] if obj is not None else fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (name, {**options, "fields": [f for f in options["fields"] if f != ATTENDANCE_FIELD]})
            for name, options in super().get_fieldsets(request, obj)
        ]
        if obj is None:
            return fieldsets
        return [("Attendance", {"fields": [ATTENDANCE_FIELD]}), *fieldsets]

    @admin.display(description="no-shows and late cancellations")
    def attendance_summary(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "-"
        return _summary(client_attendance_counts([obj.pk]).get(obj.pk, NO_ATTENDANCE_ISSUES))


class AppointmentAttendanceAdminMixin:
    """The appointment form warns reception when the client has missed appointments before
    (booking them stays allowed: the online form's limit is for clients, not staff), and an
    appointment's page shows how its no-show or cancellation was recorded."""

    ATTENDANCE_READONLY = [
        "client_attendance",
        "no_show_marked_at",
        "no_show_marked_by",
        "late_cancellation",
        "cancelled_by",
        "cancelled_via",
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, *self.ATTENDANCE_READONLY] if obj is not None else fields

    def get_urls(self):
        attendance = path(
            "attendance/",
            self.admin_site.admin_view(self.attendance_view),
            name="bookings_appointment_attendance",
        )
        # Before the ModelAdmin's own: its "<path:object_id>/" would take "attendance/" for an id.
        return [attendance, *super().get_urls()]

    @property
    def media(self):
        # Shows the warning as soon as a client is chosen on the add form (without JavaScript
        # it shows once the form is sent).
        return super().media + forms.Media(js=["js/admin_attendance.js"])

    def attendance_view(self, request: HttpRequest) -> JsonResponse:
        """The add form's warning for one client, as JSON: {"warning": "..."} ("" for none)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        chosen = request.GET.get("client") or ""
        if not chosen.isdigit() or len(chosen) > 10:
            return JsonResponse({"error": {"parameter": "client", "message": "Give a client's id."}}, status=400)
        return JsonResponse({"warning": self._attendance_warning(int(chosen))})

    def _attendance_warning(self, client_id: int) -> str:
        counts = client_attendance_counts([client_id]).get(client_id, NO_ATTENDANCE_ISSUES)
        return f"This client has {attendance_text(counts)}. You can still book them here." if counts else ""

    @admin.display(description="client's no-shows and late cancellations")
    def client_attendance(self, obj) -> str:
        if obj is None or obj.client_id is None:
            return "-"
        return _summary(client_attendance_counts([obj.client_id]).get(obj.client_id, NO_ATTENDANCE_ISSUES))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Only for those who may book: the warning must not reach anyone the page then refuses.
        if object_id is None and self.has_add_permission(request):
            self._warn_about_attendance(request)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _warn_about_attendance(self, request) -> None:
        """On the add form, once the client is known (a link with ?client=, or the form sent):
        the warning shows on the form, or after saving on the page the admin goes to next."""
        chosen = (request.POST.get("client") if request.method == "POST" else request.GET.get("client")) or ""
        if not chosen.isdigit() or len(chosen) > 10:
            return
        warning = self._attendance_warning(int(chosen))
        if warning:
            self.message_user(request, warning, messages.WARNING)
