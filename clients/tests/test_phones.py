"""Phone numbers: typed in any UK spelling, stored in E.164, shown in national format."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import phonenumbers
import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from clients.models import Client
from clients.phones import ClinicPhoneNumber, normalise_uk_phone, phone_display, phone_search_value, to_phone
from clients.selectors import client_search
from clients.tests.factories import ClientFactory, staff_user
from smpclinic.tests.logins import login_as

migration = importlib.import_module("clients.migrations.0007_phone_e164_search")


@pytest.mark.parametrize(
    "typed",
    ["07700 900123", "07700900123", "+44 7700 900123", "+447700900123", "0044 7700 900123", "(07700) 900-123"],
)
def test_every_uk_spelling_of_a_number_is_one_e164_number(typed):
    assert normalise_uk_phone(typed) == "+447700900123"
    assert phone_search_value(typed) == "+447700900123"


@pytest.mark.parametrize("typed", ["12345", "phone me", "07700 90012", "+1 415 555 0100", ""])
def test_anything_else_is_refused_with_a_clear_message(typed):
    with pytest.raises(ValidationError) as refused:
        normalise_uk_phone(typed)
    assert refused.value.code == "phone_invalid"
    assert "Enter a UK phone number" in refused.value.messages[0]


@pytest.mark.parametrize("term", ["smith", "SMP-4K7QZ", "sam@example.com", "12", "2026-11-20", "\x00"])
def test_a_search_term_that_is_not_a_phone_number_is_not_read_as_one(term):
    assert phone_search_value(term) is None


def test_a_foreign_number_typed_with_its_plus_is_searched_as_it_is():
    assert phone_search_value("+1 415 555 0100") == "+14155550100"


def test_numbers_are_shown_in_national_format():
    assert phone_display("+447700900123") == "07700 900123"
    assert phone_display("+441614960000") == "0161 496 0000"
    assert phone_display("+14155550100") == "+1 415-555-0100"
    assert phone_display("") == ""


@given(first=st.sampled_from("1235789"), rest=st.text("0123456789", min_size=8, max_size=9))
def test_a_stored_uk_number_is_read_as_libphonenumber_parses_it(first, rest):
    # Stored numbers skip libphonenumber's parse (UK_E164): every field must still match it.
    stored = f"+44{first}{rest}"
    quick = to_phone(stored)
    parsed = ClinicPhoneNumber.from_string(stored, region="GB")
    assert phonenumbers.PhoneNumber.__eq__(quick, parsed)
    assert isinstance(quick, ClinicPhoneNumber)
    assert phone_display(stored) == parsed.as_national


@pytest.mark.django_db
def test_the_model_stores_e164_whatever_spelling_it_is_given():
    client = ClientFactory(phone="07700 900 123")
    assert Client.objects.filter(phone="+447700900123").get() == client
    client.refresh_from_db()
    assert str(client.phone) == "+447700900123"
    assert client.phone == "07700 900123"  # compares by the number, not the spelling


@pytest.mark.django_db
def test_the_migration_converts_stored_numbers_and_keeps_what_it_cannot_read():
    spaced, odd, empty = ClientFactory(), ClientFactory(), ClientFactory(phone="")
    # As 0006 left them: written as typed, bypassing the field's normalisation.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE clients_client SET phone = %s WHERE id = %s", ["07700 900 555", spaced.pk])
        cursor.execute("UPDATE clients_client SET phone = %s WHERE id = %s", ["call me", odd.pk])
    migration.phones_to_e164(django_apps, SimpleNamespace(connection=connection))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, phone FROM clients_client WHERE id IN (%s, %s, %s)", [spaced.pk, odd.pk, empty.pk])
        stored = dict(cursor.fetchall())
    assert stored == {spaced.pk: "+447700900555", odd.pk: "call me", empty.pk: ""}


@pytest.mark.django_db
def test_the_admin_form_shows_the_stored_number_in_national_format(client):
    login_as(client, staff_user(role="Reception", username="desk"))
    record = ClientFactory(phone="+447700900123")
    page = client.get(reverse("admin:clients_client_change", args=[record.pk])).content.decode()
    assert 'value="07700 900123"' in page
    listing = client.get(reverse("admin:clients_client_changelist")).content.decode()
    assert "07700 900123" in listing


@pytest.mark.django_db
def test_the_staff_client_search_finds_a_number_typed_with_spaces():
    sam = ClientFactory(phone="07700 900123")
    ClientFactory(phone="07700 900124")
    assert list(client_search(clients=Client.objects.all(), query="07700 900 123")) == [sam]
    assert list(client_search(clients=Client.objects.all(), query="+44 7700 900123")) == [sam]
