"""Desk payments in the admin (beside bookings.admin_payments, the deposits' admin): the course
and appointment pages show what was asked, paid and given back, with a page to record a payment
or a refund (bookings.payments.desk.desk_payment_record), and each payment's receipt as a page,
a PDF and an e-mail through the outbox (bookings.services.receipts)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.safestring import mark_safe

from .models_payments import Payment
from .money import Money, exponent
from .payments.desk import (
    DESK_METHODS,
    ERROR_FIELDS,
    PERMISSION,
    appointment_statement,
    course_statement,
    desk_payment_record,
    refundable_minor,
    refundable_payments,
)
from .services.receipts import receipt_available, receipt_build, receipt_email_queue, receipt_pdf


def _payment_label(payment: Payment) -> str:
    left = Money(refundable_minor(payment), payment.currency)
    when = f"{payment.succeeded_at:%d/%m/%Y}" if payment.succeeded_at else ""
    return f"{payment.get_kind_display()} {payment.money} ({payment.get_method_display()}, {when}): {left} refundable"


class DeskPaymentForm(forms.Form):
    kind = forms.ChoiceField(label="What", choices=[("payment", "Payment taken"), ("refund", "Refund given")])
    method = forms.ChoiceField(choices=[(m.value, m.label) for m in DESK_METHODS])
    amount = forms.DecimalField(max_digits=12, help_text="In pounds and pence (or the course's currency), e.g. 450.00.")
    currency = forms.CharField(max_length=3, help_text="The course's currency.")
    refund_of = forms.ModelChoiceField(
        queryset=Payment.objects.none(),
        required=False,
        label="Refund of",
        help_text="For a refund: the payment it gives back.",
    )
    reference = forms.CharField(
        max_length=80, required=False, help_text="Terminal receipt number, bank reference, and so on."
    )
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=500)

    def __init__(self, *args, refundable, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["refund_of"].queryset = refundable
        self.fields["refund_of"].label_from_instance = _payment_label

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    def amount_minor(self) -> int | None:
        """The amount in minor units, or None (a form error) when it has more decimals than the currency."""
        amount, currency = self.cleaned_data["amount"], self.cleaned_data.get("currency") or "GBP"
        try:
            scaled = Decimal(amount).scaleb(exponent(currency))
            if scaled != scaled.to_integral_value():
                raise InvalidOperation
        except InvalidOperation:
            self.add_error("amount", f"{currency} amounts have at most {exponent(currency)} decimal places.")
            return None
        return int(scaled)


class DeskPaymentsAdminMixin:
    """For the course and appointment admins: the money summary on the change page, the
    record-a-payment page and the receipts (reception and managers: the desk-payment permission)."""

    payments_for = "course"  # or "appointment"

    def _statement(self, obj):
        return course_statement(obj) if self.payments_for == "course" else appointment_statement(obj)

    def _payments(self, obj):
        return (
            Payment.objects.filter(**{self.payments_for: obj})
            .select_related("recorded_by")
            .order_by("created_at", "pk")
        )

    def _name(self, what: str) -> str:
        return f"bookings_{self.payments_for}_{what}"

    @admin.display(description="payments")
    def money_summary(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "-"
        statement = self._statement(obj)
        rows = list(self._payments(obj))
        context = {
            "statement": statement,
            "rows": [
                (
                    p,
                    reverse(f"admin:{self._name('receipt')}", args=[obj.pk, p.pk]) if receipt_available(p) else "",
                )
                for p in rows
            ],
            "record_url": reverse(f"admin:{self._name('payment')}", args=[obj.pk]),
            "is_course": self.payments_for == "course",
        }
        return mark_safe(render_to_string("admin/bookings/_money_summary.html", context))  # noqa: S308 - a template, autoescaped

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and request.user.has_perm(PERMISSION):
            fields.append("money_summary")
        return fields

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/payment/", view(self.desk_payment_view), name=self._name("payment")),
            path("<path:object_id>/receipt/<int:payment_id>/", view(self.receipt_view), name=self._name("receipt")),
            path(
                "<path:object_id>/receipt/<int:payment_id>/pdf/",
                view(self.receipt_pdf_view),
                name=self._name("receipt_pdf"),
            ),
            path(
                "<path:object_id>/receipt/<int:payment_id>/email/",
                view(self.receipt_email_view),
                name=self._name("receipt_email"),
            ),
            *super().get_urls(),
        ]

    def _target(self, request: HttpRequest, object_id: str):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404("No such record.")
        return obj

    def _payment(self, request, object_id, payment_id) -> tuple[object, Payment]:
        obj = self._target(request, object_id)
        payment = Payment.objects.filter(pk=payment_id, **{self.payments_for: obj}).first()
        if payment is None or not receipt_available(payment):
            raise Http404("No receipt for that payment here.")
        return obj, payment

    def desk_payment_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._target(request, object_id)
        statement = self._statement(obj)
        course = obj if self.payments_for == "course" else obj.course
        refundable = refundable_payments(course=course) if course is not None else refundable_payments(appointment=obj)
        form = DeskPaymentForm(
            request.POST or None,
            refundable=refundable,
            initial={"currency": statement.currency, "method": "card_terminal"},
        )
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid() and (amount := form.amount_minor()) is not None:
                data = form.cleaned_data
                try:
                    payment = desk_payment_record(
                        by=request.user,
                        kind=data["kind"],
                        amount_minor=amount,
                        currency=data["currency"],
                        method=data["method"],
                        **{self.payments_for: obj},
                        refund_of=data["refund_of"],
                        reference=data["reference"],
                        reason=data["reason"],
                    )
                except ValidationError as exc:
                    form.add_error(ERROR_FIELDS.get(exc.code or ""), exc.messages)
                else:
                    self.message_user(
                        request, f"{payment.get_kind_display()} of {payment.money} recorded.", messages.SUCCESS
                    )
                    return redirect(f"admin:{self._name('receipt')}", obj.pk, payment.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Record a payment: {obj}",
            "form": form,
            "obj": obj,
            "statement": statement,
            "opts": self.model._meta,
            "change_url": reverse(f"admin:bookings_{self.payments_for}_change", args=[obj.pk]),
        }
        return TemplateResponse(request, "admin/bookings/desk_payment.html", context, status=status)

    def receipt_view(self, request: HttpRequest, object_id: str, payment_id: int) -> HttpResponse:
        obj, payment = self._payment(request, object_id, payment_id)
        receipt = receipt_build(payment)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Receipt {receipt.number}",
            "receipt": receipt,
            "obj": obj,
            "opts": self.model._meta,
            "change_url": reverse(f"admin:bookings_{self.payments_for}_change", args=[obj.pk]),
            "pdf_url": reverse(f"admin:{self._name('receipt_pdf')}", args=[obj.pk, payment.pk]),
            "email_url": reverse(f"admin:{self._name('receipt_email')}", args=[obj.pk, payment.pk]),
        }
        return TemplateResponse(request, "admin/bookings/receipt.html", context)

    def receipt_pdf_view(self, request: HttpRequest, object_id: str, payment_id: int) -> HttpResponse:
        _, payment = self._payment(request, object_id, payment_id)
        receipt = receipt_build(payment)
        response = HttpResponse(receipt_pdf(receipt), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{receipt.filename}"'
        return response

    def receipt_email_view(self, request: HttpRequest, object_id: str, payment_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj, payment = self._payment(request, object_id, payment_id)
        try:
            receipt_email_queue(payment=payment, by=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(request, "The receipt will be e-mailed to the client.", messages.SUCCESS)
        return redirect(f"admin:{self._name('receipt')}", obj.pk, payment.pk)
