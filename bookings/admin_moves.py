"""The appointment list's "when" filter and its two actions with a second step: "move" (a page
that asks for the new start and technician, then calls appointment_staff_move) and "cancel" (a
page that says what cancelling each one now means, then calls appointment_staff_cancel)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone

from .models import Appointment, Technician
from .selectors import BookingRequestError, booking_policy_for
from .services.appointments import appointment_staff_cancel, appointment_staff_move
from .services.booking import ChangeNotAllowed, SlotTaken, cancellation_outcome
from .zones import local


class WhenFilter(admin.SimpleListFilter):
    """The days reception asks about, on the clinic's clock (the default zone: one filter for
    every location; the date hierarchy drills into any other day)."""

    title = "date"
    parameter_name = "when"
    CHOICES = {
        "today": ("Today", 0, 1),
        "tomorrow": ("Tomorrow", 1, 2),
        "next7": ("Next 7 days", 0, 7),
        "past7": ("Past 7 days", -7, 0),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _from, _to) in self.CHOICES.items()] + [("upcoming", "From now on")]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == "upcoming":
            return queryset.filter(start__gte=timezone.now())
        if value not in self.CHOICES:
            return queryset.none()
        _label, first, last = self.CHOICES[value]
        midnight = datetime.combine(timezone.localdate(), time(), tzinfo=timezone.get_current_timezone())
        return queryset.filter(start__gte=midnight + timedelta(days=first), start__lt=midnight + timedelta(days=last))


class MoveForm(forms.Form):
    start = forms.DateTimeField(
        label="New start (the clinic's own time)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    technician = forms.ModelChoiceField(
        queryset=Technician.objects.none(),
        required=False,
        empty_label="The same technician if free, else the fairest free one",
    )

    def __init__(self, *args, appointment: Appointment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["technician"].queryset = Technician.objects.filter(
            is_active=True, locations=appointment.location_id
        ).order_by("display_name")


class MoveActionMixin:
    """The "move" action: pick one appointment, then its new start and technician on a page of
    its own. The booking services decide (the technician's lock, hours, breaks, time off,
    closures, other appointments); a refusal comes back as a message on the same page."""

    move_template = "admin/bookings/appointment/move.html"

    @admin.action(description="Move to another time or technician", permissions=["change"])
    def move(self, request, queryset):
        chosen = list(queryset.select_related("location", "technician", "client")[:2])
        if len(chosen) != 1:
            self.message_user(request, "Choose one appointment to move.", messages.WARNING)
            return None
        appointment = chosen[0]
        # The form reads and shows times on the appointment's clinic's clock.
        with timezone.override(appointment.location.tz):
            if "apply" in request.POST:
                form = MoveForm(request.POST, appointment=appointment)
                if form.is_valid() and self._action_move(request, appointment, form.cleaned_data):
                    return None  # back to the list, with the success message
            else:
                form = MoveForm(
                    appointment=appointment,
                    initial={"start": local(appointment.start, appointment.location), "technician": None},
                )
            context = {
                **self.admin_site.each_context(request),
                "title": f"Move {appointment.reference}",
                "opts": self.model._meta,
                "appointment": appointment,
                "now_at": f"{local(appointment.start, appointment.location):%a %d/%m/%Y %H:%M} "
                f"({appointment.location.time_zone_label}) with {appointment.technician}",
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            response = TemplateResponse(request, self.move_template, context, status=400 if form.is_bound else 200)
            response.render()
        return response

    def _action_move(self, request, appointment: Appointment, data: dict) -> bool:
        try:
            moved = appointment_staff_move(
                appointment=appointment, start=data["start"], technician=data["technician"], by=request.user
            )
        except SlotTaken as exc:
            free = ", ".join(f"{timezone.localtime(s.start):%a %d/%m %H:%M}" for s in exc.alternatives)
            self.message_user(
                request,
                f"{appointment.reference} not moved: the technician is not free then (working hours, breaks, "
                f"time off, closures and other appointments with their buffers). Nearest free times: "
                f"{free or 'none nearby'}.",
                messages.ERROR,
            )
            return False
        except (ValidationError, PermissionDenied, ChangeNotAllowed, BookingRequestError) as exc:
            reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else getattr(exc, "message", str(exc))
            self.message_user(request, f"{appointment.reference} not moved: {reason or 'not allowed'}", messages.ERROR)
            return False
        self.message_user(
            request,
            f"{moved.reference} moved to {local(moved.start, moved.location):%a %d/%m/%Y %H:%M} with "
            f"{moved.technician}; the client is sent the new time.",
            messages.SUCCESS,
        )
        return True


# More than this in one go is a mistake with a filter, not a day's cancellations.
CANCEL_AT_MOST = 100


class CancelActionMixin:
    """The "cancel" action: a page first says, for each appointment chosen, what cancelling it now
    means, from the rules the cancel itself applies (a late cancellation recorded, and whether it
    counts towards the online booking limit; a paid deposit refunded, kept or split; the client
    told, with a calendar file that removes the event); "Yes, cancel" then cancels each through
    appointment_staff_cancel (its transition, audit row and messages)."""

    cancel_template = "admin/bookings/appointment/cancel.html"

    @admin.action(description="Cancel", permissions=["change"])
    def cancel(self, request, queryset):
        chosen = list(
            queryset.select_related("location", "client", "technician").order_by("start")[: CANCEL_AT_MOST + 1]
        )
        if len(chosen) > CANCEL_AT_MOST:
            self.message_user(request, f"Choose at most {CANCEL_AT_MOST} appointments to cancel.", messages.WARNING)
            return None
        if "apply" in request.POST:
            self._action_cancel(request, chosen)
            return None
        now = timezone.now()
        policies: dict[int, object] = {}
        rows = []
        for appointment in chosen:
            cancellable = appointment.status in (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED)
            outcome = None
            if cancellable:
                if appointment.location_id not in policies:
                    policies[appointment.location_id] = booking_policy_for(appointment.location)
                outcome = cancellation_outcome(
                    appointment=appointment, policy=policies[appointment.location_id], now=now
                )
            rows.append(
                {
                    "appointment": appointment,
                    "when": f"{local(appointment.start, appointment.location):%a %d/%m/%Y %H:%M} "
                    f"({appointment.location.time_zone_label})",
                    "cancellable": cancellable,
                    "ahead": appointment.start > now,
                    "outcome": outcome,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel appointments?" if len(chosen) > 1 else f"Cancel {chosen[0].reference}?",
            "opts": self.model._meta,
            "rows": rows,
            "any_cancellable": any(row["cancellable"] for row in rows),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, self.cancel_template, context)

    def _action_cancel(self, request, chosen: list[Appointment]) -> None:
        apply_to_each(self, request, chosen, appointment_staff_cancel, done="cancelled")


def apply_to_each(modeladmin, request, appointments, service, *, done: str) -> None:
    """Call ``service`` for each appointment in turn; a refusal is a message naming the
    appointment and the others still change; then one message counts what changed."""
    changed = 0
    for appointment in appointments:
        try:
            service(appointment=appointment, by=request.user)
        except (ValidationError, PermissionDenied, ChangeNotAllowed) as exc:
            reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else (str(exc) or "not allowed")
            modeladmin.message_user(request, f"{appointment.reference} not changed: {reason}", messages.ERROR)
        else:
            changed += 1
    if changed:
        modeladmin.message_user(request, f"{changed} appointment(s) {done}.", messages.SUCCESS)
