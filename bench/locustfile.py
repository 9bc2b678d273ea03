"""The users bench/load.py runs, one class per endpoint group, each as fast as the server answers.

Runs in the bench-only virtualenv (locust, nothing of Django): bench/load.py writes the pages,
locations and free booking times to a JSON file and names it in LOAD_CONFIG. Run alone it
needs that file, so start it through bench/load.py.
"""

from __future__ import annotations

import json
import os
import re
from itertools import count

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

with open(os.environ["LOAD_CONFIG"], encoding="utf-8") as fh:
    CONFIG = json.load(fh)

# Every booking POST takes the next free time from one list shared by all users in this
# process, so each time is aimed at once; the e-mail is new each time (rate limits per address).
_targets = iter(CONFIG["targets"])
_serial = count()
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# A lost race for an overlapping time: an answer, not a server error (bench/booking.py agrees).
SLOT_TAKEN = "409 slot taken"


class _Clinic(FastHttpUser):
    abstract = True
    wait_time = constant(0)


class Bare(_Clinic):
    """The ceiling: a view that returns "ok" through the same settings and middleware."""

    @task
    def bare(self) -> None:
        self.client.get("/bench/bare/", name="bare view")


class Public(_Clinic):
    @task
    def pages(self) -> None:
        for page in CONFIG["pages"]:
            self.client.get(page, name="public pages")


class Availability(_Clinic):
    @task
    def availability(self) -> None:
        for slug in CONFIG["locations"]:
            self.client.get(f"/api/availability/?location={slug}&start={CONFIG['today']}&days=14", name="availability")


class BookingForm(_Clinic):
    """The booking page with a location chosen: the form and two weeks of free times."""

    @task
    def form(self) -> None:
        for slug in CONFIG["locations"]:
            self.client.get(f"/book/?location={slug}", name="booking form")


class BookingPost(_Clinic):
    """POST /book/ for a free time, each user with the CSRF cookie and token of its own page."""

    def on_start(self) -> None:
        response = self.client.get(f"/book/?location={CONFIG['locations'][0]}", name="booking form (setup)")
        self.token = _TOKEN.search(response.text).group(1)

    @task
    def book(self) -> None:
        try:
            slug, start = next(_targets)
        except StopIteration:
            raise StopUser from None
        n = next(_serial)
        fields = {
            "csrfmiddlewaretoken": self.token,
            "location": slug,
            "start": start,
            "first_name": "Load",
            "last_name": str(n),
            "email": f"load{n}@example.com",
            "phone": f"07700 9{n % 100000:05d}",  # a new client each: their own number
            "health_consent": "on",
            "date_of_birth": "1985-03-14",
        }
        with self.client.post(
            "/book/", data=fields, name="booking POST", allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code == 302:
                response.success()
            elif response.status_code == 409:
                response.failure(SLOT_TAKEN)
            else:
                response.failure(f"{response.status_code}")
