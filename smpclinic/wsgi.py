import os

from django.core.wsgi import get_wsgi_application

from smpclinic.var import var_dirs_create

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smpclinic.settings")

# The embedded defaults write under var/; settings no longer make it on import.
var_dirs_create()

application = get_wsgi_application()
