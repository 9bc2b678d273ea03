"""A receptionist's morning in real Chromium, through the admin only: find a client by a phone
number typed with spaces, book them into a gap from the diary, mark another client no-show on the
day board, and download the day's appointments as CSV. Each step goes through the services, so
the audit trail and the client's messages follow."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings.exports import BOM
from bookings.models import Appointment, ClientMessage, OpeningHours
from bookings.tests.factories import AppointmentFactory, LocationFactory, technician_working
from clients.models import AuditEvent
from clients.tests.factories import ClientFactory, staff_user
from conftest import TABLET, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=ZoneInfo("Europe/London"))


def test_reception_finds_books_marks_a_no_show_and_downloads_the_day(page_factory, live_server):
    with time_machine.travel(NOW, tick=True):
        clinic = LocationFactory(name="A Manchester", order=0, time_zone="Europe/London")
        for weekday in range(7):
            OpeningHours.objects.create(location=clinic, weekday=weekday, opens=time(9), closes=time(17))
        amara = technician_working(location=clinic, display_name="Amara")
        ben = technician_working(location=clinic, display_name="Ben")
        nora = ClientFactory(first_name="Nora", last_name="Newbooking", phone="+447700900123")
        ClientFactory(first_name="Nina", last_name="Otherphone", phone="+447700900999")
        absent = AppointmentFactory(
            location=clinic,
            technician=amara,
            client=ClientFactory(first_name="Olly", last_name="Absent"),
            start=NOW - timedelta(minutes=20),
            end=NOW + timedelta(minutes=25),
            kind=Appointment.Kind.CONSULTATION,
        )
        staff_user(role="Reception", username="desk")
        page = page_factory(viewport=TABLET)

        page.goto(f"{live_server.url}/admin/login/?next=/admin/clients/client/")
        page.fill("#id_username", "desk")
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/clients/client/")

        # 1. The number as the client reads it out, spaces and all.
        page.fill("#searchbar", "07700 900 123")
        page.press("#searchbar", "Enter")
        page.wait_for_url("**/admin/clients/client/?q=*")
        results = page.locator("#result_list tbody")
        assert "Nora Newbooking" in results.inner_text()
        assert "Otherphone" not in results.inner_text()
        assert axe_violations(page) == []

        # 2. Into the 14:00 gap in Ben's column, found again by the same number.
        page.goto(f"{live_server.url}/admin/bookings/appointment/diary/?location={clinic.pk}&date=2026-11-20")
        page.get_by_role("link", name="Book Ben, Fri 20 Nov at 14:00").click()
        page.locator("#id_q").wait_for()
        page.fill("#id_q", "07700 900 123")
        page.get_by_label("Nora Newbooking").check()
        page.get_by_role("button", name="Book", exact=True).click()
        page.wait_for_url("**/diary/?location=*")
        assert "Booked Nora Newbooking" in page.locator(".messagelist").inner_text()
        booked = Appointment.objects.get(client=nora)
        assert (booked.technician, booked.start) == (ben, NOW.replace(hour=14, minute=0))
        assert ClientMessage.objects.filter(appointment=booked, kind=ClientMessage.Kind.CONFIRMATION).exists()

        # 3. Olly has not come: one click on the day board.
        page.goto(f"{live_server.url}/admin/bookings/appointment/board/?location={clinic.pk}")
        page.get_by_role("button", name="No-show: Olly Absent at 10:10").click()
        page.wait_for_url("**/board/?location=*")
        assert "marked no-show" in page.locator(".messagelist").inner_text()
        absent.refresh_from_db()
        assert absent.status == Appointment.Status.NO_SHOW
        assert absent.no_show_marked_by.username == "desk"

        # 4. The day's appointments as a spreadsheet.
        page.goto(f"{live_server.url}/admin/bookings/appointment/export/")
        page.select_option("#id_what", "appointments")
        page.fill("#id_date_from", "2026-11-20")
        page.fill("#id_date_to", "2026-11-20")
        page.select_option("#id_location", str(clinic.pk))
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download CSV").click()
        download = download_info.value
        assert download.suggested_filename.endswith(".csv")
        text = Path(download.path()).read_text(encoding="utf-8")
        assert text.startswith(BOM)
        rows = list(csv.reader(io.StringIO(text[len(BOM) :])))
        body = "\n".join(",".join(row) for row in rows[1:])
        assert len(rows) == 3  # the header, Olly's no-show and Nora's new booking
        assert "Newbooking" in body
        assert "Absent" in body

        desk_did = AuditEvent.objects.filter(actor__username="desk")
        assert desk_did.filter(object_type="appointment", object_id=str(booked.pk)).exists()
        assert desk_did.filter(object_type="appointment", object_id=str(absent.pk)).exists()
        assert desk_did.filter(action=AuditEvent.Action.EXPORT, object_type="appointment_csv").count() == 1
        assert [e for e in page.console_errors if "Content Security Policy" in e] == []
