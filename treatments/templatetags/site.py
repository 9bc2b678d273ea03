"""Template helpers for the public pages."""

from __future__ import annotations

import json

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from treatments.money import format_minor

register = template.Library()

# The same escapes json_script uses, so no value can close the <script> element early.
_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.simple_tag
def json_ld(data: dict) -> SafeString:
    """A schema.org data block. Browsers never execute application/ld+json, so CSP does not apply."""
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_JSON_ESCAPES)
    # Safe: json.dumps quotes every string and the escapes above neutralise <, > and &.
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(text))  # noqa: S308


@register.filter
def money(minor: int | None, currency: str = "GBP") -> str:
    """An integer of minor units as £1,200 (or £1,200.50 when there are pence): no float."""
    return format_minor(minor, currency or "GBP")


@register.filter
def lines(value: str) -> list[str]:
    """Non-empty lines of a text field, for 'one instruction per line' copy."""
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


@register.filter
def hours_text(minutes: int) -> str:
    """120 -> '2', 150 -> '2½', 90 -> '1½' (hours, for a course summary)."""
    whole, rest = divmod(int(minutes), 60)
    if rest == 0:
        return str(whole)
    if rest == 30:
        return f"{whole}½" if whole else "½"
    return f"{minutes / 60:.1f}".rstrip("0").rstrip(".")


@register.simple_tag
def span(low, high) -> str:
    """'2-3' with an en dash, or '2' when both ends are the same."""
    return str(low) if low == high else f"{low}\u2013{high}"
