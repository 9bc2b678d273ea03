"""The workspace's schedule and client search as the clinic grows (issue 11, item 10): one
technician's schedule at a time, exact reference lookups, keyset pages, constant queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.tests.factories import AppointmentFactory, TechnicianFactory
from clients.models import Client
from clients.tests.conftest import PASSWORD
from clients.tests.factories import ClientFactory
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def named(clinic):
    """The two technicians with names that sort: Amara (here) before Ben (elsewhere)."""
    for technician, name in ((clinic["technician"], "Amara"), (clinic["other"], "Ben")):
        technician.display_name = name
        technician.save(update_fields=["display_name"])
    return clinic


def book(technician, location, start, **kw):
    return AppointmentFactory(
        technician=technician, location=location, start=start, end=start + timedelta(minutes=45), **kw
    )


def captured(http, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = http.get(url, params or {})
    assert response.status_code == 200
    return response, ctx.captured_queries


# The schedule


def test_a_manager_sees_one_technicians_week_and_picks_another(client, named):
    ben_today = book(named["other"], named["elsewhere"], named["session"].start + timedelta(hours=4))
    login_as(client, named["manager"])
    first = client.get(reverse("staff:schedule"))
    assert first.context["technician"] == named["technician"]  # the first in the list by default
    assert named["session"] in first.context["everything"]
    assert ben_today not in first.context["everything"]
    body = first.content.decode()
    assert '<select class="form-select form-select-lg" id="technician" name="technician">' in body
    assert f'<option value="{named["other"].pk}">Ben</option>' in body
    picked = client.get(reverse("staff:schedule"), {"technician": named["other"].pk})
    assert picked.context["everything"] == [ben_today]
    # Moving through days keeps the pick.
    assert f'href="?technician={named["other"].pk}&amp;view=week&amp;date=' in picked.content.decode()


def test_a_manager_who_is_a_technician_starts_on_their_own_schedule(client, named):
    named["other"].user.groups.add(named["manager"].groups.get())
    login_as(client, named["other"].user)
    response = client.get(reverse("staff:schedule"))
    assert response.context["technician"] == named["other"]
    assert len(response.context["technicians"]) == 2


def test_a_technician_sees_only_their_own_schedule_whatever_the_link_says(client, named):
    ben_today = book(named["other"], named["elsewhere"], named["session"].start + timedelta(hours=4))
    client.login(username="tech", password=PASSWORD)
    response = client.get(reverse("staff:schedule"), {"technician": named["other"].pk})
    assert response.context["technician"] == named["technician"]
    assert ben_today not in response.context["everything"]
    body = response.content.decode()
    assert 'name="technician"' not in body
    # The other technician's name as a word: a random client may well be called Benjamin.
    assert re.search(r"\bBen\b", body) is None


@pytest.mark.parametrize(
    ("value", "status"), [("abc", 400), ("-1", 400), ("\u00b2", 400), ("99999999999", 400), ("987654", 404)]
)
def test_a_bad_or_unknown_technician_is_a_4xx(client, named, value, status):
    login_as(client, named["manager"])
    assert client.get(reverse("staff:schedule"), {"technician": value}).status_code == status


def test_the_managers_schedule_costs_the_same_queries_for_one_row_or_a_full_week_of_many_technicians(
    client, named, django_assert_max_num_queries
):
    login_as(client, named["manager"])
    url = reverse("staff:schedule")
    _, small = captured(client, url)
    monday = named["session"].start - timedelta(days=named["session"].start.weekday())
    for n in range(12):
        colleague = TechnicianFactory(locations=[named["here"]], display_name=f"Zed {n:02d}")
        book(colleague, named["here"], monday + timedelta(hours=9))
    for day in range(6):
        for hour in (9, 11, 13):
            start = (monday + timedelta(days=day)).replace(hour=hour, minute=0)
            if start.date() != named["session"].start.date():
                book(named["technician"], named["here"], start)
    with django_assert_max_num_queries(len(small)):
        response = client.get(url)
    assert len(response.context["everything"]) >= 15
    assert len(response.context["technicians"]) == 14
    assert len(small) <= 12


# The client search


def test_a_reference_finds_its_client_exactly_in_any_case_with_or_without_the_dash(client, named):
    reference = named["session"].reference
    client.login(username="tech", password=PASSWORD)
    for typed in (reference, reference.lower(), reference.replace("-", "")):
        response, queries = captured(client, reverse("staff:clients"), {"q": typed})
        assert list(response.context["page"]) == [named["client"]], typed
        sql = " ".join(q["sql"] for q in queries)
        assert f"\"reference\" = '{reference}'" in sql  # an equality the unique index answers
        assert "DISTINCT" not in sql.upper()
    # Part of a reference is not a reference: nothing matches by it.
    assert list(client.get(reverse("staff:clients"), {"q": reference[:7]}).context["page"]) == []


def test_a_name_search_makes_no_distinct_and_no_count(client, named):
    login_as(client, named["manager"])
    response, queries = captured(client, reverse("staff:clients"), {"q": named["client"].last_name})
    assert named["client"] in list(response.context["page"])
    # The search itself; the no-show counts of the page's clients are one grouped query after it.
    searches = [q["sql"].upper() for q in queries if 'FROM "CLIENTS_CLIENT"' in q["sql"].upper()]
    assert searches
    sql = " ".join(searches)
    assert "DISTINCT" not in sql
    assert "COUNT(" not in sql


def test_the_client_search_pages_forward_by_keyset_without_repeating_or_skipping(client, named):
    # Namesakes on both sides of the page boundary: the order falls back on the first name, then the id.
    names = [("Sam", "Smith")] * 15 + [("Abe", "Smith")] * 6 + [("Zoe", "Goldsmith")] * 5 + [("Ian", "Smithson")] * 4
    smiths = [ClientFactory(first_name=first, last_name=last) for first, last in reversed(names)]
    Client.objects.filter(pk=named["client"].pk).update(first_name="Ada", last_name="Okafor")  # never a match
    login_as(client, named["manager"])
    first = client.get(reverse("staff:clients"), {"q": "smith"})
    page_one = list(first.context["page"])
    assert len(page_one) == 25
    after = first.context["page"].next_after
    assert after == page_one[-1].pk
    assert f'href="?q=smith&amp;after={after}" rel="next">Next page</a>' in first.content.decode()
    second = client.get(reverse("staff:clients"), {"q": "smith", "after": after})
    page_two = list(second.context["page"])
    assert second.context["page"].next_after is None
    assert "First page" in second.content.decode()
    expected = sorted(smiths, key=lambda c: (c.last_name, c.first_name, c.pk))
    assert [c.pk for c in page_one + page_two] == [c.pk for c in expected]


@pytest.mark.parametrize("after", ["abc", "-3", "\u00b2", "1" * 12])
def test_a_bad_page_link_is_a_400(client, named, after):
    login_as(client, named["manager"])
    assert client.get(reverse("staff:clients"), {"q": "smith", "after": after}).status_code == 400


SURNAME = "Quillfeatherby"


@pytest.mark.parametrize("who", ["manager", "tech"])
def test_the_client_search_costs_the_same_queries_for_one_client_or_many(
    client, named, who, django_assert_max_num_queries
):
    if who == "manager":
        login_as(client, named["manager"])
    else:
        client.login(username="tech", password=PASSWORD)
    url = reverse("staff:clients")
    # No name Faker gives the fixture's other clients (one called "Michelle Walker" once matched).
    first = ClientFactory(last_name=SURNAME)
    book(named["technician"], named["here"], named["session"].start + timedelta(days=2), client=first)
    response, small = captured(client, url, {"q": SURNAME})
    assert len(list(response.context["page"])) == 1
    for n in range(30):
        walker = ClientFactory(last_name=SURNAME)
        book(named["technician"], named["here"], named["session"].start + timedelta(days=3 + n), client=walker)
    response, many = captured(client, url, {"q": SURNAME})
    assert len(list(response.context["page"])) == 25
    assert len(many) <= len(small)
    with django_assert_max_num_queries(len(small) + 1):  # the next page reads its cursor row
        client.get(url, {"q": SURNAME, "after": response.context["page"].next_after})


def test_a_page_link_to_no_client_starts_from_the_first_page(client, named):
    login_as(client, named["manager"])
    response = client.get(reverse("staff:clients"), {"q": "", "after": "9999999999"})  # past any id column
    assert list(response.context["page"]) == [named["client"]]


def test_a_technicians_search_never_pages_into_another_clinics_clients(client, named):
    for n in range(3):
        ClientFactory(first_name="Nina", last_name=f"Elsewhere{n}")  # no appointment here
    client.login(username="tech", password=PASSWORD)
    response = client.get(reverse("staff:clients"), {"q": "Nina"})
    assert list(response.context["page"]) == []
    # A cursor naming another clinic's client is ignored, not a way to learn where it sorts.
    hidden = ClientFactory(first_name="Nina", last_name="Hidden")
    response = client.get(reverse("staff:clients"), {"q": "", "after": hidden.pk})
    assert named["client"] in list(response.context["page"])
