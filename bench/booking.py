"""The booking POST against a bare Django view, in one run, on one gunicorn with DEBUG off.

Needs DATABASE_URL (PostgreSQL); REDIS_URL is used when set (the rate limits' cache), as in
production. Works in its own database (<name>_bench_booking, dropped and re-created), seeded with
bench/availability.py's clinic (10 technicians at 3 clinics, a year of appointments). Prints:
- the SQL queries of one booking POST (in-process, Django's test client);
- requests per second, p50/p95/p99 latency and errors for POST /book/ (each a different free
  time and a new client) and for GET of a bare view that returns "ok" through the same settings
  and middleware, both against the same gunicorn (2 workers x 4 threads) from the same client
  threads, and the ratio of the two.

    .venv/bin/python bench/booking.py [--bookings 400] [--bare 3000] [--clients 8]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timedelta
from pathlib import Path

import availability  # bench/ is on sys.path when a script here runs: its seed and helpers
import benchdb

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261125
WORKERS, THREADS = 2, 4


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def wait_for(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer on port {port}")


def _server_env(url: str, mail_dir: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)]),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-" + "k" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: no HTTPS redirect, cookies without the Secure flag.
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_HSTS_SECONDS": "0",
        # Static files are served from the source folders: no collectstatic run for a bench.
        "DJANGO_STATIC_MANIFEST": "0",
        # A mail server that is not there: the request must not wait for one.
        "EMAIL_URL": "smtp://127.0.0.1:9",
        "EMAIL_FILE_PATH": mail_dir,
        "BOOKING_RATE_LIMIT_PER_IP": "100000000",
        "BOOKING_RATE_LIMIT_PER_EMAIL": "100000000",
        "DJANGO_LOG_LEVEL": "ERROR",
    }


@contextlib.contextmanager
def gunicorn_serving(*, url: str, port: int, mail_dir: str, log_path: Path, workers: int = WORKERS,
                     threads: int = THREADS):  # fmt: skip
    """gunicorn (DEBUG off, the bench settings with the bare view) on 127.0.0.1:port for the
    block; answers /healthz before the block starts. bench/load.py serves its load the same way."""
    env = _server_env(url, mail_dir)
    command = [
        str(Path(sys.executable).parent / "gunicorn"), "smpclinic.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
        "--log-level", "warning",
    ]  # fmt: skip
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(port)
            yield server
        finally:
            server.terminate()
            server.wait(timeout=30)


class Client:
    """One keep-alive connection with the booking page's CSRF cookie and token."""

    def __init__(self, port: int, location: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.connection.request("GET", f"/book/?location={location}")
        response = self.connection.getresponse()
        html = response.read().decode()
        if response.status != 200:
            raise SystemExit(f"GET /book/ answered {response.status}")
        cookie = response.getheader("Set-Cookie", "")
        self.cookie = "; ".join(part.split(";")[0] for part in cookie.split(", ") if "=" in part.split(";")[0])
        self.token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    def get(self, path: str) -> int:
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        response.read()
        return response.status

    def post(self, path: str, fields: dict) -> int:
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.token, **fields})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie}
        self.connection.request("POST", path, body=body, headers=headers)
        response = self.connection.getresponse()
        response.read()
        return response.status


def run(*, port: int, location: str, jobs: list, clients: int, send) -> tuple[float, list[float], dict[int, int]]:
    """Run every job through `clients` threads, each with its own connection; return wall time,
    latencies (ms) and the status codes."""
    queue, lock = list(jobs), threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connections = [Client(port, location) for _ in range(clients)]

    def worker(client: Client) -> None:
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            began = time.perf_counter()
            try:
                status = send(client, job)
            except (OSError, http.client.HTTPException):
                status = 599
                client.connection.close()
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker, args=(c,)) for c in connections]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - began, latencies, statuses


def report(label: str, wall: float, latencies: list[float], statuses: dict[int, int], ok: int) -> float:
    rate = len(latencies) / wall
    # 409 is an answer, not an error: two clients aimed at overlapping times and one lost the race.
    errors = sum(n for code, n in statuses.items() if code >= 500)
    print(
        f"{label:<28} {rate:8.1f} requests/s   p50 {statistics.median(latencies):6.1f} ms   "
        f"p95 {_percentile(latencies, 95):6.1f} ms   p99 {_percentile(latencies, 99):6.1f} ms   "
        f"server errors {errors} of {len(latencies)}   answers {dict(sorted(statuses.items()))}"
    )
    return rate


def booking_queries(location: str, starts: list[str]) -> tuple[int, int]:
    """The SQL queries of the process's first booking POST (it reads the clinic's rarely-changing
    rows, bookings.booking_refdata) and of the next one at the same clinic, in-process."""
    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext

    client = TestClient()
    counts = []
    for n, start in enumerate(starts):
        fields = {
            "location": location,
            "start": start,
            "first_name": "Query",
            "last_name": "Count",
            "email": f"query.count{n}@example.com",
            "phone": f"07700 9{n % 100000:05d}",  # a new client each: their own number
            "health_consent": "on",
            "date_of_birth": "1985-03-14",
        }
        with CaptureQueriesContext(connection) as captured:
            response = client.post("/book/", fields)
        if response.status_code == 302:
            counts.append(len(captured.captured_queries))
        elif not counts:
            raise SystemExit(f"the in-process booking answered {response.status_code}, not a redirect")
        if len(counts) == 2:
            return counts[0], counts[1]
    raise SystemExit("no second free time for the in-process booking")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=400, help="POSTs to /book/, each a different free time")
    parser.add_argument("--bare", type=int, default=3000, help="GETs of the bare view")
    parser.add_argument("--clients", type=int, default=8, help="client threads, one keep-alive connection each")
    args = parser.parse_args()

    url = benchdb.bench_database_url(suffix="bench_booking", script="booking.py")
    benchdb.recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smpclinic.settings")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    os.environ["BOOKING_RATE_LIMIT_PER_IP"] = os.environ["BOOKING_RATE_LIMIT_PER_EMAIL"] = "100000000"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.utils import timezone

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    today = timezone.localdate()
    seeded = availability.seed(today)
    locations = seeded["locations"]
    from django.db import connection

    with connection.cursor() as cursor:
        # Planner statistics for the freshly seeded tables, as a live database has them.
        cursor.execute("VACUUM ANALYZE")
    print(f"seeded {seeded['appointments']} appointments at {len(locations)} clinics")

    port = availability.free_port()
    mail_dir = tempfile.mkdtemp(prefix="smp-bench-booking-")
    log_path = Path(mail_dir) / "gunicorn.log"
    from bookings.models import BookingPolicy

    notice = max(BookingPolicy.objects.values_list("change_notice_hours", flat=True), default=24)
    not_before = timezone.now() + timedelta(hours=notice + 1)
    with gunicorn_serving(url=url, port=port, mail_dir=mail_dir, log_path=log_path):
        targets = []
        for slug in locations:
            probe = Client(port, slug)
            query = urllib.parse.urlencode({"location": slug, "start": today.isoformat(), "days": 60})
            probe.connection.request("GET", f"/api/availability/?{query}")
            for day in json.loads(probe.connection.getresponse().read())["days"]:
                for t in day["times"]:
                    # A time inside the change notice is booked through a confirmation step.
                    if datetime.fromisoformat(t["start"]) >= not_before:
                        targets.extend([(slug, t["start"])] * len(t["technicians"]))
        random.Random(SEED).shuffle(targets)
        slug = targets[-1][0]
        probes = [start for place, start in reversed(targets) if place == slug][:10]
        targets = [target for target in targets if target[0] != slug or target[1] not in probes]
        first, then = booking_queries(slug, probes)
        targets = targets[: args.bookings]
        print(f"one booking POST makes {then} SQL queries ({first} for the process's first, which reads the clinic)")
        print(f"gunicorn {WORKERS} workers x {THREADS} threads, DEBUG off, {args.clients} client threads")

        # Warm both paths (imports, template compilation, connections) before timing.
        run(port=port, location=locations[0], jobs=range(200), clients=args.clients,
            send=lambda c, _: c.get("/bench/bare/"))  # fmt: skip
        wall, lat, codes = run(
            port=port,
            location=locations[0],
            jobs=range(args.bare),
            clients=args.clients,
            send=lambda c, _: c.get("/bench/bare/"),
        )
        bare = report("GET bare view", wall, lat, codes, ok=200)

        def book(client: Client, job) -> int:
            n, (slug, start) = job
            fields = {
                "location": slug,
                "start": start,
                "first_name": "Load",
                "last_name": str(n),
                "email": f"load{n}@example.com",
                "phone": f"07700 9{n % 100000:05d}",  # a new client each: their own number
                "health_consent": "on",
                "date_of_birth": "1985-03-14",
            }
            return client.post("/book/", fields)

        wall, lat, codes = run(
            port=port, location=locations[0], jobs=list(enumerate(targets)), clients=args.clients, send=book
        )
        booked = report("POST /book/", wall, lat, codes, ok=302)
        print(f"booking POST at {booked / bare:.2f} of the bare view's requests per second (goal: 0.25 or more)")
        if any(code >= 500 for code in codes):
            raise SystemExit(f"server errors during the booking run: see {log_path}")
    print(f"overlapping active appointments after the run: {availability.check_no_overlaps()}")


if __name__ == "__main__":
    main()
