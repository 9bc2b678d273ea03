"""A session note records the batches it used: only the session location's batches, in date on
the session's day and not recalled, refused with the reason (service and workspace form)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from bookings.models_stock import Product, SessionBatch
from bookings.services.stock import BatchUse, batch_recall, session_note_record
from bookings.stock_selectors import session_day
from bookings.tests.factories import BatchFactory, ProductFactory
from clients.models import AuditEvent, SessionNote
from smpclinic.tests.logins import login_as


@pytest.fixture
def stock(clinic):
    """At the session's location: two pigments in date, a needle, one expired the day before the
    session, one recalled; and one in date at the other location."""
    day = session_day(clinic["session"])
    here, elsewhere = clinic["here"], clinic["elsewhere"]
    needle = ProductFactory(kind=Product.Kind.NEEDLE, brand="Sharp", shade="1RL 0.18 mm")
    recalled = BatchFactory(location=here, lot_number="RC-1", expires_on=day + timedelta(days=300))
    batch_recall(batch=recalled, reason="Supplier notice 12", by=clinic["manager"])
    return {
        "day": day,
        "shade2": BatchFactory(location=here, lot_number="S2-1", expires_on=day + timedelta(days=90)),
        "shade3": BatchFactory(location=here, lot_number="S3-1", expires_on=day),  # the last day it may be used
        "needle": BatchFactory(location=here, product=needle, lot_number="N-1", expires_on=day + timedelta(days=400)),
        "expired": BatchFactory(location=here, lot_number="EX-1", expires_on=day - timedelta(days=1)),
        "recalled": recalled,
        "elsewhere": BatchFactory(location=elsewhere, lot_number="EL-1", expires_on=day + timedelta(days=90)),
    }


def _record(clinic, *batches, shares=None):
    uses = [BatchUse(batch=b, share_percent=(shares or {}).get(b.pk)) for b in batches]
    return session_note_record(
        appointment=clinic["session"], data={"areas": ["crown"]}, uses=uses, by=clinic["technician"].user
    )


@pytest.mark.parametrize(
    ("name", "code"),
    [("expired", "batch_expired"), ("recalled", "batch_recalled"), ("elsewhere", "batch_other_location")],
)
def test_the_service_refuses_a_batch_that_may_not_be_used_and_saves_nothing(clinic, stock, name, code):
    with pytest.raises(ValidationError) as caught:
        _record(clinic, stock["shade2"], stock[name])
    assert [e.code for e in caught.value.error_list] == [code]
    assert not SessionNote.objects.filter(appointment=clinic["session"]).exists()
    assert not SessionBatch.objects.exists()


def test_the_service_records_the_blend_by_batch_and_the_needle_with_an_audit_row(clinic, stock):
    note = _record(
        clinic,
        stock["shade2"],
        stock["shade3"],
        stock["needle"],
        shares={stock["shade2"].pk: 70, stock["shade3"].pk: 30},
    )
    uses = {u.batch_id: u.share_percent for u in SessionBatch.objects.filter(session_note=note)}
    assert uses == {stock["shade2"].pk: 70, stock["shade3"].pk: 30, stock["needle"].pk: None}
    event = AuditEvent.objects.get(object_type="sessionnote", fields=["batches"])
    assert (event.client_id_ref, event.actor) == (clinic["client"].pk, clinic["technician"].user)


def test_a_batch_recalled_after_the_session_stays_on_its_note_when_the_note_is_saved_again(clinic, stock):
    note = _record(clinic, stock["shade2"])
    batch_recall(batch=stock["shade2"], reason="Supplier notice 13", by=clinic["manager"])
    _record(clinic, stock["shade2"], stock["needle"])
    assert set(SessionBatch.objects.filter(session_note=note).values_list("batch_id", flat=True)) == {
        stock["shade2"].pk,
        stock["needle"].pk,
    }


def _url(clinic):
    return reverse("staff:session_note", args=[clinic["session"].pk])


def _post(client, clinic, **fields):
    login_as(client, clinic["technician"].user)
    data = {"areas": ["crown"], "depth": "standard", **fields}
    return client.post(_url(clinic), data)


def test_the_workspace_form_offers_only_the_locations_usable_batches(client, clinic, stock):
    login_as(client, clinic["technician"].user)
    page = client.get(_url(clinic)).content.decode()
    for usable in ("S2-1", "S3-1", "N-1"):
        assert usable in page
    for refused in ("EX-1", "RC-1", "EL-1"):
        assert refused not in page


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("expired", "expired on"),
        ("recalled", "has been recalled"),
        ("elsewhere", "stocked at another location"),
    ],
)
def test_the_workspace_form_refuses_a_posted_batch_with_the_reason_and_a_400(client, clinic, stock, name, reason):
    response = _post(client, clinic, pigment_0=stock[name].pk)
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not SessionNote.objects.filter(appointment=clinic["session"]).exists()


def test_the_workspace_form_refuses_an_expired_needle(client, clinic, stock):
    old = BatchFactory(
        location=clinic["here"],
        product=stock["needle"].product,
        lot_number="N-OLD",
        received_on=stock["day"] - timedelta(days=400),
        expires_on=stock["day"] - timedelta(days=3),
    )
    response = _post(client, clinic, needles=[old.pk])
    assert response.status_code == 400
    assert "expired on" in response.content.decode()


def test_the_workspace_form_saves_the_blend_and_needle(client, clinic, stock):
    response = _post(
        client,
        clinic,
        pigment_0=stock["shade2"].pk,
        share_0="60",
        pigment_1=stock["shade3"].pk,
        share_1="40",
        needles=[stock["needle"].pk],
    )
    assert response.status_code == 302
    note = SessionNote.objects.get(appointment=clinic["session"])
    assert sorted(note.batch_uses.values_list("share_percent", flat=True), key=lambda s: s or 0) == [None, 40, 60]


def test_one_pigment_batch_is_the_whole_blend(client, clinic, stock):
    assert _post(client, clinic, pigment_0=stock["shade2"].pk).status_code == 302
    assert SessionBatch.objects.get().share_percent == 100


@pytest.mark.parametrize(
    ("shares", "message"),
    [(("50", "40"), "must add up to 100%"), (("50", ""), "needs each batch")],
)
def test_a_blend_of_several_batches_needs_shares_that_add_up(client, clinic, stock, shares, message):
    response = _post(
        client, clinic, pigment_0=stock["shade2"].pk, share_0=shares[0], pigment_1=stock["shade3"].pk, share_1=shares[1]
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SessionBatch.objects.exists()
    # The message is on the share fields it is about, not only in the banner.
    assert response.context["stock"].errors.keys() - {"pigment_0", "pigment_1"} <= {"share_0", "share_1"}
    assert response.context["stock"].errors.get("share_0") or response.context["stock"].errors.get("share_1")


def test_a_needle_posted_as_a_pigment_is_refused(client, clinic, stock):
    response = _post(client, clinic, pigment_0=stock["needle"].pk)
    assert response.status_code == 400
    assert "is not a pigment" in response.content.decode()


def test_a_batch_id_that_is_no_batch_is_a_400(client, clinic, stock):
    response = _post(client, clinic, pigment_0="999999999", needles=["abc"])
    assert response.status_code == 400


def _authored(clinic):
    note = clinic["note"]
    note.author = clinic["technician"].user
    note.save()
    return note


def test_the_session_note_admin_does_not_take_a_recalled_batch_in_its_inline(client, clinic, stock):
    note = _authored(clinic)
    login_as(client, clinic["manager"])
    response = client.post(
        reverse("admin:clients_sessionnote_change", args=[note.pk]),
        {
            "areas": '["hairline"]',
            "reactions": "[]",
            "batch_uses-TOTAL_FORMS": "1",
            "batch_uses-INITIAL_FORMS": "0",
            "batch_uses-0-batch": stock["recalled"].pk,
            "batch_uses-0-share_percent": "100",
        },
    )
    assert response.status_code == 200  # the page again, with the reason
    assert "Select a valid choice" in response.content.decode()
    assert not SessionBatch.objects.exists()


def test_the_session_note_admin_records_a_batch_through_the_service(client, clinic, stock):
    note = _authored(clinic)
    # The noted session was 14 days before today's: a batch in date then.
    batch = BatchFactory(location=clinic["here"], lot_number="ADM-1")
    login_as(client, clinic["manager"])
    response = client.post(
        reverse("admin:clients_sessionnote_change", args=[note.pk]),
        {
            "areas": '["hairline"]',
            "reactions": "[]",
            "batch_uses-TOTAL_FORMS": "1",
            "batch_uses-INITIAL_FORMS": "0",
            "batch_uses-0-batch": batch.pk,
            "batch_uses-0-share_percent": "100",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert SessionBatch.objects.get(session_note=note).batch == batch
    assert AuditEvent.objects.filter(
        object_type="sessionnote", fields=["batches"], detail__startswith="batches"
    ).exists()


def test_a_note_whose_author_has_left_can_still_be_edited(client, clinic):
    """The author's account deleted (SET_NULL): the note stays valid and editable, not a 500."""
    note = clinic["note"]
    assert note.author is None  # as after the author's user was deleted
    login_as(client, clinic["technician"].user)
    url = reverse("staff:session_note", args=[note.appointment.pk])
    response = client.post(url, {"areas": ["crown"], "depth": "standard", "notes": "Touched up the crown."})
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.notes == "Touched up the crown."
    assert note.author is None  # the note's author is who wrote it, not who edited it


def test_a_refusal_about_a_field_no_form_shows_is_a_400_with_the_reason(client, clinic, monkeypatch):
    from smpclinic.workspace import views

    def refuse(**kwargs):
        raise ValidationError({"author": ["This note's author is required."], "depth": ["Too deep for a scar."]})

    monkeypatch.setattr(views, "session_note_record", refuse)
    response = _post(client, clinic)
    assert response.status_code == 400
    page = response.content.decode()
    assert "This note&#x27;s author is required." in page
    assert "Too deep for a scar." in page
