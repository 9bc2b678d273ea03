"""Prices as integers of minor units (pence), typed by staff in pounds: parsed exactly, never a float.

The lowest layer holds this so that the catalogue (treatments), the courses (bookings) and the
workspace can share one parser and one form field.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError

DEFAULT_CURRENCY = "GBP"
CURRENCY_PATTERN = r"^[A-Z]{3}$"

# "1250", "1,250", "1250.5", "1,250.00", optionally with a leading £; at most two decimals.
_POUNDS = re.compile(r"^(?P<sign>-)?£?\s*(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<pence>\d{1,2}))?$", re.ASCII)


def pounds_to_minor(text: str) -> int:
    """'1,250.00' -> 125000 through Decimal; ValueError with a message a person can act on."""
    match = _POUNDS.match(text.strip())
    if match is None:
        raise ValueError("Enter an amount in pounds, e.g. 1250 or 1,250.00 (at most two decimals).")
    try:
        pounds = Decimal(f"{match['whole'].replace(',', '')}.{match['pence'] or '0'}")
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only digits
        raise ValueError("Enter an amount in pounds, e.g. 1250 or 1,250.00.") from exc
    minor = int(pounds * 100)
    return -minor if match["sign"] else minor


def minor_to_pounds(minor: int) -> Decimal:
    """125000 -> Decimal('1250.00') (exact)."""
    return Decimal(minor).scaleb(-2).quantize(Decimal("0.01"))


def format_minor(minor: int | None, currency: str = DEFAULT_CURRENCY) -> str:
    """£1,200 (or £1,200.50 when there are pence); other currencies as '1,200 EUR'."""
    if minor is None or minor == "":
        return ""
    whole, pence = divmod(abs(int(minor)), 100)
    text = f"{whole:,}" if pence == 0 else f"{whole:,}.{pence:02d}"
    sign = "-" if int(minor) < 0 else ""
    return f"{sign}£{text}" if currency == "GBP" else f"{sign}{text} {currency}"


class PoundsField(forms.Field):
    """A price typed in pounds ('1250', '1,250.00', '£1,250.5'), cleaned to an int of pence."""

    default_error_messages = {"invalid": "Enter an amount in pounds, e.g. 1250 or 1,250.00 (at most two decimals)."}

    def __init__(self, *, min_minor: int | None = None, max_minor: int = 99_999_999_99, **kwargs):
        self.min_minor, self.max_minor = min_minor, max_minor
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return str(minor_to_pounds(value))
        return value

    def to_python(self, value) -> int | None:
        if value in self.empty_values:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if not isinstance(value, str):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            minor = pounds_to_minor(value)
        except ValueError as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc
        if self.min_minor is not None and minor < self.min_minor:
            raise ValidationError(f"Enter at least {format_minor(self.min_minor)}.", code="min_value")
        if minor > self.max_minor:
            raise ValidationError("That amount is too large.", code="max_value")
        return minor
