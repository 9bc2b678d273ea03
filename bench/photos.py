"""How long the photo pipeline takes per upload: decode, orient, strip, re-encode and thumbnail.

Prints milliseconds per photo for typical tablet camera sizes. Run: .venv/bin/python bench/photos.py
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smpclinic.settings")

import django

django.setup()

from PIL import ExifTags, Image  # noqa: E402

from clients.photos import photo_clean  # noqa: E402


def camera_jpeg(width: int, height: int) -> bytes:
    # Noise so the JPEG is as large as a real photo, not a flat colour.
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = (53.0, 28.0, 50.0)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85, exif=exif)
    return out.getvalue()


def main() -> None:
    for label, size in [("8 MP (3264x2448)", (3264, 2448)), ("12 MP (4032x3024)", (4032, 3024))]:
        data = camera_jpeg(*size)
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            photo_clean(data=data)
            timings.append((time.perf_counter() - started) * 1000)
        print(f"{label}: {len(data) / 1024 / 1024:.1f} MB upload, median {statistics.median(timings):.0f} ms per photo")


if __name__ == "__main__":
    main()
