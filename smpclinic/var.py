"""The folders the embedded defaults write to, made by the entry points, never by settings.

Importing settings must have no side effects (a test run, a linter or `manage.py check` in a
fresh clone would otherwise leave a var/ behind), so manage.py, wsgi, asgi, the Celery worker
and beat, and the test suite call `var_dirs_create()` once they start.
"""

from __future__ import annotations

from pathlib import Path


def var_dirs_create() -> None:
    """Make VAR_DIR, the static root and the file-system broker's folders if they are missing."""
    from django.conf import settings

    folders = [Path(settings.VAR_DIR), Path(settings.STATIC_ROOT)]
    if settings.CELERY_BROKER_URL == "filesystem://":
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        # kombu makes none of these but control_folder, and that one without its parents.
        folders += [
            Path(options[key]) for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
        ]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
