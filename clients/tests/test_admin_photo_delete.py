"""A photo deleted in the admin takes its files with it (image and thumbnail), as erasure does:
nothing of it stays in private storage."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import Photo
from clients.tests.factories import PhotoFactory
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db


def _files(photo):
    return photo.image.storage, [f.name for f in (photo.image, photo.thumbnail) if f]


def test_deleting_a_photo_in_the_admin_deletes_its_files(client, clinic, django_capture_on_commit_callbacks):
    photo = clinic["photo"]
    storage, names = _files(photo)
    assert names
    assert all(storage.exists(n) for n in names)
    login_as(client, clinic["manager"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:clients_photo_delete", args=[photo.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Photo.objects.filter(pk=photo.pk).exists()
    assert not any(storage.exists(n) for n in names)


def test_deleting_photos_with_the_list_action_deletes_their_files(client, clinic, django_capture_on_commit_callbacks):
    photos = [clinic["photo"], PhotoFactory(client=clinic["client"])]
    files = [_files(p) for p in photos]
    login_as(client, clinic["manager"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:clients_photo_changelist"),
            {"action": "delete_selected", "_selected_action": [p.pk for p in photos], "post": "yes"},
        )

    assert response.status_code == 302
    assert not Photo.objects.filter(pk__in=[p.pk for p in photos]).exists()
    assert not any(storage.exists(n) for storage, names in files for n in names)
