from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from smpclinic.workspace import access

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roles_as_migrated():
    # A transactional test earlier in this process flushes every table, the migration's roles
    # included; roles_ensure replays the migration's own definitions (clients/roles.py).
    from clients.roles import roles_ensure

    roles_ensure()


def test_migration_creates_the_three_roles_with_their_permissions():
    manager = set(Group.objects.get(name="Manager").permissions.values_list("codename", flat=True))
    reception = set(Group.objects.get(name="Reception").permissions.values_list("codename", flat=True))
    technician = set(Group.objects.get(name="Technician").permissions.values_list("codename", flat=True))
    assert {"view_clinical", "export_client", "erase_client", "view_auditevent", "delete_client"} <= manager
    assert {"view_client", "change_client", "add_appointment", "change_appointment"} <= reception
    assert not reception & {"view_clinical", "view_assessment", "view_sessionnote", "view_photo", "view_auditevent"}
    assert {"view_clinical", "add_sessionnote", "add_assessment", "add_photo"} <= technician
    assert not technician & {"export_client", "erase_client", "view_auditevent", "delete_client"}


def test_reception_has_no_clinical_access(clinic):
    assert not access.can_view_clinical(clinic["reception"])
    assert list(access.clients_visible_to(clinic["reception"])) == []


def test_technician_sees_only_clients_with_appointments_at_their_locations(clinic):
    assert list(access.clients_visible_to(clinic["technician"].user)) == [clinic["client"]]
    assert list(access.clients_visible_to(clinic["other"].user)) == []
    assert list(access.clients_visible_to(clinic["manager"])) == [clinic["client"]]


def test_the_manager_role_covers_every_model_of_the_clinic_apps():
    from django.apps import apps

    from clients.roles import MANAGER_APPS

    codenames = set(Group.objects.get(name="Manager").permissions.values_list("content_type__app_label", "codename"))
    for model in apps.get_models():
        if model._meta.app_label in MANAGER_APPS:
            for action in ("view", "add", "change", "delete"):
                assert (model._meta.app_label, f"{action}_{model._meta.model_name}") in codenames
