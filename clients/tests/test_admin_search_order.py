"""The clients changelist searched by name: the matches in name order (any case), read through the
trigram indexes rather than by walking the name index; a clicked column still orders as asked."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.tests.factories import ClientFactory
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db
URL = "/admin/clients/client/"


@pytest.fixture
def manager(client):
    login_as(client, get_user_model().objects.create_superuser("boss", "boss@example.com", "a-long-password-1"))
    return client


def _rows(response) -> list[str]:
    return re.findall(r'<th class="field-[a-z_]+"><a href="[^"]+">([^<]+)</a>', response.content.decode())


def _list_sql(manager, params) -> str:
    with CaptureQueriesContext(connection) as captured:
        response = manager.get(URL, params)
    assert response.status_code == 200
    return next(q["sql"] for q in captured.captured_queries if "ORDER BY" in q["sql"] and "clients_client" in q["sql"])


def test_a_search_lists_matches_in_name_order_whatever_the_case(manager):
    names = [("Zoe", "smithson"), ("Adam", "Smith"), ("bea", "Smith"), ("Carl", "SMITHERS"), ("Ann", "Jones")]
    for first, last in names:
        ClientFactory(first_name=first, last_name=last, email=f"{first.lower()}@example.com")
    rows = _rows(manager.get(URL, {"q": "smith"}))
    assert len(rows) == 4
    order = [row.lower() for row in rows]
    assert order == sorted(order, key=lambda r: (r.split()[-1], r.split()[0])), rows
    sql = _list_sql(manager, {"q": "smith"})
    assert 'ORDER BY UPPER("clients_client"."last_name")' in sql


def test_without_a_search_or_with_a_column_chosen_the_order_is_djangos(manager):
    ClientFactory(first_name="Adam", last_name="Smith")
    assert 'ORDER BY "clients_client"."last_name" ASC' in _list_sql(manager, {})
    assert "UPPER" not in _list_sql(manager, {"q": "smith", "o": "1"}).split("ORDER BY")[1]
