"""Claiming and sending outbox rows in-process: retries, stale claims, wording, SMS, the
unsubscribe link and the admin (the real-worker tests are in test_worker.py)."""

from __future__ import annotations

import io
import json
import logging
import urllib.error
from datetime import datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Appointment, ClientMessage, MessageTemplate
from bookings.services.appointments import appointment_complete
from bookings.services.messaging import reminders_sync, unsubscribe_token
from bookings.services.outbox import reminders_claim, reminders_dispatch
from bookings.sms import SmsError
from bookings.sms.backends import locmem
from bookings.sms.backends.http import SmsBackend as HttpSmsBackend
from bookings.tests.factories import AppointmentFactory, CourseFactory, UserFactory
from clients.models import AuditEvent
from clients.tests.factories import staff_user
from smpclinic.tests.logins import login_as
from treatments.tests.factories import TreatmentFactory

LONDON = ZoneInfo("Europe/London")
M = ClientMessage.Kind
S = ClientMessage.Status
DAY4 = datetime(2026, 11, 6, 9, 0, tzinfo=LONDON)
pytestmark = pytest.mark.django_db


@pytest.fixture
def completed():
    start = datetime(2026, 11, 2, 10, tzinfo=LONDON)
    appointment = AppointmentFactory(
        kind=Appointment.Kind.TREATMENT_SESSION,
        start=start,
        end=start + timedelta(hours=3),
        client__first_name="Robin",
        location__phone="0161 496 0123",
    )
    with time_machine.travel(start + timedelta(hours=4), tick=False):
        return appointment_complete(appointment=appointment, by=staff_user(role="Manager"))


def _day4(appointment) -> ClientMessage:
    return appointment.messages.get(kind=M.AFTERCARE_DAY_4)


def test_dispatch_sends_only_what_is_due_and_records_it(completed, mailoutbox):
    assert reminders_dispatch(now=DAY4 - timedelta(minutes=1)) == {}
    assert reminders_dispatch(now=DAY4) == {"sent": 1}
    assert reminders_dispatch(now=DAY4) == {}

    row = _day4(completed)
    assert (row.status, row.sent_at, row.attempts, row.claim_token) == (S.SENT, DAY4, 1, "")
    assert len(mailoutbox) == 1
    assert mailoutbox[0].extra_headers["Message-ID"].startswith(f"<outbox-{row.pk}@")


def test_aftercare_email_carries_name_date_phone_and_link_but_no_unsubscribe(completed, mailoutbox):
    reminders_dispatch(now=DAY4)

    email = mailoutbox[0]
    html = email.alternatives[0].content
    for part in (email.body, html):
        assert "Robin" in part
        assert "Monday 2 November 2026" in part
        assert "0161 496 0123" in part
        assert "/aftercare/#day-4" in part
    assert "List-Unsubscribe" not in email.extra_headers


def test_reminder_for_a_session_has_pre_care_and_an_unsubscribe_link(mailoutbox, client):
    with time_machine.travel(datetime(2026, 11, 1, 12, tzinfo=LONDON)):
        appointment = AppointmentFactory(
            kind=Appointment.Kind.TREATMENT_SESSION, start=datetime(2026, 11, 10, 14, tzinfo=LONDON)
        )
        reminders_sync(appointment=appointment)
    reminders_dispatch(now=datetime(2026, 11, 8, 14, tzinfo=LONDON))

    email = mailoutbox[0]
    assert "clean, dry scalp" in email.body
    assert "14:00" in email.body
    assert "/booking/" in email.body  # the client's own move-or-cancel link
    unsubscribe = email.extra_headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe in email.body

    path = unsubscribe.removeprefix("http://127.0.0.1:8000")
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 200
    appointment.client.refresh_from_db()
    assert appointment.client.reminders_opt_in is False
    event = AuditEvent.objects.get(object_type="client", client_id_ref=appointment.client_id)
    assert (event.actor, event.fields) == (None, ["reminders_opt_in"])
    assert event.detail.startswith("unsubscribe link")
    assert client.post(path).status_code == 200  # a second click changes nothing twice
    assert AuditEvent.objects.filter(object_type="client", client_id_ref=appointment.client_id).count() == 1


def test_unsubscribe_with_a_forged_token_is_a_404_and_changes_nothing(client, completed):
    response = client.post(reverse("client_messages:unsubscribe", args=[unsubscribe_token(completed.client) + "x"]))

    assert response.status_code == 404
    completed.client.refresh_from_db()
    assert completed.client.reminders_opt_in is True


def test_a_failing_mailer_backs_off_then_stops_with_the_error_kept_without_the_address(completed, settings):
    settings.MAILERS = {"default": {"BACKEND": "bookings.tests.mailers.RefusingEmailBackend"}}
    settings.REMINDERS_MAX_ATTEMPTS = 3
    now = DAY4
    assert reminders_dispatch(now=now) == {"retry": 1}
    row = _day4(completed)
    assert (row.status, row.attempts, row.next_attempt_at) == (S.PENDING, 1, now + timedelta(seconds=60))
    assert row.last_error.startswith("SMTPRecipientsRefused")
    assert completed.client.email not in row.last_error

    assert reminders_dispatch(now=now + timedelta(seconds=59)) == {}
    assert reminders_dispatch(now=now + timedelta(seconds=60)) == {"retry": 1}
    assert _day4(completed).next_attempt_at == now + timedelta(seconds=60 + 120)
    assert reminders_dispatch(now=now + timedelta(seconds=180)) == {"failed": 1}

    row = _day4(completed)
    assert (row.status, row.attempts) == (S.FAILED, 3)
    assert reminders_dispatch(now=now + timedelta(days=1)) == {}


def test_a_claim_is_taken_over_only_after_the_claim_timeout(completed, mailoutbox):
    assert len(reminders_claim(now=DAY4, limit=10, token="a" * 32)) == 1
    assert reminders_claim(now=DAY4, limit=10, token="b" * 32) == []  # a second worker finds nothing
    assert reminders_dispatch(now=DAY4 + timedelta(minutes=9)) == {}

    assert reminders_dispatch(now=DAY4 + timedelta(minutes=11)) == {"sent": 1}
    assert _day4(completed).attempts == 2
    assert len(mailoutbox) == 1


def test_the_dead_workers_claim_stops_at_the_attempt_limit(completed, settings):
    settings.REMINDERS_MAX_ATTEMPTS = 1
    reminders_claim(now=DAY4, limit=10, token="a" * 32)

    assert reminders_dispatch(now=DAY4 + timedelta(minutes=11)) == {}
    assert _day4(completed).status == S.FAILED


def test_erasing_between_scheduling_and_sending_skips_the_message(completed, mailoutbox):
    completed.client.erased_at = DAY4 - timedelta(days=1)
    completed.client.save()

    assert reminders_dispatch(now=DAY4) == {"skipped": 1}
    assert _day4(completed).status == S.CANCELLED
    assert mailoutbox == []


def test_prompt_is_skipped_at_send_time_if_the_next_session_was_booked_meanwhile(mailoutbox):
    course = CourseFactory(planned_sessions=2)
    start = datetime(2026, 11, 2, 10, tzinfo=LONDON)
    first = AppointmentFactory(
        kind="session",
        course=course,
        client=course.client,
        session_number=1,
        start=start,
        end=start + timedelta(hours=3),
    )
    with time_machine.travel(start + timedelta(hours=4)):
        appointment_complete(appointment=first, by=staff_user(role="Manager"))
    # Booked by a path that did not sync the earlier session's messages.
    AppointmentFactory(kind="session", course=course, client=course.client, session_number=2,
                       start=datetime(2026, 11, 20, 10, tzinfo=LONDON))  # fmt: skip

    reminders_dispatch(now=datetime(2026, 11, 12, 9, tzinfo=LONDON))

    prompt = first.messages.get(kind=M.NEXT_SESSION_PROMPT)
    assert (prompt.status, prompt.last_error) == (S.CANCELLED, "Skipped: the next session is booked.")
    assert [m.subject.split(" ")[1] for m in mailoutbox] == ["4", "7", "10"]  # the aftercare, no prompt


def test_client_who_prefers_sms_gets_a_text_and_the_console_log_has_no_number(completed, settings, caplog):
    settings.SMS_BACKEND = "bookings.sms.backends.locmem.SmsBackend"
    locmem.outbox.clear()
    completed.client.preferred_channel = "sms"
    completed.client.save()

    assert reminders_dispatch(now=DAY4) == {"sent": 1}
    assert locmem.outbox[0]["to"] == completed.client.phone
    assert "/aftercare/#day-4" in locmem.outbox[0]["body"]
    assert _day4(completed).channel == "sms"

    settings.SMS_BACKEND = "bookings.sms.backends.console.SmsBackend"
    ClientMessage.objects.filter(pk=_day4(completed).pk).update(status=S.PENDING)
    with caplog.at_level(logging.INFO):
        reminders_dispatch(now=DAY4)
    assert str(completed.client.phone) not in caplog.text
    assert "Robin" not in caplog.text


def test_http_sms_backend_posts_json_with_a_bearer_token(settings):
    settings.SMS_HTTP_URL, settings.SMS_HTTP_TOKEN = "https://sms.example/v1/messages", "secret"
    answer = io.BytesIO(b'{"id": "msg-42"}')
    with mock.patch("urllib.request.urlopen", return_value=mock.MagicMock(__enter__=lambda s: answer)) as urlopen:
        assert HttpSmsBackend().send(to="07700900123", body="Hello", reference="outbox-1") == "msg-42"

    request = urlopen.call_args.args[0]
    assert request.get_header("Authorization") == "Bearer secret"
    assert request.get_header("Idempotency-key") == "outbox-1"
    assert json.loads(request.data) == {
        "from": "SMPClinic",
        "to": "07700900123",
        "body": "Hello",
        "reference": "outbox-1",
    }


def test_http_sms_backend_turns_provider_errors_into_sms_errors_without_the_number(settings):
    settings.SMS_HTTP_URL, settings.SMS_HTTP_TOKEN = "https://sms.example/v1/messages", "secret"
    refused = urllib.error.HTTPError(settings.SMS_HTTP_URL, 422, "bad number 07700900123", {}, None)
    with mock.patch("urllib.request.urlopen", side_effect=refused), pytest.raises(SmsError) as error:
        HttpSmsBackend().send(to="07700900123", body="Hello", reference="outbox-1")
    assert "07700900123" not in str(error.value)


def test_a_treatments_own_wording_wins_over_the_general_one(completed, mailoutbox):
    treatment = TreatmentFactory()
    Appointment.objects.filter(pk=completed.pk).update(treatment=treatment)
    MessageTemplate.objects.update_or_create(
        kind=M.AFTERCARE_DAY_4, treatment=None,
        defaults={"subject": "General", "text_body": "general", "html_body": "<p>general</p>", "sms_body": "g"},
    )  # fmt: skip
    MessageTemplate.objects.create(
        kind=M.AFTERCARE_DAY_4, treatment=treatment, subject="Own for {{ first_name }}",
        text_body="own {{ first_name }}", html_body="<p>own {{ first_name }}</p>", sms_body="o",
    )  # fmt: skip

    reminders_dispatch(now=DAY4)

    assert mailoutbox[0].subject == "Own for Robin"
    assert mailoutbox[0].body.startswith("own Robin")
    assert "0161 496 0123" in mailoutbox[0].body  # the layout still adds the phone


# Admin ---------------------------------------------------------------------------------------


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    login_as(client, user)
    return client


def test_admin_resend_queues_a_sent_message_again_and_cancel_stops_a_pending_one(completed, staff, mailoutbox):
    reminders_dispatch(now=DAY4)
    day4, day7 = _day4(completed), completed.messages.get(kind=M.AFTERCARE_DAY_7)
    url = reverse("admin:bookings_clientmessage_changelist")

    later = DAY4 + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        staff.post(url, {"action": "resend_messages", "_selected_action": [day4.pk]})
        staff.post(url, {"action": "cancel_messages", "_selected_action": [day7.pk]})

    day4.refresh_from_db()
    day7.refresh_from_db()
    assert (day4.status, day4.attempts) == (S.PENDING, 0)
    assert day7.status == S.CANCELLED
    reminders_dispatch(now=later + timedelta(days=3))  # past day 7: only the resent day 4 goes
    assert len(mailoutbox) == 2


def test_admin_refuses_to_cancel_a_sent_message(completed, staff):
    reminders_dispatch(now=DAY4)
    url = reverse("admin:bookings_clientmessage_changelist")

    response = staff.post(url, {"action": "cancel_messages", "_selected_action": [_day4(completed).pk]}, follow=True)

    assert "Only a pending or failed message can be cancelled." in response.content.decode()
    assert _day4(completed).status == S.SENT


def test_admin_client_timeline_lists_only_that_clients_messages(completed, staff, django_assert_max_num_queries):
    other = AppointmentFactory(kind="session")
    ClientMessage.objects.create(appointment=other, kind=M.AFTERCARE_DAY_4, due_at=DAY4)
    url = reverse("admin:bookings_clientmessage_changelist") + f"?client={completed.client_id}"

    with django_assert_max_num_queries(12):
        response = staff.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 3
    assert staff.get(reverse("admin:bookings_clientmessage_changelist") + "?client=abc").status_code == 200


def test_admin_message_list_is_for_staff_only(client):
    response = client.get(reverse("admin:bookings_clientmessage_changelist"))

    assert response.status_code == 302


def test_admin_template_preview_renders_with_a_made_up_client(staff):
    template = MessageTemplate.objects.get(kind=M.AFTERCARE_DAY_7, treatment=None)

    change = staff.get(reverse("admin:bookings_messagetemplate_change", args=[template.pk]))
    html = staff.get(reverse("admin:bookings_messagetemplate_preview", args=[template.pk]))

    assert "Hello Sam" in change.content.decode()
    assert "/aftercare/#day-7" in html.content.decode()


def test_admin_template_form_rejects_wording_that_does_not_render(staff):
    template = MessageTemplate.objects.get(kind=M.AFTERCARE_DAY_4, treatment=None)
    url = reverse("admin:bookings_messagetemplate_change", args=[template.pk])

    response = staff.post(url, {"kind": M.AFTERCARE_DAY_4, "subject": "Hi {% if %}", "text_body": "x",
                                "html_body": "x", "sms_body": "x"})  # fmt: skip

    assert response.status_code == 200
    assert "does not render" in response.content.decode()
    template.refresh_from_db()
    assert template.subject != "Hi {% if %}"


def test_the_conditional_update_claim_used_on_sqlite_takes_each_row_once(completed, monkeypatch):
    from django.db import connection

    monkeypatch.setattr(connection, "vendor", "sqlite")
    first = reminders_claim(now=DAY4 + timedelta(days=6), limit=10, token="a" * 32)
    second = reminders_claim(now=DAY4 + timedelta(days=6), limit=10, token="b" * 32)

    assert len(first) == 3
    assert second == []
    assert set(ClientMessage.objects.filter(pk__in=first).values_list("claim_token", flat=True)) == {"a" * 32}


def test_client_admin_links_to_the_clients_message_timeline(completed, staff):
    response = staff.get(reverse("admin:clients_client_change", args=[completed.client_id]))

    assert f"?client={completed.client_id}" in response.content.decode()
