"""The workspace on a tablet as a new technician meets it (issue 11, item 8), in real Chromium."""

from __future__ import annotations

import pytest

from clients.models import Photo
from clients.tests import images
from clients.tests.conftest import PASSWORD
from conftest import TABLET, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The tablet held in landscape: 1180 px wide, where the menu used to wrap onto a second row.
LANDSCAPE = {"width": TABLET["height"], "height": TABLET["width"]}


def log_in(page, live_server) -> None:
    page.goto(live_server.url + "/staff/login/")
    page.get_by_label("Username").fill("tech")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/staff/")


def test_the_staff_menu_is_one_row_without_the_public_book_button_at_1180px(page_factory, live_server, clinic):
    page = page_factory(viewport=LANDSCAPE)
    log_in(page, live_server)
    menu = page.locator("nav[aria-label=Main] .navbar-nav")
    assert menu.is_visible()  # expanded, not behind the toggler
    items = menu.locator(":scope > li")
    tops = {round(items.nth(i).bounding_box()["y"]) for i in range(items.count())}
    assert len(tops) == 1, tops  # every item on one row
    assert page.locator("nav[aria-label=Main]").bounding_box()["height"] < 80
    assert page.get_by_role("link", name="Book a free consultation").count() == 0
    assert page.get_by_role("link", name="My schedule").is_visible()
    assert axe_violations(page) == []


def test_a_photo_takes_the_upload_angle_chosen_after_picking_it(page_factory, live_server, clinic, tmp_path):
    session = clinic["session"]
    files = []
    for n in range(2):
        path = tmp_path / f"camera-{n}.jpg"
        path.write_bytes(images.jpeg(size=(320, 240), colour=(60 * n, 100, 80)))
        files.append(str(path))
    page = page_factory(viewport=TABLET)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/staff/appointments/{session.pk}/photos/")
    # The order a new user takes: pick the photos first, then the angle for them all.
    page.get_by_label("Photos", exact=True).set_input_files(files)
    page.get_by_label("Angle (for photos without their own)").select_option("left")
    assert page.get_by_label("Angle for photo 1 (camera-0.jpg)").input_value() == ""
    assert "Left side" in page.get_by_label("Angle for photo 1 (camera-0.jpg)").inner_text()
    # One photo is given its own angle: that one wins over the upload's.
    page.get_by_label("Angle for photo 2 (camera-1.jpg)").select_option("crown")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Upload photos").click()
    page.get_by_text("2 photos saved.").wait_for()
    stored = list(Photo.objects.filter(appointment=session).order_by("pk").values_list("angle", flat=True))
    assert stored == ["left", "crown"]
