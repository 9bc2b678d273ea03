"""A stored phone number (E.164) as people read it: {{ client.phone|phone_display }}."""

from __future__ import annotations

from django import template

from clients.phones import phone_display as _phone_display

register = template.Library()


@register.filter
def phone_display(value) -> str:
    """07700 900123 for a UK number, +1 212 555 0100 for another; "" for none."""
    return _phone_display(value)
