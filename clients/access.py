"""Who may do what with client records: one function per role check.

Roles are groups made by a migration (Manager, Reception, Technician) and the checks
read their permissions, so a manager can adjust a role in the admin without code.
Which clients a technician may open depends on their appointments, so that scoping
lives with the workspace (smpclinic/workspace/access.py), above bookings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    User = AbstractBaseUser | AnonymousUser

MANAGER = "Manager"
RECEPTION = "Reception"
TECHNICIAN = "Technician"

VIEW_CLINICAL = "clients.view_clinical"
EXPORT_CLIENT = "clients.export_client"
ERASE_CLIENT = "clients.erase_client"


def is_manager(user: User) -> bool:
    """Managers see every record, everywhere."""
    return user.is_authenticated and user.is_active and user.has_perm(VIEW_CLINICAL) and user.has_perm(ERASE_CLIENT)


def can_view_clinical(user: User) -> bool:
    """Technicians and managers; never reception."""
    return user.is_authenticated and user.is_active and user.has_perm(VIEW_CLINICAL)


def require_manager(user: User) -> None:
    if not is_manager(user):
        raise PermissionDenied("Only a manager may do this.")


def require_export(user: User) -> None:
    if not (user.is_authenticated and user.has_perm(EXPORT_CLIENT)):
        raise PermissionDenied("Only a manager may export a client's record.")


def require_erase(user: User) -> None:
    if not (user.is_authenticated and user.has_perm(ERASE_CLIENT)):
        raise PermissionDenied("Only a manager may erase a client.")
