"""10,000 due outbox messages sent by one and then by two real Celery workers.

Needs DATABASE_URL (PostgreSQL) and REDIS_URL. Works in its own database
(<name>_bench_reminders, dropped and re-created) and its own Celery queue; each e-mail is
written to its own file named after its outbox row (bookings.tests.mailers), so counting files
per row counts deliveries. Prints messages per second and the duplicate count per run, and the
workers' CPU time (user + system, from /proc) per message sent: on a shared machine the rate
follows the load average, the CPU per message much less.

    .venv/bin/python bench/reminders.py [--messages 10000] [--workers 1 2] [--debug]

The workers run with DEBUG off, as in production; --debug turns it on (how the figures
before the batched outbox were taken).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import benchdb  # bench/ is on sys.path when a script here runs

ROOT = Path(__file__).resolve().parent.parent
LONDON = ZoneInfo("Europe/London")
DUE = datetime(2026, 11, 6, 9, 0, tzinfo=LONDON)


def bench_database_url() -> str:
    return benchdb.bench_database_url(suffix="bench_reminders", script="reminders.py", needs_redis=True)


recreate_database = benchdb.recreate_database


def seed(messages: int) -> None:
    """Completed treatment sessions owe three messages each (aftercare day 4, 7 and 10)."""
    from django.contrib.auth import get_user_model

    from bookings.models import Appointment, ClientMessage, Location, Technician
    from clients.models import Client

    location = Location.objects.create(
        name="Bench", slug="bench", address_line1="1 High St", city="Leeds", postcode="M1 1AA", phone="0161 496 0000"
    )
    user = get_user_model().objects.create(username="bench-technician")
    technician = Technician.objects.create(user=user, display_name="Bench")
    clients = Client.objects.bulk_create(
        Client(first_name=f"Client{n}", last_name="Bench", email=f"bench{n}@example.com") for n in range(100)
    )
    per = 3
    count = -(-messages // per)
    start = datetime(2026, 1, 1, 9, tzinfo=LONDON)
    appointments = Appointment.objects.bulk_create(
        Appointment(
            reference=f"SMP-B{n:05d}",
            kind=Appointment.Kind.TREATMENT_SESSION,
            client=clients[n % len(clients)],
            technician=technician,
            location=location,
            start=start + timedelta(hours=2 * n),
            end=start + timedelta(hours=2 * n, minutes=90),
            status=Appointment.Status.COMPLETED,
            completed_at=start,
        )
        for n in range(count)
    )
    kinds = [
        ClientMessage.Kind.AFTERCARE_DAY_4,
        ClientMessage.Kind.AFTERCARE_DAY_7,
        ClientMessage.Kind.AFTERCARE_DAY_10,
    ]
    rows = [ClientMessage(appointment=a, kind=m, due_at=DUE) for a in appointments for m in kinds]
    ClientMessage.objects.bulk_create(rows[:messages])


def reset_outbox() -> None:
    from bookings.models import ClientMessage

    ClientMessage.objects.update(
        status="pending", sent_at=None, attempts=0, claim_token="", claimed_at=None, next_attempt_at=None, last_error=""
    )


def start_worker(n: int, *, url: str, queue: str, mail_dir: Path, log_dir: Path, debug: bool) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "MAILER_BACKEND": "bookings.tests.mailers.RecordingEmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "REMINDERS_DISPATCH_BUDGET_SECONDS": "3600",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    if not debug:
        # As in production: DEBUG off (no query log kept per query). EMAIL_URL only satisfies the
        # settings' production check; MAILER_BACKEND above replaces the mailer it would build.
        env.update(
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY="bench-only-" + "k" * 50,
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            EMAIL_URL="smtp://127.0.0.1:9",
        )
    log = log_dir / f"worker{n}.log"
    command = [sys.executable, "-m", "celery", "-A", "smpclinic", "worker", "--pool=solo", "--loglevel=INFO",
               "-Q", queue, "-n", f"bench{n}-{os.getpid()}@%h", "--without-mingle", "--without-gossip"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while " ready." not in log.read_text(errors="replace"):
        if time.monotonic() > deadline or process.poll() is not None:
            sys.exit(f"worker {n} did not start; see {log}")
        time.sleep(0.2)
    return process


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(workers: int, *, url: str, messages: int, debug: bool) -> tuple[float, int, int, float]:
    from bookings.models import ClientMessage
    from bookings.tasks import reminders_dispatch
    from bookings.tests.mailers import delivered

    reset_outbox()
    scratch = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
    mail_dir, queue = scratch / "mail", f"bench-reminders-{os.getpid()}-{workers}"
    mail_dir.mkdir()
    processes = [
        start_worker(n, url=url, queue=queue, mail_dir=mail_dir, log_dir=scratch, debug=debug) for n in range(workers)
    ]
    try:
        # Counted from here: the workers' start-up (Django, Celery) is not the sending.
        cpu_before = sum(cpu_seconds(p.pid) for p in processes)
        started = time.perf_counter()
        for _ in range(workers):
            reminders_dispatch.apply_async(kwargs={"now": DUE.isoformat()}, queue=queue)
        # Each check scans the outbox (the workers' updates leave its index full of dead entries),
        # about 10 ms of the database's time: four a second rather than twenty, so the watching
        # takes little of the two cores the workers need. It can only add up to 0.25 s to a run.
        while ClientMessage.objects.exclude(status__in=["sent", "failed", "cancelled"]).exists():
            time.sleep(0.25)
        elapsed = time.perf_counter() - started
        cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu_before
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
    counts = delivered(mail_dir)
    sent_rows = ClientMessage.objects.filter(status="sent").count()
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    if sum(counts.values()) != sent_rows:
        print(f"  note: {sum(counts.values())} e-mails written for {sent_rows} rows marked sent")
    shutil.rmtree(scratch)
    return elapsed, sent_rows, duplicates, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--debug",
        action="store_true",
        help="workers with DJANGO_DEBUG on, as the first figures (98 and 142 messages/s) were taken",
    )
    args = parser.parse_args()

    url = bench_database_url()
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smpclinic.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    seed(args.messages)
    print(
        f"outbox bench: {args.messages} due messages, PostgreSQL + Redis, batch {settings.REMINDERS_BATCH_SIZE}, "
        f"workers with DEBUG {'on' if args.debug else 'off'}, load average {os.getloadavg()[0]:.1f}"
    )
    for workers in args.workers:
        elapsed, sent, duplicates, cpu = run(workers, url=url, messages=args.messages, debug=args.debug)
        print(
            f"  {workers} worker(s): {sent} sent in {elapsed:.1f} s = {sent / elapsed:.0f} messages/s, "
            f"{duplicates} duplicates, {args.messages - sent} not sent (load average {os.getloadavg()[0]:.1f}); "
            f"workers' CPU {1000 * cpu / max(sent, 1):.2f} ms per message"
        )


if __name__ == "__main__":
    main()
