"""Who may see what: one function per role check, used by every staff view.

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

from .models import Client

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    User = AbstractBaseUser | AnonymousUser

MANAGER = "Manager"
RECEPTION = "Reception"
TECHNICIAN = "Technician"

VIEW_CLINICAL = "clients.view_clinical"
EXPORT_CLIENT = "clients.export_client"
ERASE_CLIENT = "clients.erase_client"


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


def is_manager(user: User) -> bool:
    """Managers see every record, everywhere."""
    return user.is_authenticated and user.is_active and user.has_perm(VIEW_CLINICAL) and user.has_perm(ERASE_CLIENT)


def can_view_clinical(user: User) -> bool:
    """Technicians and managers; never reception."""
    return user.is_authenticated and user.is_active and user.has_perm(VIEW_CLINICAL)


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


def require_manager(user: User) -> None:
    if not is_manager(user):
        raise PermissionDenied("Only a manager may do this.")


def require_export(user: User) -> None:
    if not (user.is_authenticated and user.has_perm(EXPORT_CLIENT)):
        raise PermissionDenied("Only a manager may export a client's record.")


def require_erase(user: User) -> None:
    if not (user.is_authenticated and user.has_perm(ERASE_CLIENT)):
        raise PermissionDenied("Only a manager may erase a client.")
