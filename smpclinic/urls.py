from django.contrib import admin
from django.urls import include, path

from . import views

handler400 = "smpclinic.badinput.bad_request"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("staff/", include("smpclinic.workspace.urls")),
    path("messages/", include("bookings.urls_messages")),
    path("", include("smpclinic.public.urls")),
    path("", include("bookings.urls")),
]
