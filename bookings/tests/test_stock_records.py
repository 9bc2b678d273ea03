"""The client's own pigment record (products, shades, lots and needles of each session): on the
session record page linked from every aftercare message, and in their UK GDPR export. And the
migration that keeps the free-text pigment fields of older notes."""

from __future__ import annotations

import importlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Appointment, ClientMessage
from bookings.models_stock import Batch, Product, SessionBatch
from bookings.services.messaging import message_render
from bookings.services.stock import BatchUse, client_export_with_stock, session_note_record
from bookings.stock_selectors import pigment_record, session_day
from bookings.tests.factories import AppointmentFactory, BatchFactory, ClientMessageFactory, ProductFactory
from bookings.tokens import session_record_token_make
from clients.models import AuditEvent, SessionNote
from clients.tests.factories import SessionNoteFactory
from smpclinic.tests.logins import login_as

migration = importlib.import_module("bookings.migrations.0022_stock")


@pytest.fixture
def recorded(clinic):
    """Today's session recorded with a two-batch blend and a needle."""
    day = session_day(clinic["session"])
    needle = ProductFactory(kind=Product.Kind.NEEDLE, brand="Sharp", shade="1RL 0.18 mm")
    batches = [
        BatchFactory(location=clinic["here"], product=ProductFactory(brand="Acme", shade="Shade 2"), lot_number="A2-9"),
        BatchFactory(location=clinic["here"], product=ProductFactory(brand="Acme", shade="Shade 3"), lot_number="A3-4"),
        BatchFactory(location=clinic["here"], product=needle, lot_number="N-55", expires_on=day + timedelta(days=30)),
    ]
    session_note_record(
        appointment=clinic["session"],
        data={"areas": ["crown"]},
        uses=[BatchUse(batches[0], 70), BatchUse(batches[1], 30), BatchUse(batches[2])],
        by=clinic["technician"].user,
    )
    return batches


def test_the_client_export_contains_the_pigment_record_of_each_session(clinic, recorded):
    archive = client_export_with_stock(client=clinic["client"], by=clinic["manager"])
    with zipfile.ZipFile(archive) as opened:
        record = json.loads(opened.read("record.json"))
    sessions = {s["reference"]: s for s in record["pigment_record"]}
    today = sessions[clinic["session"].reference]
    assert {
        (p["brand"], p["shade_or_size"], p["lot_number"], p["share_of_blend_percent"]) for p in today["products"]
    } == {
        ("Acme", "Shade 2", "A2-9", 70),
        ("Acme", "Shade 3", "A3-4", 30),
        ("Sharp", "1RL 0.18 mm", "N-55", None),
    }
    # The older note, written before batches were tracked, keeps its free text in the record.
    older = sessions[clinic["note"].appointment.reference]
    assert older["recorded_as_text"] == {"pigment_shade": "2"}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, client_id_ref=clinic["client"].pk).exists()


def test_the_workspace_export_is_the_one_with_the_pigment_record(client, clinic, recorded):
    login_as(client, clinic["manager"])
    response = client.get(reverse("staff:export", args=[clinic["client"].pk]))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as opened:
        record = json.loads(opened.read("record.json"))
    assert any(p["lot_number"] == "A2-9" for s in record["pigment_record"] for p in s["products"])


def test_the_pigment_record_costs_two_queries_whatever_the_sessions(clinic, recorded, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        sessions = pigment_record(client=clinic["client"])
    assert len(sessions) == 2


def _record_url(appointment) -> str:
    return reverse("bookings:session_record", args=[session_record_token_make(appointment=appointment)])


def test_the_session_record_page_shows_the_lots_and_the_aftercare(client, clinic, recorded):
    response = client.get(_record_url(clinic["session"]))
    page = response.content.decode()
    assert response.status_code == 200
    for text in ("A2-9", "A3-4", "N-55", "70%", "1RL 0.18 mm", "Aftercare"):
        assert text in page
    assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}


def test_the_session_record_page_costs_the_same_for_one_session_as_for_many(
    client, clinic, recorded, django_assert_max_num_queries
):
    url = _record_url(clinic["session"])
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    one = len(ctx.captured_queries)
    for n in range(5):
        start = clinic["session"].start - timedelta(days=60 + 20 * n)
        note = SessionNoteFactory(
            appointment=AppointmentFactory(
                client=clinic["client"],
                technician=clinic["technician"],
                location=clinic["here"],
                kind=Appointment.Kind.TREATMENT_SESSION,
                start=start,
                end=start + timedelta(hours=3),
            )
        )
        SessionBatch.objects.create(session_note=note, batch=recorded[0], share_percent=100)
    with django_assert_max_num_queries(one):
        response = client.get(url)
    assert response.content.decode().count("A2-9") >= 6


def test_a_forged_or_erased_session_record_link_is_a_404(client, clinic, recorded):
    assert client.get(reverse("bookings:session_record", args=["not-a-token"])).status_code == 404
    url = _record_url(clinic["session"])
    clinic["client"].erased_at = clinic["session"].start
    clinic["client"].save()
    assert client.get(url).status_code == 404


def test_every_aftercare_message_links_to_the_session_record(clinic):
    session = clinic["session"]
    message = ClientMessageFactory(appointment=session, kind=ClientMessage.Kind.AFTERCARE_DAY_4)
    rendered = message_render(message)
    url = _record_url(session)
    assert url in rendered["text"]
    assert url in rendered["html"]
    reminder = ClientMessageFactory(appointment=session, kind=ClientMessage.Kind.REMINDER_48H)
    assert "/booking/record/" not in message_render(reminder)["text"]


# The free-text pigment fields of existing notes --------------------------------------------------


def _note(clinic, location, days_ago: int, **text):
    start = clinic["session"].start - timedelta(days=days_ago)
    return SessionNoteFactory(
        appointment=AppointmentFactory(
            client=clinic["client"],
            technician=clinic["technician"],
            location=location,
            kind=Appointment.Kind.TREATMENT_SESSION,
            start=start,
            end=start + timedelta(hours=3),
        ),
        **text,
    )


def test_the_migration_keeps_the_free_text_and_links_it_to_lot_unknown_batches(clinic):
    here, elsewhere = clinic["here"], clinic["elsewhere"]
    text = {"pigment_brand": "Demo", "pigment_shade": "2", "pigment_blend": "70% shade 2, 30% shade 3", "needle": "1RL"}
    a = _note(clinic, here, 40, **text)
    b = _note(clinic, here, 60, pigment_brand="demo ", pigment_shade="2", needle="1RL")  # the same, typed differently
    c = _note(clinic, elsewhere, 80, pigment_brand="Demo", pigment_shade="2")
    blank = _note(clinic, here, 100, pigment_shade="")
    before = {n.pk: (n.pigment_brand, n.pigment_shade, n.pigment_blend, n.needle) for n in (a, b, c, blank)}

    made = migration.legacy_pigment_migrate(apps, None)

    # clinic["note"] (shade "2", no brand) is one more pigment product.
    assert made == {"products": 3, "batches": 4, "links": 6}
    for note in SessionNote.objects.filter(pk__in=before):
        assert (note.pigment_brand, note.pigment_shade, note.pigment_blend, note.needle) == before[note.pk]
    links = {(u.session_note_id, str(u.batch.product), u.batch.location_id) for u in SessionBatch.objects.all()}
    assert (a.pk, "Demo 2", here.pk) in links
    assert (a.pk, "1RL", here.pk) in links
    assert (c.pk, "Demo 2", elsewhere.pk) in links
    assert not any(note == blank.pk for note, _, _ in links)
    assert set(Batch.objects.values_list("is_legacy", "lot_number")) == {(True, "")}
    assert not Product.objects.filter(is_active=True).exists()
    # Again: nothing new.
    assert migration.legacy_pigment_migrate(apps, None) == {"products": 0, "batches": 0, "links": 0}


def test_migrated_batches_are_never_offered_nor_found_by_a_recall(client, clinic):
    _note(clinic, clinic["here"], 40, pigment_brand="Demo", pigment_shade="2")
    migration.legacy_pigment_migrate(apps, None)
    login_as(client, clinic["technician"].user)
    page = client.get(reverse("staff:session_note", args=[clinic["session"].pk])).content.decode()
    assert "lot unknown" not in page
    from bookings.stock_selectors import recall_search

    assert recall_search("").clients == []


def test_the_note_page_shows_the_free_text_read_only(client, clinic):
    note = _note(clinic, clinic["here"], 40, pigment_brand="OldBrand", needle="3RL")
    login_as(client, clinic["technician"].user)
    page = client.get(reverse("staff:session_note", args=[note.appointment.pk])).content.decode()
    assert "Recorded as text before batches were tracked" in page
    assert "OldBrand" in page
    assert 'name="pigment_brand"' not in page
