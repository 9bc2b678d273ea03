from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self):
        from .roles import manager_permissions_sync

        # "Manager: everything" must cover models other apps add after the roles migration ran.
        post_migrate.connect(manager_permissions_sync, dispatch_uid="clients.manager_permissions_sync")
