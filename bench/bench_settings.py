"""The project's settings with one bare view added (bench/booking.py's ceiling to compare with)."""

from smpclinic.settings import *  # noqa: F403 - the same settings, middleware and all

ROOT_URLCONF = "bench_urls"
