from django.contrib import admin
from django.urls import include, path

from . import views

admin.site.site_header = "SMP Clinic"
admin.site.site_title = "SMP Clinic admin"
admin.site.index_title = "Run the clinic"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("staff/", include("smpclinic.workspace.urls")),
    path("messages/", include("bookings.urls_messages")),
    path("", include("smpclinic.public.urls")),
    path("", include("bookings.urls")),
]
