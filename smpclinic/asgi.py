import os

from django.core.asgi import get_asgi_application

from smpclinic.var import var_dirs_create

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smpclinic.settings")

# The embedded defaults write under var/; settings no longer make it on import.
var_dirs_create()

application = get_asgi_application()
