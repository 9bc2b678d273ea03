"""The admin site: Django's, plus guards in front of every admin view.

Managers (and anyone who has added an authenticator app) reach no admin page until this
session has verified their second factor: they are sent to the code page, or a manager
without an app to adding one (smpclinic.accounts.otp).

Every ModelAdmin in the project registers on this site (it is the default site, installed by
ClinicAdminConfig), so the guard covers all of them without touching their classes. A date
hierarchy or a date-part filter turns ``<field>__year/__month/__day`` into datetime(...) and
then adds a year or a day to it: a number too large for a C long, or the last day of year 9999,
raises OverflowError inside the ChangeList (a 500). Non-numbers Django answers with a redirect
to an unfiltered list, which hides the mistake. Both are a 400 naming the parameter here.
"""

from __future__ import annotations

import re
from datetime import date
from functools import partial, wraps

from django.contrib import admin
from django.urls import path

from .accounts.otp import second_factor_redirect
from .badinput import BadInput

# The years a changelist may be filtered to: the hierarchy needs year + 1 to exist.
MIN_YEAR, MAX_YEAR = 1, 9998
DATE_PART = re.compile(r"^(?P<field>.+)__(?P<part>year|month|day)$")
RANGES = {"year": (MIN_YEAR, MAX_YEAR), "month": (1, 12), "day": (1, 31)}


def date_parts_check(params) -> None:
    """BadInput unless every ``<field>__year/__month/__day`` parameter is a number in range and
    the parts given for one field make a real date."""
    parts: dict[str, dict[str, int]] = {}
    for name in params:
        match = DATE_PART.match(name)
        if match is None:
            continue
        part, low, high = match["part"], *RANGES[match["part"]]
        raw = params[name].strip()
        if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
            raise BadInput(f"{name} must be a whole number from {low} to {high}.", parameter=name, code="date_part")
        parts.setdefault(match["field"], {})[part] = int(raw)
    for field, given in parts.items():
        if "year" in given:
            try:
                date(given["year"], given.get("month", 1), given.get("day", 1))
            except ValueError:
                raise BadInput(
                    f"{field}: {given.get('day', 1)}/{given.get('month', 1)}/{given['year']} is not a date.",
                    parameter=f"{field}__day",
                    code="date_part",
                ) from None


class ClinicAdminSite(admin.AdminSite):
    site_header = "SMP Clinic"
    site_title = "SMP Clinic admin"
    index_title = "Run the clinic"

    def admin_view(self, view, cacheable=False):
        # Logging out needs no second factor: a manager sent to add an app may leave instead.
        needs_second_factor = view != self.logout

        @wraps(view)
        def guarded(request, *args, **kwargs):
            if needs_second_factor and (to_otp := second_factor_redirect(request)) is not None:
                return to_otp
            date_parts_check(request.GET)
            return view(request, *args, **kwargs)

        # Wrapped inside admin_view's own wrapper: only signed-in staff reach the check.
        return super().admin_view(guarded, cacheable)

    def get_urls(self):
        # Imported here, when the URLconf is first read: the site itself is built while the apps
        # load, before bookings' models may be imported.
        from bookings.admin_dashboard import dashboard_view

        dashboard = path("dashboard/", self.admin_view(partial(dashboard_view, site=self)), name="dashboard")
        # Before the site's own, whose final catch-all would answer it with a 404.
        return [dashboard, *super().get_urls()]
