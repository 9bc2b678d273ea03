"""Login protection in the admin, for managers only: failed-login lockouts with an unlock
action, the log of logins, and staff members' authenticator apps (remove a lost phone's)."""

from __future__ import annotations

from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.contrib import admin
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from clients.access import is_manager

from . import services


class ManagersOnly:
    """Visible to managers only; nobody adds or edits these rows by hand."""

    def has_module_permission(self, request):
        return is_manager(request.user)

    def has_view_permission(self, request, obj=None):
        return is_manager(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AccessAttempt)
class AccessAttemptAdmin(ManagersOnly, admin.ModelAdmin):
    list_display = ["username", "ip_address", "failures_since_start", "attempt_time", "locked"]
    list_filter = ["attempt_time"]
    search_fields = ["username", "ip_address"]
    ordering = ["-attempt_time"]
    fields = ["username", "ip_address", "failures_since_start", "attempt_time", "path_info", "user_agent"]
    readonly_fields = fields
    actions = ["unlock"]

    def has_delete_permission(self, request, obj=None):
        return False  # unlocking is the "unlock" action, through the service (audited)

    @admin.display(boolean=True, description="locked now")
    def locked(self, obj: AccessAttempt) -> bool:
        return obj.failures_since_start >= settings.AXES_FAILURE_LIMIT and (
            obj.attempt_time > timezone.now() - settings.AXES_COOLOFF_TIME
        )

    @admin.action(description="Unlock: clear these failed logins")
    def unlock(self, request, queryset):
        count = services.login_attempts_unlock(attempts=queryset, by=request.user)
        self.message_user(request, f"Unlocked: {count} record(s) cleared. They can log in again now.")


@admin.register(AccessLog)
class AccessLogAdmin(ManagersOnly, admin.ModelAdmin):
    list_display = ["username", "ip_address", "attempt_time", "logout_time"]
    list_filter = ["attempt_time"]
    search_fields = ["username", "ip_address"]
    ordering = ["-attempt_time"]
    fields = ["username", "ip_address", "attempt_time", "logout_time", "path_info", "user_agent"]
    readonly_fields = fields
    date_hierarchy = "attempt_time"

    def has_delete_permission(self, request, obj=None):
        return False


if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)  # django-otp's own shows keys and QR codes to any superuser


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(ManagersOnly, admin.ModelAdmin):
    list_display = ["user", "name", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at"]
    readonly_fields = fields
    actions = None

    def get_queryset(self, request):
        return super().get_queryset(request).filter(confirmed=True)

    def has_delete_permission(self, request, obj=None):
        return is_manager(request.user)

    def delete_model(self, request, obj):
        services.totp_device_remove(device=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for device in queryset:
            services.totp_device_remove(device=device, by=request.user)
