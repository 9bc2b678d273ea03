"""Reception's day board in the admin: one location's appointments today, with a button per status
change the signed-in user may make.

The buttons are plain POST forms (CSRF, no JavaScript) and each calls its transition service,
which checks the permission again, locks the appointment and writes the audit row. A check-in or
a no-show clicked on the wrong row is undone from the board too: the row then offers its undo
(the service's undo transition, with its own permission: undoing a no-show is a manager's), and
the message saying what was done carries the same button. The board only
hides what the user could not do: a reception user sees no "Completed" (completing needs the
clinical permission), and nobody sees a no-show or a completion before the start (the services
refuse both).

"In the chair" is not a status: the transition table has booked/confirmed -> arrived -> completed
and nothing between, so a client waiting and a client in the chair are both "arrived". A separate
state would need a migration, the table and who may set it; the board says so instead of
pretending to record it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.messages.storage.base import Message
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from . import zones
from .models import Appointment, Location
from .selectors import NO_ATTENDANCE_ISSUES, client_attendance_counts, day_board
from .services.appointments import (
    appointment_arrive,
    appointment_complete,
    appointment_mark_no_show,
    appointment_undo_arrive,
    appointment_undo_no_show,
    may_transition,
)

Status = Appointment.Status


@dataclass(frozen=True)
class BoardAction:
    name: str
    label: str
    target: str
    done: str
    service: object
    after_start_only: bool  # the service refuses it before the appointment's start
    undoes: str | None = None  # an undo: offered only on a row in this status

    def offered(self, *, row, by, started: bool) -> bool:
        if self.undoes is not None and row.status != self.undoes:
            return False
        return (started or not self.after_start_only) and may_transition(by=by, current=row.status, target=self.target)


BEFORE_OR_AFTER, AFTER_START = False, True


BOARD_ACTIONS = (
    BoardAction("arrive", "Check in", Status.ARRIVED, "checked in", appointment_arrive, BEFORE_OR_AFTER),
    BoardAction("complete", "Completed", Status.COMPLETED, "completed", appointment_complete, AFTER_START),
    BoardAction("no_show", "No-show", Status.NO_SHOW, "marked no-show", appointment_mark_no_show, AFTER_START),
    BoardAction(
        "undo_arrive",
        "Undo check-in",
        Status.BOOKED,
        "no longer checked in",
        appointment_undo_arrive,
        BEFORE_OR_AFTER,
        undoes=Status.ARRIVED,
    ),
    BoardAction(
        "undo_no_show",
        "Undo no-show",
        Status.BOOKED,
        "no longer a no-show",
        appointment_undo_no_show,
        BEFORE_OR_AFTER,
        undoes=Status.NO_SHOW,
    ),
)
ACT_URL_NAME = "bookings_appointment_board_act"
ACTIONS_BY_NAME = {a.name: a for a in BOARD_ACTIONS}
# The undo each action offers once it is done, by the status it leaves the appointment in.
UNDO_OF = {a.undoes: a for a in BOARD_ACTIONS if a.undoes is not None}
# A success message's extra tag naming the appointment whose undo the message offers.
UNDO_TAG = "board-undo-"


def _board_messages(request: HttpRequest) -> list[tuple[Message, int | None]]:
    """The messages for this page, each with the appointment whose undo it offers (from its tag).
    Reading them here marks them shown: the board's own messages block shows them."""
    out = []
    for message in messages.get_messages(request):
        offer = None
        for tag in message.extra_tags.split():
            number = tag.removeprefix(UNDO_TAG)
            if tag.startswith(UNDO_TAG) and number.isdigit() and len(number) <= 10:
                offer = int(number)
        out.append((message, offer))
    return out


def _bad_request(request: HttpRequest, message: str, *, parameter: str) -> HttpResponse:
    # The site's 400 page (smpclinic's handler400 renders the same template for its BadInput,
    # which bookings, a lower layer, does not import).
    return render(request, "400.html", {"message": message, "parameter": parameter}, status=400)


def _invalid(request: HttpRequest, form: forms.Form) -> HttpResponse:
    text = " ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
    return _bad_request(request, text, parameter=next(iter(form.errors)))


class BoardQueryForm(forms.Form):
    """Which location and day to show; both optional (the first location, its today)."""

    location = forms.ModelChoiceField(queryset=Location.objects.filter(is_active=True), required=False)
    date = forms.DateField(required=False, input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"}))

    def clean_date(self) -> date | None:
        day = self.cleaned_data["date"]
        # The board's day range is built with day + 1: the last day of year 9999 has no tomorrow.
        if day is not None and not (date(2, 1, 1) <= day <= date(9998, 12, 31)):
            raise ValidationError("Choose a date between the years 2 and 9998.", code="date_out_of_range")
        return day


class BoardActionForm(forms.Form):
    appointment = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    action = forms.ChoiceField(choices=[(a.name, a.label) for a in BOARD_ACTIONS])


class DayBoardAdminMixin:
    """Adds /admin/bookings/appointment/board/ to the Appointment ModelAdmin."""

    board_template = "admin/bookings/appointment/day_board.html"

    def get_urls(self):
        board = [
            path("board/", self.admin_site.admin_view(self.board_view), name="bookings_appointment_board"),
            path("board/change/", self.admin_site.admin_view(self.board_action_view), name=ACT_URL_NAME),
        ]
        # Before the ModelAdmin's own: its "<path:object_id>/" would take "board/" for an id.
        return [*board, *super().get_urls()]

    def board_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        query = BoardQueryForm(request.GET)
        if not query.is_valid():
            return _invalid(request, query)
        locations = list(Location.objects.filter(is_active=True))
        location = query.cleaned_data["location"] or (locations[0] if locations else None)
        now = timezone.now()
        day = query.cleaned_data["date"] or (zones.local_today(location, now=now) if location else None)
        rows = day_board(location=location, day=day, now=now) if location else []
        user = request.user
        # Reception sees who has missed before as they arrive (one query for the whole day).
        attendance = client_attendance_counts(row.client_id for row in rows)
        notices = _board_messages(request)
        offers = {pk for _, pk in notices if pk is not None}
        for row in rows:
            row.attendance = attendance.get(row.client_id, NO_ATTENDANCE_ISSUES)
            started = row.start <= now
            row.board_actions = [a for a in BOARD_ACTIONS if a.offered(row=row, by=user, started=started)]
            # The message about this row's change carries its undo, if the row still offers it.
            undo = UNDO_OF.get(row.status)
            row.undo_offered = undo if row.pk in offers and undo in row.board_actions else None
        rows_by_pk = {row.pk: row for row in rows if row.undo_offered}
        context = {
            **self.admin_site.each_context(request),
            "title": f"Day board: {location}" if location else "Day board",
            "opts": self.model._meta,
            "locations": locations,
            "location": location,
            "day": day,
            "is_today": location is not None and day == zones.local_today(location, now=now),
            "rows": rows,
            "late_count": sum(1 for r in rows if r.late_minutes is not None),
            "now_local": zones.local(now, location) if location else None,
            "action_url": reverse("admin:bookings_appointment_board_act"),
            "notices": [(message, rows_by_pk.get(pk)) for message, pk in notices],
        }
        response = TemplateResponse(request, self.board_template, context)
        if location is not None:
            # Every time on the page is on the location's clock, whatever the user's zone.
            with timezone.override(location.tz):
                response.render()
        return response

    def board_action_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = BoardActionForm(request.POST)
        if not form.is_valid():
            return _invalid(request, form)
        appointment = (
            Appointment.objects.select_related("client", "location").filter(pk=form.cleaned_data["appointment"]).first()
        )
        if appointment is None:
            return _bad_request(request, "appointment: There is no such appointment.", parameter="appointment")
        action = ACTIONS_BY_NAME[form.cleaned_data["action"]]
        who = f"{appointment.client.first_name} {appointment.client.last_name} ({appointment.reference})"
        try:
            action.service(appointment=appointment, by=request.user)
        except ValidationError as exc:
            self.message_user(request, f"{who} not changed: {' '.join(exc.messages)}", messages.ERROR)
        except PermissionDenied as exc:
            # The button was not shown to this user: a stale page or a crafted request.
            raise PermissionDenied(str(exc) or "You may not make this change.") from exc
        else:
            self._done_message(request, appointment, action, who=who)
        location = appointment.location
        back = urlencode({"location": location.pk, "date": zones.local_date(appointment.start, location).isoformat()})
        return HttpResponseRedirect(f"{reverse('admin:bookings_appointment_board')}?{back}")

    def _done_message(self, request: HttpRequest, appointment: Appointment, action: BoardAction, *, who: str) -> None:
        """Say what was done; for a check-in or a no-show, with its undo (a button the board draws
        beside the message) or, for someone who may not undo it, who can."""
        text, tags = f"{who} {action.done}.", ""
        undo = UNDO_OF.get(action.target)
        if undo is not None:
            if may_transition(by=request.user, current=action.target, target=undo.target):
                tags = f"{UNDO_TAG}{appointment.pk}"
            else:
                text += f" Only a manager can undo a {Status(action.target).label.lower()}."
        self.message_user(request, text, messages.SUCCESS, extra_tags=tags)
