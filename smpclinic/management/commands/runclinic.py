"""Run the whole clinic on one machine: the web server and a Celery worker with beat.

Ctrl-C (SIGINT) or SIGTERM stops every process it started; if one of them dies,
the others are stopped too, so nothing is left running behind the terminal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


def child_env(addr: str) -> dict[str, str]:
    """The children's environment: links in messages point at the address the clinic runs on,
    unless SITE_URL says otherwise (the worker renders them with no request to read it from)."""
    env = os.environ.copy()
    # Empty is unset: a .env copied from .env.example (read into this process's environment by
    # the settings) must not pin the links to another port.
    if not env.get("SITE_URL", "").strip():
        env["SITE_URL"] = f"http://{addr}"
    return env


class Command(BaseCommand):
    help = "Start the web server and a Celery worker with embedded beat; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port for the web server")

    def handle(self, *args, addr: str, **options):
        python = sys.executable
        celery = [
            python,
            "-m",
            "celery",
            "-A",
            "smpclinic",
            "worker",
            "--beat",
            "--loglevel=INFO",
            "--concurrency=1",
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ]
        web = [python, "manage.py", "runserver", "--noreload", addr]
        self.stdout.write(self.style.SUCCESS(f"SMP Clinic: http://{addr}/  (admin: http://{addr}/admin/)"))
        self.stdout.write(
            f"Demo staff login: {settings.DEMO_STAFF_USERNAME} / {settings.DEMO_STAFF_PASSWORD}   (Ctrl-C stops all)"
        )
        self.stdout.write(
            f"Demo manager's two-factor code: add the key {settings.DEMO_STAFF_TOTP_SECRET} (time-based) to an "
            "authenticator app, or run `.venv/bin/python manage.py demo_totp_code`"
        )
        self.stdout.write(
            f"Technician workspace: http://{addr}/staff/  (amara, ben, chloe, dev, erin or farid / "
            f"{settings.DEMO_STAFF_PASSWORD}); reception: reception / {settings.DEMO_STAFF_PASSWORD}"
        )
        self.stdout.flush()
        children = [subprocess.Popen(cmd, cwd=settings.BASE_DIR, env=child_env(addr)) for cmd in (web, celery)]
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.2)
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            deadline = time.monotonic() + 15
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        self.stdout.write("SMP Clinic stopped.")
