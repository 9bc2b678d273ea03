"""Staff change every word and price of the public site in the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from treatments.models import Page
from treatments.tests.factories import AftercareMilestoneFactory, PageFactory, TreatmentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["treatment", "priceguide", "aftercaremilestone", "page"])
def test_staff_can_list_and_add_site_content_in_the_admin(admin_client, model):
    assert admin_client.get(reverse(f"admin:treatments_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:treatments_{model}_add")).status_code == 200


def test_a_saved_aftercare_anchor_cannot_be_changed_because_messages_link_to_it(admin_client):
    milestone = AftercareMilestoneFactory(anchor="day-4", label="Day 4")
    url = reverse("admin:treatments_aftercaremilestone_change", args=[milestone.pk])
    response = admin_client.post(
        url, {"anchor": "day-four", "label": "Day 4", "title": "Clean gently", "body": "Water only.", "order": 2}
    )
    assert response.status_code == 302
    milestone.refresh_from_db()
    assert milestone.anchor == "day-4"
    assert milestone.title == "Clean gently"


def test_a_page_edit_in_the_admin_shows_on_the_site(admin_client, client):
    Page.objects.filter(key=Page.Key.RESULTS).delete()
    page = PageFactory(key=Page.Key.RESULTS, title="Results")
    url = reverse("admin:treatments_page_change", args=[page.pk])
    response = admin_client.post(
        url,
        {
            "title": "Real results",
            "meta_description": "Before and after.",
            "intro": "Shown with consent.",
            "sections-TOTAL_FORMS": "0",
            "sections-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert "<h1>Real results</h1>" in client.get("/results/").content.decode()


def test_treatment_order_is_editable_from_the_list(admin_client):
    TreatmentFactory()
    response = admin_client.get(reverse("admin:treatments_treatment_changelist"))
    assert 'name="form-0-order"' in response.content.decode()


def test_anonymous_visitors_cannot_reach_the_content_admin(client):
    response = client.get(reverse("admin:treatments_aftercaremilestone_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
