"""Test images made on the fly: honest photos and the hostile files the pipeline must refuse."""

from __future__ import annotations

import io
import os
import struct
import zlib

from PIL import ExifTags, Image


def jpeg(*, size=(64, 48), gps: bool = False, orientation: int | None = None, colour=(180, 120, 90)) -> bytes:
    img = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TabletCam"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(
            {
                ExifTags.GPS.GPSLatitudeRef: "N",
                ExifTags.GPS.GPSLatitude: (53.0, 28.0, 50.0),
                ExifTags.GPS.GPSLongitudeRef: "W",
                ExifTags.GPS.GPSLongitude: (2.0, 14.0, 40.0),
            }
        )
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif, quality=90)
    return out.getvalue()


def png(size=(32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (10, 20, 30, 128)).save(out, format="PNG")
    return out.getvalue()


def webp(size=(32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(out, format="WEBP")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A few hundred bytes that claim billions of pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 1024, 9))
        + _chunk(b"IEND", b"")
    )


def noisy_png(size=(128, 128)) -> bytes:
    """A PNG whose pixel data does not compress away (so it is bigger than the sniffed head)."""
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, format="PNG")
    return out.getvalue()


def png_html_polyglot() -> bytes:
    """A real PNG that is also a web page: the HTML follows the PNG's end marker."""
    return noisy_png() + b"<html><body><script>alert(document.cookie)</script></body></html>"


def jpeg_html_polyglot() -> bytes:
    return jpeg(size=(256, 256)) + b"<!doctype html><script>alert(1)</script>"


def png_with_trailer() -> bytes:
    return png() + b"\x01\x02hidden payload\x03"


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)
HTML = b"<!doctype html><html><body>not a photo</body></html>"


def truncated_jpeg() -> bytes:
    data = jpeg(size=(640, 480), colour=(200, 10, 10))
    return data[: len(data) // 2]
