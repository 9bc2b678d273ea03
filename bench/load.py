"""Load test with locust: the public pages, availability and the booking flow against two
gunicorn worker processes on PostgreSQL, each group compared with a bare Django view.

Needs DATABASE_URL (PostgreSQL; REDIS_URL is used when set, as in production) and locust, which
is not a project requirement: `make bench-load` puts it in .venv-bench (bench/requirements.txt)
and runs this script. By hand:

    python3 -m venv .venv-bench && .venv-bench/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/load.py [--users 8] [--seconds 20] [--locust .venv-bench/bin/locust]

It works in its own database (<name>_bench_load, dropped and re-created), seeds the demo clinic
(smpclinic/demo.py), starts gunicorn on 127.0.0.1 (2 workers x 4 threads, DEBUG off, the bench
settings: bench/booking.py's server with /bench/bare/ added), then runs locust headless against
that address only, one bounded run per endpoint group with the same number of users, each user
sending its next request as soon as the last one is answered:

    bare view     GET /bench/bare/ ("ok" through the same middleware): the ceiling; measured
                  first and again last, the higher of the two is the ceiling
    public pages  GET of every public page in turn (bench/public_pages.py's list)
    availability  GET /api/availability/ for 14 days, each clinic in turn
    booking form  GET /book/?location=... (the form and two weeks of free times)
    booking POST  POST /book/, each a different free time and a new client's e-mail

and prints, per group, requests per second, p50/p95/p99 (locust's, ms), errors (5xx, failed
connections, any unexpected status; a 409 for a time another user just took is counted apart)
and the ratio to the ceiling with its goal. The booking form and POST goals are the issue's:
public pages and booking form at least 0.5 of the ceiling, the booking POST at least 0.25.
The rate limits are raised for the run (every request comes from 127.0.0.1), as in
bench/booking.py; they are still counted in the cache on every POST. Locust shares the
machine with the server, so on a small machine it takes part of the CPU the server would have.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import availability  # bench/ is on sys.path when a script here runs
import benchdb
from booking import THREADS, WORKERS, gunicorn_serving
from public_pages import PAGES

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
SLOT_TAKEN = "409 slot taken"  # locustfile.SLOT_TAKEN (that file runs in locust's virtualenv)
# (locust user class, the request name it reports, the goal as a share of the ceiling)
GROUPS = [
    ("Public", "public pages", 0.5),
    ("Availability", "availability", None),
    ("BookingForm", "booking form", 0.5),
    ("BookingPost", "booking POST", 0.25),
]
WARM_UP_BOOKINGS = 100
SEED = 20261126


def locust_command(explicit: str | None) -> str:
    for candidate in (explicit, str(ROOT / ".venv-bench" / "bin" / "locust"), shutil.which("locust")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit(
        "bench/load.py needs locust: run `make bench-load` (it installs bench/requirements.txt into "
        ".venv-bench), or `pip install -r bench/requirements.txt` into a virtualenv and pass --locust PATH"
    )


def booking_targets(port: int, locations: list[str], today: str, *, not_before: datetime) -> list[tuple[str, str]]:
    """Free (clinic, start) pairs spread so that bookings rarely collide: per clinic and day, a
    start at least an hour after the last one taken (a consultation, its clean-up and slack),
    once per technician free then. None before ``not_before``: a time inside the clinic's change
    notice is booked through a confirmation step (a 200 asking to accept it), another flow."""
    targets = []
    for slug in locations:
        query = urllib.parse.urlencode({"location": slug, "start": today, "days": 90})
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/availability/?{query}", timeout=60) as response:
            days = json.load(response)["days"]
        for day in days:
            last = None
            for t in day["times"]:
                start = datetime.fromisoformat(t["start"])
                if start < not_before:
                    continue
                if last is None or start >= last + timedelta(hours=1):
                    targets.extend([(slug, t["start"])] * len(t["technicians"]))
                    last = start
    # Spread the load over clinics and days, as real clients would; the same order every run.
    random.Random(SEED).shuffle(targets)
    return targets


def run_locust(
    *, locust: str, port: int, users: int, seconds: int, classes: list[str], config: dict, folder: Path, label: str
) -> dict[str, dict]:
    """One headless locust run; return its figures per request name."""
    config_path = folder / f"{label}.json"
    config_path.write_text(json.dumps(config))
    prefix = folder / label
    command = [
        locust, "-f", str(LOCUSTFILE), "--headless", "--host", f"http://127.0.0.1:{port}",
        "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s", "--stop-timeout", "5",
        "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", *classes,
    ]  # fmt: skip
    with (folder / f"{label}.log").open("w") as log:
        # locust exits non-zero when any request failed: the figures below say which.
        subprocess.run(
            command, cwd=ROOT, env={**os.environ, "LOAD_CONFIG": str(config_path)}, stdout=log,
            stderr=subprocess.STDOUT, timeout=seconds + 120,
        )  # fmt: skip
    stats_path = Path(f"{prefix}_stats.csv")
    if not stats_path.exists():
        raise SystemExit(f"locust wrote no figures: see {folder / f'{label}.log'}")
    figures: dict[str, dict] = {}
    with stats_path.open() as fh:
        for row in csv.DictReader(fh):
            if row["Name"] == "Aggregated":
                continue
            figures[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rate": float(row["Requests/s"]),
                "p50": float(row["50%"]),
                "p95": float(row["95%"]),
                "p99": float(row["99%"]),
                "taken": 0,
                "errors": {},
            }
    with Path(f"{prefix}_failures.csv").open() as fh:
        for row in csv.DictReader(fh):
            entry = figures.get(row["Name"])
            if entry is None:
                continue
            if SLOT_TAKEN in row["Error"]:
                entry["taken"] += int(row["Occurrences"])
            else:
                entry["errors"][row["Error"][:80]] = int(row["Occurrences"])
    return figures


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average " + " ".join(f"{n:.2f}" for n in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=8, help="locust users, each one request at a time")
    parser.add_argument("--seconds", type=int, default=20, help="length of each group's run")
    parser.add_argument("--locust", help="the locust executable (default: .venv-bench/bin/locust, then PATH)")
    args = parser.parse_args()
    if not 1 <= args.users <= 64 or not 5 <= args.seconds <= 300:
        raise SystemExit("--users must be 1..64 and --seconds 5..300: the run is bounded")
    locust = locust_command(args.locust)

    url = benchdb.bench_database_url(suffix="bench_load", script="load.py")
    benchdb.recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smpclinic.settings")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.utils import timezone

    from bookings.models import Appointment, BookingPolicy, Location
    from smpclinic.demo import seed_demo

    seed_demo()
    today = timezone.localdate().isoformat()
    locations = list(Location.objects.order_by("slug").values_list("slug", flat=True))
    print(f"demo clinic seeded: {len(locations)} clinics, {Appointment.objects.count()} appointments")

    folder = Path(tempfile.mkdtemp(prefix="smp-bench-load-"))
    port = availability.free_port()
    before = uptime()
    with gunicorn_serving(url=url, port=port, mail_dir=str(folder / "mail"), log_path=folder / "gunicorn.log"):
        notice = max(BookingPolicy.objects.values_list("change_notice_hours", flat=True), default=24)
        targets = booking_targets(port, locations, today, not_before=timezone.now() + timedelta(hours=notice + 1))
        config = {"pages": PAGES, "locations": locations, "today": today, "targets": targets[:WARM_UP_BOOKINGS]}
        common = {"locust": locust, "port": port, "users": args.users, "folder": folder}
        print(f"{len(targets)} free times to book; gunicorn {WORKERS} workers x {THREADS} threads, DEBUG off;")
        print(f"locust {args.users} users per group, {args.seconds} s per group, 127.0.0.1:{port}; files in {folder}")
        # Warm every path (imports, templates, connections) before anything is timed.
        run_locust(**common, seconds=5, classes=["Bare", *(g[0] for g in GROUPS)], config=config, label="warm-up")
        config["targets"] = targets[WARM_UP_BOOKINGS:]
        results = {}
        results["bare view"] = run_locust(**common, seconds=args.seconds, classes=["Bare"], config=config,
                                          label="bare-first")["bare view"]  # fmt: skip
        for cls, name, _ in GROUPS:
            results[name] = run_locust(**common, seconds=args.seconds, classes=[cls], config=config, label=cls)[name]
            time.sleep(1)
        again = run_locust(**common, seconds=args.seconds, classes=["Bare"], config=config, label="bare-last")
        results["bare view (again)"] = again["bare view"]
    after = uptime()

    ceiling = max(results["bare view"]["rate"], results["bare view (again)"]["rate"])
    print()
    print(f"{'group':<19} {'requests':>8} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'errors':>6} {'409':>5} {'ratio':>6}  goal")  # fmt: skip
    failed = []
    for name, entry in results.items():
        goal = next((g for _, n, g in GROUPS if n == name), None)
        ratio = entry["rate"] / ceiling if ceiling else 0.0
        errors = sum(entry["errors"].values())
        verdict = "" if goal is None else f">= {goal:.2f} {'met' if ratio >= goal else 'NOT met'}"
        print(
            f"{name:<19} {entry['requests']:8d} {entry['rate']:8.1f} {entry['p50']:7.0f} {entry['p95']:7.0f} "
            f"{entry['p99']:7.0f} {errors:6d} {entry['taken']:5d} {ratio:6.2f}  {verdict}"
        )
        if errors:
            failed.append(f"{name}: {entry['errors']}")
    booked = results["booking POST"]["requests"] - results["booking POST"]["taken"]
    if results["booking POST"]["requests"] >= len(targets) - WARM_UP_BOOKINGS:
        print("note: the booking POST ran out of free times before its time was up; its rate is understated")
    print(f"ceiling: the higher bare-view rate of the two runs ({ceiling:.1f} requests/s)")
    print(
        f"bookings made in the timed run: {booked}; overlapping active appointments: {availability.check_no_overlaps()}"
    )
    print(f"before: {before}")
    print(f"after:  {after}")
    if failed:
        raise SystemExit("errors during the load (see gunicorn.log in " + str(folder) + "):\n" + "\n".join(failed))


if __name__ == "__main__":
    main()
