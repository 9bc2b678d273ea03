"""The waiting list in the admin: who waits where and for which days, the offers each got.

Read-only: entries come from the public form, offers from freed times; staff withdraw an entry
with the action, which calls the service (audit row included)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from .models import WaitlistEntry, WaitlistOffer, WaitlistRelease
from .services.waitlist import waitlist_entry_withdraw


class OfferInline(admin.TabularInline):
    model = WaitlistOffer
    fk_name = "entry"
    fields = ["release", "position", "status", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("release__location")


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    list_display = ["__str__", "first_name", "last_name", "location", "treatment", "status", "joined_at"]
    list_filter = ["status", "location"]
    list_select_related = ["location", "treatment"]
    search_fields = ["last_name", "email"]
    date_hierarchy = "joined_at"
    fields = [
        "location",
        "treatment",
        "earliest_date",
        "latest_date",
        "first_name",
        "last_name",
        "email",
        "phone",
        "status",
        "joined_at",
        "appointment",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [OfferInline]
    actions = ["withdraw_entries"]

    def has_add_permission(self, request):
        # Clients join through the public form (bookings.services.waitlist.waitlist_join).
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Withdraw the selected entries (no more offers)", permissions=["change"])
    def withdraw_entries(self, request, queryset):
        done, refused = 0, []
        for entry in queryset:
            try:
                waitlist_entry_withdraw(entry=entry, by=request.user)
            except ValidationError as exc:
                refused.append(f"#{entry.pk}: {' '.join(exc.messages)}")
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} entr{'y' if done == 1 else 'ies'} withdrawn.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)


@admin.register(WaitlistRelease)
class WaitlistReleaseAdmin(admin.ModelAdmin):
    list_display = ["__str__", "location", "start", "status", "created_at", "closed_at"]
    list_filter = ["status", "location"]
    list_select_related = ["location"]
    fields = ["location", "start", "freed_from", "status", "created_at", "closed_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
