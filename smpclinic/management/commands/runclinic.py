"""Run the whole clinic on one machine: the web server and a Celery worker with beat.

Ctrl-C (SIGINT) or SIGTERM stops every process it started; if one of them dies,
the others are stopped too, so nothing is left running behind the terminal.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

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


def stub_address(env: dict[str, str]) -> tuple[str, int] | None:
    """Where the local Stripe stub listens, when the clinic has no Stripe key: STRIPE_API_BASE
    if set, else a free port (so a second clinic on this machine, or a test, never collides),
    written into ``env`` so the web server and the worker call the same stub."""
    if not settings.PAYMENTS_STUB:
        return None
    if env.get("STRIPE_API_BASE", "").strip():
        parts = urlsplit(env["STRIPE_API_BASE"])
        return parts.hostname or "127.0.0.1", parts.port or 80
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env["STRIPE_API_BASE"] = f"http://127.0.0.1:{port}"
    return "127.0.0.1", port


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
        env = child_env(addr)
        commands = [web, celery]
        stub = stub_address(env)
        if stub is not None:
            # No Stripe key: deposits are "paid" on the local stub's checkout page, which sends
            # the signed webhook back to this clinic (bookings/payments/stub.py).
            commands.append(
                [
                    python,
                    "-m",
                    "bookings.payments.stub",
                    "--host",
                    stub[0],
                    "--port",
                    str(stub[1]),
                    "--webhook-url",
                    f"{env['SITE_URL'].rstrip('/')}/payments/webhook/stripe/",
                    "--webhook-secret",
                    settings.STRIPE_WEBHOOK_SECRET,
                ]
            )
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
        if stub is not None:
            self.stdout.write(f"Payments: the local Stripe stub on http://{stub[0]}:{stub[1]}/ (no money moves)")
            self.stdout.flush()
        children = [subprocess.Popen(cmd, cwd=settings.BASE_DIR, env=env) for cmd in commands]
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
