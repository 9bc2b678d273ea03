"""The public pages served to anonymous visitors from the page cache (bookings.pagecache)."""

from __future__ import annotations

import socket
from datetime import time

import pytest
from django.contrib.sessions.backends.cache import SessionStore
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils.csp import LazyNonce

from bookings.models import Location, OpeningHours
from bookings.pagecache import _response_cacheable
from bookings.tests.factories import LocationFactory, TechnicianFactory, UserFactory
from clients.models import ConsentRecord, ConsentWording
from clients.services import consent_withdraw
from treatments.tests.factories import PageFactory, TreatmentFactory, published_pair

pytestmark = pytest.mark.django_db

PAGES = ["/", "/treatments/", "/aftercare/", "/results/", "/locations/", "/privacy/"]


@pytest.fixture
def page_cache(settings):
    settings.PAGE_CACHE_SECONDS = 600
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def site():
    location = LocationFactory(name="Leeds")
    OpeningHours.objects.create(location=location, weekday=0, opens=time(9), closes=time(17))
    treatment = TreatmentFactory(name="Hairline design", slug="hairline-design")
    PageFactory(key="home", title="Welcome")
    published_pair(treatment=treatment, technician=TechnicianFactory(locations=[location]), location=location)
    return treatment


def _queries(client, url: str, **extra) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    return len(queries), response


@pytest.mark.parametrize("url", [*PAGES, "/treatments/hairline-design/", "/results/?treatment=hairline-design"])
def test_an_anonymous_visitor_gets_the_second_request_from_the_cache_without_queries(
    client, site, page_cache, url, django_assert_max_num_queries
):
    rendered_queries, first = _queries(client, url)
    assert first.status_code == 200
    assert rendered_queries > 0
    with django_assert_max_num_queries(0):
        second = client.get(url)
    assert second.status_code == 200
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]


def test_a_cached_page_keeps_a_csp_header_that_matches_its_body(client, site, page_cache):
    first, second = client.get("/"), client.get("/")
    # No template prints the nonce, so no header carries one and no cached body holds a stale one.
    assert second["Content-Security-Policy"] == first["Content-Security-Policy"]
    assert "nonce-" not in second["Content-Security-Policy"]
    assert b"nonce" not in second.content
    assert "script-src 'self'" in second["Content-Security-Policy"]


def test_a_catalogue_change_shows_on_the_next_request(client, site, page_cache, django_capture_on_commit_callbacks):
    assert b"Hairline design" in client.get("/treatments/").content
    site.name = "Hairline restoration"
    with django_capture_on_commit_callbacks(execute=True):
        site.save()
    page = client.get("/treatments/").content
    assert b"Hairline restoration" in page
    assert b"Hairline design" not in page


def test_new_opening_hours_show_on_the_locations_page_at_once(
    client, site, page_cache, django_capture_on_commit_callbacks
):
    assert b"10:30" not in client.get("/locations/").content
    location = Location.objects.get(name="Leeds")
    with django_capture_on_commit_callbacks(execute=True):
        OpeningHours.objects.create(location=location, weekday=1, opens=time(10, 30), closes=time(12))
    assert b"10:30" in client.get("/locations/").content


def test_a_withdrawn_marketing_consent_takes_the_photos_off_the_results_page_at_once(
    client, site, page_cache, django_capture_on_commit_callbacks
):
    assert b"results/photo/" in client.get("/results/").content
    record = ConsentRecord.objects.get(wording__kind=ConsentWording.Kind.MARKETING_PHOTOS)
    with django_capture_on_commit_callbacks(execute=True):
        consent_withdraw(record=record, by=UserFactory())
    assert b"results/photo/" not in client.get("/results/").content


def test_a_change_not_yet_committed_keeps_the_page_and_its_commit_replaces_it(
    client, site, page_cache, django_capture_on_commit_callbacks
):
    client.get("/treatments/")
    with django_capture_on_commit_callbacks(execute=False):  # the transaction still open
        site.name = "Hairline restoration"
        site.save()
    assert _queries(client, "/treatments/")[0] == 0
    with django_capture_on_commit_callbacks(execute=True):
        site.save()
    queries, response = _queries(client, "/treatments/")
    assert queries > 0
    assert b"Hairline restoration" in response.content


def test_signed_in_staff_are_never_served_nor_stored_in_the_anonymous_cache(client, admin_client, site, page_cache):
    # Staff first: what they are shown must not be what the next visitor gets.
    staff_queries, _ = _queries(admin_client, "/treatments/")
    assert staff_queries > 0
    anonymous_queries, _ = _queries(client, "/treatments/")
    assert anonymous_queries > 0
    # The page is now cached for visitors, and staff still get it rendered.
    assert _queries(client, "/treatments/")[0] == 0
    assert _queries(admin_client, "/treatments/")[0] > 0


def test_a_visitor_with_a_message_waiting_gets_the_page_rendered(client, site, page_cache):
    client.get("/privacy/")
    client.cookies["messages"] = "pending"
    assert _queries(client, "/privacy/")[0] > 0


def test_an_unknown_query_parameter_or_a_bad_filter_is_rendered_not_cached(client, site, page_cache):
    client.get("/treatments/?utm_source=mail")
    assert _queries(client, "/treatments/?utm_source=mail")[0] > 0
    assert client.get("/results/?treatment=nope").status_code == 400
    queries, response = _queries(client, "/results/?treatment=nope")
    assert response.status_code == 400
    assert queries > 0


@pytest.fixture
def redis_down():
    """The cache is a Redis that is not running: its port refuses connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = {
        "BACKEND": "smpclinic.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{port}/0",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
    with override_settings(CACHES={"default": down}):
        yield


@pytest.mark.parametrize("url", ["/", "/treatments/hairline-design/", "/results/"])
def test_the_public_pages_render_while_redis_is_down(client, site, page_cache, redis_down, url):
    response = client.get(url)
    assert response.status_code == 200
    assert b"Hairline design" in response.content


def _response(**headers) -> HttpResponse:
    return HttpResponse("<p>page</p>", headers=headers)


@pytest.mark.parametrize(
    ("spoil", "kept"),
    [
        (lambda request, response: None, True),
        (lambda request, response: str(request._csp_nonce), False),  # the page printed the nonce
        (lambda request, response: response.headers.__setitem__("Vary", "Accept-Encoding, Cookie"), False),
        (lambda request, response: response.set_cookie("seen", "1"), False),
        (lambda request, response: response.headers.__setitem__("Cache-Control", "private"), False),
        (lambda request, response: setattr(response, "_csp_config", {}), False),
        (lambda request, response: request.session.__setitem__("basket", 1), False),
        (lambda request, response: setattr(response, "status_code", 404), False),
    ],
)
def test_only_a_plain_response_is_kept(rf, spoil, kept):
    request = rf.get("/")
    request._csp_nonce = LazyNonce()
    request.session = SessionStore()
    response = _response()
    spoil(request, response)
    assert _response_cacheable(request, response) is kept
