"""The admin page that downloads the CSV exports (bookings.exports), linked from the appointment
and client lists for the staff who hold the export permission."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from .exports import EXPORTS, MONEY_EXPORTS, MONEY_PERMISSION, PERMISSION, ExportPeriod
from .models import Location

# A sane window: the clinic's records start after this and no one plans past the end; a year and
# a day at most per file (the stream copes with more, the people reading it do not).
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
MAX_DAYS = 366


CHOICES = [
    ("appointments", "Appointments"),
    ("clients", "Clients seen in the period"),
    ("takings", "Takings per day, location, technician and treatment (managers)"),
    ("payments", "Payments, refunds and deposits kept (managers)"),
    ("balances", "Courses with a balance outstanding now (managers)"),
]


class ExportForm(forms.Form):
    what = forms.ChoiceField(choices=CHOICES)
    # A date input shows only an ISO value (the en-GB 26/11/2026 would leave it blank).
    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    date_to = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    location = forms.ModelChoiceField(
        queryset=Location.objects.all(), required=False, empty_label="Every location", help_text="Optional."
    )

    def __init__(self, *args, money: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not money:
            self.fields["what"].choices = [c for c in CHOICES if c[0] not in MONEY_EXPORTS]

    def _bounded(self, name: str) -> date:
        value = self.cleaned_data[name]
        if not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(
                "Choose a date from %(earliest)s to %(latest)s.",
                code="date_out_of_range",
                params={"earliest": f"{EARLIEST:%d/%m/%Y}", "latest": f"{LATEST:%d/%m/%Y}"},
            )
        return value

    def clean_date_from(self) -> date:
        return self._bounded("date_from")

    def clean_date_to(self) -> date:
        return self._bounded("date_to")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end:
            if end < start:
                self.add_error("date_to", forms.ValidationError("The end comes before the start.", code="date_order"))
            elif end - start >= timedelta(days=MAX_DAYS):
                self.add_error(
                    "date_to",
                    forms.ValidationError(
                        "Export at most %(days)s days at a time.", code="period_too_long", params={"days": MAX_DAYS}
                    ),
                )
        return cleaned

    def period(self) -> ExportPeriod:
        data = self.cleaned_data
        return ExportPeriod(date_from=data["date_from"], date_to=data["date_to"], location=data["location"])


def export_url() -> str:
    return reverse("admin:bookings_appointment_export")


class ExportLinkMixin:
    """A changelist with an "Export CSV" button for the staff allowed to export."""

    change_list_template = "admin/bookings/change_list_export.html"
    export_what = "appointments"

    def changelist_view(self, request, extra_context=None):
        if request.user.has_perm(PERMISSION):
            extra_context = {**(extra_context or {}), "export_url": f"{export_url()}?what={self.export_what}"}
        return super().changelist_view(request, extra_context)


class ExportViewMixin(ExportLinkMixin):
    """Serves the export page under the appointment admin's URLs."""

    def get_urls(self):
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="bookings_appointment_export"),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        if request.method == "POST":
            form = ExportForm(request.POST, money=request.user.has_perm(MONEY_PERMISSION))
            if form.is_valid():
                what, period = form.cleaned_data["what"], form.period()
                lines = EXPORTS[what](by=request.user, period=period)
                response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
                response["Content-Disposition"] = f'attachment; filename="{period.filename(what)}"'
                return response
        else:
            today = timezone.localdate()
            form = ExportForm(
                # This month so far, on the clinic's clock: the period asked for most.
                initial={
                    "what": request.GET.get("what", "appointments"),
                    "date_from": today.replace(day=1),
                    "date_to": today,
                },
                money=request.user.has_perm(MONEY_PERMISSION),
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Export to CSV",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/bookings/export.html", context, status=400 if form.is_bound else 200)
