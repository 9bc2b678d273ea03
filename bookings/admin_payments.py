"""Deposits in the admin: the deposit policies, the payments (read-only: every payment row is
written by bookings.services.deposits), the webhook events seen, and the appointment action
that refunds or keeps a deposit against the policy (a manager's override, audited)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse

from clients.admin_paging import SharedChoicesFormSet

from .models import Appointment
from .models_payments import DepositPolicy, Payment, WebhookEvent
from .services.deposits import OVERRIDE, deposit_override


@admin.register(DepositPolicy)
class DepositPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "kind",
        "location",
        "treatment",
        "amount_minor",
        "percent",
        "currency",
        "required_online",
        "refundable_until_hours",
        "no_show_forfeit_percent",
        "is_active",
    ]
    list_filter = ["kind", "is_active", "location"]
    list_select_related = ["location", "treatment"]


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(_ReadOnlyAdmin):
    list_display = ["pk", "created_at", "kind", "status", "method", "amount", "client", "appointment", "course"]
    list_filter = ["kind", "status", "method"]
    list_select_related = ["client", "appointment", "course__treatment", "recorded_by"]
    raw_id_fields = ["client", "appointment", "course", "settles"]
    date_hierarchy = "created_at"

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, obj: Payment) -> str:
        return str(obj.money)


@admin.register(WebhookEvent)
class WebhookEventAdmin(_ReadOnlyAdmin):
    list_display = ["received_at", "provider", "type", "event_id", "object_id", "outcome"]
    list_filter = ["provider", "type", "outcome"]


class PaymentInline(admin.TabularInline):
    """An appointment's deposit, refunds and forfeits, as the services wrote them."""

    model = Payment
    fk_name = "appointment"
    formset = SharedChoicesFormSet
    fields = ["kind", "status", "method", "amount", "reason", "created_at", "recorded_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "deposit and payments"

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recorded_by")

    @admin.display(description="amount")
    def amount(self, obj: Payment) -> str:
        # A blank row (a POST may ask for a thousand, which Django draws though none can be added)
        # has no amount yet, as the other inlines' rows have no time or price.
        return str(obj.money) if obj.pk else "-"


class OverrideForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("refund", "Refund the deposit anyway"), ("forfeit", "Keep the deposit anyway")],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(max_length=180, help_text="Kept in the audit trail, e.g. 'snowed in: refund agreed'.")


class DepositOverrideActionMixin:
    """The "deposit override" action: one appointment, then refund or keep on a page of its own
    with a reason. bookings.services.deposits.deposit_override decides and audits."""

    override_template = "admin/bookings/appointment/deposit_override.html"

    def has_override_deposit_permission(self, request) -> bool:
        return request.user.has_perm(OVERRIDE)

    @admin.action(description="Refund or keep the deposit against the policy", permissions=["override_deposit"])
    def deposit_override(self, request, queryset):
        chosen = list(queryset.select_related("location", "client")[:2])
        if len(chosen) != 1:
            self.message_user(request, "Choose one appointment.", messages.WARNING)
            return None
        appointment: Appointment = chosen[0]
        form = OverrideForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                deposit = deposit_override(
                    appointment=appointment,
                    decision=form.cleaned_data["decision"],
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except (ValidationError, PermissionDenied) as exc:
                reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                form.add_error(None, reason)
            else:
                done = "is being refunded" if form.cleaned_data["decision"] == "refund" else "is kept"
                self.message_user(request, f"{appointment.reference}: the {deposit.money} deposit {done}.")
                return None
        payments = list(Payment.objects.filter(appointment=appointment).order_by("created_at", "pk"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Deposit of {appointment.reference}",
            "opts": self.model._meta,
            "appointment": appointment,
            "payments": payments,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        response = TemplateResponse(request, self.override_template, context, status=400 if form.is_bound else 200)
        response.render()
        return response
