"""Ages for the age rule: clients must be 18 or over (UK law on tattooing covers SMP)."""

from __future__ import annotations

from datetime import date

ADULT_AGE = 18


def age_on(*, born: date, day: date) -> int:
    """Whole years from ``born`` to ``day``. Someone born on 29 February has their birthday on
    1 March in other years: (2, 28) is before (2, 29), (3, 1) is after it."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def adult_from(born: date) -> date:
    """The first day on which someone born on ``born`` is 18."""
    try:
        return born.replace(year=born.year + ADULT_AGE)
    except ValueError:  # 29 February, and the 18th birthday falls in a common year
        return date(born.year + ADULT_AGE, 3, 1)


def under_age_message(*, born: date, day: date) -> str | None:
    """Why someone born on ``born`` cannot be treated on ``day``, or None when they are 18 or over."""
    if age_on(born=born, day=day) >= ADULT_AGE:
        return None
    return (
        f"We can only treat clients aged {ADULT_AGE} or over (UK law on tattooing, which covers "
        f"scalp micropigmentation). You can book an appointment from {adult_from(born):%d %B %Y}."
    )
