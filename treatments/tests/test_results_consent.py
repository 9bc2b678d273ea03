"""Only photos a client consented to show may ever reach /results/, checked at every request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.tests.factories import UserFactory
from clients.models import ConsentRecord, ConsentWording, Photo
from clients.tests.factories import ClientFactory, ConsentRecordFactory, ConsentWordingFactory, PhotoFactory
from smpclinic.public.selectors import photo_list_public, result_pair_list
from treatments.tests.factories import TreatmentFactory, published_pair

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_now(frozen_now):
    # Consent, withdrawal and photo dates are all "days before now": one frozen now for each test.
    return frozen_now


def shown_on_results_page(client, photo: Photo) -> bool:
    html = client.get("/results/").content.decode()
    return f"/results/photo/{photo.pk}/" in html


def photo_status(client, photo: Photo, size: str = "full") -> int:
    return client.get(f"/results/photo/{photo.pk}/{size}/").status_code


def test_a_consented_pair_is_shown_and_its_photos_are_served(client):
    before, after = published_pair()
    assert shown_on_results_page(client, before)
    assert shown_on_results_page(client, after)
    response = client.get(f"/results/photo/{after.pk}/thumb/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_a_photo_not_marked_for_marketing_never_appears(client):
    before, after = published_pair()
    Photo.objects.filter(pk=after.pk).update(marketing_consent=False)
    assert not shown_on_results_page(client, after)
    assert not shown_on_results_page(client, before)  # half a pair is not a result
    assert photo_status(client, after) == 404


def test_a_marked_photo_without_the_clients_consent_never_appears(client):
    client_record = ClientFactory()
    appointment_photo = PhotoFactory(client=client_record, marketing_consent=True, phase=Photo.Phase.BEFORE)
    PhotoFactory(client=client_record, marketing_consent=True, phase=Photo.Phase.AFTER)
    assert result_pair_list() == []
    assert photo_status(client, appointment_photo) == 404


def test_consent_to_clinical_photos_is_not_consent_to_marketing(client):
    before, after = published_pair()
    ConsentRecord.objects.filter(client=before.client).update(
        wording=ConsentWordingFactory(kind=ConsentWording.Kind.CLINICAL_PHOTOS)
    )
    assert not shown_on_results_page(client, after)
    assert photo_status(client, after) == 404


def test_another_clients_consent_does_not_unlock_a_photo(client):
    before, _after = published_pair()
    ConsentRecord.objects.filter(client=before.client).update(client=ClientFactory())
    assert photo_list_public().count() == 0
    assert photo_status(client, before) == 404


def test_a_photo_whose_consent_was_withdrawn_after_publishing_disappears_at_once(client):
    before, after = published_pair()
    assert shown_on_results_page(client, after)
    assert photo_status(client, after, "thumb") == 200
    assert "/results/photo/" in client.get("/").content.decode()

    ConsentRecord.objects.filter(client=after.client).update(withdrawn_at=timezone.now())

    assert not shown_on_results_page(client, before)
    assert not shown_on_results_page(client, after)
    assert "/results/photo/" not in client.get("/").content.decode()
    for photo in (before, after):
        for size in ("thumb", "full"):
            assert photo_status(client, photo, size) == 404


def test_a_new_consent_after_a_withdrawal_shows_the_photos_again(client):
    _before, after = published_pair()
    ConsentRecord.objects.filter(client=after.client).update(withdrawn_at=timezone.now())
    ConsentRecordFactory(
        client=after.client, wording=ConsentWordingFactory(kind=ConsentWording.Kind.MARKETING_PHOTOS, version=2)
    )
    assert shown_on_results_page(client, after)


def test_consent_dated_in_the_future_does_not_count_yet(client):
    _before, after = published_pair()
    ConsentRecord.objects.filter(client=after.client).update(given_at=timezone.now() + timedelta(days=1))
    assert photo_status(client, after) == 404


def test_an_erased_clients_photos_never_appear(client):
    _before, after = published_pair()
    type(after.client).objects.filter(pk=after.client.pk).update(erased_at=timezone.now())
    assert not shown_on_results_page(client, after)
    assert photo_status(client, after) == 404


def test_staff_get_no_back_door_through_the_public_photo_url(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    photo = PhotoFactory()
    assert photo_status(client, photo) == 404


@pytest.mark.parametrize(
    "url",
    [
        "/results/photo/1/huge/",
        "/results/photo/99999/full/",
        "/results/photo/x/full/",
        "/results/photo/99999999999999999999999/full/",
    ],
)
def test_unknown_photo_urls_are_404(client, url):
    published_pair()
    assert client.get(url).status_code == 404


def test_results_show_only_pairs_of_one_client_and_one_angle():
    treatment = TreatmentFactory()
    before, _ = published_pair(treatment=treatment, angle=Photo.Angle.FRONT)
    # Same client, another angle, only an 'after': no pair for that angle.
    PhotoFactory(client=before.client, angle=Photo.Angle.CROWN, phase=Photo.Phase.AFTER, marketing_consent=True)
    pairs = result_pair_list()
    assert [(pair.before.angle, pair.after.angle) for pair in pairs] == [("front", "front")]
    assert pairs[0].treatment == treatment
