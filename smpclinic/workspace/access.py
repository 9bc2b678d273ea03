"""Who may see which record in the staff workspace: one function per check, used by every view.

Roles are groups made by a migration (Manager, Reception, Technician) and the checks
read their permissions, so a manager can adjust a role in the admin without code.
A technician sees the clients who have appointments at the technician's locations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from bookings.models import Appointment, Technician
from clients.access import (  # noqa: F401 - re-exported: the workspace has one place for access checks
    ERASE_CLIENT,
    EXPORT_CLIENT,
    MANAGER,
    RECEPTION,
    TECHNICIAN,
    VIEW_CLINICAL,
    can_view_clinical,
    is_manager,
    require_erase,
    require_export,
    require_manager,
)
from clients.models import Client

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    User = AbstractBaseUser | AnonymousUser


def technician_for(user: User) -> Technician | None:
    """The user's Technician profile, cached on the user for the request."""
    if not user.is_authenticated:
        return None
    if not hasattr(user, "_smp_technician"):
        user._smp_technician = Technician.objects.filter(user=user, is_active=True).first()
    return user._smp_technician


def location_ids_for(user: User) -> set[int]:
    if not hasattr(user, "_smp_location_ids"):
        technician = technician_for(user)
        user._smp_location_ids = set(technician.locations.values_list("id", flat=True)) if technician else set()
    return user._smp_location_ids


def require_workspace(user: User) -> None:
    """The technician workspace: clinical role and, unless a manager, a technician profile."""
    if not can_view_clinical(user) or not (is_manager(user) or technician_for(user)):
        raise PermissionDenied("The staff workspace is for technicians and managers.")


def clients_visible_to(user: User) -> QuerySet[Client]:
    """Clients whose clinical record this user may open."""
    if not can_view_clinical(user):
        return Client.objects.none()
    if is_manager(user):
        return Client.objects.all()
    at_my_locations = Appointment.objects.filter(client=OuterRef("pk"), location_id__in=location_ids_for(user))
    return Client.objects.filter(Exists(at_my_locations))


def appointments_visible_to(user: User) -> QuerySet[Appointment]:
    if not can_view_clinical(user):
        return Appointment.objects.none()
    if is_manager(user):
        return Appointment.objects.all()
    return Appointment.objects.filter(location_id__in=location_ids_for(user))


def require_client(user: User, client_id: int) -> Client:
    """The client, if this user may open the record: 403 for the wrong role, 404 for someone else's client
    (so a technician elsewhere cannot even learn that the record exists)."""
    require_workspace(user)
    client = clients_visible_to(user).filter(pk=client_id).first()
    if client is None:
        raise Http404("No such client.")
    return client


def require_appointment(user: User, appointment_id: int) -> Appointment:
    require_workspace(user)
    appointment = (
        appointments_visible_to(user)
        .select_related("client", "technician", "location", "treatment", "course")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None:
        raise Http404("No such appointment.")
    return appointment
