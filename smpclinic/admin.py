# The admin's autodiscovery imports this module for the smpclinic app.
from .accounts import admin as accounts_admin  # noqa: F401
