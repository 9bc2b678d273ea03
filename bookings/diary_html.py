"""The diary grid's cells as HTML, written here rather than by a template per cell.

A week at a busy clinic is several hundred cells; an {% include %} per cell (and one more per
appointment block) cost a template context, a dozen variable lookups and the date filters for
each, most of the page's time. This writes the same markup the templates wrote, every text and
URL escaped as autoescaping did (``esc``: the same html.escape Django's escape calls). Times are
on the location's clock, as the template's |time filter gave them under
timezone.override(location.tz).
"""

from __future__ import annotations

from html import escape as esc

from django.utils import formats
from django.utils.safestring import mark_safe

from .diary import CellKind, Diary
from .selectors import INTAKE_DONE, INTAKE_MISSING, intake_state


def _hhmm(instant, tz) -> str:
    return f"{instant.astimezone(tz):%H:%M}"


def _appointment(cell, tz) -> str:
    appointment = cell.appointment
    client = appointment.client
    name = f"{esc(client.first_name)} {esc(client.last_name)}"
    status = esc(appointment.status)
    badge = (
        f'<span class="diary-badge diary-no-shows">no-shows: {int(cell.client_no_shows)}</span>'
        if cell.client_no_shows
        else ""
    )
    intake = intake_state(appointment)
    if intake == INTAKE_MISSING:
        badge += '<span class="diary-badge diary-intake-missing">intake missing</span>'
    elif intake == INTAKE_DONE:
        badge += '<span class="diary-badge diary-intake-done">prepared</span>'
    move_url = getattr(cell, "move_url", "")
    move = (
        f'<a class="diary-move" href="{esc(move_url)}">Move<span class="diary-sr"> {name}</span></a>'
        if move_url
        else ""
    )
    return (
        f'<td rowspan="{cell.rowspan}" class="diary-cell diary-block kind-{esc(appointment.kind)} status-{status}'
        f'{" is-first" if cell.first_of_day else ""}" id="diary-appointment-{appointment.pk}">\n'
        f'<a class="diary-block-link" href="{esc(cell.change_url)}">\n'
        f'  <span class="diary-block-time">{_hhmm(appointment.local_start, tz)}\u2013'
        f"{_hhmm(appointment.local_end, tz)}</span>\n"
        f'  <span class="diary-block-client">{name}</span>\n'
        f'  <span class="diary-block-what">{esc(appointment.get_kind_display())} \u00b7 '
        f'<span class="diary-tag status-{status}">{esc(appointment.get_status_display())}</span></span>\n'
        f"</a>\n\n{badge}\n{move}\n</td>\n"
    )


def _free(cell, tz, *, moving: bool, day_labels: dict) -> str:
    first = " is-first" if cell.first_of_day else ""
    link = getattr(cell, "link", "")
    if not link:
        return f'<td class="diary-cell diary-free{first}"><span class="diary-sr">Free</span></td>\n'
    if cell.day not in day_labels:
        day_labels[cell.day] = esc(formats.date_format(cell.day, "D j M"))
    link = esc(link)
    htmx = (
        ""
        if moving
        else f' hx-get="{link}" hx-target="#diary-panel" hx-select="#diary-book"'
        ' hx-swap="innerHTML show:#diary-panel:top" hx-push-url="false"'
    )
    verb = "Move here: " if moving else "Book "
    return (
        f'<td class="diary-cell diary-free{first}"><a class="diary-gap" href="{link}"{htmx}>'
        f'<span class="diary-sr">{verb}{esc(cell.technician.display_name)}, {day_labels[cell.day]} at </span>'
        f"{_hhmm(cell.start, tz)}</a></td>\n"
    )


def _shaded(cell, tz) -> str:
    label = esc(cell.label)
    if cell.kind == CellKind.ELSEWHERE:
        label = f'<a href="{esc(cell.change_url)}">{label}</a>'
    until = f' <span class="diary-until">until {_hhmm(cell.end, tz)}</span>' if cell.rowspan > 1 and cell.end else ""
    first = " is-first" if cell.first_of_day else ""
    kind = esc(cell.kind)
    return f'<td rowspan="{cell.rowspan}" class="diary-cell diary-shaded diary-{kind}{first}">{label}{until}</td>\n'


def diary_cells_render(diary: Diary, *, tz, moving: bool) -> None:
    """Set ``cells_html`` on every row of the grid: its cells' markup, joined."""
    day_labels: dict = {}
    for row in diary.rows:
        parts: list[str] = []
        for cell in row.cells:
            if cell.kind == CellKind.APPOINTMENT:
                parts.append(_appointment(cell, tz))
            elif cell.kind == CellKind.FREE:
                parts.append(_free(cell, tz, moving=moving, day_labels=day_labels))
            else:
                parts.append(_shaded(cell, tz))
        row.cells_html = mark_safe("".join(parts))  # noqa: S308 - every text and URL is escaped above
