"""bench/admin.py's generator and sign-in at a tiny scale: the full-size run is only ever started
by hand, so this is what proves the script still fits the models."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from django.test import Client as DjangoClient
from django.utils import timezone

from bookings.models import Appointment, ClientMessage, Course
from clients.models import Client

pytestmark = pytest.mark.django_db
BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench_admin():
    sys.path.insert(0, str(BENCH))  # the script imports its neighbours, as when it runs
    try:
        spec = importlib.util.spec_from_file_location("bench_admin", BENCH / "admin.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_admin"] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_admin", None)
        sys.path.remove(str(BENCH))


def test_the_references_it_makes_never_collide(bench_admin):
    made = [bench_admin.reference(n) for n in range(50_000)]
    assert len(set(made)) == len(made)
    assert all(len(r) == 9 and r.startswith("SMP-") for r in made)


def test_it_generates_a_small_chain_that_the_pages_can_open(bench_admin, frozen_now):
    today = timezone.localdate(frozen_now, timezone=bench_admin.LONDON)
    ids = bench_admin.generate(clients=50, appointments=1_500, today=today, log=lambda _: None)
    assert Client.objects.count() == 50
    assert Appointment.objects.count() == ids["appointments"] == 1_500
    assert Course.objects.count() == 12
    assert ClientMessage.objects.count() == ids["messages"] > 0
    statuses = set(Appointment.objects.values_list("status", flat=True))
    assert {"completed", "booked", "cancelled"} <= statuses
    bench_admin.vacuum_analyze()
    http = DjangoClient()
    bench_admin.sign_in_manager(http)
    assert http.get(f"/staff/?technician={ids['technician_id']}").status_code == 200
    found = http.get("/staff/clients/", {"q": ids["reference"]})
    assert [c.pk for c in found.context["page"]] == [ids["client_id"]]
    assert http.get(f"/admin/clients/client/{ids['client_id']}/change/").status_code == 200
