"""The outbox list names each message's client and previews what it says (subject and first
lines), in a constant number of queries however many rows the page shows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import ClientMessage, MessageTemplate
from bookings.tests.factories import ClientMessageFactory
from clients.tests.factories import ClientFactory, staff_user
from smpclinic.tests.logins import login_as
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db
K = ClientMessage.Kind
# Measured: 10 (session, user, permissions, counts, the date hierarchy, the rows, the wording).
QUERY_BUDGET = 10
KINDS = [K.AFTERCARE_DAY_4, K.AFTERCARE_DAY_7, K.AFTERCARE_DAY_10, K.REMINDER_48H, K.TOUCH_UP_RECALL]


def wording(kind: str, **fields: str) -> None:
    # The migrations give every kind a general wording: replace it.
    MessageTemplate.objects.update_or_create(kind=kind, treatment=None, defaults=fields)


def messages(count: int) -> list[ClientMessage]:
    treatments = [TreatmentFactory(), TreatmentFactory()]
    rows = []
    for n in range(count):
        client = ClientFactory(first_name=f"Robin{n}", last_name="Okafor", phone="07700 900123")
        rows.append(
            ClientMessageFactory(
                appointment__client=client,
                appointment__treatment=treatments[n % 2],
                kind=KINDS[n % len(KINDS)],
                channel="sms" if n % 4 == 3 else "email",
            )
        )
    return rows


def changelist(client, role: str = "Reception"):
    login_as(client, staff_user(role=role))
    return client.get(reverse("admin:bookings_clientmessage_changelist"))


def test_each_row_names_the_client_and_previews_the_message(client):
    row = messages(1)[0]
    wording(
        K.AFTERCARE_DAY_4,
        subject="Day 4, {{ first_name }}: you can wash your scalp",
        text_body="Hello {{ first_name }},\n\nFrom today you may wet your scalp.\n"
        "See {{ aftercare_url }}\n\nMore below.",
        html_body="<p>Hello</p>",
        sms_body="Day 4: you may wet your scalp.",
    )

    page = changelist(client).content.decode()

    assert "Robin0 Okafor" in page
    assert "Day 4, Robin0: you can wash your scalp" in page
    assert "Hello Robin0, From today you may wet your scalp." in page
    assert "More below." not in page  # only the first lines
    assert row.appointment.reference in page


def test_an_sms_row_previews_the_text_message(client):
    rows = messages(4)
    wording(
        rows[3].kind,
        subject="Subject",
        text_body="E-mail text",
        html_body="<p>x</p>",
        sms_body="Text for {{ first_name }}",
    )

    page = changelist(client).content.decode()

    assert "Text for Robin3" in page


def test_a_wording_that_does_not_render_shows_a_note_not_an_error(client):
    messages(1)
    # Saved around the form's check (as an old row might be): the list must still open.
    wording(K.AFTERCARE_DAY_4, subject="Hi", text_body="{% url 'nowhere' %}", html_body="x", sms_body="x")

    response = changelist(client)

    assert response.status_code == 200
    assert "this wording does not render" in response.content.decode()


def test_an_erased_clients_row_names_no_one(client):
    row = messages(1)[0]
    client_record = row.appointment.client
    client_record.erased_at = row.due_at
    client_record.save()

    page = changelist(client).content.decode()

    assert f"Erased client #{client_record.pk}" in page


@pytest.mark.parametrize("role", ["Reception", "Manager"])
def test_the_list_makes_the_same_queries_for_one_row_as_for_twenty(client, django_assert_max_num_queries, role):
    messages(1)
    login_as(client, staff_user(role=role))
    url = reverse("admin:bookings_clientmessage_changelist")
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    messages(19)
    with CaptureQueriesContext(connection) as twenty:
        response = client.get(url)
    assert response.content.decode().count("Okafor") >= 20
    assert len(twenty) == len(one)
    with django_assert_max_num_queries(QUERY_BUDGET):
        client.get(url)
