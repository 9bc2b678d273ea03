"""Arbitrary text (NUL characters, huge numbers, other scripts) in the query string of every admin
changelist and autocomplete, and of the public, API and staff pages: never a 500.

Run as a signed-in superuser, so every view gets past its permission check to the parsing.
Small max_examples keep it fast (FUZZ_EXAMPLES=500 for a longer hunt); the explicit examples are
the requests that used to crash.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from bookings.tokens import booking_token_make
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 10, tzinfo=UTC)
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NASTY = [
    "\x00",
    "a\x00",
    "99999999999999999999",
    "-1",
    "0",
    "1",
    "12",
    "13",
    "31",
    "9998",
    "9999",
    "2026",
    "",
    " ",
    "1e9",
    "\u00b2",
    "\u0661",
    "0001-01-01",
    "9999-12-31",
    "9999-12-31T23:59:59-23:00",
    "__",
]
VALUES = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)) | st.just("\x00"), max_size=12),
    st.integers().map(str),
)


def _params(names: list[str]):
    return st.dictionaries(st.sampled_from(names), VALUES, max_size=4)


@pytest.fixture
def superuser(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = get_user_model().objects.create_superuser("root", "root@smpclinic.example", None)
    client.force_login(user)
    return user


@pytest.fixture
def clinic_data(db):
    with time_machine.travel(NOW, tick=False):
        BookingPolicyFactory(minimum_notice_hours=0)
        location = LocationFactory(slug="manchester")
        treatment = TreatmentFactory(slug="hairline")
        start = NOW + timedelta(days=3)
        appointment = AppointmentFactory(
            technician=technician_working(location=location),
            location=location,
            start=start,
            end=start + timedelta(minutes=45),
        )
    return {"location": location, "treatment": treatment, "appointment": appointment}


def _changelist_parameters(model_admin, user) -> list[str]:
    """Every parameter this changelist reads: search, order, page, its filters' and its date hierarchy's."""
    request = RequestFactory().get("/")
    request.user = user
    names = ["q", "o", "p", "e", "all", "_to_field", "_facets"]
    if model_admin.date_hierarchy:
        names += [f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day")]
    for spec in model_admin.get_changelist_instance(request).filter_specs:
        names += spec.expected_parameters()
    return names


def _admins():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def test_no_admin_changelist_answers_a_500_to_any_filter_search_or_date(client, superuser, clinic_data):
    targets = [
        (reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"), names)
        for model, model_admin in _admins()
        if (names := _changelist_parameters(model_admin, superuser))
    ]

    appointments = next(t for t in targets if t[0] == reverse("admin:bookings_appointment_changelist"))

    @FUZZ
    @given(target=st.sampled_from(targets).flatmap(lambda t: st.tuples(st.just(t[0]), _params(t[1]))))
    @example(target=(appointments[0], {"status__exact": "\x00"}))
    @example(target=(appointments[0], {"start__year": "99999999999999999999"}))
    @example(target=(appointments[0], {"start__year": "2026", "start__month": "13"}))
    @example(target=(appointments[0], {"start__year": "9999", "start__month": "12", "start__day": "31"}))
    def check(target):
        url, params = target
        response = client.get(url, params)
        assert response.status_code < 500, (url, params)

    with time_machine.travel(NOW, tick=False):
        check()


def test_no_admin_autocomplete_answers_a_500_to_any_term(client, superuser, clinic_data):
    fields = [
        (model._meta.app_label, model._meta.model_name, field)
        for model, model_admin in _admins()
        for field in model_admin.autocomplete_fields
    ]
    assert fields, "no autocomplete fields registered: the test would prove nothing"

    @FUZZ
    @given(target=st.sampled_from(fields), term=VALUES, page=VALUES)
    @example(target=("bookings", "appointment", "client"), term="\x00", page="1")
    def check(target, term, page):
        app_label, model_name, field_name = target
        params = {"term": term, "page": page, "app_label": app_label, "model_name": model_name}
        response = client.get(reverse("admin:autocomplete"), {**params, "field_name": field_name})
        assert response.status_code < 500, params

    with time_machine.travel(NOW, tick=False):
        check()


def test_no_public_api_or_staff_page_answers_a_500_to_any_query(client, superuser, clinic_data):
    appointment = clinic_data["appointment"]
    urls = [
        reverse("treatments:home"),
        reverse("treatments:list"),
        reverse("treatments:detail", args=["hairline"]),
        reverse("treatments:results"),
        reverse("treatments:locations"),
        reverse("bookings:api_availability"),
        reverse("bookings:book"),
        reverse("bookings:manage", kwargs={"token": booking_token_make(appointment=appointment)}),
        reverse("staff:schedule"),
        reverse("staff:clients"),
        reverse("staff:client", args=[appointment.client_id]),
        reverse("staff:compare", args=[appointment.client_id]),
        reverse("staff:appointment", args=[appointment.pk]),
    ]
    names = ["location", "treatment", "start", "days", "kind", "technician", "length_minutes"]
    names += ["q", "page", "angle", "done", "manchester"]

    @FUZZ
    @given(url=st.sampled_from(urls), params=_params(names), base=st.booleans())
    @example(url=reverse("staff:clients"), params={"q": "\x00"}, base=False)
    @example(url=reverse("bookings:api_availability"), params={"start": "0001-01-01", "days": "9" * 20}, base=True)
    def check(url, params, base):
        if base:  # a valid clinic and treatment, so the other parameters reach the deeper parsing
            params = {"location": "manchester", "treatment": "hairline", **params}
        response = client.get(url, params)
        assert response.status_code < 500, (url, params)

    with time_machine.travel(NOW, tick=False):
        check()
