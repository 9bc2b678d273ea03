"""The admin's deposit override action: managers only, through deposit_override, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from bookings.models_payments import Payment
from bookings.services.appointments import appointment_mark_no_show
from bookings.tests.stripe_stub import stripe_stub  # noqa: F401 (a fixture)
from bookings.tests.test_deposits import START, _now, clinic, paid  # noqa: F401 (fixtures)
from clients.models import AuditEvent
from clients.tests.factories import staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:bookings_appointment_changelist")


def actions(response) -> set[str]:
    return {name for name, _label in response.context["action_form"].fields["action"].choices}


def test_reception_is_not_offered_the_override(client, clinic):  # noqa: F811
    login_as(client, staff_user(role="Reception"))
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert "deposit_override" not in actions(response)
    assert "mark_no_show" in actions(response)


def test_a_manager_refunds_a_no_show_deposit_from_the_appointment_list(
    client,
    clinic,  # noqa: F811 (the imported fixture)
    django_capture_on_commit_callbacks,
):
    appointment = paid(clinic, client, django_capture_on_commit_callbacks)
    manager = staff_user(role="Manager")
    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        appointment_mark_no_show(appointment=appointment, by=manager)
        login_as(client, manager)
        chosen = {"action": "deposit_override", "_selected_action": [appointment.pk]}
        page = client.post(CHANGELIST, chosen)
        assert page.status_code == 200
        assert "Keep the deposit anyway" in page.content.decode()
        no_reason = client.post(CHANGELIST, {**chosen, "apply": "1", "decision": "refund", "reason": ""})
        assert no_reason.status_code == 400
        with django_capture_on_commit_callbacks(execute=True):
            done = client.post(CHANGELIST, {**chosen, "apply": "1", "decision": "refund", "reason": "Snowed in"})
    assert done.status_code == 302
    assert len(clinic.stub.refunds) == 1
    assert Payment.objects.get(kind="refund").status == "succeeded"
    assert Payment.objects.get(kind="forfeit").status == "cancelled"
    assert AuditEvent.objects.filter(actor=manager, detail__contains="manager override: refund").exists()
    # The appointment's page lists the deposit, the kept share (overridden) and the refund.
    change = client.get(reverse("admin:bookings_appointment_change", args=[appointment.pk]))
    assert change.status_code == 200
    assert change.content.decode().count("£50.00") >= 3


def test_blank_payment_rows_posted_to_the_add_form_are_drawn_without_an_amount(client, clinic):  # noqa: F811
    # Found by the fuzzer: payments-TOTAL_FORMS=<huge> on an invalid add made Django draw blank
    # payment rows, and the amount column asked an unsaved payment for its money (a 500).
    login_as(client, staff_user(role="Manager"))
    response = client.post(
        reverse("admin:bookings_appointment_add"),
        {"payments-TOTAL_FORMS": "3", "payments-INITIAL_FORMS": "0", "_save": "Save"},
    )
    assert response.status_code == 200
    assert Payment.objects.count() == 0
    assert response.context["inline_admin_formsets"]
