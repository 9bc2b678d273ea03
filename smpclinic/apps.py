from django.apps import AppConfig


class SmpClinicConfig(AppConfig):
    name = "smpclinic"
    verbose_name = "SMP Clinic"
