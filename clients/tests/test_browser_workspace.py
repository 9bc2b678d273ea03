"""A technician's day on a tablet, in real Chromium against the live server with the CSP in force."""

from __future__ import annotations

from datetime import time

import pytest

from bookings.models import Appointment
from bookings.tests.factories import BatchFactory, ProductFactory, WorkingHoursFactory
from clients.models import Assessment, Photo, SessionNote
from clients.tests import images
from clients.tests.conftest import PASSWORD
from conftest import TABLET, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_technician_records_a_session_on_a_tablet(page_factory, live_server, clinic, tmp_path):
    technician, session = clinic["technician"], clinic["session"]
    technician.treatments.add(session.treatment)
    for weekday in range(7):
        WorkingHoursFactory(
            technician=technician, location=clinic["here"], weekday=weekday, start_time=time(9), end_time=time(17)
        )
    # The batches in stock at the session's location (bookings' stock).
    pigment = BatchFactory(location=clinic["here"], lot_number="S3-2026")
    needle = BatchFactory(
        location=clinic["here"], lot_number="N-2026", product=ProductFactory(kind="needle", brand="Sharp", shade="1RL")
    )
    page = page_factory(viewport=TABLET)

    # Log in; the staff login lands on today's schedule.
    page.goto(live_server.url + "/staff/")
    page.get_by_label("Username").fill("tech")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/staff/")
    assert axe_violations(page) == []

    # Open today's appointment: the contraindications and allergies are the first thing on the page.
    page.locator(f"a[href='/staff/appointments/{session.pk}/']").first.click()
    alert = page.get_by_role("alert")
    assert alert.is_visible()
    assert "Keloid scarring" in alert.inner_text()
    assert "Nickel" in alert.inner_text()
    assert axe_violations(page) == []

    # The assessment.
    page.get_by_role("link", name="Assessment").click()
    page.get_by_label("Hair loss type").select_option("male_pattern")
    page.get_by_label("Norwood/Ludwig stage").select_option("N5")
    page.get_by_label("Allergies").fill("Nickel, latex")
    page.locator("#id_suitability").select_option("suitable")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Save assessment").click()
    page.get_by_text("Assessment saved.").wait_for()
    assert Assessment.objects.get(appointment=session).stage == "N5"

    # The session note: checkboxes for areas and reactions.
    page.get_by_role("link", name="Session note").click()
    page.get_by_label("Hairline").check()
    page.get_by_label("Crown").check()
    page.get_by_label("Pigment batch 1").select_option(str(pigment.pk))
    page.get_by_label(needle.label()).check()
    page.get_by_label("Standard").check()
    page.get_by_label("Redness").check()
    page.get_by_label("Notes for next time").fill("Soften the temples")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Save session note").click()
    page.get_by_text("Session note saved.").wait_for()
    note = SessionNote.objects.get(appointment=session)
    assert (note.areas, note.reactions) == (["hairline", "crown"], ["redness"])
    assert {(u.batch_id, u.share_percent) for u in note.batch_uses.all()} == {(pigment.pk, 100), (needle.pk, None)}

    # Photos: two at once, each given its own angle.
    files = []
    for n, colour in enumerate([(200, 100, 80), (90, 90, 200)]):
        path = tmp_path / f"camera-{n}.jpg"
        path.write_bytes(images.jpeg(size=(320, 240), gps=True, colour=colour))
        files.append(str(path))
    page.get_by_role("link", name="Add photos").click()
    page.get_by_label("After").check()
    page.get_by_label("Photos", exact=True).set_input_files(files)
    page.get_by_label("Angle for photo 1 (camera-0.jpg)").select_option("hairline")
    page.get_by_label("Angle for photo 2 (camera-1.jpg)").select_option("crown")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Upload photos").click()
    page.get_by_text("2 photos saved.").wait_for()
    stored = list(Photo.objects.filter(appointment=session).order_by("pk").values_list("angle", "phase"))
    assert stored == [("hairline", "after"), ("crown", "after")]
    # The thumbnails on the timeline load through the permission-checked view.
    thumb = page.locator("img.staff-thumb").first
    thumb.scroll_into_view_if_needed()  # loading="lazy": it loads once on screen
    # decode() settles once the image has loaded (or rejects if it cannot): no race with the load.
    assert thumb.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0

    # Mark the session completed.
    page.get_by_role("button", name="Mark session completed").click()
    # The session is booked for a while yet: the technician confirms it is over.
    page.locator("#early-notice").wait_for()
    assert "is booked until" in page.locator("#early-notice").inner_text()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Yes, the session is over").click()
    page.get_by_text("Session marked completed").wait_for()
    session.refresh_from_db()
    assert session.status == Appointment.Status.COMPLETED

    # Book the course's next session: the first proposal is with the same technician.
    page.get_by_role("link", name="Book next session").click()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Book this time").click()
    page.get_by_text("Session 3 booked").wait_for()
    booked = Appointment.objects.get(course=session.course, session_number=3)
    assert booked.technician == technician
    assert 14 <= (booked.start.date() - session.start.date()).days <= 21

    assert [e for e in page.console_errors if "Content Security Policy" in e] == []


def test_the_other_staff_pages_are_accessible_and_consent_is_signed_on_the_tablet(page_factory, live_server, clinic):
    from clients.models import ConsentRecord
    from clients.tests.factories import ConsentWordingFactory
    from smpclinic.tests.logins import totp_code, totp_device_for

    wording = ConsentWordingFactory(kind="clinical_photos", version=2, text="Photos stay in your record.")
    device = totp_device_for(clinic["manager"])
    page = page_factory(viewport=TABLET)
    page.goto(live_server.url + "/staff/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # A manager: the code from their authenticator app after the password.
    page.wait_for_url("**/accounts/two-factor/**")
    assert axe_violations(page) == []
    page.get_by_label("6-digit code").fill(totp_code(device))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/staff/")

    client = clinic["client"]
    for path in [
        "/staff/clients/",
        f"/staff/clients/?q={client.last_name}",
        f"/staff/clients/{client.pk}/",
        f"/staff/clients/{client.pk}/compare/?angle=front",
        f"/staff/appointments/{clinic['consultation'].pk}/course/",
        f"/staff/appointments/{clinic['session'].pk}/photos/",
        f"/staff/clients/{client.pk}/erase/",
    ]:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert axe_violations(page) == [], path

    page.goto(f"{live_server.url}/staff/clients/{client.pk}/consents/")
    assert axe_violations(page) == []
    page.get_by_label("Clinical photos (version 2)").check()
    page.get_by_label("Client's full name (typed signature)").fill("Pat Client")
    page.get_by_role("button", name="Sign").click()
    page.get_by_text("Consent recorded.").wait_for()
    record = ConsentRecord.objects.get(client=client, wording=wording)
    assert (record.signed_name, record.witnessed_by, record.method) == ("Pat Client", clinic["manager"], "tablet")
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []
