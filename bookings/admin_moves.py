"""The appointment list's "when" filter and its "move" action (an intermediate page that asks
for the new start and technician, then calls appointment_staff_move)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone

from .models import Appointment, Technician
from .selectors import BookingRequestError
from .services.appointments import appointment_staff_move
from .services.booking import ChangeNotAllowed, SlotTaken
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
