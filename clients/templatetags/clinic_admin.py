"""The admin's date hierarchy without reading the table.

Django's builds its links from the data: MIN/MAX over the list, then SELECT DISTINCT of every
year, month or day in it, on top of the list's own query and count; with a search that is two
more scans of the matches. Here the links are the calendar (the years around today, a year's
months, a month's days), so drilling down costs nothing; a link with no rows shows an empty list.
"""

from __future__ import annotations

import calendar
from datetime import date

from django import template
from django.contrib.admin.utils import get_fields_from_path
from django.utils import formats, timezone
from django.utils.text import capfirst

register = template.Library()

# Years offered before any is chosen: the clinic's records and diary around this year.
YEARS_BACK, YEARS_AHEAD = 5, 1


@register.inclusion_tag("admin/date_hierarchy.html")
def calendar_date_hierarchy(cl) -> dict:
    if not cl.date_hierarchy:
        return {"show": False}
    field_name = cl.date_hierarchy
    verbose_name = get_fields_from_path(cl.model, field_name)[-1].verbose_name
    year_field, month_field, day_field = (f"{field_name}__{part}" for part in ("year", "month", "day"))
    # ClinicAdminSite has already refused any part that is not a number in range.
    year, month, day = (cl.params.get(name) for name in (year_field, month_field, day_field))

    def link(filters) -> str:
        return cl.get_query_string(filters, [f"{field_name}__"])

    if year and month and day:
        chosen = date(int(year), int(month), int(day))
        back = {"link": link({year_field: year, month_field: month}), "title": _month_title(chosen)}
        choices = [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}]
    elif year and month:
        first = date(int(year), int(month), 1)
        days = range(1, calendar.monthrange(first.year, first.month)[1] + 1)
        back = {"link": link({year_field: year}), "title": str(first.year)}
        choices = [
            {
                "link": link({year_field: year, month_field: month, day_field: str(d)}),
                "title": capfirst(formats.date_format(first.replace(day=d), "MONTH_DAY_FORMAT")),
            }
            for d in days
        ]
    elif year:
        back = {"link": link({}), "title": "All dates"}
        choices = [
            {
                "link": link({year_field: year, month_field: str(m)}),
                "title": _month_title(date(int(year), m, 1)),
            }
            for m in range(1, 13)
        ]
    else:
        this_year = timezone.localdate().year
        back = None
        choices = [
            {"link": link({year_field: str(y)}), "title": str(y)}
            for y in range(this_year - YEARS_BACK, this_year + YEARS_AHEAD + 1)
        ]
    return {"show": True, "back": back, "choices": choices, "field_name": verbose_name}


def _month_title(day: date) -> str:
    return capfirst(formats.date_format(day, "YEAR_MONTH_FORMAT"))
