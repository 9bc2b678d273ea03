"""The staff roles (groups and their permissions) as the roles migration defines them.

``roles_ensure`` re-creates them on a database that lost them, such as a test database
after a transactional test flushed every table, without a second copy of the definitions.
"""

from __future__ import annotations

import importlib

from django.apps import apps as global_apps
from django.contrib.auth.models import Group

ROLE_NAMES = ("Manager", "Reception", "Technician")

# Migrations after 0003_roles that give a role more permissions; each has grant(apps, editor).
LATER_GRANTS = (
    "bookings.migrations.0015_export_appointments_permission",
    "bookings.migrations.0016_dashboard_permission",
    "bookings.migrations.0020_desk_payments",
)


# Models renamed since the roles migration (app label -> old name -> new name): the migration
# speaks of the models as they were then; the live models carry the new names.
RENAMED_MODELS = {"bookings": {"aftercarereminder": "clientmessage"}}


def _current_names(spec: dict) -> dict:
    return {
        app: {RENAMED_MODELS.get(app, {}).get(model, model): actions for model, actions in models.items()}
        for app, models in spec.items()
    }


def roles_ensure() -> None:
    if Group.objects.filter(name__in=ROLE_NAMES).count() == len(ROLE_NAMES):
        return
    migration = importlib.import_module("clients.migrations.0003_roles")
    original = migration.RECEPTION, migration.TECHNICIAN
    migration.RECEPTION, migration.TECHNICIAN = _current_names(original[0]), _current_names(original[1])
    try:
        migration.create_roles(global_apps, None)
    finally:
        migration.RECEPTION, migration.TECHNICIAN = original
    # Roles widened by later migrations: replayed by module name, as the roles migration names
    # the other apps' models, so clients imports no higher app.
    for name in LATER_GRANTS:
        importlib.import_module(name).grant(global_apps, None)


MANAGER_APPS = ("clients", "bookings", "treatments", "auth")


def manager_permissions_sync(**kwargs) -> None:
    """Give the Manager group every permission of the clinic's apps (run after each migrate)."""
    from django.contrib.auth.models import Permission

    manager = Group.objects.filter(name="Manager").first()
    if manager is None:
        return
    manager.permissions.add(*Permission.objects.filter(content_type__app_label__in=MANAGER_APPS))
