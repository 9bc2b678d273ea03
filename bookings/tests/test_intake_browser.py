"""In Chromium on a phone: a client books a consultation, opens the intake link from the
confirmation, answers and sends photos, and their technician sees the intake sent and what it
declares."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.utils import timezone

from bookings.models import Appointment
from bookings.services.outbox import reminders_dispatch
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, technician_working
from clients.models import AuditEvent, ConsentRecord, ConsentWording, Intake, IntakeQuestion, Photo
from clients.tests.conftest import PASSWORD
from clients.tests.factories import ConsentWordingFactory, staff_user
from clients.tests.images import jpeg
from conftest import PHONE, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def _book_the_first_free_time(page, live_server) -> None:
    """The booking form, kept small: only "a consultation is booked on a phone" matters here."""
    page.goto(live_server.url + "/book/?location=manchester")
    page.wait_for_selector("#first-available label")
    page.locator("#first-available label").click()
    page.fill("#id_first_name", "Sam")
    page.fill("#id_last_name", "Okafor")
    page.fill("#id_email", "sam.okafor@example.com")
    page.fill("#id_phone", "07700 900321")
    page.fill("#id_date_of_birth", "1985-03-14")
    page.check("#id_health_consent")
    page.click("#book-submit")
    # A time less than the change notice away asks the client to confirm that notice first.
    page.wait_for_selector("#change-window-notice, #intake-invite")
    if page.locator("#confirm-submit").count():
        page.click("#confirm-submit")
    page.wait_for_url("**/book/booked/**")


def test_a_client_books_fills_in_the_intake_on_a_phone_and_the_technician_sees_them_prepared(
    page_factory, live_server, mailoutbox, frozen_now, settings
):
    settings.SITE_URL = live_server.url  # the worker builds the e-mail's links from SITE_URL
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, effective_from=since)
    ConsentWordingFactory(
        kind=ConsentWording.Kind.CLINICAL_PHOTOS, effective_from=since, text="I agree to my clinical photos."
    )
    IntakeQuestion.objects.all().delete()
    IntakeQuestion.objects.create(text="Do you have a skin condition on your scalp?", order=1)
    IntakeQuestion.objects.create(text="Are you pregnant or breastfeeding?", order=2)
    location = LocationFactory(slug="manchester", name="Manchester Clinic")
    technician_working(location=location, user=staff_user(role="Technician", username="amara"))

    page = page_factory(viewport=PHONE)
    _book_the_first_free_time(page, live_server)
    appointment = Appointment.objects.get()
    assert page.locator("#intake-link").is_visible()

    # The confirmation e-mail the worker sends carries the intake link.
    reminders_dispatch(now=timezone.now())
    (mail,) = [m for m in mailoutbox if appointment.reference in m.subject]
    intake_url = re.search(r"https?://\S+/intake/\S+/", mail.body).group(0)
    page.goto(intake_url)
    assert page.get_by_role("heading", name="Before your consultation").is_visible()
    assert axe_violations(page) == []

    page.get_by_role("group", name="Do you have a skin condition on your scalp?").get_by_label("Yes").check()
    page.locator("input[name$='_details']").first.fill("Mild psoriasis behind the left ear")
    page.get_by_role("group", name="Are you pregnant or breastfeeding?").get_by_label("No").check()
    page.get_by_label("Medicines you take now").fill("Finasteride 1 mg")
    page.get_by_label("Allergies").fill("Latex")
    page.get_by_label("Previous hair treatments").fill("FUE transplant, 2022")
    page.get_by_label("What you would like").fill("A soft, natural hairline")
    page.set_input_files(
        "#id_photos",
        files=[
            {"name": "front.jpg", "mimeType": "image/jpeg", "buffer": jpeg(gps=True, size=(320, 240))},
            {"name": "crown.jpg", "mimeType": "image/jpeg", "buffer": jpeg(gps=True, colour=(90, 60, 40))},
        ],
    )
    page.check("#id_photo_consent")
    page.click("#intake-submit")
    page.wait_for_url("**?done=1")
    assert page.locator("#intake-done").is_visible()
    assert "2 photos" in page.locator("#intake-done").inner_text()
    assert axe_violations(page) == []
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []

    intake = Intake.objects.get(appointment=appointment)
    assert intake.allergies == "Latex"
    assert Photo.objects.filter(appointment=appointment, phase=Photo.Phase.INTAKE).count() == 2
    assert ConsentRecord.objects.filter(client=appointment.client, wording__kind="clinical_photos").exists()
    assert AuditEvent.objects.filter(object_type="intake", object_id=str(intake.pk)).exists()

    # The technician, on their own device, finds the consultation sent but with a declared
    # allergy to check: not a green "prepared", and the allergy in the warnings.
    staff = page_factory(viewport=PHONE)
    staff.goto(live_server.url + "/staff/login/")
    staff.get_by_label("Username").fill("amara")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Log in").click()
    staff.wait_for_url(f"{live_server.url}/staff/")
    day = timezone.localdate(appointment.start, location.tz).isoformat()
    staff.goto(f"{live_server.url}/staff/?view=week&date={day}")
    row = staff.locator(f"a[href='/staff/appointments/{appointment.pk}/']")
    assert row.get_by_text("Intake done: allergy or risk declared").is_visible()
    assert row.get_by_text("Prepared: intake done").count() == 0
    assert axe_violations(staff) == []
    row.click()
    warnings = staff.locator("#clinical-warnings")
    assert warnings.get_by_text("not yet assessed").is_visible()
    assert warnings.get_by_text("Latex").is_visible()
    assert staff.locator("#intake").get_by_text("Mild psoriasis behind the left ear").is_visible()
    assert axe_violations(staff) == []
