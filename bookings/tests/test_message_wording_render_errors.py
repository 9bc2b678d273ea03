"""Staff wording that parses but fails when rendered ({% url %}, {% include %}) is refused on the
form with a message, never a 500, and the saved wording is left as it was."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bookings.models import ClientMessage, MessageTemplate
from bookings.tests.factories import UserFactory
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db
M = ClientMessage.Kind


@pytest.mark.parametrize("body", ['{% url "no-such-page" %}', '{% include "no-such-template.html" %}'])
def test_wording_that_fails_when_rendered_is_refused_with_a_message(client, body):
    login_as(client, UserFactory(is_staff=True, is_superuser=True))
    template = MessageTemplate.objects.get(kind=M.AFTERCARE_DAY_4, treatment=None)
    before = template.text_body
    url = reverse("admin:bookings_messagetemplate_change", args=[template.pk])

    response = client.post(
        url, {"kind": M.AFTERCARE_DAY_4, "subject": "Hi", "text_body": body, "html_body": "x", "sms_body": "x"}
    )

    assert response.status_code == 200
    assert "does not render" in response.content.decode()
    template.refresh_from_db()
    assert template.text_body == before
