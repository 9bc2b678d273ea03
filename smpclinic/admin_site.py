"""The admin site: Django's, plus guards in front of every admin view.

Managers (and anyone who has added an authenticator app) reach no admin page until this
session has verified their second factor: they are sent to the code page, or a manager
without an app to adding one (smpclinic.accounts.otp).

Every ModelAdmin in the project registers on this site (it is the default site, installed by
ClinicAdminConfig), so the guard covers all of them without touching their classes. A date
hierarchy or a date-part filter turns ``<field>__year/__month/__day`` into datetime(...) and
then adds a year or a day to it: a number too large for a C long, or the last day of year 9999,
raises OverflowError inside the ChangeList (a 500). Non-numbers Django answers with a redirect
to an unfiltered list, which hides the mistake. Both are a 400 naming the parameter here, as is
a changelist's parameter holding a whole number too large for a bigint (a filter's id of 2**63
is an OverflowError in SQLite's driver; CheckedChangelistMixin).

Two more holes in Django's admin, closed here for every ModelAdmin (found by the fuzz tests in
smpclinic/tests/test_fuzz_every_url.py):
- A date filter's ``<field>__gte``/``__lt`` is read with fromisoformat, so ``00010101`` or a date
  without an offset reaches a DateTimeField as a naive datetime at the calendar's edge: a 400 now
  (CheckedDateFieldListFilter, which every date field's list filter uses).
- An autocomplete widget filters its model by the value it shows, taken as it is from an add
  form's query string or a posted form: ``?client=abc`` raised ValueError (a 500). Values that
  are not keys are left out of the lookup (the field shows empty, as for a key that matches
  nothing; a posted form still answers "Select a valid choice").
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import partial, wraps

from django.contrib import admin
from django.contrib.admin.filters import FieldListFilter
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connection, models
from django.urls import path
from django.utils import timezone

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


class CheckedDateFieldListFilter(admin.DateFieldListFilter):
    """Django's date filter, with its since/until parameters checked before they reach a query."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        with_time = isinstance(field, models.DateTimeField)
        for name in (f"{field_path}__gte", f"{field_path}__lt"):
            given = params.get(name)
            if given is None:
                continue
            checked = [date_bound_check(name, raw, with_time=with_time) for raw in _as_list(given)]
            params[name] = checked if isinstance(given, list) else checked[0]
        super().__init__(field, request, params, model, model_admin, field_path)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def date_bound_check(name: str, raw: str, *, with_time: bool) -> str:
    """The bound as the filter may use it, or BadInput. A plain date on a date-time field means
    that day's midnight on the clinic's clock, with its offset (a naive one would be read in
    whatever zone is active, with a warning)."""
    example = "2026-11-02 00:00:00+00:00" if with_time else "2026-11-02"
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{name} must be a date such as {example}.", parameter=name, code="date_bound") from None
    if not MIN_YEAR < value.year <= MAX_YEAR:
        # Year 1 too: shifting it to UTC can fall before the first day the calendar has.
        raise BadInput(f"{name} must be a date from year 2 to {MAX_YEAR}.", parameter=name, code="date_bound")
    if not with_time or value.tzinfo is not None:
        return raw
    if len(text) > 10:
        raise BadInput(f"{name} needs its UTC offset, such as {example}.", parameter=name, code="date_bound")
    return timezone.make_aware(value).isoformat()


# Ahead of Django's own for every date field, so a plain "created_at" in list_filter is checked too.
FieldListFilter.register(lambda f: isinstance(f, models.DateField), CheckedDateFieldListFilter, take_priority=True)


def _is_key(field, value) -> bool:
    try:
        key = field.get_prep_value(field.to_python(value))
    except (ValidationError, ValueError, TypeError, OverflowError):
        return False
    if isinstance(key, int):
        # Beyond the column's range no row can hold it, and SQLite's driver raises on it.
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        return (low is None or key >= low) and (high is None or key <= high)
    return True


class _CheckedKeys:
    """An autocomplete widget that drops values which are not keys of its model before it looks
    them up: Django's filters by them as they are, and ?client=abc raised ValueError."""

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if _is_key(self.field.target_field, v)], attr)


class CheckedAutocompleteSelect(_CheckedKeys, AutocompleteSelect):
    pass


class CheckedAutocompleteSelectMultiple(_CheckedKeys, AutocompleteSelectMultiple):
    pass


class CheckedAutocompleteMixin:
    """Every autocomplete field gets the checked widget (see _CheckedKeys)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = CheckedAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = CheckedAutocompleteSelectMultiple(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class CheckedInitialMixin:
    """An add form's values prefilled from the query string (?start=...) are parsed as the field's
    form field would parse them, and a value that does not parse is left out: Django hands the
    raw text to the widget, and a date-time widget raises on text (a 500)."""

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        for name, value in list(initial.items()):
            try:
                field = self.opts.get_field(name)
            except FieldDoesNotExist:
                continue
            if not isinstance(value, str) or not isinstance(field, models.DateField | models.TimeField):
                continue  # DateTimeField is a DateField
            form_field = field.formfield()
            try:
                parsed = form_field.to_python(value) if form_field is not None else value
                if isinstance(parsed, datetime) and timezone.is_aware(parsed):
                    # An offset at the calendar's ends (0001-01-01T00:00+14:00) parses, then the
                    # widget's conversion to local time overflows: try it here.
                    timezone.localtime(parsed).astimezone(UTC)
                initial[name] = parsed
            except (ValidationError, OverflowError, ValueError):
                del initial[name]
        return initial


# The largest whole number a database column here holds (a bigint; SQLite's driver cannot even
# send a larger one: ``?location=9223372036854775808`` raised OverflowError, a 500).
BIGINT_MAX = 2**63 - 1


def number_range_check(params) -> None:
    """BadInput for a whole number too large for any id or count column in a changelist's query
    string, in any parameter but the search box's (a search term is text: a long run of digits is
    a fine thing to search for). An add form's prefilled value is left to CheckedInitialMixin."""
    for name, values in params.lists():
        if name == SEARCH_VAR:
            continue
        for raw in values:
            digits = raw.strip().removeprefix("-")
            # Length first: int() refuses strings of thousands of digits with a ValueError.
            if digits.isascii() and digits.isdigit() and (len(digits) > 19 or int(digits) > BIGINT_MAX):
                raise BadInput(f"{name} is a number too large for any record.", parameter=name, code="number_range")


class CheckedChangelistMixin:
    """Every changelist refuses a filter value no column could hold before filtering by it."""

    def changelist_view(self, request, extra_context=None):
        number_range_check(request.GET)
        return super().changelist_view(request, extra_context)


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

    def register(self, model_or_iterable, admin_class=None, **options):
        # Every ModelAdmin gets the checked autocomplete widgets without each class remembering to.
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, CheckedAutocompleteMixin):
            admin_class = type(
                admin_class.__name__,
                (CheckedAutocompleteMixin, CheckedInitialMixin, CheckedChangelistMixin, admin_class),
                {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
            )
        super().register(model_or_iterable, admin_class, **options)

    def get_urls(self):
        # Imported here, when the URLconf is first read: the site itself is built while the apps
        # load, before bookings' models may be imported.
        from bookings.admin_dashboard import dashboard_view

        dashboard = path("dashboard/", self.admin_view(partial(dashboard_view, site=self)), name="dashboard")
        # Before the site's own, whose final catch-all would answer it with a 404.
        return [dashboard, *super().get_urls()]
