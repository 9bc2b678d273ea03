"""The staff roles (groups and their permissions) as the roles migration defines them.

``roles_ensure`` re-creates them on a database that lost them, such as a test database
after a transactional test flushed every table, without a second copy of the definitions.
"""

from __future__ import annotations

import importlib

from django.apps import apps as global_apps
from django.contrib.auth.models import Group

ROLE_NAMES = ("Manager", "Reception", "Technician")


def roles_ensure() -> None:
    if Group.objects.filter(name__in=ROLE_NAMES).count() == len(ROLE_NAMES):
        return
    migration = importlib.import_module("clients.migrations.0003_roles")
    migration.create_roles(global_apps, None)


MANAGER_APPS = ("clients", "bookings", "treatments", "auth")


def manager_permissions_sync(**kwargs) -> None:
    """Give the Manager group every permission of the clinic's apps (run after each migrate)."""
    from django.contrib.auth.models import Permission

    manager = Group.objects.filter(name="Manager").first()
    if manager is None:
        return
    manager.permissions.add(*Permission.objects.filter(content_type__app_label__in=MANAGER_APPS))
