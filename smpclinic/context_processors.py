from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def clinic(request: HttpRequest) -> dict:
    return {"CLINIC_NAME": settings.CLINIC_NAME, "SITE_URL": settings.SITE_URL}
