"""The public pages and the booking form on the demo clinic: latency and SQL queries per page,
in-process, rendered and served from the page cache, next to a bare view.

Needs DATABASE_URL (PostgreSQL) and REDIS_URL (the page cache; without it the cache is files
under var/). Works in its own database (<name>_bench_site, dropped and re-created, never the one
DATABASE_URL names), seeds the demo clinic (3 clinics, the catalogue, a few hundred clients, four
with before/after photos) and prints, for each public page and the booking form
(/book/?location=...), p50 / p95 latency over --requests requests through Django's test client
(an anonymous visitor), first with the page cache off (every request renders), then on (every
request after the first is a hit), and the SQL queries per request each way; then the same for
/bench/bare/ (bench/bench_urls.py: "ok" through the same middleware), and each cached page's p50
as a share of the bare view's speed (the bare view's p50 divided by the page's).

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
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"  # the project's, plus /bench/bare/
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bookings.models import Location
    from smpclinic.demo import seed_demo
    from smpclinic.public.selectors import photo_list_public

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    seed_demo()
    print(f"demo clinic seeded; {photo_list_public().count()} photos may appear on /results/")
    location = Location.objects.filter(is_active=True).order_by("pk").first()
    pages = [*PAGES, f"/book/?location={location.slug}"]
    client = Client()

    def measure(page: str) -> tuple[float, float, int]:
        client.get(page)  # warm the template cache (and, when on, the page cache)
        timings = []
        for _ in range(args.requests):
            began = time.perf_counter()
            response = client.get(page)
            timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, page
        with CaptureQueriesContext(connection) as queries:
            client.get(page)
        return statistics.median(timings), statistics.quantiles(timings, n=20)[-1], len(queries)

    settings.PAGE_CACHE_SECONDS = 0
    rendered = {page: measure(page) for page in pages}
    settings.PAGE_CACHE_SECONDS = 600
    cached = {page: measure(page) for page in pages}
    bare = measure("/bench/bare/")
    print(f"{'page':40} {'rendered p50/p95 ms':>20} {'q':>3} {'cached p50/p95 ms':>18} {'q':>3} {'x bare':>7}")
    for page in pages:
        (r50, r95, rq), (c50, c95, cq) = rendered[page], cached[page]
        print(f"{page:40} {r50:9.2f} /{r95:7.2f} {rq:3d} {c50:8.2f} /{c95:7.2f} {cq:3d} {bare[0] / c50:7.2f}")
    print(f"{'/bench/bare/':40} {'':20} {'':3} {bare[0]:8.2f} /{bare[1]:7.2f} {bare[2]:3d} {1:7.2f}")


if __name__ == "__main__":
    main()
