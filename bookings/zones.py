"""Local time at a location: every clinic reads appointment times on its own wall clock.

A location stores an IANA zone name (``Location.time_zone``); ``location.tz`` is its ZoneInfo.
Instants are stored and compared in UTC; these helpers are the one way to turn them into the
date or clock time a client or technician at that location reads.
"""

from __future__ import annotations

import calendar
import functools
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone


class HasZone(Protocol):
    @property
    def tz(self) -> ZoneInfo: ...


@functools.cache
def _known_zones() -> frozenset[str]:
    # Reading the zone database walks the file system: once per process is enough.
    return frozenset(available_timezones())


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(_known_zones())]


def default_time_zone() -> str:
    """The zone a new location starts in (settings.CLINIC_TIME_ZONE)."""
    return settings.CLINIC_TIME_ZONE


def validate_time_zone(value: str) -> None:
    if value not in _known_zones():
        raise ValidationError(
            "%(value)s is not a time zone: use an IANA name such as Europe/London or America/New_York.",
            code="unknown_time_zone",
            params={"value": value},
        )


def default_tz() -> ZoneInfo:
    return ZoneInfo(default_time_zone())


def local(instant: datetime, location: HasZone) -> datetime:
    """The instant on the location's wall clock."""
    return instant.astimezone(location.tz)


def local_date(instant: datetime, location: HasZone) -> date:
    """The location's calendar day at the instant."""
    return instant.astimezone(location.tz).date()


def local_today(location: HasZone, *, now: datetime | None = None) -> date:
    """Today at the location (a New York clinic's today starts five hours after London's)."""
    return local_date(now or timezone.now(), location)


def add_months(day: date, months: int) -> date:
    """The same day of the month ``months`` later (or earlier), the month's last day where it has
    fewer (31 January + 1 month is 28 or 29 February)."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))
