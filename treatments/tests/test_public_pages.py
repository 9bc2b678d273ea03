from __future__ import annotations

import importlib
import itertools
import json
import re
from datetime import time
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import OpeningHours
from bookings.tests.factories import LocationFactory, TechnicianFactory, UserFactory
from treatments.models import AftercareMilestone, Page, PageSection
from treatments.selectors import treatment_get_public, treatment_price_table
from treatments.tests.factories import PageFactory, PriceGuideFactory, TreatmentFactory, published_pair

pytestmark = pytest.mark.django_db

PUBLIC_URLS = ["/", "/treatments/", "/aftercare/", "/results/", "/locations/", "/privacy/"]
AFTERCARE_ANCHORS = ["day-0-4", "day-4", "day-5", "day-7", "day-10", "day-30", "for-life"]


def seed_site_content():
    """Run the data migration's seeding against today's models (a flushed test database has none)."""
    for name in ("0003_seed_site_content", "0004_seed_home_sections"):
        importlib.import_module(f"treatments.migrations.{name}").seed(django_apps, None)


def build_catalogue(size: int) -> list:
    """size treatments, each priced in two bands clinic-wide and overridden at every location,
    size locations open six days a week, and size published before/after pairs."""
    locations = [LocationFactory() for _ in range(size)]
    for location in locations:
        OpeningHours.objects.bulk_create(
            OpeningHours(location=location, weekday=day, opens=time(9), closes=time(17)) for day in range(6)
        )
    treatments = [TreatmentFactory(order=i) for i in range(size)]
    for treatment in treatments:
        PriceGuideFactory(treatment=treatment, band="N2", price_from_minor=100000, price_to_minor=130000)
        PriceGuideFactory(treatment=treatment, band="N5", price_from_minor=200000, price_to_minor=250000)
        for location in locations:
            PriceGuideFactory(
                treatment=treatment, location=location, band="N5", price_from_minor=220000, price_to_minor=270000
            )
    technician = TechnicianFactory(locations=locations[:1])
    for i in range(size):
        published_pair(treatment=treatments[i % size], technician=technician, location=locations[i % size])
    return treatments


def query_counts(client, urls: list[str], budget: int, assert_max) -> dict[str, int]:
    counts = {}
    for url in urls:
        with assert_max(budget), CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        counts[url] = len(queries)
    return counts


def test_each_public_page_takes_the_same_queries_for_2_or_12_of_everything(client, django_assert_max_num_queries):
    seed_site_content()
    detail = build_catalogue(2)[0].get_absolute_url()
    urls = [*PUBLIC_URLS, detail, "/results/?treatment=" + detail.split("/")[-2]]
    small = query_counts(client, urls, 6, django_assert_max_num_queries)
    build_catalogue(10)
    large = query_counts(client, urls, 6, django_assert_max_num_queries)
    assert small == large
    assert "/results/photo/" in client.get("/results/").content.decode()


def test_every_public_page_has_a_title_and_meta_description(client):
    seed_site_content()
    treatment = build_catalogue(1)[0]
    for url in [*PUBLIC_URLS, treatment.get_absolute_url()]:
        html = client.get(url).content.decode()
        title = re.search(r"<title>(.+?)</title>", html, re.S).group(1).strip()
        description = re.search(r'<meta name="description" content="([^"]*)">', html).group(1)
        assert title, url
        assert len(description) > 10, url


def test_home_shows_the_treatments_locations_results_and_a_booking_call_to_action(client):
    seed_site_content()
    treatment = build_catalogue(2)[0]
    html = client.get("/").content.decode()
    assert treatment.name in html
    assert 'href="/book/"' in html
    assert "Book a free consultation" in html
    assert "/results/photo/" in html
    assert 'href="/locations/#clinic-' in html


def test_home_closes_with_the_staff_edited_sections(client):
    seed_site_content()
    PageSection.objects.filter(page__key=Page.Key.HOME).update(heading="Still deciding?", body="Talk to us.")
    html = client.get("/").content.decode()
    assert "Still deciding?" in html
    assert "<p>Talk to us.</p>" in html


def test_touch_up_treatments_are_listed_apart_from_the_courses(client):
    TreatmentFactory(name="Hairline design", slug="hairline-design")
    TreatmentFactory(name="Touch-up", slug="touch-up", category="touch_up", sessions_min=1, sessions_max=1)
    html = client.get("/treatments/").content.decode()
    assert html.index("Hairline design") < html.index("Already treated?") < html.index("Touch-up")


def test_no_public_page_skips_a_heading_level(client, frozen_now):
    # A screen reader's list of headings is the page's outline: h1 straight to h3 reads as a gap.
    seed_site_content()
    detail = build_catalogue(2)[0].get_absolute_url()
    TreatmentFactory(name="Touch-up", slug="touch-up", category="touch_up", sessions_min=1, sessions_max=1)
    for url in [*PUBLIC_URLS, detail]:
        html = client.get(url).content.decode()
        main = html[html.index('<main id="main"') : html.index("</main>")]
        levels = [int(level) for level in re.findall(r"<h([1-6])[\s>]", main)]
        assert levels[0] == 1, url
        jumps = [(a, b) for a, b in itertools.pairwise(levels) if b > a + 1]
        assert jumps == [], (url, levels)


def test_inactive_treatments_are_not_listed_and_their_page_is_gone(client):
    TreatmentFactory(name="Hidden treatment", slug="hidden", is_active=False)
    assert "Hidden treatment" not in client.get("/treatments/").content.decode()
    assert client.get("/treatments/hidden/").status_code == 404


def test_treatment_order_is_the_order_staff_set(client):
    TreatmentFactory(name="Second", slug="second", order=2)
    TreatmentFactory(name="First", slug="first", order=1)
    html = client.get("/treatments/").content.decode()
    assert html.index("First") < html.index("Second")


def test_treatment_page_shows_the_course_shape_and_a_booking_link_for_that_treatment(client):
    treatment = TreatmentFactory(
        name="Density",
        slug="density",
        sessions_min=2,
        sessions_max=3,
        spacing_days_min=14,
        spacing_days_max=21,
        session_minutes_min=150,
        session_minutes_max=300,
        who_for="Thinning hair that is still there.",
        aftercare_brief="Keep it dry for four days.",
    )
    html = client.get(treatment.get_absolute_url()).content.decode()
    assert "Thinning hair that is still there." in html
    assert "2\u20133" in html  # sessions
    assert "14\u201321" in html  # days between
    assert "2\u00bd\u20135" in html  # hours per session
    assert 'href="/book/?treatment=density"' in html
    assert "Keep it dry for four days." in html
    assert reverse("treatments:aftercare") in html


def test_a_location_price_overrides_the_clinic_wide_price_for_that_band_only():
    manchester = LocationFactory(name="Manchester", slug="manchester", order=1)
    preston = LocationFactory(name="Preston", slug="preston", order=2)
    treatment = TreatmentFactory(touch_up_percent=25)
    PriceGuideFactory(treatment=treatment, band="N3", price_from_minor=120000, price_to_minor=160000)
    PriceGuideFactory(treatment=treatment, band="N5", price_from_minor=200000, price_to_minor=250000)
    PriceGuideFactory(
        treatment=treatment, location=manchester, band="N5", price_from_minor=220000, price_to_minor=270000
    )

    table = treatment_price_table(treatment=treatment_get_public(slug=treatment.slug), locations=[manchester, preston])

    assert table.columns == ["Manchester", "Preston"]
    rows = {row.band: row.cells for row in table.rows}
    assert [cell.price_from for cell in rows["N3"]] == [120000, 120000]
    assert [(cell.price_from, cell.price_to) for cell in rows["N5"]] == [
        (220000, 270000),
        (200000, 250000),
    ]
    assert (rows["N5"][0].touch_up_from, rows["N5"][0].touch_up_to) == (55000, 67500)
    assert {cell.currency for cell in rows["N5"]} == {"GBP"}


def test_without_overrides_one_price_column_serves_every_clinic():
    location = LocationFactory()
    treatment = TreatmentFactory()
    PriceGuideFactory(treatment=treatment, band="N3")
    table = treatment_price_table(treatment=treatment_get_public(slug=treatment.slug), locations=[location])
    assert table.columns == ["All clinics"]


def test_an_inactive_location_price_is_ignored():
    active = LocationFactory()
    closed = LocationFactory(is_active=False)
    treatment = TreatmentFactory()
    PriceGuideFactory(treatment=treatment, band="N3", price_from_minor=120000, price_to_minor=160000)
    PriceGuideFactory(treatment=treatment, location=closed, band="N3", price_from_minor=900000, price_to_minor=990000)
    table = treatment_price_table(treatment=treatment_get_public(slug=treatment.slug), locations=[active])
    assert table.columns == ["All clinics"]
    assert table.rows[0].cells[0].price_from == 120000


def test_treatment_page_renders_prices_by_stage_and_location_with_touch_up(client):
    manchester = LocationFactory(name="Manchester", slug="manchester")
    treatment = TreatmentFactory(slug="hairline-design", touch_up_percent=25)
    PriceGuideFactory(treatment=treatment, band="N5", price_from_minor=200000, price_to_minor=250000)
    PriceGuideFactory(
        treatment=treatment, location=manchester, band="N5", price_from_minor=220000, price_to_minor=270000
    )
    html = re.sub(r"<[^>]+>", "", client.get(treatment.get_absolute_url()).content.decode())
    assert "Norwood 5" in html
    assert "£2,200\u2013£2,700" in html
    assert "touch-up £550\u2013£675" in html
    assert "about 25% of the original price" in html


@pytest.mark.parametrize("slug", ["no-such-thing", "a" * 300])
def test_an_unknown_treatment_gets_the_friendly_404_page(client, slug):
    response = client.get(f"/treatments/{slug}/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "We can't find that page" in html
    assert 'href="/treatments/"' in html


# A raw NUL is refused site-wide before the view (smpclinic/tests/test_bad_input.py).
@pytest.mark.parametrize("value", ["nope", "%00", "<script>", "a" * 500, "density&treatment=x"])
def test_a_bad_results_filter_gets_a_clear_message_not_a_500(client, value):
    TreatmentFactory(slug="density")
    response = client.get("/results/", {"treatment": value})
    assert response.status_code == 400
    assert "have a treatment by that name" in response.content.decode()
    assert "<script>" not in response.content.decode()


def test_results_filter_by_treatment_shows_only_that_treatments_pairs(client):
    density = TreatmentFactory(slug="density", name="Density")
    alopecia = TreatmentFactory(slug="alopecia", name="Alopecia")
    density_before, density_after = published_pair(treatment=density)
    alopecia_before, _ = published_pair(treatment=alopecia)
    html = client.get("/results/", {"treatment": "density"}).content.decode()
    assert f"/results/photo/{density_before.pk}/thumb/" in html
    assert f"/results/photo/{density_after.pk}/thumb/" in html
    assert f"/results/photo/{alopecia_before.pk}/" not in html


def test_aftercare_has_every_milestone_anchor_other_messages_link_to(client):
    seed_site_content()
    assert reverse("treatments:aftercare") == "/aftercare/"
    html = client.get("/aftercare/").content.decode()
    ids = re.findall(r'<li class="timeline-step" id="([^"]+)"', html)
    assert ids == AFTERCARE_ANCHORS
    for anchor in AFTERCARE_ANCHORS:
        assert f'href="#{anchor}"' in html


def test_seeding_the_site_content_twice_keeps_staff_edits():
    seed_site_content()
    AftercareMilestone.objects.filter(anchor="day-4").update(title="Edited by a manager")
    Page.objects.filter(key="privacy").update(title="Our privacy notice")
    seed_site_content()
    assert AftercareMilestone.objects.get(anchor="day-4").title == "Edited by a manager"
    assert Page.objects.get(key="privacy").title == "Our privacy notice"
    assert AftercareMilestone.objects.count() == len(AFTERCARE_ANCHORS)


def test_page_copy_edited_by_staff_appears_on_the_page(client):
    Page.objects.filter(key=Page.Key.PRIVACY).delete()
    page = PageFactory(key=Page.Key.PRIVACY, title="Your data", intro="We keep little.")
    PageSection.objects.create(page=page, heading="How long we keep it", body="Eight years.", order=1)
    html = client.get("/privacy/").content.decode()
    assert "<h1>Your data</h1>" in html
    assert "We keep little." in html
    assert "How long we keep it" in html
    assert "Eight years." in html


def test_a_page_whose_copy_was_deleted_still_renders(client):
    Page.objects.all().delete()
    response = client.get("/privacy/")
    assert response.status_code == 200
    assert "Privacy notice" in response.content.decode()


def test_privacy_notice_covers_what_why_how_long_copy_and_erasure(client):
    seed_site_content()
    html = client.get("/privacy/").content.decode()
    for heading in ["What we keep", "Why we keep it", "How long we keep it", "A copy of your record", "erasing"]:
        assert heading in html


def test_locations_page_lists_address_hours_directions_and_schema_org_data(client):
    location = LocationFactory(
        name="Preston", slug="preston", directions="Ten minutes from the station.", latitude=Decimal("53.75675")
    )
    OpeningHours.objects.create(location=location, weekday=0, opens=time(9), closes=time(17, 30))
    response = client.get("/locations/")
    html = response.content.decode()
    assert "Ten minutes from the station." in html
    assert "09:00\u201317:30" in html
    assert "Sunday</th><td>Closed" in html
    assert 'href="/book/?location=preston"' in html
    assert "<iframe" not in html

    block = re.search(r'<script type="application/ld\+json">(.+?)</script>', html, re.S).group(1)
    data = json.loads(block)
    clinic = data["@graph"][0]
    assert clinic["address"]["postalCode"] == location.postcode
    assert clinic["openingHoursSpecification"] == [
        {
            "@type": "OpeningHoursSpecification",
            "dayOfWeek": "https://schema.org/Monday",
            "opens": "09:00",
            "closes": "17:30",
        }
    ]
    assert "geo" not in clinic  # half a coordinate is no coordinate


def test_schema_org_data_cannot_break_out_of_its_script_element(client):
    LocationFactory(name="</script><script>alert(1)</script>", slug="evil")
    html = client.get("/locations/").content.decode()
    block = re.search(r'<script type="application/ld\+json">(.+?)</script>', html, re.S).group(1)
    assert "<" not in block
    assert json.loads(block)["@graph"][0]["name"].endswith("</script><script>alert(1)</script>")


def test_public_pages_send_a_strict_content_security_policy(client):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    html = response.content.decode()
    assert "style=" not in html
    for tag in re.findall(r"<script[^>]*>", html):
        assert " src=" in tag or 'type="application/ld+json"' in tag, tag


@pytest.mark.parametrize("user_kind", ["anonymous", "staff"])
def test_public_pages_are_open_to_everyone(client, user_kind):
    if user_kind == "staff":
        client.force_login(UserFactory(is_staff=True))
    for url in PUBLIC_URLS:
        assert client.get(url).status_code == 200, url


def test_public_pages_refuse_writes(client):
    assert client.post("/treatments/").status_code == 405


def test_on_a_phone_the_price_note_stays_outside_the_table_and_a_wide_table_says_it_scrolls(client):
    """The note sits above the table (a caption inside it scrolled away with the columns, cut off
    at a phone's width), and a table with a column per clinic says it scrolls sideways."""
    manchester = LocationFactory(name="Manchester", slug="manchester")
    LocationFactory(name="Preston", slug="preston")
    treatment = TreatmentFactory(slug="hairline-design")
    PriceGuideFactory(treatment=treatment, band="N5", price_from_minor=200000, price_to_minor=250000)
    PriceGuideFactory(
        treatment=treatment, location=manchester, band="N5", price_from_minor=220000, price_to_minor=270000
    )
    html = client.get(treatment.get_absolute_url()).content.decode()
    table = html[html.index("<table") : html.index("</table>")]
    assert "Your exact price is agreed at your free consultation." not in table
    assert html.index("Your exact price is agreed") < html.index("<table")
    assert "swipe it sideways" in html

    one_column = TreatmentFactory(slug="scar-camouflage")
    PriceGuideFactory(treatment=one_column, band="N5")
    assert "swipe it sideways" not in client.get(one_column.get_absolute_url()).content.decode()
