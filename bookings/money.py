"""Money as an integer of minor units and an ISO 4217 currency: never a float.

Amounts are stored the same way (``amount_minor`` BigIntegerField, ``currency`` CHAR(3)); this
value type is for arithmetic and display, and for reading the catalogue's decimal prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

DEFAULT_CURRENCY = "GBP"

# Minor units per major unit (ISO 4217 exponent); anything not listed has two decimals.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}
_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError("Money holds an integer of minor units")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError("currency is a three-letter ISO 4217 code in capitals")

    @classmethod
    def from_decimal(cls, amount: Decimal | int | str, currency: str = DEFAULT_CURRENCY) -> Money:
        """A decimal amount in major units (e.g. a price guide's 450.00), rounded half up to minor units."""
        if isinstance(amount, float):
            raise TypeError("no floats for money")
        scaled = (Decimal(amount) * (10 ** exponent(currency))).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return cls(int(scaled), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise ValueError("cannot combine amounts in different currencies")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def percent(self, percent: int) -> Money:
        """``percent`` of this amount, rounded half up to a minor unit (integers only)."""
        numerator = self.minor * percent
        quotient, remainder = divmod(abs(numerator), 100)
        if remainder * 2 >= 100:
            quotient += 1
        return Money(quotient if numerator >= 0 else -quotient, self.currency)

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def __str__(self) -> str:
        places = exponent(self.currency)
        text = f"{abs(self.decimal):,.{places}f}"
        symbol = _SYMBOLS.get(self.currency)
        sign = "-" if self.minor < 0 else ""
        return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {self.currency}"
