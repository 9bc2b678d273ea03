"""Admin changelists over big tables: counts PostgreSQL can estimate, and inline select lists
built once per page instead of once per row."""

from __future__ import annotations

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.paginator import Paginator
from django.db import connections
from django.forms.models import BaseInlineFormSet, ModelChoiceField
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext as _

# Below this many rows an exact count is cheap and an estimate would show a wrong number.
EXACT_COUNT_BELOW = 10_000


def estimated_count(queryset) -> int | None:
    """PostgreSQL's own estimate of the rows in the queryset's table (pg_class.reltuples, kept by
    autovacuum and ANALYZE), when the queryset is the whole table; None when it is filtered,
    on another database, or the table has never been analysed."""
    query = queryset.query
    if query.where or query.distinct or query.combinator or query.is_sliced or query.group_by:
        return None
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    if row is None or row[0] is None or row[0] < 0:
        return None
    return int(row[0])


class EstimatedCountPaginator(Paginator):
    """The unfiltered list of a big table counts with PostgreSQL's estimate (a catalogue read)
    instead of COUNT(*) over every row; filtered and searched lists, and small tables, count
    exactly. The last page of an estimate may come up short or empty, which is harmless."""

    @cached_property
    def count(self) -> int:
        estimate = estimated_count(self.object_list)
        if estimate is not None and estimate >= EXACT_COUNT_BELOW:
            return estimate
        return super().count


class QuickCheckboxAdminMixin:
    """Each changelist row's action checkbox written here, the markup Django's CheckboxInput
    renders (its template, once per row, cost a fifth of a 100-row page)."""

    def action_checkbox(self, obj):
        label = format_html(_("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )


class BigTableAdminMixin(QuickCheckboxAdminMixin):
    """For the admin's big changelists: no second COUNT(*) of the whole table for "N total",
    the estimated count for the unfiltered list, a date hierarchy drawn from the calendar
    rather than from the rows (clients/templatetags/clinic_admin.py), and each row's checkbox
    without a template."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator
    change_list_template = "admin/change_list_calendar_dates.html"


class SharedChoicesFormSet(BaseInlineFormSet):
    """Every row of an inline renders its select lists from one query per field, not one per row
    (a disabled select still lists its choices), and knows its parent without fetching it (a
    row's __str__ often names it)."""

    def _share_choices(self, form):
        if self.instance.pk is not None and form.instance.pk is not None:
            setattr(form.instance, self.fk.name, self.instance)
        cache = self.__dict__.setdefault("_shared_choices", {})
        for name, field in form.fields.items():
            # A hidden one (the row's own id) lists nothing: evaluating it would cost queries.
            if isinstance(field, ModelChoiceField) and not field.widget.is_hidden:
                if name not in cache:
                    cache[name] = list(field.choices)
                field.choices = cache[name]
        return form

    def _construct_form(self, i, **kwargs):
        return self._share_choices(super()._construct_form(i, **kwargs))

    @cached_property
    def empty_form(self):
        # Built once: the admin asks for it for every inline's media and again to draw the
        # "add another" row, and Django builds a new form (every field deep-copied) each time.
        return self._share_choices(super().empty_form)
