"""The assessments inline on the client admin saves through the workspace's service
(clients.services.assessment_save): the same checks and the same audit row, whichever screen
the change was made on (it used to be the generic inline save, audited as "admin" rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory
from clients.models import Assessment, AuditEvent
from clients.tests.factories import AssessmentFactory, ClientFactory, staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


class _FormValues(HTMLParser):
    """What a browser would post for the page's form, as it stands."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "file", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.values[name] = a.get("value") or ("on" if a.get("type") == "checkbox" else "")
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data.lstrip("\n") if not self.values[self._textarea] else data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _page_values(client, url: str) -> dict[str, str]:
    parser = _FormValues()
    parser.feed(client.get(url).content.decode())
    return parser.values


@pytest.fixture
def manager(client):
    user = staff_user(role="Manager")
    login_as(client, user)
    return user


@pytest.fixture
def record():
    return ClientFactory()


def _consultation_with_assessment(record, days: int) -> Assessment:
    start = NOW - timedelta(days=days)
    appointment = AppointmentFactory(
        client=record, kind=Appointment.Kind.CONSULTATION, start=start, status="completed", completed_at=start
    )
    return AssessmentFactory(client=record, appointment=appointment, assessed_at=NOW - timedelta(days=days))


def _row(events) -> tuple:
    [event] = events
    return (event.action, event.actor_id, event.object_type, event.client_id_ref, event.fields, event.detail)


def _admin_form_index(values: dict[str, str], assessment: Assessment) -> int:
    return next(
        int(name.split("-")[1])
        for name, value in values.items()
        if name.startswith("assessments-") and name.endswith("-id") and value == str(assessment.pk)
    )


def test_an_assessment_edited_inline_writes_the_same_audit_row_as_the_workspace(client, manager, record):
    in_workspace = _consultation_with_assessment(record, days=20)
    in_admin = _consultation_with_assessment(record, days=10)
    change = {"suitability": Assessment.Suitability.WITH_CAUTION, "allergies": "Nickel"}

    workspace_url = reverse("staff:assessment", args=[in_workspace.appointment_id])
    workspace_form = {k: v for k, v in _page_values(client, workspace_url).items() if k != "csrfmiddlewaretoken"}
    before = AuditEvent.objects.count()
    response = client.post(workspace_url, {**workspace_form, **change})
    assert response.status_code == 302
    workspace_row = _row(AuditEvent.objects.filter(object_id=str(in_workspace.pk), action="update"))

    admin_url = reverse("admin:clients_client_change", args=[record.pk])
    values = _page_values(client, admin_url)
    n = _admin_form_index(values, in_admin)
    values.update({f"assessments-{n}-{field}": value for field, value in change.items()})
    response = client.post(admin_url, values)

    assert response.status_code == 302
    admin_row = _row(AuditEvent.objects.filter(object_id=str(in_admin.pk), action="update"))
    assert (
        admin_row == workspace_row == ("update", manager.pk, "assessment", record.pk, ["allergies", "suitability"], "")
    )
    in_admin.refresh_from_db()
    assert (in_admin.suitability, in_admin.allergies) == ("caution", "Nickel")
    # Nothing else was written for the assessments: no second, generic "admin" row.
    assert not AuditEvent.objects.filter(pk__gt=before, object_type="assessment", detail="admin").exists()


def test_an_assessment_added_inline_is_created_by_the_service(client, manager, record):
    url = reverse("admin:clients_client_change", args=[record.pk])
    values = _page_values(client, url)
    values.update(
        {
            "assessments-TOTAL_FORMS": "1",
            "assessments-0-client": str(record.pk),
            "assessments-0-assessed_at_0": "01/11/2026",
            "assessments-0-assessed_at_1": "10:00:00",
            "assessments-0-hair_loss_type": Assessment.HairLossType.FEMALE_PATTERN,
            "assessments-0-suitability": Assessment.Suitability.PENDING,
        }
    )

    response = client.post(url, values)

    assert response.status_code == 302
    assessment = Assessment.objects.get(client=record)
    # Left blank in the form, so the service's default: whoever saved it.
    assert (assessment.assessed_by, assessment.hair_loss_type) == (manager, "female_pattern")
    row = _row(AuditEvent.objects.filter(object_type="assessment", object_id=str(assessment.pk)))
    assert row[:2] == ("create", manager.pk)
    assert {"assessed_at", "assessed_by", "hair_loss_type", "client", "suitability"} <= set(row[4])


def test_an_assessment_deleted_inline_is_deleted_by_the_service_and_audited(client, manager, record):
    assessment = _consultation_with_assessment(record, days=10)
    url = reverse("admin:clients_client_change", args=[record.pk])
    values = _page_values(client, url)
    values[f"assessments-{_admin_form_index(values, assessment)}-DELETE"] = "on"

    response = client.post(url, values)

    assert response.status_code == 302
    assert not Assessment.objects.filter(pk=assessment.pk).exists()
    assert _row(AuditEvent.objects.filter(object_type="assessment", action="delete")) == (
        "delete",
        manager.pk,
        "assessment",
        record.pk,
        [],
        "",
    )


def test_an_unchanged_inline_writes_no_assessment_row(client, manager, record):
    _consultation_with_assessment(record, days=10)
    url = reverse("admin:clients_client_change", args=[record.pk])

    response = client.post(url, _page_values(client, url))

    assert response.status_code == 302
    assert not AuditEvent.objects.filter(object_type="assessment").exclude(action="view").exists()
