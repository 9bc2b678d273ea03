#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smpclinic.settings")
    from django.core.management import execute_from_command_line

    from smpclinic.var import var_dirs_create

    var_dirs_create()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
