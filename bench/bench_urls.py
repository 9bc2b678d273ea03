"""The project's URLs plus /bench/bare/, a view that does nothing, through the same middleware."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from smpclinic.urls import urlpatterns as clinic_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare), *clinic_urlpatterns]
