"""Staff roles as groups: Manager, Reception and Technician, with their permissions."""

from django.db import migrations

CLINICAL = ["assessment", "sessionnote", "photo"]

RECEPTION = {
    # Contact details and bookings; never clinical notes, assessments or photos.
    "clients": {"client": ["view", "add", "change"], "consentwording": ["view"], "consentrecord": ["view"]},
    "bookings": {
        "appointment": ["view", "add", "change"],
        "course": ["view", "add", "change"],
        "location": ["view"],
        "technician": ["view"],
        "closure": ["view"],
        "openinghours": ["view"],
        "aftercarereminder": ["view"],
    },
    "treatments": {"treatment": ["view"], "priceguide": ["view"]},
}

TECHNICIAN = {
    "clients": {
        "client": ["view", "clinical"],
        "assessment": ["view", "add", "change"],
        "sessionnote": ["view", "add", "change"],
        "photo": ["view", "add", "change"],
        "consentwording": ["view"],
        "consentrecord": ["view", "add", "change"],
    },
    "bookings": {"appointment": ["view", "add", "change"], "course": ["view", "add", "change"], "location": ["view"]},
    "treatments": {"treatment": ["view"]},
}


def codename(action: str, model: str) -> str:
    return "view_clinical" if action == "clinical" else f"{action}_{model}"


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate finishes; the groups need them now.
    for app_config in apps.get_app_configs():
        previous, app_config.models_module = getattr(app_config, "models_module", None), True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = previous

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    manager, _ = Group.objects.get_or_create(name="Manager")
    manager.permissions.set(
        Permission.objects.filter(content_type__app_label__in=["clients", "bookings", "treatments", "auth"])
    )
    for name, spec in [("Reception", RECEPTION), ("Technician", TECHNICIAN)]:
        group, _ = Group.objects.get_or_create(name=name)
        perms = []
        for app_label, models in spec.items():
            for model, actions in models.items():
                for action in actions:
                    perms.append(
                        Permission.objects.get(
                            content_type__app_label=app_label,
                            content_type__model=model,
                            codename=codename(action, model),
                        )
                    )
        group.permissions.set(perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Manager", "Reception", "Technician"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0002_audit_and_permissions"),
        ("bookings", "0002_initial"),
        ("treatments", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
