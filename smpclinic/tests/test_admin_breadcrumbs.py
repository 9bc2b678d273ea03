"""The admin's own pages keep its breadcrumb markup: Django 6 styles <ol class="breadcrumbs">
with <li>s; the older <div class="breadcrumbs"> sat unpadded on white at the page's edge."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

ADMIN_TEMPLATES = Path(settings.BASE_DIR) / "templates" / "admin"


def test_no_admin_template_uses_the_old_breadcrumb_markup():
    old = [
        str(path.relative_to(ADMIN_TEMPLATES))
        for path in ADMIN_TEMPLATES.rglob("*.html")
        if '<div class="breadcrumbs">' in path.read_text()
    ]
    assert old == []


def test_the_shared_trail_names_the_page_as_the_current_one():
    from django.template.loader import render_to_string

    html = render_to_string("admin/_crumbs.html", {"parent_url": "/admin/x/", "parent": "Batches", "current": "Recall"})
    assert '<ol class="breadcrumbs">' in html
    assert '<li><a href="/admin/x/">Batches</a></li>' in html
    assert '<li aria-current="page">Recall</li>' in html


def test_a_page_of_a_models_action_names_its_app_as_djangos_own_pages_do():
    from django.template.loader import render_to_string

    from bookings.models import Appointment

    html = render_to_string(
        "admin/_crumbs.html",
        {
            "opts": Appointment._meta,
            "parent_url": "/admin/bookings/appointment/",
            "parent": "Appointments",
            "current": "Move",
        },
    )
    assert (
        html.index(">Home<")
        < html.index('<li><a href="/admin/bookings/">Bookings</a></li>')
        < html.index(">Appointments<")
    )
