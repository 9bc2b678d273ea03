"""A dashboard snapshot pickled by the previous release is never read back into this one: Money
moved from bookings.payments.money to bookings.money, so such a pickle no longer loads."""

from __future__ import annotations

import sys
import types

import pytest
from django.core.cache import cache

from clients.tests.factories import staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db

URL = "/admin/dashboard/"
PERIOD = {"date_from": "2026-06-01", "date_to": "2026-06-14"}
# The key the release before the move kept this period's snapshot under (SNAPSHOT_FORMAT 1).
PREVIOUS_RELEASE_KEY = f"dashboard:1:all:{PERIOD['date_from']}:{PERIOD['date_to']}"


def _pickled_by_the_previous_release() -> None:
    """Keep a value holding a Money from where the previous release had it."""
    old = types.ModuleType("bookings.payments.money")
    money = type("Money", (), {"__module__": "bookings.payments.money"})
    old.Money = money
    sys.modules["bookings.payments.money"] = old
    try:
        cache.set(PREVIOUS_RELEASE_KEY, {"money": [money()]}, 600)
    finally:
        del sys.modules["bookings.payments.money"]


def test_the_dashboard_ignores_a_snapshot_kept_before_money_moved(client, settings, frozen_now):
    settings.DASHBOARD_CACHE_SECONDS = 600
    login_as(client, staff_user(role="Manager"))
    _pickled_by_the_previous_release()
    assert client.get(URL, PERIOD).status_code == 200
