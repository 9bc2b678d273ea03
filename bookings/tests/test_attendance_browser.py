"""The appointment add form in real Chromium: choosing a client who has missed appointments
shows the warning at once, under the CSP, and reception can still book them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory, LocationFactory
from clients.tests.factories import ClientFactory, staff_user
from conftest import DESKTOP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=ZoneInfo("Europe/London"))


def test_choosing_a_client_with_no_shows_warns_before_booking(page_factory, live_server):
    with time_machine.travel(NOW, tick=True):
        user = staff_user(role="Reception", username="desk")
        person = ClientFactory(first_name="Nora", last_name="Absent")
        ClientFactory(first_name="Ada", last_name="Always")
        place = LocationFactory()
        for days in (10, 40):
            start = NOW - timedelta(days=days)
            AppointmentFactory(
                client=person,
                location=place,
                start=start,
                end=start + timedelta(minutes=45),
                status=Appointment.Status.NO_SHOW,
            )
        page = page_factory(viewport=DESKTOP)
        page.goto(live_server.url + "/admin/login/?next=/admin/bookings/appointment/add/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/appointment/add/")

        def choose(last_name: str) -> None:
            page.click(".field-client .select2-selection")
            page.fill(".select2-search__field", last_name)
            page.locator(".select2-results__option", has_text=last_name).click()

        choose("Absent")
        warning = page.locator("#attendance-warning li.warning")
        warning.wait_for()
        assert "This client has 2 no-shows (last 10/11/2026)" in warning.inner_text()
        assert page.locator("#attendance-warning").get_attribute("role") == "status"

        choose("Always")
        page.wait_for_function("() => !document.querySelector('#attendance-warning li')")
        assert [e for e in page.console_errors if "Content Security Policy" in e] == []
