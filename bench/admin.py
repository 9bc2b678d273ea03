"""The admin and the staff pages at a chain's scale: p50 / p95 and SQL queries per page, DEBUG off.

Needs DATABASE_URL (PostgreSQL); REDIS_URL is used when set (the cache), as in production. Works
in its own database (<name>_bench_admin, dropped and re-created, never the one DATABASE_URL
names), generates a chain (20 clinics, 100 technicians, --clients clients, --appointments
appointments over the last two years and the next two months, courses and the aftercare and
reminder messages of the outbox), runs VACUUM ANALYZE, then renders each page --repeat times
in-process through Django's test client with DEBUG off (every middleware, view, query and template,
no network: the server's own time) signed in as a manager, and prints p50, p95, the SQL queries
of one render and the size of the page. A page that answers 404 is printed "not built".

    .venv/bin/python bench/admin.py [--clients 100000] [--appointments 500000] [--repeat 20] [--reuse]

--reuse keeps the database a previous run generated (to time again after a change); on a database
generated before the pigment stock existed, migrate it first (DATABASE_URL=<its url> manage.py
migrate) and --reuse adds the stock and session notes it lacks.

Stock: 5 products (3 pigments, 2 needles); a new lot of each every 60 days at each clinic, the
pigment lots shipped chain-wide (one lot number at all 20 clinics), the needle lots per clinic; a
session note for every completed session and touch-up, each with a two-pigment blend and a needle
of the lots in use that day. "recall lot chain-wide" searches one pigment lot (every clinic, a few
thousand clients), "recall lot one clinic" one needle lot; "recall CSV" downloads the former.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
LONDON = ZoneInfo("Europe/London")
SEED = 20261126
BATCH = 10_000
LOCATIONS, TECHNICIANS = 20, 100
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
# Non-overlapping (start, minutes) a technician's day can hold; the 14:00 slot is a long session.
SLOTS = [(dtime(9), 45), (dtime(9, 45), 45), (dtime(10, 45), 60), (dtime(12), 45), (dtime(14), 120)]
SLOTS += [(dtime(16, 15), 45), (dtime(17, 15), 45)]
FIRST_NAMES = (  # noqa: SIM905 - a list literal would be a hundred lines
    "Oliver George Harry Jack Jacob Noah Charlie Muhammad Thomas Oscar William James Leo Alfie Henry "
    "Joshua Freddie Archie Ethan Isaac Alexander Joseph Edward Samuel Max Daniel Arthur Lucas Mohammed "
    "Logan Amelia Olivia Isla Emily Ava Lily Mia Sophia Isabella Grace Priya Aisha Chloe Zara Ruth"
).split()
# Common British surnames; Smith is about one in fifty of them, as in the "smith" search.
LAST_NAMES = (  # noqa: SIM905
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson "
    "Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner "
    "Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott "
    "Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson "
    "Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams "
    "Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell "
    "Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins "
    "Smithson Goldsmith"
).split()


def bench_database_url() -> str:
    import benchdb  # bench/ is on sys.path when a script here runs

    return benchdb.bench_database_url(suffix="bench_admin", script="admin.py")


def reference(n: int) -> str:
    """The n-th of a sequence of distinct references (multiplying by a number prime to 30 is a
    permutation of the 30**5 codes), so a bulk insert never collides."""
    code = (n * 7919 + 123_457) % len(REFERENCE_ALPHABET) ** 5
    chars = []
    for _ in range(5):
        code, digit = divmod(code, len(REFERENCE_ALPHABET))
        chars.append(REFERENCE_ALPHABET[digit])
    return "SMP-" + "".join(chars)


def _bulk(model, rows: list) -> list:
    """Insert model instances fast: PostgreSQL's COPY (ids given here, the sequence moved past
    them), else bulk_create in batches. Instances, not raw tuples, so every field another change
    adds to a model gets its default without this script knowing about it."""
    from django.db import connection

    if connection.vendor != "postgresql" or not rows:
        return model.objects.bulk_create(rows, batch_size=BATCH)
    for start in range(0, len(rows), BATCH * 5):
        _copy(model, rows[start : start + BATCH * 5])
    return rows


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    text = value if isinstance(value, str) else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy(model, rows: list) -> None:
    import io
    import json

    from django.db import connection, models

    table, pk = model._meta.db_table, model._meta.pk
    fields = [f for f in model._meta.concrete_fields if f is not pk]
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COALESCE(MAX("{pk.column}"), 0) FROM "{table}"')
        next_id = cursor.fetchone()[0] + 1
        buffer = io.StringIO()
        for offset, obj in enumerate(rows):
            obj.pk = next_id + offset
            values = [str(obj.pk)]
            for field in fields:
                value = field.pre_save(obj, True)
                if isinstance(field, models.JSONField):
                    values.append(_copy_text(None if value is None else json.dumps(value)))
                else:
                    values.append(_copy_text(field.get_db_prep_save(value, connection)))
            buffer.write("\t".join(values) + "\n")
        buffer.seek(0)
        columns = ", ".join(f'"{f.column}"' for f in [pk, *fields])
        cursor.copy_expert(f'COPY "{table}" ({columns}) FROM STDIN', buffer)
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{pk.column}'), %s)", [next_id + len(rows)]
        )
    for obj in rows:
        obj._state.adding, obj._state.db = False, "default"


def generate(*, clients: int, appointments: int, today: date, seed: int = SEED, log=print) -> dict:
    from django.db import connection

    if connection.vendor != "postgresql":
        return _generate(clients=clients, appointments=appointments, today=today, seed=seed, log=log)
    tables = ("clients_client", "bookings_appointment", "bookings_clientmessage")
    with connection.cursor() as cursor:
        # The rows are made consistent here: skip the foreign-key triggers' lookup per row and
        # column (millions of them). Constraints (the exclusion one included) still apply.
        cursor.execute("SET session_replication_role = replica")
        # Plain indexes are built once at the end (a sort) instead of row by row; those behind a
        # constraint (primary keys, unique references, no overlaps) stay and keep checking.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conindid <> 0)",
            [list(tables)],
        )
        plain = cursor.fetchall()
        for name, _ in plain:
            cursor.execute(f'DROP INDEX "{name}"')
    try:
        return _generate(clients=clients, appointments=appointments, today=today, seed=seed, log=log)
    finally:
        began = time.perf_counter()
        with connection.cursor() as cursor:
            for _, definition in plain:
                cursor.execute(definition)
            cursor.execute("RESET session_replication_role")
        log(f"  {len(plain)} indexes built in {time.perf_counter() - began:.0f} s")


def _generate(*, clients: int, appointments: int, today: date, seed: int, log) -> dict:
    """A chain of 20 clinics and 100 technicians with `clients` clients and about `appointments`
    appointments, most in the past (completed, some no-shows and cancellations) and two months
    ahead (booked or confirmed); a quarter of the clients on a course; aftercare and reminder
    messages for the outbox. bulk_create in batches of 10,000; returns a few ids to time pages with."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from bookings.models import Appointment, BookingPolicy, Course, Location, Technician, WorkingHours
    from clients.models import Client
    from treatments.models import Treatment

    rng = random.Random(seed)
    began = time.perf_counter()
    now = timezone.now()
    BookingPolicy.objects.get_or_create(location=None)
    treatments = [
        Treatment.objects.create(name=name, slug=slug, category=category, summary="-", who_for="-")
        for name, slug, category in (
            ("Hairline design", "bench-hairline", "hairline"),
            ("Crown density", "bench-density", "density"),
            ("Scar camouflage", "bench-scar", "scar"),
        )
    ]
    locations = _bulk(
        Location,
        [
            Location(
                name=f"Clinic {n:02d}",
                slug=f"bench-clinic-{n:02d}",
                address_line1="1 High Street",
                city=f"Town {n:02d}",
                postcode="M1 1AA",
                phone="0161 000 0000",
                order=n,
            )
            for n in range(LOCATIONS)
        ],
    )
    User = get_user_model()
    users = _bulk(User, [User(username=f"bench-tech-{n:03d}", is_active=True) for n in range(TECHNICIANS)])
    technicians = _bulk(
        Technician, [Technician(user=u, display_name=f"Technician {n:03d}") for n, u in enumerate(users)]
    )
    homes = [locations[n % LOCATIONS] for n in range(TECHNICIANS)]
    _bulk(
        Technician.locations.through,
        [Technician.locations.through(technician=t, location=h) for t, h in zip(technicians, homes, strict=True)],
    )
    _bulk(
        WorkingHours,
        [
            WorkingHours(technician=t, location=h, weekday=day, start_time=dtime(9), end_time=dtime(18))
            for t, h in zip(technicians, homes, strict=True)
            for day in range(6)
        ],
    )

    client_rows = []
    for n in range(clients):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        client_rows.append(
            Client(
                first_name=first,
                last_name=last,
                email=f"{first}.{last}.{n}@example.com".lower(),
                phone=f"07{700 + n // 1_000_000:03d} {n % 1_000_000:06d}",
                preferred_channel=rng.choice(["email", "email", "email", "sms"]),
            )
        )
    client_ids = [c.pk for c in _bulk(Client, client_rows)]
    del client_rows
    log(f"  {clients} clients in {time.perf_counter() - began:.0f} s")

    course_of: dict[int, tuple[int, int]] = {}  # client id -> (course id, treatment id)
    course_rows = [
        Course(client_id=cid, treatment=rng.choice(treatments), planned_sessions=3, status="in_progress")
        for cid in rng.sample(client_ids, len(client_ids) // 4)
    ]
    for course in _bulk(Course, course_rows):
        course_of[course.client_id] = (course.pk, course.treatment_id)
    del course_rows

    # Days a technician works: Monday to Saturday, from far enough back that every technician's
    # seven slots a day add up to `appointments`, to two months ahead.
    per_day = TECHNICIANS * len(SLOTS)
    work_days = -(-appointments // per_day)
    # Two months ahead at full size; a small run keeps most of its days behind today.
    last_day = today + timedelta(days=min(60, work_days // 12))
    days: list[date] = []
    day = last_day
    while len(days) < work_days:
        if day.weekday() != 6:
            days.append(day)
        day -= timedelta(days=1)
    days.reverse()

    made, rows, n_messages = 0, [], 0
    for day in days:
        for tech, home in zip(technicians, homes, strict=True):
            for at, minutes in SLOTS:
                if made >= appointments:
                    break
                start = datetime.combine(day, at, tzinfo=LONDON)
                end = start + timedelta(minutes=minutes)
                client_id = client_ids[rng.randrange(len(client_ids))]
                kind, treatment_id, course_id, session_number = "consultation", None, None, None
                if minutes == 120:
                    kind = "session" if rng.random() < 0.8 else "touch_up"
                    course = course_of.get(client_id)
                    if course is not None:
                        course_id, treatment_id = course
                        session_number = rng.randint(1, 3)
                    else:
                        treatment_id = treatments[0].pk
                row = Appointment(
                    reference=reference(made),
                    kind=kind,
                    client_id=client_id,
                    technician=tech,
                    location=home,
                    treatment_id=treatment_id,
                    course_id=course_id,
                    session_number=session_number,
                    start=start,
                    end=end,
                    channel=rng.choice(["online", "online", "phone", "staff"]),
                )
                roll = rng.random()
                if end < now:
                    if roll < 0.84:
                        row.status, row.completed_at = "completed", end
                    elif roll < 0.90:
                        row.status, row.status_changed_at = "no_show", end
                    elif roll < 0.98:
                        row.status, row.cancelled_at = "cancelled", start - timedelta(days=rng.randint(0, 5))
                    else:
                        row.status = "booked"  # never marked: the overdue flag's case
                else:
                    row.status = "confirmed" if roll < 0.4 else ("cancelled" if roll > 0.95 else "booked")
                    if row.status == "cancelled":
                        row.cancelled_at = now
                rows.append(row)
                made += 1
            if len(rows) >= BATCH:
                n_messages += _flush(rows, now=now, rng=rng)
                rows = []
    n_messages += _flush(rows, now=now, rng=rng)
    log(f"  {made} appointments and {n_messages} messages in {time.perf_counter() - began:.0f} s")
    generate_stock(today=today, seed=seed, log=log)

    return {"clients": clients, "appointments": made, "messages": n_messages, **sample_ids(today=today)}


STOCK_PERIOD_DAYS = 60
PIGMENTS, NEEDLES = ("Shade 1", "Shade 2", "Shade 3"), ("1RL 0.18 mm", "3RL 0.25 mm")


def generate_stock(*, today: date, seed: int = SEED, log=print) -> int:
    """Products, batches and a session note with its batches for every completed session and
    touch-up that has none (so --reuse on an older database adds them). Returns the notes made."""
    from bookings.models import Appointment, Location
    from bookings.models_stock import Batch, Product, SessionBatch
    from clients.models import SessionNote

    began = time.perf_counter()
    rng = random.Random(seed + 1)
    sessions = (
        Appointment.objects.filter(kind__in=["session", "touch_up"], status="completed", session_note__isnull=True)
        .order_by("start")
        .values_list("pk", "location_id", "start")
    )
    sessions = list(sessions)
    if not sessions:
        return 0
    first_day = sessions[0][2].astimezone(LONDON).date()
    periods = (today - first_day).days // STOCK_PERIOD_DAYS + 1
    products = [
        Product.objects.get_or_create(kind="pigment", brand="Bench Pigments", shade=shade)[0] for shade in PIGMENTS
    ] + [Product.objects.get_or_create(kind="needle", brand="Bench Needles", shade=size)[0] for size in NEEDLES]
    locations = list(Location.objects.order_by("pk").values_list("pk", flat=True))
    batches: dict[tuple[int, int, int], Batch] = {}
    for k in range(periods):
        received = first_day + timedelta(days=k * STOCK_PERIOD_DAYS)
        for n, product in enumerate(products):
            for location in locations:
                lot = f"P{n + 1}-{k:02d}" if product.kind == "pigment" else f"N{n + 1}-{location}-{k:02d}"
                batches[k, n, location] = Batch(
                    product=product,
                    location_id=location,
                    lot_number=lot,
                    received_on=received,
                    opened_on=received,
                    expires_on=received + timedelta(days=STOCK_PERIOD_DAYS * 3),
                    supplier="Bench Supplies Ltd",
                )
    _bulk(Batch, list(batches.values()))
    notes = _bulk(SessionNote, [SessionNote(appointment_id=pk, areas=["crown"]) for pk, _, _ in sessions])
    uses = []
    for note, (_, location, start) in zip(notes, sessions, strict=True):
        k = (start.astimezone(LONDON).date() - first_day).days // STOCK_PERIOD_DAYS
        main, second = rng.sample(range(len(PIGMENTS)), 2)
        needle = len(PIGMENTS) + rng.randrange(len(NEEDLES))
        share = rng.choice([60, 70, 80])
        uses += [
            SessionBatch(session_note_id=note.pk, batch_id=batches[k, main, location].pk, share_percent=share),
            SessionBatch(session_note_id=note.pk, batch_id=batches[k, second, location].pk, share_percent=100 - share),
            SessionBatch(session_note_id=note.pk, batch_id=batches[k, needle, location].pk),
        ]
        if len(uses) >= BATCH * 3:
            _bulk(SessionBatch, uses)
            uses = []
    _bulk(SessionBatch, uses)
    log(
        f"  {len(batches)} batches, {len(notes)} session notes and their batches in {time.perf_counter() - began:.0f} s"
    )
    return len(notes)


def recall_lots() -> dict:
    """A chain-wide pigment lot and one clinic's needle lot, from the middle of the history."""
    from bookings.models_stock import Batch

    pigment = (
        Batch.objects.filter(lot_number__startswith="P1-").order_by("lot_number").values_list("lot_number", flat=True)
    )
    needle = Batch.objects.filter(lot_number__startswith="N4-").order_by("pk").values_list("lot_number", flat=True)
    pigments, needles = list(pigment.distinct()), list(needle)
    return {
        "pigment_lot": pigments[len(pigments) // 2] if pigments else None,
        "needle_lot": needles[len(needles) // 2] if needles else None,
    }


def sample_ids(*, today: date) -> dict:
    """What to open: the latest session up to today (its page, its client's page, its reference)
    and the first technician in the schedule's picker."""
    from bookings.models import Appointment, Technician

    sample = (
        Appointment.objects.filter(kind="session", start__date__lte=today).order_by("-start").first()
        or Appointment.objects.order_by("pk").first()
    )
    return {
        "client_id": sample.client_id,
        "appointment_id": sample.pk,
        "reference": sample.reference,
        "technician_id": Technician.objects.order_by("display_name", "pk").first().pk,
        **recall_lots(),
    }


def _flush(rows: list, *, now: datetime, rng: random.Random) -> int:
    """Insert a batch of appointments and the outbox rows they would have made: aftercare after
    each completed session (sent, a few failed) and the 48-hour reminder of each one ahead."""
    from bookings.models import Appointment, ClientMessage

    if not rows:
        return 0
    _bulk(Appointment, rows)
    messages = []
    for a in rows:
        if a.status == "completed" and a.kind != "consultation":
            for kind, after in (("aftercare_day4", 4), ("aftercare_day7", 7), ("aftercare_day10", 10)):
                due = a.end + timedelta(days=after)
                if due < now:
                    failed = rng.random() < 0.02
                    messages.append(
                        ClientMessage(
                            appointment=a,
                            kind=kind,
                            due_at=due,
                            status="failed" if failed else "sent",
                            sent_at=None if failed else due,
                            attempts=1,
                        )
                    )
                else:
                    messages.append(ClientMessage(appointment=a, kind=kind, due_at=due))
        elif a.status in ("booked", "confirmed") and a.start > now:
            messages.append(ClientMessage(appointment=a, kind="reminder_48h", due_at=a.start - timedelta(hours=48)))
    _bulk(ClientMessage, messages)
    return len(messages)


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # VACUUM sets the visibility map (index-only scans) but cannot run in a transaction (a test's).
        cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")


def sign_in_manager(client) -> None:
    """Sign the test client in as a manager, past every gate the admin may put on managers.

    A superuser in the Manager group, signed in by session (no password form, so django-axes has
    nothing to count); when django-otp is installed the session is marked verified with a device
    of the user's, as a manager who has passed the second factor."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from clients.roles import roles_ensure

    roles_ensure()
    User = get_user_model()
    user, _ = User.objects.get_or_create(
        username="bench-manager", defaults={"is_staff": True, "is_superuser": True, "email": "manager@example.com"}
    )
    user.groups.add(Group.objects.get(name="Manager"))
    client.force_login(user)
    if "django_otp" in settings.INSTALLED_APPS:
        from django_otp import DEVICE_ID_SESSION_KEY

        if "django_otp.plugins.otp_totp" in settings.INSTALLED_APPS:
            from django_otp.plugins.otp_totp.models import TOTPDevice as Device
        else:
            from django_otp.plugins.otp_static.models import StaticDevice as Device
        device, _ = Device.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()


def sign_in_technician(client) -> None:
    """Sign the test client in as the first technician (the Technician role: their own schedule,
    their clinic's clients)."""
    from django.contrib.auth.models import Group

    from bookings.models import Technician
    from clients.roles import roles_ensure

    roles_ensure()
    user = Technician.objects.order_by("display_name", "pk").first().user
    user.groups.add(Group.objects.get(name="Technician"))
    client.force_login(user)


@dataclass
class Result:
    page: str
    status: int
    p50: float = 0.0
    p95: float = 0.0
    queries: int = 0
    kib: float = 0.0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def time_page(client, label: str, urls: list[str], repeat: int) -> Result:
    """The first of `urls` that is not a 404, rendered `repeat` times after one warm-up render."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    for url in urls:
        response = client.get(url, follow=True)
        # The admin takes an unknown path under a model for an object id and, through its change
        # page, redirects to the admin's home: a page not built yet, like a 404.
        home = bool(response.redirect_chain) and response.redirect_chain[-1][0].rstrip("/") == "/admin"
        if response.status_code != 404 and not home:
            break
    else:
        return Result(label, 404)
    if response.redirect_chain:  # sent to a login or a second-factor page: the sign-in needs adapting
        return Result(label, response.redirect_chain[0][1])
    if response.status_code != 200:
        return Result(label, response.status_code)
    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
    # Counted with the dashboard's reports on the request's connection (DASHBOARD_QUERY_THREADS=1):
    # in their threads they run on connections of their own, which this would not see.
    with override_settings(DASHBOARD_QUERY_THREADS=1), CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    return Result(
        label,
        response.status_code,
        statistics.median(timings),
        percentile(timings, 95),
        len(captured.captured_queries),
        len(response.content) / 1024,
    )


def time_recall_csv(client, lot: str, repeat: int) -> Result:
    """The recall's CSV download (a POST; each one writes its audit row), read to the end."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = "/admin/bookings/batch/recall/export/"
    timings = []
    for n in range(repeat + 1):
        began = time.perf_counter()
        response = client.post(url, {"lot": lot})
        body = b"".join(response.streaming_content)
        if n:
            timings.append((time.perf_counter() - began) * 1000)
    with CaptureQueriesContext(connection) as captured:
        b"".join(client.post(url, {"lot": lot}).streaming_content)
    return Result(
        "recall CSV",
        response.status_code,
        statistics.median(timings),
        percentile(timings, 95),
        len(captured.captured_queries),
        len(body) / 1024,
    )


def pages(ids: dict) -> list[tuple[str, list[str]]]:
    next_page = f"/staff/clients/?q=smith&after={ids['after']}" if ids.get("after") else None
    listed = [
        ("admin clients", ["/admin/clients/client/"]),
        ("admin clients q=smith", ["/admin/clients/client/?q=smith"]),
        ("admin clients filter sms", ["/admin/clients/client/?preferred_channel__exact=sms"]),
        ("admin appointments", ["/admin/bookings/appointment/"]),
        ("admin appointments q=smith", ["/admin/bookings/appointment/?q=smith"]),
        ("admin appointments booked", ["/admin/bookings/appointment/?status__exact=booked"]),
        ("admin client change", [f"/admin/clients/client/{ids['client_id']}/change/"]),
        ("admin appointment change", [f"/admin/bookings/appointment/{ids['appointment_id']}/change/"]),
        ("admin day board", ["/admin/bookings/appointment/board/"]),
        ("admin diary week", ["/admin/bookings/appointment/diary/?view=week"]),
        ("admin dashboard", ["/admin/dashboard/", "/admin/bookings/dashboard/"]),
        # "Refresh figures": counted afresh on every load, as the snapshot's first load and beat do.
        ("admin dashboard refresh", ["/admin/dashboard/?fresh=1"]),
        ("staff schedule week", ["/staff/"]),
        ("staff schedule day", [f"/staff/?technician={ids['technician_id']}&view=day"]),
        ("staff clients", ["/staff/clients/"]),
        ("staff clients q=smith", ["/staff/clients/?q=smith"]),
        ("staff clients q=smith p2", [next_page] if next_page else []),
        ("staff clients q=reference", [f"/staff/clients/?q={ids['reference']}"]),
        ("staff schedule (technician)", ["/staff/"]),
        ("staff clients (technician)", ["/staff/clients/"]),
        ("staff clients smith (technician)", ["/staff/clients/?q=smith"]),
        ("admin batches", ["/admin/bookings/batch/"]),
        ("admin recall lot chain-wide", [f"/admin/bookings/batch/recall/?lot={ids['pigment_lot']}"])
        if ids.get("pigment_lot")
        else ("admin recall lot chain-wide", []),
        ("admin recall lot one clinic", [f"/admin/bookings/batch/recall/?lot={ids['needle_lot']}"])
        if ids.get("needle_lot")
        else ("admin recall lot one clinic", []),
    ]
    return [(label, urls) for label, urls in listed if urls]


def _settings_env(url: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "smpclinic.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-only-" + "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1",
            # Plain HTTP in-process: no HTTPS redirect, cookies without the Secure flag.
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SECURE_COOKIES": "0",
            "DJANGO_HSTS_SECONDS": "0",
            "DJANGO_STATIC_MANIFEST": "0",
            "EMAIL_URL": "smtp://127.0.0.1:9",
            "DJANGO_LOG_LEVEL": "ERROR",
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--appointments", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=20, help="timed renders per page")
    parser.add_argument("--reuse", action="store_true", help="keep the database a previous run generated")
    parser.add_argument("--only", default="", help="time only the pages whose label contains this text")
    args = parser.parse_args()

    import benchdb

    url = bench_database_url()
    if not args.reuse:
        benchdb.recreate_database(url)
    _settings_env(url)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import logging

    logging.getLogger("django.request").setLevel(logging.ERROR)  # the "not built" 404s are expected
    from django.test import Client as TestClient
    from django.utils import timezone

    from bookings.models import Appointment

    today = timezone.localdate(timezone=LONDON)
    if args.reuse and Appointment.objects.exists():
        if generate_stock(today=today):
            vacuum_analyze()
        ids = sample_ids(today=today)
        print(f"reusing {Appointment.objects.count()} appointments")
    else:
        began = time.perf_counter()
        print(f"generating {args.clients} clients and {args.appointments} appointments")
        ids = generate(clients=args.clients, appointments=args.appointments, today=today)
        vacuum_analyze()
        print(f"generated and analysed in {time.perf_counter() - began:.0f} s")

    client, technician = TestClient(), TestClient()
    sign_in_manager(client)
    sign_in_technician(technician)
    next_link = re.search(r"after=(\d+)", client.get("/staff/clients/?q=smith").content.decode())
    ids["after"] = next_link.group(1) if next_link else None
    print(f"{args.repeat} renders per page, in-process, DEBUG off, signed in as a manager")
    print(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'KiB':>7}")
    failed = False
    for label, urls in pages(ids):
        if args.only not in label:
            continue
        who = technician if label.endswith("(technician)") else client
        result = time_page(who, label, urls, args.repeat)
        if result.status == 404:
            print(f"{label:34} not built")
        elif result.status != 200:
            print(f"{label:34} answered {result.status}")
            failed = failed or result.status >= 500
        else:
            print(f"{label:34} {result.p50:8.1f} {result.p95:8.1f} {result.queries:8d} {result.kib:7.1f}")
    if ids.get("pigment_lot") and args.only in "recall CSV":
        result = time_recall_csv(client, ids["pigment_lot"], args.repeat)
        print(f"{'recall CSV chain-wide':34} {result.p50:8.1f} {result.p95:8.1f} {result.queries:8d} {result.kib:7.1f}")
    if failed:
        raise SystemExit("a page answered a server error")


if __name__ == "__main__":
    main()
