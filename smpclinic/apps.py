from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SmpClinicConfig(AppConfig):
    name = "smpclinic"
    verbose_name = "SMP Clinic"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .accounts.signals import on_login

        user_logged_in.connect(on_login, dispatch_uid="smpclinic.accounts.on_login")


class ClinicAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with ClinicAdminSite as admin.site, where every app registers."""

    default = False  # the "smpclinic" entry in INSTALLED_APPS still means SmpClinicConfig
    default_site = "smpclinic.admin_site.ClinicAdminSite"
