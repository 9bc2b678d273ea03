"""The diary grid's cells as HTML, written here rather than by a template per cell.

A week at a busy clinic is several hundred cells; an {% include %} per cell (and one more per
appointment block) cost a template context, a dozen variable lookups and the date filters for
each, most of the page's time. This writes the same markup (the template's, kept in the
comments of each branch) with format_html, which escapes every value as the template did.
Times are on the location's clock, as the template's |time filter gave them under
timezone.override(location.tz).
"""

from __future__ import annotations

from django.utils import formats
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from .diary import CellKind, Diary


def _hhmm(instant, tz) -> str:
    return f"{instant.astimezone(tz):%H:%M}"


def _first(cell) -> str:
    return " is-first" if cell.first_of_day else ""


def _appointment(cell, tz) -> str:
    appointment = cell.appointment
    client = appointment.client
    badge = (
        format_html('<span class="diary-badge diary-no-shows">no-shows: {}</span>', cell.client_no_shows)
        if cell.client_no_shows
        else ""
    )
    move = (
        format_html(
            '<a class="diary-move" href="{}">Move<span class="diary-sr"> {} {}</span></a>',
            cell.move_url,
            client.first_name,
            client.last_name,
        )
        if getattr(cell, "move_url", "")
        else ""
    )
    return format_html(
        '<td rowspan="{rowspan}" class="diary-cell diary-block kind-{kind} status-{status}{first}"'
        ' id="diary-appointment-{pk}">\n'
        '<a class="diary-block-link" href="{href}">\n'
        '  <span class="diary-block-time">{start}\u2013{end}</span>\n'
        '  <span class="diary-block-client">{first_name} {last_name}</span>\n'
        '  <span class="diary-block-what">{kind_label} \u00b7 <span class="diary-tag status-{status}">'
        "{status_label}</span></span>\n"
        "</a>\n\n{badge}\n{move}\n</td>\n",
        rowspan=cell.rowspan,
        kind=appointment.kind,
        status=appointment.status,
        first=_first(cell),
        pk=appointment.pk,
        href=cell.change_url,
        start=_hhmm(appointment.local_start, tz),
        end=_hhmm(appointment.local_end, tz),
        first_name=client.first_name,
        last_name=client.last_name,
        kind_label=appointment.get_kind_display(),
        status_label=appointment.get_status_display(),
        badge=badge,
        move=move,
    )


def _free(cell, tz, *, moving: bool, day_labels: dict) -> str:
    link = getattr(cell, "link", "")
    if not link:
        return format_html(
            '<td class="diary-cell diary-free{}"><span class="diary-sr">Free</span></td>\n', _first(cell)
        )
    if cell.day not in day_labels:
        day_labels[cell.day] = formats.date_format(cell.day, "D j M")
    htmx = (
        ""
        if moving
        else format_html(
            ' hx-get="{}" hx-target="#diary-panel" hx-select="#diary-book"'
            ' hx-swap="innerHTML show:#diary-panel:top" hx-push-url="false"',
            link,
        )
    )
    return format_html(
        '<td class="diary-cell diary-free{first}"><a class="diary-gap" href="{link}"{htmx}>'
        '<span class="diary-sr">{verb}{technician}, {day} at </span>{start}</a></td>\n',
        first=_first(cell),
        link=link,
        htmx=htmx,
        verb="Move here: " if moving else "Book ",
        technician=cell.technician.display_name,
        day=day_labels[cell.day],
        start=_hhmm(cell.start, tz),
    )


def _shaded(cell, tz) -> str:
    label = escape(cell.label)
    if cell.kind == CellKind.ELSEWHERE:
        label = format_html('<a href="{}">{}</a>', cell.change_url, cell.label)
    until = (
        format_html(' <span class="diary-until">until {}</span>', _hhmm(cell.end, tz))
        if cell.rowspan > 1 and cell.end
        else ""
    )
    return format_html(
        '<td rowspan="{}" class="diary-cell diary-shaded diary-{}{}">{}{}</td>\n',
        cell.rowspan,
        cell.kind,
        _first(cell),
        label,
        until,
    )


def diary_cells_render(diary: Diary, *, tz, moving: bool) -> None:
    """Set ``cells_html`` on every row of the grid: its cells' markup, joined."""
    day_labels: dict = {}
    for row in diary.rows:
        parts: list[SafeString | str] = []
        for cell in row.cells:
            if cell.kind == CellKind.APPOINTMENT:
                parts.append(_appointment(cell, tz))
            elif cell.kind == CellKind.FREE:
                parts.append(_free(cell, tz, moving=moving, day_labels=day_labels))
            else:
                parts.append(_shaded(cell, tz))
        row.cells_html = mark_safe("".join(parts))  # noqa: S308 - every part is format_html's output
