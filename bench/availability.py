"""Availability and booking under load: 10 technicians at 3 clinics with a year of bookings.

Needs DATABASE_URL (PostgreSQL). Works in its own database (<name>_bench_availability, dropped
and re-created, never the one DATABASE_URL names) and prints:
- the availability endpoint in-process (Django's test client) for 14- and 60-day windows:
  p50 / p95 latency and the SQL queries per request (which must not grow with the window);
- booking throughput through gunicorn on 127.0.0.1: a bounded number of POSTs to /book/ from
  a few client threads, with bookings per second, latency and the answers' status codes.

    .venv/bin/python bench/availability.py [--requests 200] [--bookings 300] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import benchdb  # bench/ is on sys.path when a script here runs

ROOT = Path(__file__).resolve().parent.parent
LONDON = ZoneInfo("Europe/London")
SEED = 20261121


def bench_database_url() -> str:
    return benchdb.bench_database_url(suffix="bench_availability", script="availability.py")


recreate_database = benchdb.recreate_database


def seed(today: date) -> dict:
    """3 clinics, 10 technicians, a year of appointments (half behind today, half ahead)."""
    import holidays
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from bookings.models import Appointment, BookingPolicy, Break, Closure, Location, Technician, WorkingHours
    from clients.models import Client, ConsentWording
    from treatments.models import Treatment

    rng = random.Random(SEED)
    BookingPolicy.objects.create(location=None)
    ConsentWording.objects.create(
        kind=ConsentWording.Kind.HEALTH_DATA, version=1, text="I consent.", effective_from=timezone.now()
    )
    treatment = Treatment.objects.create(
        name="Hairline design", slug="hairline", category="hairline", summary="-", who_for="-"
    )
    locations = [
        Location.objects.create(
            name=name, slug=name.lower(), address_line1="1 High Street", city=name, postcode="M1 1AA", phone="0161"
        )
        for name in ("Manchester", "Preston", "Nottingham")
    ]
    User = get_user_model()
    technicians = []
    for n in range(10):
        user = User.objects.create(username=f"bench-tech-{n}")
        tech = Technician.objects.create(user=user, display_name=f"Technician {n}")
        home = locations[n % 3]
        tech.locations.set([home])
        tech.treatments.set([treatment])
        for weekday in range(6):
            WorkingHours.objects.create(
                technician=tech, location=home, weekday=weekday, start_time=dtime(9), end_time=dtime(18)
            )
            Break.objects.create(technician=tech, weekday=weekday, start_time=dtime(13), end_time=dtime(13, 45))
        technicians.append((tech, home))
    closed = set()
    for year in (today.year - 1, today.year, today.year + 1):
        for day, name in holidays.country_holidays("GB", subdiv="ENG", years=year).items():
            Closure.objects.create(location=None, start_date=day, end_date=day, reason=name)
            closed.add(day)

    clients = Client.objects.bulk_create(
        [Client(first_name="Bench", last_name=str(n), email=f"bench{n}@example.com") for n in range(2000)]
    )
    rows = []
    # Non-overlapping (start, minutes) a technician's day can hold, a long session at 14:00.
    options = [(dtime(9), 45), (dtime(9, 45), 45), (dtime(10, 45), 60), (dtime(12), 45), (dtime(14), 120)]
    options += [(dtime(16, 15), 45), (dtime(17, 15), 45)]
    # A year: about eight months behind today (a full diary) and four ahead (filling up).
    first = today - timedelta(days=245)
    for offset in range(365):
        day = first + timedelta(days=offset)
        if day.weekday() == 6 or day in closed:
            continue
        for tech, home in technicians:
            wanted = len(options) if day < today else rng.choice([3, 4, 5, 6])
            for at, minutes in rng.sample(options, wanted):
                start = datetime.combine(day, at, tzinfo=LONDON)
                rows.append(
                    Appointment(
                        kind="consultation" if minutes < 120 else "session",
                        client=rng.choice(clients),
                        technician=tech,
                        location=home,
                        treatment=None if minutes < 120 else treatment,
                        start=start,
                        end=start + timedelta(minutes=minutes),
                        status="booked",
                        channel="staff",
                    )
                )
    # Unique references: the default is random, so make sure a bulk insert cannot collide.
    seen = set()
    for row in rows:
        while row.reference in seen:
            row.reference = Appointment._meta.get_field("reference").default()
        seen.add(row.reference)
    Appointment.objects.bulk_create(rows, batch_size=2000)
    return {"appointments": len(rows), "locations": [loc.slug for loc in locations]}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure_availability(*, requests: int, locations: list[str], today: date) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    rng = random.Random(SEED)
    for days in (14, 60):
        timings, queries = [], []
        for n in range(requests + 10):
            start = today + timedelta(days=rng.randrange(0, 120))
            params = {"location": rng.choice(locations), "start": start.isoformat(), "days": days}
            with CaptureQueriesContext(connection) as ctx:
                began = time.perf_counter()
                response = client.get("/api/availability/", params)
                elapsed = time.perf_counter() - began
            assert response.status_code == 200, response.content
            if n >= 10:  # the first few warm caches and connections
                timings.append(elapsed * 1000)
                queries.append(len(ctx.captured_queries))
        print(
            f"availability {days:>2}-day window, in-process, {requests} requests: "
            f"p50 {statistics.median(timings):.1f} ms, p95 {percentile(timings, 95):.1f} ms, "
            f"max {max(timings):.1f} ms; SQL queries per request min {min(queries)} max {max(queries)}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer at {url}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def measure_booking(*, url: str, bookings: int, clients: int, locations: list[str], today: date) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    mail_dir = tempfile.mkdtemp(prefix="smp-bench-mail-")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EMAIL_FILE_PATH": mail_dir,
        "BOOKING_RATE_LIMIT_PER_IP": "1000000",
        "BOOKING_RATE_LIMIT_PER_EMAIL": "1000000",
        "DJANGO_LOG_LEVEL": "ERROR",
    }
    workers = str(max(2, os.cpu_count() or 2))
    log_path = Path(mail_dir) / "gunicorn.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "smpclinic.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            workers,
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"{base}/healthz")
        # The free times to aim at: 60 days of each clinic, from the API itself.
        targets = []
        for slug in locations:
            query = urllib.parse.urlencode({"location": slug, "start": today.isoformat(), "days": 60})
            with urllib.request.urlopen(f"{base}/api/availability/?{query}", timeout=30) as response:
                for day in json.load(response)["days"]:
                    for t in day["times"]:
                        targets.extend([(slug, t["start"])] * len(t["technicians"]))
        rng = random.Random(SEED)
        rng.shuffle(targets)
        targets = targets[:bookings]
        statuses: dict[int, int] = {}
        latencies: list[float] = []
        lock = threading.Lock()
        queue = list(enumerate(targets))

        def worker() -> None:
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
            html = opener.open(f"{base}/book/?location={locations[0]}", timeout=30).read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
            while True:
                with lock:
                    if not queue:
                        return
                    n, (slug, start) = queue.pop()
                data = urllib.parse.urlencode(
                    {
                        "csrfmiddlewaretoken": token,
                        "location": slug,
                        "start": start,
                        "first_name": "Load",
                        "last_name": str(n),
                        "email": f"load{n}@example.com",
                        "phone": f"07700 9{n % 100000:05d}",  # a new client each: their own number
                        "health_consent": "on",
                        "date_of_birth": "1985-03-14",
                    }
                ).encode()
                request = urllib.request.Request(f"{base}/book/", data=data, headers={"Referer": f"{base}/book/"})
                began = time.perf_counter()
                try:
                    with opener.open(request, timeout=60) as response:
                        status = response.status
                except urllib.error.HTTPError as exc:
                    status = exc.code
                elapsed = time.perf_counter() - began
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    latencies.append(elapsed * 1000)

        threads = [threading.Thread(target=worker) for _ in range(clients)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
        print(
            f"booking under gunicorn ({workers} workers x 4 threads, {clients} client threads, "
            f"{len(latencies)} POST /book/): {len(latencies) / wall:.1f} requests/s, "
            f"{statuses.get(302, 0) / wall:.1f} bookings/s; latency p50 {statistics.median(latencies):.0f} ms, "
            f"p95 {percentile(latencies, 95):.0f} ms; answers {dict(sorted(statuses.items()))}"
        )
        if any(code >= 500 for code in statuses):
            raise SystemExit(f"server errors during the booking run: see {log_path}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def check_no_overlaps() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM bookings_appointment a JOIN bookings_appointment b
              ON a.technician_id = b.technician_id AND a.id < b.id
             AND tstzrange(a.start, a."end") && tstzrange(b.start, b."end")
             WHERE a.status IN ('booked', 'confirmed', 'completed')
               AND b.status IN ('booked', 'confirmed', 'completed')
            """
        )
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="availability requests per window size")
    parser.add_argument("--bookings", type=int, default=300, help="POSTs to /book/ under gunicorn")
    parser.add_argument("--clients", type=int, default=8, help="client threads posting bookings")
    args = parser.parse_args()

    url = bench_database_url()
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smpclinic.settings")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.utils import timezone

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    today = timezone.localdate()
    began = time.perf_counter()
    seeded = seed(today)
    print(
        f"seeded 10 technicians at 3 clinics with {seeded['appointments']} appointments over a year "
        f"in {time.perf_counter() - began:.1f} s (database {urlsplit(url).path.lstrip('/')})"
    )
    measure_availability(requests=args.requests, locations=seeded["locations"], today=today)
    measure_booking(url=url, bookings=args.bookings, clients=args.clients, locations=seeded["locations"], today=today)
    print(f"overlapping active appointments after the run: {check_no_overlaps()}")


if __name__ == "__main__":
    main()
