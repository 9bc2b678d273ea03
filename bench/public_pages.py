"""The public pages and the booking form on the demo clinic: latency and SQL queries per page,
in-process, rendered and served from the page cache, next to a bare view.

Needs DATABASE_URL (PostgreSQL) and REDIS_URL (the page cache; without it the cache is files
under var/). Works in its own database (<name>_bench_site, dropped and re-created, never the one
DATABASE_URL names), seeds the demo clinic (3 clinics, the catalogue, a few hundred clients, four
with before/after photos) and prints, for each public page and the booking form
(/book/?location=...), p50 / p95 latency over --requests requests through Django's test client
(an anonymous visitor) and the CPU time this process spent on it (a request that waits for Redis
or PostgreSQL while other jobs hold both cores waits long; its CPU time does not), first with
the page cache off (every request renders), then on (every request after the first is a hit),
and the SQL queries per request each way. /bench/bare/
(bench/bench_urls.py: "ok" through the same middleware) is asked in turn with every request, so
both see the same moments of a busy machine's load; each page's speed as a share of the bare
view's ("x bare": the bare view's p50, then CPU time, divided by the page's) is printed next to it.

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

    def timed(page: str) -> tuple[float, float]:
        began, cpu = time.perf_counter(), time.process_time()
        response = client.get(page)
        elapsed, used = (time.perf_counter() - began) * 1000, (time.process_time() - cpu) * 1000
        assert response.status_code == 200, page
        return elapsed, used

    def measure(page: str) -> dict:
        """The page's p50 and mean CPU time, its queries, and the same for the bare view timed in
        turn with it (the same moments of a busy machine's load for both)."""
        client.get(page)  # warm the template cache (and, when on, the page cache)
        runs: dict[str, list[tuple[float, float]]] = {"page": [], "bare": []}
        for _ in range(args.requests):
            runs["page"].append(timed(page))
            runs["bare"].append(timed("/bench/bare/"))
        with CaptureQueriesContext(connection) as queries:
            client.get(page)
        figures = {"queries": len(queries)}
        for name, pairs in runs.items():
            figures[f"{name}_p50"] = statistics.median(wall for wall, _ in pairs)
            figures[f"{name}_cpu"] = statistics.fmean(cpu for _, cpu in pairs)
        return figures

    settings.PAGE_CACHE_SECONDS = 0
    rendered = {page: measure(page) for page in pages}
    settings.PAGE_CACHE_SECONDS = 600
    cached = {page: measure(page) for page in pages}
    print("ms per request: p50 wall-clock / mean CPU of this process; x bare: the bare view's over the page's")
    columns = f"{'rendered':>13} {'q':>2} {'x bare':>11} {'cached':>11} {'q':>2} {'x bare':>11}"
    print(f"{'page':38} {columns}")
    for page in pages:
        row = []
        for figures in (rendered[page], cached[page]):
            p50, cpu = figures["page_p50"], figures["page_cpu"]
            share = f"{figures['bare_p50'] / p50:.2f} / {figures['bare_cpu'] / cpu:.2f}"
            row.append(f"{p50:5.2f} / {cpu:5.2f} {figures['queries']:2d} {share:>11}")
        print(f"{page:38} {row[0]} {row[1]}")
    bare = [f for f in (*rendered.values(), *cached.values())]
    print(
        f"/bench/bare/: p50 {min(f['bare_p50'] for f in bare):.2f} to {max(f['bare_p50'] for f in bare):.2f} ms, "
        f"CPU {min(f['bare_cpu'] for f in bare):.2f} to {max(f['bare_cpu'] for f in bare):.2f} ms over the runs"
    )


if __name__ == "__main__":
    main()
