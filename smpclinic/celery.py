"""The Celery application. Periodic tasks are declared here and nowhere else."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smpclinic.settings")

app = Celery("smpclinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _var_dirs(**kwargs) -> None:
    # The file-system broker needs its folders before the first message (see smpclinic.var).
    from .var import var_dirs_create

    var_dirs_create()


# The schedule of every message lives in the database; beat only wakes the
# dispatcher, so a lost or doubled tick costs nothing.
app.conf.beat_schedule = {
    "outbox-dispatch": {
        "task": "bookings.reminders_dispatch",
        "schedule": 60.0,
        # A tick that waited longer than its minute is useless: the next one does the same work.
        "options": {"expires": 55},
    },
    # Deposits: holds whose time to pay ran out free their time; refunds the provider could not
    # take are asked again (same idempotency key). Both read their state from the database.
    "payment-holds-release": {"task": "bookings.payment_holds_release", "schedule": 60.0, "options": {"expires": 55}},
    "refunds-retry": {"task": "bookings.refunds_retry", "schedule": 60.0, "options": {"expires": 55}},
    # The managers' dashboard's default view, computed before its snapshot (DASHBOARD_CACHE_SECONDS,
    # 10 minutes by default) runs out, so the page opens without counting a quarter's appointments.
    "dashboard-snapshots": {
        "task": "bookings.dashboard_snapshots_refresh",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Offers whose time passed and entries whose last day passed stop being offered.
    "waitlist-expire": {
        "task": "bookings.waitlist_expire",
        "schedule": 900.0,
        "options": {"expires": 840},
    },
}
