"""The public pages on the demo clinic: latency and SQL queries per page, in-process.

Needs DATABASE_URL (PostgreSQL). Works in its own database (<name>_bench_site, dropped and
re-created, never the one DATABASE_URL names), seeds the demo clinic (3 clinics, the catalogue,
a few hundred clients, four with before/after photos) and prints, for each public page, p50 / p95 latency
over --requests renders through Django's test client and the SQL queries per render.

    .venv/bin/python bench/public_pages.py [--requests 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import benchdb  # bench/ is on sys.path when a script here runs

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    "/",
    "/treatments/",
    "/treatments/hairline-design/",
    "/aftercare/",
    "/results/",
    "/results/?treatment=hairline-design",
    "/locations/",
    "/privacy/",
]


def bench_database_url() -> str:
    return benchdb.bench_database_url(suffix="bench_site", script="public_pages.py")


recreate_database = benchdb.recreate_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="renders per page")
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
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from smpclinic.demo import seed_demo
    from smpclinic.public.selectors import photo_list_public

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    seed_demo()
    print(f"demo clinic seeded; {photo_list_public().count()} photos may appear on /results/")
    client = Client()
    print(f"{'page':40} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'KiB':>6}")
    for page in PAGES:
        client.get(page)  # warm the template cache
        timings = []
        for _ in range(args.requests):
            began = time.perf_counter()
            response = client.get(page)
            timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, page
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page)
        p95 = statistics.quantiles(timings, n=20)[-1]
        print(
            f"{page:40} {statistics.median(timings):8.1f} {p95:8.1f} {len(queries):8d} "
            f"{len(response.content) / 1024:6.1f}"
        )


if __name__ == "__main__":
    main()
