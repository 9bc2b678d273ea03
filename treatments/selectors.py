from __future__ import annotations

from django.db.models import QuerySet

from bookings.models import Location

from .models import Treatment


def treatment_list_public() -> QuerySet[Treatment]:
    return Treatment.objects.filter(is_active=True).exclude(category=Treatment.Category.TOUCH_UP)


def location_list_public() -> QuerySet[Location]:
    return Location.objects.filter(is_active=True)
