from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from PIL import ExifTags, Image

from clients.photos import MAX_UPLOAD_BYTES, photo_clean
from clients.tests import images


def reopen(content) -> Image.Image:
    return Image.open(io.BytesIO(content.read() if hasattr(content, "read") else content))


def rejection(data: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as exc:
        photo_clean(data=data, name="upload")
    return exc.value


def test_it_strips_gps_and_every_other_exif_tag_from_a_jpeg():
    original = images.jpeg(gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the fixture really has GPS

    clean = photo_clean(data=original)

    stored = reopen(clean.image.open())
    exif = stored.getexif()
    assert exif.get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert dict(exif) == {}
    assert "exif" not in stored.info
    assert "icc_profile" not in stored.info
    assert stored.format == "JPEG"


def test_it_applies_exif_orientation_before_stripping():
    clean = photo_clean(data=images.jpeg(size=(40, 20), orientation=6))
    assert (clean.width, clean.height) == (20, 40)
    assert reopen(clean.image.open()).size == (20, 40)


def test_it_makes_a_small_thumbnail():
    clean = photo_clean(data=images.jpeg(size=(2000, 1500)))
    thumb = reopen(clean.thumbnail.open())
    assert max(thumb.size) == 480
    assert thumb.format == "JPEG"


@pytest.mark.parametrize("make", [images.png, images.webp], ids=["png", "webp"])
def test_it_accepts_png_and_webp_and_stores_jpeg(make):
    clean = photo_clean(data=make())
    assert reopen(clean.image.open()).format == "JPEG"


def test_it_rejects_a_decompression_bomb():
    error = rejection(images.png_bomb())
    assert "decompression bomb" in error.messages[0]


def test_it_rejects_too_many_pixels_below_pillows_own_limit():
    error = rejection(images.png_bomb(width=10_000, height=6_000))
    assert error.code == "too_many_pixels"


def test_it_rejects_a_png_html_polyglot():
    error = rejection(images.png_html_polyglot())
    assert error.code == "polyglot"
    assert "extra content after the image" in error.messages[0]


def test_it_rejects_a_jpeg_html_polyglot():
    error = rejection(images.jpeg_html_polyglot())
    assert error.code == "markup"
    assert "only JPEG, PNG or WebP" in error.messages[0]


def test_a_small_png_with_markup_in_its_head_is_rejected():
    assert rejection(images.png() + b"<script>alert(1)</script>").code in {"markup", "polyglot"}


def test_it_rejects_content_after_the_png_end_marker():
    error = rejection(images.png_with_trailer())
    assert error.code == "polyglot"
    assert "extra content after the image" in error.messages[0]


@pytest.mark.parametrize("data", [images.SVG, images.HTML, b"GIF89a" + b"\x00" * 40], ids=["svg", "html", "gif"])
def test_it_rejects_anything_that_is_not_jpeg_png_or_webp(data):
    assert rejection(data).code in {"markup", "format"}


def test_it_rejects_a_truncated_jpeg():
    error = rejection(images.truncated_jpeg())
    assert error.code == "truncated"
    assert "truncated" in error.messages[0]


def test_it_rejects_a_file_over_the_size_limit():
    error = rejection(images.jpeg() + b"\x00" * (MAX_UPLOAD_BYTES + 1))
    assert error.code == "too_large"
    assert "15 MB" in error.messages[0]
