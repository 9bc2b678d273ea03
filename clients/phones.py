"""UK phone numbers as clients give them and as the clinic stores them."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError


def normalise_uk_phone(value: str) -> str:
    """A UK phone number as 0XXXX XXXXXX, or ValidationError.

    Accepts spaces, dashes, brackets and a +44 / 0044 prefix; the number after the leading
    0 has 10 digits for mobiles (07) and 9 or 10 for 01, 02, 03, 05, 08 and 09 (UK numbering plan).
    """
    compact = re.sub(r"[\s\-().]", "", value or "")
    match = re.fullmatch(r"(?:\+44|0044|0)(7\d{9}|[123589]\d{8,9})", compact)
    if not match:
        raise ValidationError("Enter a UK phone number, e.g. 07700 900123 or 0161 496 0000.", code="phone_invalid")
    digits = "0" + match.group(1)
    if digits.startswith("07") and len(digits) == 11:
        return f"{digits[:5]} {digits[5:]}"
    return f"{digits[:4]} {digits[4:]}" if len(digits) == 11 else digits
