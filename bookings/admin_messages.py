"""Admin for the outbox of client messages and the wording staff edit."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template import TemplateSyntaxError
from django.urls import path, reverse
from django.utils.html import format_html

from clients.admin import ClientAdmin
from clients.models import Client

from .admin_attendance import ClientAttendanceAdminMixin
from .admin_exports import ExportLinkMixin
from .models import ClientMessage, MessageTemplate
from .services.messaging import (
    MESSAGE_CONTEXT_HELP,
    message_preview,
    reminder_cancel,
    reminder_resend,
    render_wording,
    sample_context,
    wording_check,
    wording_table,
)


def client_messages_url(client_id: int) -> str:
    """The admin's timeline of one client's messages (the message list filtered to them)."""
    return reverse("admin:bookings_clientmessage_changelist") + f"?client={client_id}"


class ClientFilter(admin.SimpleListFilter):
    """Narrows the list to one client: the client's message timeline. Reached from a link, so
    it offers no choices of its own beyond the client already chosen."""

    title = "client"
    parameter_name = "client"

    def lookups(self, request, model_admin):
        value = self.value()
        if value and value.isdigit():
            return [(value, f"Client #{value}")]
        return []

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(appointment__client_id=int(value))


class OutboxChangeList(ChangeList):
    """Works out each listed message's preview once the page's rows are known: staff's wording
    is read in one query for the whole page, never once per row."""

    def get_results(self, request):
        super().get_results(request)
        table = wording_table()
        for message in self.result_list:
            message.preview = message_preview(message, table=table)


class MessageAdminMixin:
    list_display = [
        "__str__",
        "client_name",
        "message_text",
        "client_timeline",
        "kind",
        "channel",
        "due_at",
        "status",
        "sent_at",
        "attempts",
        "next_attempt_at",
        "short_error",
    ]
    list_filter = ["status", "kind", "channel", ClientFilter]
    # Everything the preview renders from, in the page's one query.
    list_select_related = [
        "appointment__client",
        "appointment__location",
        "appointment__technician",
        "appointment__treatment",
        "appointment__course__treatment",
        "waitlist_entry__location",
        "waitlist_entry__treatment",
    ]
    search_fields = ["appointment__reference"]
    date_hierarchy = "due_at"
    fields = [
        "appointment",
        "waitlist_entry",
        "kind",
        "channel",
        "sequence",
        "payload",
        "status",
        "due_at",
        "sent_at",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "claim_token",
        "last_error",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    actions = ["resend_messages", "cancel_messages"]

    def get_ordering(self, request):
        # A client's timeline: latest due first. (Not "o=" in the link: its column index names
        # another column for users who see the action checkbox.)
        if request.GET.get(ClientFilter.parameter_name):
            return ["-due_at"]
        return super().get_ordering(request)

    def has_add_permission(self, request):
        # Rows are written by the services that change appointments, never by hand.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changelist(self, request, **kwargs):
        return OutboxChangeList

    @admin.display(description="client", ordering="appointment__client__last_name")
    def client_name(self, obj: ClientMessage) -> str:
        if obj.appointment_id is None:
            entry = obj.waitlist_entry
            return f"{entry.first_name} {entry.last_name} (waiting list)"
        return str(obj.appointment.client)

    @admin.display(description="message")
    def message_text(self, obj: ClientMessage) -> str:
        subject, text = getattr(obj, "preview", None) or message_preview(obj, table=wording_table())
        return format_html('<strong>{}</strong><br><span class="small quiet">{}</span>', subject, text)

    @admin.display(description="timeline")
    def client_timeline(self, obj: ClientMessage) -> str:
        if obj.appointment_id is None:
            return "-"
        return format_html(
            '<a href="{}">Client #{} messages</a>',
            client_messages_url(obj.appointment.client_id),
            obj.appointment.client_id,
        )

    @admin.display(description="last error")
    def short_error(self, obj: ClientMessage) -> str:
        return obj.last_error[:80]

    @admin.action(description="Send the selected messages again", permissions=["change"])
    def resend_messages(self, request, queryset):
        self._apply(request, queryset, reminder_resend, "queued to send again")

    @admin.action(description="Cancel the selected messages", permissions=["change"])
    def cancel_messages(self, request, queryset):
        self._apply(request, queryset, reminder_cancel, "cancelled")

    def _apply(self, request, queryset, service, done: str) -> None:
        ok, refused = 0, []
        for reminder in queryset:
            try:
                service(reminder=reminder, by=request.user)
            except ValidationError as exc:
                refused.append(f"#{reminder.pk}: {' '.join(exc.messages)}")
            else:
                ok += 1
        if ok:
            self.message_user(request, f"{ok} message(s) {done}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["kind", "treatment", "subject", "text_body", "html_body", "sms_body"]
        help_texts = {
            "subject": f"Django template syntax. Available: {MESSAGE_CONTEXT_HELP}.",
            "html_body": "The clinic's name, address, phone and (for non-essential messages) the unsubscribe "
            "link are added around this by the layout. Booking confirmed and moved e-mails also carry "
            "the calendar file; cancelled carries the one that removes the event.",
        }

    def clean(self):
        cleaned = super().clean()
        wording = {f: cleaned.get(f) or "" for f in ("subject", "text_body", "html_body", "sms_body")}
        wording_check(wording)
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["__str__", "kind", "treatment", "updated_at"]
    list_filter = ["kind", "treatment"]
    readonly_fields = ["preview"]

    def get_urls(self):
        return [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_html),
                name="bookings_messagetemplate_preview",
            ),
            *super().get_urls(),
        ]

    def _render(self, template: MessageTemplate) -> dict[str, str]:
        wording = {f: getattr(template, f) for f in ("subject", "text_body", "html_body", "sms_body")}
        return render_wording(wording, sample_context(kind=template.kind))

    @admin.display(description="preview (made-up client)")
    def preview(self, obj: MessageTemplate | None) -> str:
        if obj is None or obj.pk is None:
            return "Save to see a preview."
        try:
            rendered = self._render(obj)
        except TemplateSyntaxError as exc:
            return f"This wording does not render: {exc}"
        return format_html(
            "<p><strong>Subject:</strong> {}</p>"
            '<p><a href="{}" target="_blank" rel="noopener">Open the HTML e-mail</a></p>'
            "<p><strong>Plain text:</strong></p><pre>{}</pre><p><strong>Text message:</strong></p><pre>{}</pre>",
            rendered["subject"],
            reverse("admin:bookings_messagetemplate_preview", args=[obj.pk]),
            rendered["text"],
            rendered["sms"],
        )

    def preview_html(self, request, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        template = get_object_or_404(MessageTemplate, pk=pk)
        try:
            return HttpResponse(self._render(template)["html"])
        except TemplateSyntaxError as exc:
            return HttpResponse(f"This wording does not render: {exc}", content_type="text/plain", status=400)


class ClientMessagesAdmin(ClientAttendanceAdminMixin, ExportLinkMixin, ClientAdmin):
    """The client admin with a link to the client's message timeline: the outbox lives in
    bookings, above clients, so bookings extends the client's page rather than clients reaching up."""

    readonly_fields = [*ClientAdmin.readonly_fields, "message_timeline"]
    export_what = "clients"

    @admin.display(description="messages")
    def message_timeline(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html('<a href="{}">Every message to this client</a>', client_messages_url(obj.pk))


admin.site.unregister(Client)
admin.site.register(Client, ClientMessagesAdmin)
