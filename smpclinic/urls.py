from django.contrib import admin
from django.urls import include, path

from . import views

handler400 = "smpclinic.badinput.bad_request"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("staff/", include("clients.urls")),
    path("messages/", include("bookings.urls_messages")),
    path("", include("treatments.urls")),
    path("", include("bookings.urls")),
]
