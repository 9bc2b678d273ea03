"""bookings' tests share the clients tests' clinic (a session today at one of two locations)."""

from clients.tests.conftest import clinic  # noqa: F401 - the fixture, for the stock and recall tests
