"""The photo pipeline: prove an upload is a real JPEG, PNG or WebP image, then keep only its pixels.

Every check decodes the file with Pillow rather than trusting its name or content type.
The stored file is a fresh JPEG made from the pixel data alone, so no EXIF (GPS, device,
time), XMP, ICC or comment survives, and anything smuggled around the image is dropped.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 15 * 1024 * 1024
# About a 50 MP camera; far beyond any tablet, far below what would exhaust memory.
MAX_PIXELS = 50_000_000
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
THUMBNAIL_SIZE = (480, 480)
JPEG_QUALITY = 90

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Markup around an image (a polyglot) is what a browser would sniff and run. Only the head of
# the file and what follows the image's end are searched: compressed pixel data would match
# short patterns like "<svg" by chance in a few photos in a thousand.
MARKUP = re.compile(rb"<\s*(?:html|script|svg|body|iframe|\?xml|!doctype)", re.IGNORECASE)
HEAD_BYTES = 1024


@dataclass(frozen=True)
class CleanPhoto:
    image: ContentFile
    thumbnail: ContentFile
    width: int
    height: int


def _reject(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def _markup() -> ValidationError:
    return _reject("This file contains web page or SVG markup: only JPEG, PNG or WebP photos are accepted.", "markup")


def _tail(data: bytes, image_format: str) -> bytes:
    """What follows the image proper: after JPEG's last end-of-image marker, or beyond WebP's RIFF size."""
    if image_format == "JPEG":
        end = data.rfind(b"\xff\xd9")
        return data[end + 2 :] if end >= 0 else b""
    if image_format == "WEBP" and len(data) >= 8:
        (size,) = struct.unpack("<I", data[4:8])
        return data[8 + size :]
    return b""


def _check_png_structure(data: bytes) -> None:
    """Walk the PNG chunks: nothing may follow IEND (the HTML/PNG polyglot trick)."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            if data[pos:].strip(b"\x00"):
                raise _reject("This PNG has extra content after the image: it is not a plain photo.", "polyglot")
            return
    raise _reject("This PNG is incomplete (it has no end marker).", "truncated")


def photo_clean(*, data: bytes, name: str = "") -> CleanPhoto:
    """Validate one upload and return its re-encoded image and thumbnail, or raise ValidationError."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise _reject(
            f"{name or 'This file'} is {len(data) / 1024 / 1024:.0f} MB; photos may be at most "
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB.",
            "too_large",
        )
    if not data:
        raise _reject("This file is empty.", "empty")
    if MARKUP.search(data[:HEAD_BYTES]):
        raise _markup()

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as probe:
                image_format = probe.format
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise _reject(
                        f"This image is {width} x {height} pixels, more than the {MAX_PIXELS // 1_000_000} million "
                        "allowed (it could be a decompression bomb).",
                        "too_many_pixels",
                    )
                probe.verify()
            if image_format == "PNG":
                _check_png_structure(data)
            elif MARKUP.search(_tail(data, image_format)):
                raise _markup()
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
                img.load()
                upright = ImageOps.exif_transpose(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _reject("This image has too many pixels (it could be a decompression bomb).", "too_many_pixels")
    except UnidentifiedImageError:
        raise _reject("This is not a JPEG, PNG or WebP photo.", "format")
    except (OSError, SyntaxError, ValueError, struct.error):
        # Pillow reports truncated and corrupt files as OSError/SyntaxError.
        raise _reject("This photo is damaged or incomplete (truncated); please take it again.", "truncated")

    clean = _pixels_only(upright)
    full = io.BytesIO()
    clean.save(full, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    thumb_img = clean.copy()
    thumb_img.thumbnail(THUMBNAIL_SIZE)
    thumb = io.BytesIO()
    thumb_img.save(thumb, format="JPEG", quality=80, optimize=True)
    return CleanPhoto(
        image=ContentFile(full.getvalue(), name="photo.jpg"),
        thumbnail=ContentFile(thumb.getvalue(), name="thumb.jpg"),
        width=clean.width,
        height=clean.height,
    )


def _pixels_only(img: Image.Image) -> Image.Image:
    """A new RGB image holding nothing but the pixels (transparency flattened onto white)."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        rgb = background
    else:
        rgb = img.convert("RGB")
    return Image.frombytes("RGB", rgb.size, rgb.tobytes())
