"""The public site in real Chromium: the walk to booking, accessibility and the CSP."""

from __future__ import annotations

from datetime import time

import pytest

from bookings.models import OpeningHours
from bookings.tests.factories import LocationFactory, TechnicianFactory
from conftest import DESKTOP, PHONE, axe_violations
from treatments.tests.factories import PriceGuideFactory, TreatmentFactory, published_pair
from treatments.tests.test_public_pages import seed_site_content

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


def build_site():
    seed_site_content()
    manchester = LocationFactory(
        name="Manchester", slug="manchester", directions="Five minutes from the tram stop.", order=1
    )
    preston = LocationFactory(name="Preston", slug="preston", city="Preston", order=2)
    for location in (manchester, preston):
        OpeningHours.objects.create(location=location, weekday=0, opens=time(9), closes=time(17, 30))
    hairline = TreatmentFactory(
        name="Hairline design",
        slug="hairline-design",
        order=1,
        aftercare_brief="Keep the scalp dry for four days.",
    )
    density = TreatmentFactory(name="Density", slug="density", category="density", order=2)
    PriceGuideFactory(treatment=hairline, band="N3", price_from_minor=120000, price_to_minor=160000)
    PriceGuideFactory(treatment=hairline, band="N5", price_from_minor=200000, price_to_minor=250000)
    PriceGuideFactory(
        treatment=hairline, location=manchester, band="N5", price_from_minor=220000, price_to_minor=270000
    )
    PriceGuideFactory(treatment=density, band="L2", price_from_minor=140000, price_to_minor=190000)
    technician = TechnicianFactory(locations=[manchester])
    published_pair(treatment=hairline, technician=technician, location=manchester)
    published_pair(treatment=density, technician=technician, location=manchester)
    return hairline


def csp_errors(page) -> list[str]:
    return [error for error in page.console_errors if "Content Security Policy" in error]


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@VIEWPORTS
def test_a_visitor_walks_from_home_to_booking_a_treatment(page_factory, live_server, viewport):
    treatment = build_site()
    page = page_factory(viewport=viewport)
    page.goto(live_server.url + "/")
    assert page.get_by_role("link", name="Book a free consultation").first.is_visible()

    if viewport is PHONE:
        # The menu is collapsed on a phone; opening it proves Bootstrap's JS runs under the CSP.
        page.get_by_role("button", name="Toggle navigation").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Treatments").click()
    page.wait_for_url("**/treatments/")
    assert page.get_by_role("heading", level=1).inner_text() == "Treatments"
    assert fits_the_screen(page)

    page.get_by_role("link", name=treatment.name).click()
    page.wait_for_url(f"**/treatments/{treatment.slug}/")
    assert page.get_by_role("heading", level=1).inner_text() == treatment.name
    assert page.get_by_role("table").get_by_text("£2,200\u2013£2,700").is_visible()
    assert fits_the_screen(page)

    call_to_action = page.locator('[data-cta="book-treatment"]')
    assert call_to_action.is_visible()
    call_to_action.click()
    page.wait_for_url(f"**/book/?treatment={treatment.slug}")
    assert csp_errors(page) == []


@VIEWPORTS
def test_every_public_page_passes_axe_without_csp_errors(page_factory, live_server, viewport):
    treatment = build_site()
    page = page_factory(viewport=viewport)
    urls = [
        "/",
        "/treatments/",
        treatment.get_absolute_url(),
        "/aftercare/#day-4",
        "/results/",
        "/results/?treatment=density",
        "/locations/",
        "/privacy/",
        "/treatments/no-such-treatment/",
    ]
    found = {}
    for url in urls:
        page.goto(live_server.url + url)
        page.wait_for_load_state("load")
        violations = axe_violations(page)
        if violations:
            found[url] = violations
        assert fits_the_screen(page), url
    assert found == {}
    assert csp_errors(page) == []


def test_results_photos_load_through_the_consent_checked_view(page_factory, live_server):
    build_site()
    page = page_factory(viewport=PHONE)
    page.goto(live_server.url + "/results/")
    images = page.locator(".result-pair img")
    assert images.count() == 4
    images.last.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.result-pair img')].every(img => img.complete && img.naturalWidth > 0)"
    )
    assert csp_errors(page) == []


def test_an_aftercare_link_lands_on_its_milestone(page_factory, live_server):
    build_site()
    page = page_factory(viewport=PHONE)
    page.goto(live_server.url + "/aftercare/#day-7")
    milestone = page.locator("#day-7")
    assert "Day 7" in milestone.text_content()
    assert milestone.evaluate("el => el.matches(':target')")
    # The browser scrolls to the fragment once layout settles; fails by timeout if it never does.
    page.wait_for_function(
        "() => { const top = document.getElementById('day-7').getBoundingClientRect().top;"
        " return top >= 0 && top < window.innerHeight; }"
    )
