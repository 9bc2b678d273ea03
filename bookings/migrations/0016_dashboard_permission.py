"""The managers' dashboard: a permission of its own, given to the Manager role only (the figures
include revenue; reception and technicians run the day, not the books)."""

from django.db import migrations

GRANTS = {"Manager": ["view_dashboard"]}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate finishes; the group needs this one now.
    app_config = apps.get_app_config("bookings")
    previous, app_config.models_module = getattr(app_config, "models_module", None), True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = previous

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label="bookings", content_type__model="appointment", codename__in=codenames
                )
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="bookings", codename__in=GRANTS[group.name])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0015_export_appointments_permission"),
        ("clients", "0003_roles"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="appointment",
            options={
                "ordering": ["start"],
                "permissions": [
                    ("undo_appointment_status", "Can undo a no-show, a cancellation or a completion"),
                    ("export_appointments", "Can export appointments and their clients for a period (CSV)"),
                    ("view_dashboard", "Can view the clinic dashboard (bookings, conversion, revenue, messages)"),
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
