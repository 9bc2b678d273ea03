"""The diary in real Chromium: reception books a client into a gap with plain links and forms (no
JavaScript), and with htmx the grid changes day in place and the booking form opens beside it,
under the CSP, with no serious accessibility violations."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings.models import Appointment, ClientMessage, OpeningHours
from bookings.tests.factories import AppointmentFactory, LocationFactory, technician_working
from clients.models import AuditEvent
from clients.tests.factories import ClientFactory, staff_user
from conftest import PHONE, TABLET, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=ZoneInfo("Europe/London"))
DIARY = "/admin/bookings/appointment/diary/"


def _clinic():
    clinic = LocationFactory(name="A Manchester", order=0)
    for weekday in range(7):
        OpeningHours.objects.create(location=clinic, weekday=weekday, opens=time(9), closes=time(17))
    amara = technician_working(location=clinic, display_name="Amara")
    ben = technician_working(location=clinic, display_name="Ben")
    AppointmentFactory(
        location=clinic,
        technician=amara,
        client=ClientFactory(first_name="Sam", last_name="Early"),
        start=NOW.replace(hour=11, minute=0),
        end=NOW.replace(hour=11, minute=45),
        kind=Appointment.Kind.CONSULTATION,
    )
    return clinic, amara, ben


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next={DIARY}")
    page.fill("#id_username", username)
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_url(f"**{DIARY}")


def test_reception_books_a_client_into_a_gap_without_javascript(page_factory, live_server):
    with time_machine.travel(NOW, tick=True):
        clinic, _, ben = _clinic()
        nora = ClientFactory(first_name="Nora", last_name="Newbooking", phone="07700 900123")
        staff_user(role="Reception", username="desk")
        page = page_factory(viewport=PHONE, java_script_enabled=False)
        _login(page, live_server, "desk")

        page.get_by_role("link", name="Book Ben, Fri 20 Nov at 14:00").click()
        page.wait_for_url("**/diary/book/?*")
        assert "Book Ben at A Manchester, Friday 20 November 2026 at 14:00" in page.inner_text("h2")
        page.fill("#id_q", "Newbooking")
        page.get_by_role("button", name="Find").click()
        page.get_by_label("Nora Newbooking").check()
        assert page.input_value("#id_length_minutes") == ""  # the consultation's usual length
        page.get_by_role("button", name="Book", exact=True).click()

        page.wait_for_url(f"**{DIARY}?location={clinic.pk}&date=2026-11-20&view=day")
        assert "Booked Nora Newbooking" in page.locator(".messagelist").inner_text()
        appointment = Appointment.objects.get(client=nora)
        assert (appointment.technician, appointment.start) == (ben, NOW.replace(hour=14, minute=0))
        assert AuditEvent.objects.filter(object_type="appointment", object_id=str(appointment.pk)).count() == 1
        assert ClientMessage.objects.filter(appointment=appointment, kind=ClientMessage.Kind.CONFIRMATION).exists()
        block = page.locator(f"#diary-appointment-{appointment.pk}")
        assert "Nora Newbooking" in block.inner_text()
        assert "Booked" in block.inner_text()


def test_with_htmx_the_day_changes_in_place_and_the_form_opens_beside_the_grid(page_factory, live_server):
    with time_machine.travel(NOW, tick=True):
        _clinic()
        ClientFactory(first_name="Priya", last_name="Shah")
        staff_user(role="Reception", username="desk2")
        page = page_factory(viewport=TABLET)
        _login(page, live_server, "desk2")
        assert axe_violations(page) == []

        page.evaluate("window.notReloaded = true")
        page.get_by_role("link", name="Next day").click()
        page.wait_for_url("**date=2026-11-21*")
        assert "Saturday 21 November 2026" in page.inner_text(".diary-heading")
        assert page.evaluate("window.notReloaded") is True  # swapped by htmx, not a new page

        page.get_by_role("link", name="Book Amara, Sat 21 Nov at 09:00").click()
        panel = page.locator("#diary-panel #diary-book")
        panel.wait_for()
        assert page.evaluate("window.notReloaded") is True
        page.fill("#id_q", "Shah")
        page.locator("#diary-results").get_by_label("Priya Shah").wait_for()
        assert [e for e in page.console_errors if "Content Security Policy" in e] == []
        assert axe_violations(page) == []

        page.locator("#diary-book").get_by_role("button", name="Book", exact=True).click()
        page.wait_for_url("**date=2026-11-21&view=day")
        assert "Booked Priya Shah" in page.locator(".messagelist").inner_text()
        booked = Appointment.objects.get(client__last_name="Shah")
        assert booked.start == datetime(2026, 11, 21, 9, tzinfo=NOW.tzinfo)


def test_the_week_fits_a_landscape_tablet_with_the_grid_scrolling_in_its_own_box(page_factory, live_server):
    with time_machine.travel(NOW, tick=True):
        clinic, _, _ = _clinic()
        for n in range(3):  # five technicians: a week far wider than the screen
            technician_working(location=clinic, display_name=f"Tech {n}")
        staff_user(role="Reception", username="desk3")
        page = page_factory(viewport={"width": 1180, "height": 820})
        _login(page, live_server, "desk3")
        page.get_by_role("link", name="Week").click()
        page.wait_for_url("**view=week*")

        # No sideways scrolling of the page: only the grid's own box scrolls.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        grid = page.locator(".diary-scroll")
        assert grid.evaluate("e => e.scrollWidth > e.clientWidth")
        assert grid.evaluate("e => e.getBoundingClientRect().right <= window.innerWidth")
        # The breadcrumbs look like every admin page's: the admin's dark bar, padded.
        crumbs = page.locator("ol.breadcrumbs")
        assert crumbs.evaluate("e => getComputedStyle(e).paddingLeft") == "40px"
        assert crumbs.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
        assert [e for e in page.console_errors if "Content Security Policy" in e] == []
        assert axe_violations(page) == []
