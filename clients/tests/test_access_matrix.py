"""Every staff URL, requested by every kind of visitor, answers exactly as the roles say.

Anonymous visitors and client link holders (a client with a booking's manage link, but no
staff session) are redirected to the staff login (302), never shown a record. Reception is
logged in but has no clinical role: 403. A technician of another location gets 404 for
records (they must not learn the record exists) and 200 for their own schedule. The right
technician gets 200 everywhere except the manager-only export and erasure (403); the
manager gets 200 everywhere. POST-only actions answer a redirect (302) when allowed.
"""

from __future__ import annotations

import contextlib

import pytest
from django.urls import NoReverseMatch, reverse

from bookings.tokens import booking_token_make
from clients.tests.conftest import PASSWORD
from clients.tests.factories import ConsentRecordFactory
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db

OK, POSTED, LOGIN, FORBIDDEN, MISSING = 200, 302, "login", 403, 404


def urls(clinic, consent):
    session, consultation, client, photo = clinic["session"], clinic["consultation"], clinic["client"], clinic["photo"]
    # (name, method, url, technician's answer, reception-like roles' answer for records)
    return [
        ("schedule", "get", reverse("staff:schedule"), OK),
        ("clients", "get", reverse("staff:clients"), OK),
        ("client", "get", reverse("staff:client", args=[client.pk]), OK),
        ("appointment", "get", reverse("staff:appointment", args=[session.pk]), OK),
        ("assessment", "get", reverse("staff:assessment", args=[consultation.pk]), OK),
        ("session_note", "get", reverse("staff:session_note", args=[session.pk]), OK),
        ("photo_upload", "get", reverse("staff:photo_upload", args=[session.pk]), OK),
        ("next_session", "get", reverse("staff:next_session", args=[session.pk]), OK),
        ("course_plan", "get", reverse("staff:course_plan", args=[consultation.pk]), OK),
        ("photo_thumb", "get", reverse("staff:photo_file", args=[photo.pk, "thumb"]), OK),
        ("photo_full", "get", reverse("staff:photo_file", args=[photo.pk, "full"]), OK),
        ("compare", "get", reverse("staff:compare", args=[client.pk]), OK),
        ("consents", "get", reverse("staff:consents", args=[client.pk]), OK),
        ("export", "get", reverse("staff:export", args=[client.pk]), FORBIDDEN),
        ("erase", "get", reverse("staff:erase", args=[client.pk]), FORBIDDEN),
        # The session is under way: completing it before its end asks first (the page, 200).
        ("complete", "post", reverse("staff:complete", args=[session.pk]), OK),
        ("consent_withdraw", "post", reverse("staff:consent_withdraw", args=[client.pk, consent.pk]), POSTED),
    ]


def expected(visitor: str, name: str, technician_answer) -> object:
    if visitor in {"anonymous", "link_holder"}:
        return LOGIN
    if visitor == "reception":
        return FORBIDDEN
    if visitor == "other_technician":
        if name in {"schedule", "clients"}:
            return OK
        return FORBIDDEN if name in {"export", "erase"} else MISSING
    if visitor == "technician":
        return technician_answer
    if visitor == "manager":
        return POSTED if technician_answer == POSTED else OK
    raise AssertionError(visitor)


def visitor_client(client, clinic, visitor):
    if visitor == "link_holder":
        token = booking_token_make(appointment=clinic["session"])
        # The manage page is optional here: holding the token is what matters.
        with contextlib.suppress(NoReverseMatch):
            client.get(reverse("bookings:manage", args=[token]))
        return client, f"?token={token}"
    users = {
        "reception": clinic["reception"],
        "other_technician": clinic["other"].user,
        "technician": clinic["technician"].user,
        "manager": clinic["manager"],
    }
    if visitor in users:
        login_as(client, users[visitor])
    return client, ""


@pytest.mark.parametrize(
    "visitor", ["anonymous", "link_holder", "reception", "other_technician", "technician", "manager"]
)
def test_every_staff_url_answers_as_the_roles_say(client, clinic, visitor):
    consent = ConsentRecordFactory(client=clinic["client"])
    http, suffix = visitor_client(client, clinic, visitor)
    answers = {}
    for name, method, url, _ in urls(clinic, consent):
        response = getattr(http, method)(url + suffix)
        got = response.status_code
        if got == 302 and response["Location"].startswith(reverse("staff:login")):
            got = LOGIN
        answers[name] = got
    wanted = {
        name: expected(visitor, name, technician_answer) for name, _, _, technician_answer in urls(clinic, consent)
    }
    assert answers == wanted


def test_login_page_is_public_and_logs_a_technician_in(client, clinic):
    response = client.get(reverse("staff:login"))
    assert response.status_code == 200
    response = client.post(reverse("staff:login"), {"username": "tech", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:schedule")


def test_uploads_are_never_reachable_under_a_public_url(client, clinic):
    photo = clinic["photo"]
    name = photo.image.name
    for url in [
        f"/media/{name}",
        f"/media-is-never-served/{name}",
        f"/static/{name}",
        f"/private/{name}",
        f"/{name}",
        f"/{photo.thumbnail.name}" if photo.thumbnail else f"/thumbs/{name}",
    ]:
        assert client.get(url).status_code == 404, url
    assert photo.image.storage.exists(name)


def test_photo_views_are_logged_in_the_audit_trail(client, clinic):
    from clients.models import AuditEvent

    client.login(username="tech", password=PASSWORD)
    response = client.get(reverse("staff:photo_file", args=[clinic["photo"].pk, "full"]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Type"] == "image/jpeg"
    event = AuditEvent.objects.get(action="view", object_type="photo")
    assert (event.actor, event.object_id, event.client_id_ref) == (
        clinic["technician"].user,
        str(clinic["photo"].pk),
        clinic["client"].pk,
    )


def test_a_photo_whose_file_is_gone_answers_404_not_500(client, clinic):
    photo = clinic["photo"]
    photo.image.storage.delete(photo.image.name)
    client.login(username="tech", password=PASSWORD)
    assert client.get(reverse("staff:photo_file", args=[photo.pk, "full"])).status_code == 404
    assert client.get(reverse("staff:photo_file", args=[photo.pk, "poster"])).status_code == 404
