"""The day board in real Chromium: reception marks a client no-show with one click, no JavaScript
needed, under the CSP, on a phone-sized screen, with no serious accessibility violations."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory, LocationFactory, TechnicianFactory
from clients.models import AuditEvent
from clients.tests.factories import ClientFactory, staff_user
from conftest import PHONE, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=ZoneInfo("Europe/London"))


def test_reception_marks_a_client_no_show_on_the_board(page_factory, live_server):
    with time_machine.travel(NOW, tick=True):
        clinic = LocationFactory(name="A Manchester", order=0)
        user = staff_user(role="Reception", username="desk")
        appointment = AppointmentFactory(
            location=clinic,
            technician=TechnicianFactory(locations=[clinic]),
            client=ClientFactory(first_name="Nora", last_name="Absent"),
            start=NOW - timedelta(minutes=20),
            end=NOW + timedelta(minutes=25),
        )
        page = page_factory(viewport=PHONE, java_script_enabled=False)
        page.goto(live_server.url + "/admin/login/?next=/admin/bookings/appointment/board/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/board/")
        row = page.locator(f"#appointment-{appointment.pk}")
        assert "late by 20 min" in row.inner_text()

        row.get_by_role("button", name="No-show: Nora Absent at 10:10").click()

        page.wait_for_url("**/board/?location=*")
        assert "marked no-show" in page.locator(".messagelist").inner_text()
        assert page.locator(f"#appointment-{appointment.pk}").get_by_role("button").count() == 0
        appointment.refresh_from_db()
        assert appointment.status == Appointment.Status.NO_SHOW
        assert AuditEvent.objects.filter(object_type="appointment", object_id=str(appointment.pk)).count() == 1
        assert [e for e in page.console_errors if "Content Security Policy" in e] == []


def test_the_board_is_axe_clean_with_the_csp_in_force(page_factory, live_server):
    with time_machine.travel(NOW, tick=True):
        clinic = LocationFactory(name="A Manchester", order=0)
        user = staff_user(role="Reception", username="desk2")
        for minutes in (-40, 30):
            AppointmentFactory(
                location=clinic,
                technician=TechnicianFactory(locations=[clinic]),
                start=NOW + timedelta(minutes=minutes),
                end=NOW + timedelta(minutes=minutes + 45),
            )
        page = page_factory(viewport=PHONE)
        page.goto(live_server.url + "/admin/login/?next=/admin/bookings/appointment/board/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/board/")
        assert page.get_by_role("button", name="Check in", exact=True).count() == 0  # each names its client
        assert page.locator("button.board-arrive").count() == 2
        assert [e for e in page.console_errors if "Content Security Policy" in e] == []
        assert axe_violations(page) == []


def test_on_a_phone_the_caption_runs_the_width_of_the_stacked_cards(page_factory, live_server):
    """The table stacks into cards below 820 px; its caption must not stay a narrow table column
    (it was wrapped a word a line, 'Appointments / at / Manchester / ...')."""
    with time_machine.travel(NOW, tick=True):
        clinic = LocationFactory(name="A Manchester", order=0)
        user = staff_user(role="Reception", username="desk3")
        AppointmentFactory(
            location=clinic,
            technician=TechnicianFactory(locations=[clinic]),
            start=NOW + timedelta(minutes=30),
            end=NOW + timedelta(minutes=75),
        )
        page = page_factory(viewport=PHONE, java_script_enabled=False)
        page.goto(live_server.url + "/admin/login/?next=/admin/bookings/appointment/board/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/board/")
        caption = page.locator(".board-caption").bounding_box()
        card = page.locator(".board-row").first.bounding_box()
        assert caption["width"] >= card["width"] * 0.9
        assert caption["height"] < 60  # one or two lines, not one word a line
