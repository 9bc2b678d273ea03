"""Staff sessions end after STAFF_SESSION_IDLE_MINUTES without a request, and a page view
usually writes nothing to the session."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from clients.tests.factories import staff_user

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"


@pytest.fixture
def desk_client(client, frozen_now):
    staff_user(role="Reception", username="desk")
    assert client.post("/admin/login/", {"username": "desk", "password": PASSWORD}).status_code == 302
    return client


def at(moment):
    return time_machine.travel(moment, tick=False)


def test_a_session_left_idle_ends(desk_client, frozen_now, settings):
    idle = timedelta(minutes=settings.STAFF_SESSION_IDLE_MINUTES)
    with at(frozen_now + idle + timedelta(minutes=1)):
        response = desk_client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_session_in_use_goes_on(desk_client, frozen_now, settings):
    idle = timedelta(minutes=settings.STAFF_SESSION_IDLE_MINUTES)
    moment = frozen_now
    for _ in range(4):  # two hours in all, never idle for as long as the limit
        moment += idle - timedelta(minutes=2)
        with at(moment):
            assert desk_client.get("/admin/").status_code == 200
    with at(moment + idle + timedelta(minutes=1)):
        assert desk_client.get("/admin/").status_code == 302


def test_a_page_view_soon_after_the_last_writes_no_session(desk_client, frozen_now, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with at(frozen_now + timedelta(seconds=10)), CaptureQueriesContext(connection) as queries:
        assert desk_client.get("/admin/").status_code == 200
    assert not [q for q in queries if "django_session" in q["sql"] and q["sql"].startswith("UPDATE")]
    with at(frozen_now + timedelta(minutes=5)), CaptureQueriesContext(connection) as queries:
        assert desk_client.get("/admin/").status_code == 200
    assert [q for q in queries if "django_session" in q["sql"] and q["sql"].startswith("UPDATE")]
