from django.contrib import admin
from django.urls import include, path

from . import views
from .accounts import views as accounts_views

handler400 = "smpclinic.badinput.bad_request"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    # The admin's login page links to "admin_password_reset" when that name exists.
    path("accounts/password-reset/", accounts_views.PasswordResetView.as_view(), name="admin_password_reset"),
    path("accounts/", include("smpclinic.accounts.urls")),
    path("admin/", admin.site.urls),
    path("staff/", include("smpclinic.workspace.urls")),
    path("messages/", include("bookings.urls_messages")),
    path("", include("smpclinic.public.urls")),
    path("", include("bookings.urls")),
]
