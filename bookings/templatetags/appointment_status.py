"""An appointment's status as a badge whose colour says it at a glance (the word says it too)."""

from __future__ import annotations

from django import template

from bookings.models import Appointment

register = template.Library()

Status = Appointment.Status
# Bootstrap's text-bg-* pairs: each sets a text colour that passes contrast on its background.
BADGES = {
    Status.BOOKED: "text-bg-primary",
    Status.CONFIRMED: "text-bg-success",
    Status.ARRIVED: "text-bg-info",
    Status.COMPLETED: "text-bg-dark",
    Status.NO_SHOW: "text-bg-danger",
    Status.CANCELLED: "text-bg-secondary",
    Status.PENDING_PAYMENT: "text-bg-warning",
    Status.HOLD_RELEASED: "text-bg-light border",
}


@register.filter
def status_badge(status: str) -> str:
    """The badge classes for an appointment status: {{ a.status|status_badge }}."""
    return BADGES.get(status, "text-bg-light border")
