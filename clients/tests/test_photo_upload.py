from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import ExifTags, Image

from clients.models import AuditEvent, Photo
from clients.tests import images
from clients.tests.conftest import PASSWORD
from clients.tests.factories import PhotoFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tech(client, clinic):
    client.login(username="tech", password=PASSWORD)
    return client


def upload(http, clinic, files, *, angles=(), phase="before"):
    url = reverse("staff:photo_upload", args=[clinic["session"].pk])
    data = {"photos": files, "phase": phase, "default_angle": "front"}
    if angles:
        data["angles"] = list(angles)
    return http.post(url, data)


def test_several_photos_are_stored_each_with_its_angle(tech, clinic):
    files = [SimpleUploadedFile(f"p{i}.jpg", images.jpeg(), content_type="image/jpeg") for i in range(3)]
    response = upload(tech, clinic, files, angles=["hairline", "crown", "back"], phase="after")
    assert response.status_code == 302
    stored = Photo.objects.filter(appointment=clinic["session"]).order_by("pk")
    assert [(p.angle, p.phase) for p in stored] == [("hairline", "after"), ("crown", "after"), ("back", "after")]
    assert all(p.thumbnail and p.uploaded_by == clinic["technician"].user for p in stored)
    assert AuditEvent.objects.filter(action="create", object_type="photo").count() == 3


def test_a_jpeg_with_gps_exif_is_stored_with_none(tech, clinic):
    original = images.jpeg(gps=True)
    upload(tech, clinic, [SimpleUploadedFile("gps.jpg", original, content_type="image/jpeg")])
    photo = Photo.objects.get(appointment=clinic["session"])
    for field in (photo.image, photo.thumbnail):
        with field.open("rb") as fh, Image.open(fh) as stored:
            exif = stored.getexif()
            assert exif.get_ifd(ExifTags.IFD.GPSInfo) == {}
            assert len(exif) == 0
    with photo.image.open("rb") as fh:
        assert b"TabletCam" not in fh.read()
    # Random names: nothing of the original file name reaches storage.
    assert "gps" not in photo.image.name
    assert photo.image.name.startswith("photos/")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bomb.png", images.png_bomb(), "decompression bomb"),
        ("polyglot.png", images.png_html_polyglot(), "extra content after the image"),
        ("polyglot.jpg", images.jpeg_html_polyglot(), "web page or SVG markup"),
        ("trailer.png", images.png_with_trailer(), "extra content after the image"),
        ("image.svg", images.SVG, "web page or SVG markup"),
        ("truncated.jpg", images.truncated_jpeg(), "truncated"),
        ("huge.jpg", images.jpeg() + b"\0" * (30 * 1024 * 1024), "30 MB; the limit is 15 MB"),
    ],
    ids=[
        "decompression-bomb",
        "png-html-polyglot",
        "jpeg-html-polyglot",
        "png-trailer",
        "svg",
        "truncated-jpeg",
        "30-mb",
    ],
)
def test_hostile_uploads_are_rejected_with_a_clear_message(tech, clinic, name, data, message):
    good = SimpleUploadedFile("good.jpg", images.jpeg(), content_type="image/jpeg")
    bad = SimpleUploadedFile(name, data, content_type="image/jpeg")
    response = upload(tech, clinic, [good, bad])
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert "No photos were saved" in body
    # All or nothing: the good photo in the same batch was not kept either.
    assert not Photo.objects.filter(appointment=clinic["session"]).exists()


def test_an_upload_with_no_file_says_so(tech, clinic):
    response = tech.post(reverse("staff:photo_upload", args=[clinic["session"].pk]), {"phase": "before"})
    assert response.status_code == 400
    assert "Choose at least one photo" in response.content.decode()


def test_an_unknown_angle_is_refused(tech, clinic):
    files = [SimpleUploadedFile("a.jpg", images.jpeg(), content_type="image/jpeg")]
    response = upload(tech, clinic, files, angles=["ceiling"])
    assert response.status_code == 400
    assert "choose its angle" in response.content.decode()


def test_compare_shows_the_same_angle_across_sessions_side_by_side(tech, clinic):
    for appointment, phase in [
        (clinic["consultation"], "before"),
        (clinic["session"], "before"),
        (clinic["session"], "after"),
    ]:
        PhotoFactory(
            client=clinic["client"], appointment=appointment, angle="crown", phase=phase, taken_at=appointment.start
        )
    response = tech.get(reverse("staff:compare", args=[clinic["client"].pk]), {"angle": "crown"})
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r["appointment"] for r in rows] == [clinic["consultation"], clinic["session"]]
    assert [(len(r["before"]), len(r["after"])) for r in rows] == [(1, 0), (1, 1)]
    assert AuditEvent.objects.filter(action="view", object_type="photo_compare").exists()
