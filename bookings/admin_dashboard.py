"""The managers' dashboard in the admin (/admin/dashboard/, wired by smpclinic.admin_site).

A GET form chooses the period and the location; the figures come from bookings.dashboard. The
charts are drawn by static/js/dashboard.js from the same numbers the tables show, handed over in a
json_script element (the CSP allows no inline script), so the page says everything without
JavaScript too.
"""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from .dashboard import Dashboard, Period, dashboard_figures, default_period
from .models import Location
from .zones import default_tz

PERMISSION = "bookings.view_dashboard"
# Two years and a day: a leap year's two years still fit. Longer would only draw unreadable
# charts and make the database count years of rows on every load.
MAX_DAYS = 731
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
PALETTE = ["#205067", "#c24e00", "#2a7d4f", "#7b3fa0", "#a8323e", "#5a6a00", "#00707a", "#6b4f2a"]


class DashboardForm(forms.Form):
    date_from = forms.DateField(
        label="From", required=False, input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To (inclusive)",
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.order_by("-is_active", "order", "name"), required=False, empty_label="Every location"
    )

    def __init__(self, *args, now: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now

    def _bounded(self, name: str) -> date | None:
        value = self.cleaned_data[name]
        if value is not None and not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(
                "Choose a date from %(earliest)s to %(latest)s.",
                code="date_out_of_range",
                params={"earliest": f"{EARLIEST:%d/%m/%Y}", "latest": f"{LATEST:%d/%m/%Y}"},
            )
        return value

    def clean_date_from(self) -> date | None:
        return self._bounded("date_from")

    def clean_date_to(self) -> date | None:
        return self._bounded("date_to")

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        start, end, location = cleaned.get("date_from"), cleaned.get("date_to"), cleaned.get("location")
        # Today on the chosen clinic's clock (a New York clinic's Monday starts five hours after
        # London's), else on the clinic's default one.
        today = self.now.astimezone(location.tz if location is not None else default_tz()).date()
        default_start, default_end = default_period(today)
        # One end given: the other follows from the default length rather than from today, so
        # "from 1 March 2025" shows twelve weeks of 2025, not a refused two-year span.
        if start is None and end is None:
            start, end = default_start, default_end
        elif start is None:
            start = end - (default_end - default_start)
        elif end is None:
            end = start + (default_end - default_start)
        if end < start:
            self.add_error("date_to", forms.ValidationError("The end comes before the start.", code="date_order"))
        elif (end - start).days >= MAX_DAYS:
            self.add_error(
                "date_to",
                forms.ValidationError(
                    "Show at most two years (%(days)s days) at a time: choose a shorter period.",
                    code="period_too_long",
                    params={"days": MAX_DAYS},
                ),
            )
        cleaned["date_from"], cleaned["date_to"] = start, end
        return cleaned

    def period(self) -> Period:
        data = self.cleaned_data
        return Period(date_from=data["date_from"], date_to=data["date_to"], location=data["location"])


def _label(day: date) -> str:
    return f"{day.day} {day:%b}"


def chart_data(dashboard: Dashboard) -> dict:
    """What static/js/dashboard.js draws: labels and series, the same numbers as the tables."""
    weeks = [_label(w.week) for w in dashboard.weeks]
    revenue = dashboard.revenue
    return {
        "appointments": {
            "labels": weeks,
            "series": [
                {"label": "Consultations", "data": [w.consultations for w in dashboard.weeks]},
                {"label": "Treatment sessions", "data": [w.sessions for w in dashboard.weeks]},
                {"label": "Touch-ups", "data": [w.touch_ups for w in dashboard.weeks]},
            ],
            "stacked": True,
            "y": "Appointments",
        },
        "rates": {
            "labels": weeks,
            "series": [
                {"label": "No-show rate (%)", "data": [w.no_show_rate for w in dashboard.weeks]},
                {"label": "Late-cancellation rate (%)", "data": [w.late_cancellation_rate for w in dashboard.weeks]},
            ],
            "type": "line",
            "y": "% of appointments",
        },
        "revenue": {
            "labels": revenue.treatments,
            "series": [
                {"label": location, "data": [float(revenue.amount(t, location)) for t in revenue.treatments]}
                for location in revenue.locations
            ],
            "stacked": True,
            "horizontal": True,
            "y": "£ booked",
        },
        "touchups": {
            "labels": [_label(monday) for monday in dashboard.touch_ups.by_week],
            "series": [{"label": "Touch-ups due", "data": list(dashboard.touch_ups.by_week.values())}],
            "y": "Clients",
        },
        "aftercare": {
            "labels": [_label(w.week) for w in dashboard.aftercare],
            "series": [
                {"label": "Sent", "data": [w.sent for w in dashboard.aftercare]},
                {"label": "Failed", "data": [w.failed for w in dashboard.aftercare]},
                {"label": "Waiting", "data": [w.waiting for w in dashboard.aftercare]},
            ],
            "stacked": True,
            "y": "Messages",
        },
        "palette": PALETTE,
    }


def dashboard_view(request: HttpRequest, *, site: AdminSite) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    now = timezone.now()
    form = DashboardForm(request.GET, now=now)
    context = {**site.each_context(request), "title": "Dashboard", "form": form}
    if not form.is_valid():
        return TemplateResponse(request, "admin/dashboard.html", context, status=400)
    period = form.period()
    today = now.astimezone(period.tz).date()
    snapshot = dashboard_figures(period=period, now=now, today=today, fresh=request.GET.get("fresh") == "1")
    dashboard = snapshot.dashboard
    context.update(
        dashboard=dashboard,
        computed_at=snapshot.computed_at,
        refresh_query=urlencode(
            {
                "date_from": period.date_from.isoformat(),
                "date_to": period.date_to.isoformat(),
                "location": period.location.pk if period.location else "",
                "fresh": "1",
            }
        ),
        period=period,
        chart_data=chart_data(dashboard),
        money_tables=[
            (name, label, dashboard.money.takings.by(name))
            for name, label in (
                ("day", "day"),
                ("treatment", "treatment"),
                ("technician", "technician"),
                ("location", "location"),
            )
        ],
        recall_months=settings.TOUCH_UP_RECALL_MONTHS,
        clock=period.location.time_zone_label if period.location else f"{period.tz.key.rsplit('/', 1)[-1]} time",
    )
    return TemplateResponse(request, "admin/dashboard.html", context)
