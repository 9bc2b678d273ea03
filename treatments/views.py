from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .selectors import location_list_public, treatment_list_public


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "treatments/home.html",
        {"treatments": treatment_list_public(), "locations": location_list_public()},
    )
