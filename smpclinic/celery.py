"""The Celery application. Periodic tasks are declared here and nowhere else."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smpclinic.settings")

app = Celery("smpclinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The schedule of every message lives in the database; beat only wakes the
# dispatcher, so a lost or doubled tick costs nothing.
app.conf.beat_schedule = {
    "outbox-dispatch": {
        "task": "bookings.reminders_dispatch",
        "schedule": 60.0,
        # A tick that waited longer than its minute is useless: the next one does the same work.
        "options": {"expires": 55},
    },
}
