"""Private photos stay private: patch-test and intake photos never reach the public results page,
whatever a manager ticks in the admin, and a client deleted in the admin leaves no photo file
behind in private storage."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import AuditEvent, Client, Photo
from clients.tests.factories import ClientFactory, PhotoFactory
from smpclinic.public.selectors import result_pair_list
from smpclinic.tests.logins import login_as
from treatments.tests.factories import published_pair

pytestmark = pytest.mark.django_db


def _admin_change(http, photo: Photo, **changes):
    """POST the admin's photo change form with the photo's own values and ``changes``."""
    local = timezone.localtime(photo.taken_at)
    data = {
        "appointment": photo.appointment_id or "",
        "angle": photo.angle,
        "phase": photo.phase,
        "taken_at_0": local.strftime("%d/%m/%Y"),
        "taken_at_1": local.strftime("%H:%M:%S"),
        "caption": photo.caption,
        **({"marketing_consent": "on"} if photo.marketing_consent else {}),
    }
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return http.post(reverse("admin:clients_photo_change", args=[photo.pk]), data)


def test_a_patch_test_photo_flagged_for_marketing_never_reaches_the_results_page(client, frozen_now):
    before, after = published_pair()
    patch = PhotoFactory(
        client=before.client,
        appointment=None,
        angle=before.angle,
        phase=Photo.Phase.PATCH_TEST,
        taken_at=frozen_now,
        marketing_consent=True,
    )

    pairs = result_pair_list()

    assert [(p.before, p.after) for p in pairs] == [(before, after)]
    assert f"/results/photo/{patch.pk}/" not in client.get("/results/").content.decode()
    assert client.get(f"/results/photo/{patch.pk}/full/").status_code == 404
    assert client.get(f"/results/photo/{patch.pk}/thumb/").status_code == 404


def test_the_admin_refuses_to_flag_a_patch_test_photo_for_marketing(client, clinic, frozen_now):
    before, _ = published_pair(client=clinic["client"])
    patch = PhotoFactory(client=before.client, appointment=None, phase=Photo.Phase.PATCH_TEST, taken_at=frozen_now)
    login_as(client, clinic["manager"])

    response = _admin_change(client, patch, marketing_consent=True)

    assert response.status_code == 200
    assert "patch-test photo stays private" in response.content.decode()
    patch.refresh_from_db()
    assert patch.marketing_consent is False


@pytest.mark.parametrize("phase", [Photo.Phase.INTAKE, Photo.Phase.PATCH_TEST])
def test_the_admin_cannot_relabel_a_private_photo_as_an_after_photo(client, clinic, frozen_now, phase):
    before, _ = published_pair(client=clinic["client"])
    private = PhotoFactory(client=before.client, appointment=None, phase=phase, taken_at=frozen_now)
    login_as(client, clinic["manager"])

    response = _admin_change(client, private, phase=Photo.Phase.AFTER, marketing_consent=True)

    assert response.status_code == 200
    assert "keeps its phase" in response.content.decode()
    private.refresh_from_db()
    assert (private.phase, private.marketing_consent) == (phase, False)
    assert client.get(f"/results/photo/{private.pk}/full/").status_code == 404


def test_the_admin_still_flags_an_after_photo_with_consent(client, clinic):
    _, after = published_pair(client=clinic["client"])
    Photo.objects.filter(pk=after.pk).update(marketing_consent=False)
    after.refresh_from_db()
    login_as(client, clinic["manager"])

    assert _admin_change(client, after, marketing_consent=True).status_code == 302

    after.refresh_from_db()
    assert after.marketing_consent is True


def test_deleting_a_client_in_the_admin_deletes_their_photo_files(client, clinic, django_capture_on_commit_callbacks):
    lone = ClientFactory()
    photo = PhotoFactory(client=lone, appointment=None, phase=Photo.Phase.PATCH_TEST, taken_at=timezone.now())
    storage, names = photo.image.storage, [photo.image.name, photo.thumbnail.name]
    assert all(storage.exists(name) for name in names if name)
    login_as(client, clinic["manager"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:clients_client_delete", args=[lone.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Client.objects.filter(pk=lone.pk).exists()
    assert not any(storage.exists(name) for name in names if name)
    assert AuditEvent.objects.filter(action="delete", object_type="client", client_id_ref=lone.pk).exists()
