"""/book/, the confirmation page and e-mail, and /booking/<token>/ (with its access rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import signing
from django.urls import reverse
from icalendar import Calendar

from bookings.models import Appointment, ClientMessage
from bookings.services.outbox import reminders_dispatch
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from bookings.tokens import SALT, booking_token_make
from clients.models import Client, ConsentRecord, ConsentWording
from clients.tests.factories import ClientFactory, ConsentWordingFactory
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db
BOOK = reverse("bookings:book")
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
SLOT = "2026-12-01T10:00:00+00:00"


@pytest.fixture(autouse=True)
def _setup():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def location():
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="manchester", name="Manchester", phone="0161 496 0000")
    technician_working(location=location)
    return location


def _post(client, **overrides):
    data = {
        "location": "manchester",
        "treatment": "",
        "start": SLOT,
        "first_name": "Sam",
        "last_name": "Taylor",
        "email": "sam@example.com",
        "phone": "07700 900123",
        "description": "Receding at the temples.",
        "health_consent": "on",
        "date_of_birth": "1985-03-14",
        "website": "",
        **overrides,
    }
    return client.post(BOOK, data)


def test_the_booking_page_lists_free_times_for_the_chosen_clinic(client, location):
    TreatmentFactory(slug="hairline", name="Hairline design")
    response = client.get(BOOK, {"location": "manchester", "treatment": "hairline", "start": "2026-12-01"})
    assert response.status_code == 200
    html = response.content.decode()
    assert f'value="{SLOT}"' in html
    assert 'name="health_consent"' in html
    assert "js/booking.js" in html


def test_the_booking_page_without_a_clinic_asks_for_one(client, location):
    response = client.get(BOOK)
    assert response.status_code == 200
    assert b"Choose a clinic" in response.content
    assert b'id="booking-form"' not in response.content


def test_a_new_client_books_and_gets_a_confirmation_with_calendar_file(client, location, mailoutbox):
    response = _post(client, marketing_opt_in="on")
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.kind == "consultation"
    assert appointment.channel == "online"
    assert appointment.start == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert appointment.client_message == "Receding at the temples."
    client_record = appointment.client
    assert (client_record.email, client_record.phone) == ("sam@example.com", "07700 900123")
    # Double opt-in: marketing waits for the address's owner to use the link.
    assert client_record.marketing_email_opt_in is False
    consent = ConsentRecord.objects.get(client=client_record)
    assert consent.wording.kind == "health_data"
    assert consent.method == "online"

    page = client.get(response["Location"])
    assert appointment.reference in page.content.decode()

    # Nothing is sent inside the request: the confirmation is queued, and the worker sends it.
    assert mailoutbox == []
    queued = ClientMessage.objects.filter(appointment=appointment, kind="confirmation")
    assert sorted(queued.values_list("channel", flat=True)) == ["email", "sms"]
    reminders_dispatch(now=NOW)
    email_row = queued.get(channel="email")
    (mail,) = [m for m in mailoutbox if m.extra_headers["X-SMP-Outbox-Id"] == str(email_row.pk)]
    # The marketing opt-in asked for a second e-mail: the link that confirms it.
    (link,) = [m for m in mailoutbox if m is not mail]
    assert "/book/confirm/" in link.body
    assert mail.to == ["sam@example.com"]
    assert appointment.reference in mail.subject
    token = booking_token_make(appointment=appointment)
    assert reverse("bookings:manage", kwargs={"token": token}) in mail.body
    html, _ = mail.alternatives[0]
    assert appointment.reference in html
    (name, content, mimetype) = mail.attachments[0]
    assert name.endswith(".ics")
    assert mimetype == "text/calendar"
    event = Calendar.from_ical(content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert event.decoded("dtend") == datetime(2026, 12, 1, 10, 45, tzinfo=UTC)


def test_the_calendar_file_has_the_right_instant_in_summer_time(client, location, mailoutbox):
    with time_machine.travel(datetime(2027, 3, 1, tzinfo=UTC), tick=False):
        response = _post(client, start="2027-03-29T09:00:00+01:00")
        reminders_dispatch(now=datetime(2027, 3, 1, tzinfo=UTC))
    assert response.status_code == 302
    event = Calendar.from_ical(mailoutbox[0].attachments[0][1]).walk("VEVENT")[0]
    assert event.decoded("dtstart") == datetime(2027, 3, 29, 8, tzinfo=UTC)


def test_a_booking_under_a_known_email_whatever_its_case_waits_to_be_matched(client, location):
    existing = ClientFactory(email="Sam@Example.com", phone="")
    _post(client, email="sam@EXAMPLE.com")
    _post(client, email="SAM@example.com", start="2026-12-01T11:00:00+00:00")
    assert not Appointment.objects.filter(client=existing).exists()
    provisional = Client.objects.exclude(pk=existing.pk)
    assert provisional.count() == 2
    assert {(c.match_of_id, c.match_status) for c in provisional} == {(existing.pk, "pending")}
    existing.refresh_from_db()
    assert existing.phone == ""


def test_consent_to_keep_health_data_is_required(client, location):
    response = _post(client, health_consent="")
    assert response.status_code == 400
    assert b"consent" in response.content
    assert not Appointment.objects.exists()
    assert not Client.objects.exists()


def test_a_refused_booking_opens_on_a_focused_summary_and_ties_each_error_to_its_field(client, location):
    html = _post(client, health_consent="", email="not-an-address", start="").content.decode()

    summary = html[html.index('id="error-summary"') - 60 : html.index("</ul>", html.index('id="error-summary"'))]
    assert 'role="alert" id="error-summary" tabindex="-1" autofocus' in summary
    for link in ('href="#id_email"', 'href="#id_health_consent"', 'href="#day-picker"'):
        assert link in summary
    assert "Time: Choose a time." in summary
    # The inline messages are the fields' descriptions, and the fields say they are invalid.
    for field in ("id_email", "id_health_consent"):
        assert f'id="{field}-error"' in html
        tag = html[html.rindex("<input", 0, html.index(f'id="{field}"')) : html.index(">", html.index(f'id="{field}"'))]
        assert f'aria-invalid="true" aria-describedby="{field}-error"' in tag
    # What the client typed is still there.
    assert 'value="Sam"' in html
    assert "Receding at the temples." in html


@pytest.mark.parametrize("phone", ["12345", "+1 415 555 0100", "07700 90012", "phone me"])
def test_a_phone_number_must_be_a_uk_number(client, location, phone):
    response = _post(client, phone=phone)
    assert response.status_code == 400
    assert b"Enter a UK phone number" in response.content
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(("raw", "stored"), [("+44 7700 900123", "07700 900123"), ("(0161) 496-0000", "0161 4960000")])
def test_uk_numbers_are_normalised(client, location, raw, stored):
    assert _post(client, phone=raw).status_code == 302
    assert Client.objects.get().phone == stored


def test_the_honeypot_stops_bots(client, location, mailoutbox):
    response = _post(client, website="http://spam.example")
    assert response.status_code == 400
    assert not Appointment.objects.exists()
    assert mailoutbox == []


def test_booking_is_rate_limited_by_ip(client, location, settings):
    settings.BOOKING_RATE_LIMIT_PER_IP = 2
    assert _post(client, health_consent="").status_code == 400
    assert _post(client, health_consent="").status_code == 400
    response = _post(client)
    assert response.status_code == 429
    assert b"Too many booking attempts" in response.content
    assert not Appointment.objects.exists()


def test_booking_is_rate_limited_by_email(client, location, settings):
    settings.BOOKING_RATE_LIMIT_PER_EMAIL = 1
    assert _post(client).status_code == 302
    response = _post(client, email="SAM@example.com", start="2026-12-01T11:00:00+00:00")
    assert response.status_code == 429
    assert Appointment.objects.count() == 1


def test_a_time_taken_meanwhile_gets_a_clear_answer_with_alternatives(client, location):
    tech = location.technicians.get()
    AppointmentFactory(technician=tech, location=location, start=datetime(2026, 12, 1, 10, tzinfo=UTC))
    response = _post(client)
    assert response.status_code == 409
    html = response.content.decode()
    assert "that time was just taken" in html
    assert "Tuesday 1 December, 09:00" in html
    assert Appointment.objects.count() == 1
    assert not Client.objects.filter(email="sam@example.com").exists()


def test_a_made_up_time_is_refused_without_an_error_page(client, location):
    assert _post(client, start="tomorrow at ten").status_code == 400
    assert _post(client, start="2026-12-01T10:00:00").status_code == 400  # no offset
    assert _post(client, location="atlantis").status_code == 400


# The manage page ---------------------------------------------------------------------------


@pytest.fixture
def booking(location):
    tech = location.technicians.get()
    return AppointmentFactory(
        technician=tech, location=location, start=datetime(2026, 12, 1, 10, tzinfo=UTC), channel="online"
    )


def _manage(appointment):
    return reverse("bookings:manage", kwargs={"token": booking_token_make(appointment=appointment)})


def test_the_manage_page_shows_the_booking_and_free_times(client, booking, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = client.get(_manage(booking))
    assert response.status_code == 200
    html = response.content.decode()
    assert booking.reference in html
    assert "Tuesday 1 December 2026, 10:00" in html
    assert 'id="reschedule-form"' in html
    assert 'id="cancel-form"' in html


def test_a_client_reschedules_from_the_manage_page(client, booking, mailoutbox):
    response = client.post(_manage(booking), {"action": "reschedule", "start": "2026-12-02T14:00:00+00:00"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.start == datetime(2026, 12, 2, 14, tzinfo=UTC)
    assert mailoutbox == []
    reminders_dispatch(now=NOW)
    (mail,) = mailoutbox
    assert "has moved" in mail.subject
    assert "Tuesday 1 December 2026, 10:00" in mail.body  # was
    assert "Wednesday 2 December 2026, 14:00" in mail.body  # now
    assert b"has been moved" in client.get(response["Location"]).content


def test_a_client_cancels_from_the_manage_page(client, booking):
    response = client.post(_manage(booking), {"action": "cancel"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    page = client.get(response["Location"])
    assert b"has been cancelled" in page.content
    assert b'id="cancel-form"' not in page.content


def test_inside_the_notice_window_the_page_says_why_and_gives_the_phone(client, location):
    soon = AppointmentFactory(technician=location.technicians.get(), location=location, start=NOW + timedelta(hours=20))
    response = client.get(_manage(soon))
    html = response.content.decode()
    assert response.status_code == 200
    assert "within 24 hours" in html
    assert "0161 496 0000" in html
    assert 'id="cancel-form"' not in html
    refused = client.post(_manage(soon), {"action": "cancel"})
    assert refused.status_code == 409
    soon.refresh_from_db()
    assert soon.status == "booked"


@pytest.mark.parametrize("token", ["nonsense", "a" * 40, "eyJhIjoxfQ:1vJ:bad"])
def test_a_wrong_token_gets_a_clear_404(client, booking, token):
    response = client.get(reverse("bookings:manage", kwargs={"token": token}))
    assert response.status_code == 404
    assert b"We don't recognise this link" in response.content
    assert booking.reference.encode() not in response.content


def test_a_token_edited_to_point_at_another_booking_is_refused(client, booking, location):
    other = AppointmentFactory(technician=location.technicians.get(), location=location, client=ClientFactory())
    mine = booking_token_make(appointment=booking)
    payload, _, signature = mine.partition(":")
    forged = signing.dumps({"a": other.pk, "r": other.reference}, salt="not-" + SALT)
    for token in (forged, f"{payload}x:{signature}"):
        response = client.get(reverse("bookings:manage", kwargs={"token": token}))
        assert response.status_code == 404
        assert other.reference.encode() not in response.content
    assert client.post(reverse("bookings:manage", kwargs={"token": forged}), {"action": "cancel"}).status_code == 404
    other.refresh_from_db()
    assert other.status == "booked"


def test_each_token_shows_only_its_own_booking(client, booking, location):
    other = AppointmentFactory(technician=location.technicians.get(), location=location, client=ClientFactory())
    html = client.get(_manage(booking)).content.decode()
    assert booking.reference in html
    assert other.reference not in html
    assert other.client.last_name not in html


def test_a_token_for_a_past_appointment_has_expired(client, booking):
    url = _manage(booking)
    with time_machine.travel(booking.end + timedelta(minutes=1), tick=False):
        response = client.get(url)
        assert response.status_code == 410
        assert b"expired" in response.content
        assert client.post(url, {"action": "cancel"}).status_code == 410
    booking.refresh_from_db()
    assert booking.status == "booked"


def test_the_manage_page_refuses_a_made_up_time(client, booking):
    response = client.post(_manage(booking), {"action": "reschedule", "start": "whenever"})
    assert response.status_code == 400
    taken = client.post(_manage(booking), {"action": "reschedule", "start": "2026-12-01T03:00:00+00:00"})
    assert taken.status_code == 409
    assert b"just taken" in taken.content


def test_a_refused_move_or_booking_puts_the_focus_on_the_message(client, booking):
    # The page reloads: the focus must land on what went wrong, and the times say they are at fault.
    html = client.post(_manage(booking), {"action": "reschedule"}).content.decode()
    assert 'role="alert" id="reschedule-error" tabindex="-1" autofocus>Choose a new time.' in html
    assert '<fieldset class="mb-3" aria-describedby="reschedule-error">' in html
    taken = client.post(_manage(booking), {"action": "reschedule", "start": "2026-12-01T03:00:00+00:00"})
    assert 'id="taken" tabindex="-1" autofocus' in taken.content.decode()
    nine = datetime(2026, 12, 1, 9, tzinfo=UTC)
    AppointmentFactory(technician=booking.technician, location=booking.location, start=nine)
    assert 'id="taken" tabindex="-1" autofocus' in _post(client, start=nine.isoformat()).content.decode()


@pytest.mark.parametrize("extra_technicians", [0, 5])
def test_the_booking_page_has_a_fixed_query_budget(client, location, django_assert_max_num_queries, extra_technicians):
    for _ in range(extra_technicians):
        tech = technician_working(location=location)
        for day in range(1, 8):
            AppointmentFactory(technician=tech, location=location, start=datetime(2026, 12, day, 11, tzinfo=UTC))
    with django_assert_max_num_queries(12):
        response = client.get(BOOK, {"location": "manchester", "start": "2026-12-01"})
    assert response.status_code == 200


def test_a_link_with_only_a_treatment_preselects_it_without_errors(client, location):
    TreatmentFactory(slug="scar", name="Scar camouflage")
    response = client.get(BOOK, {"treatment": "scar"})
    html = response.content.decode()
    assert response.status_code == 200
    assert '<option value="scar" selected>' in html
    assert "is-invalid" not in html


def test_the_booking_page_links_in_from_a_clinic_and_treatment(client, location):
    TreatmentFactory(slug="scar", name="Scar camouflage")
    url = reverse("bookings:book") + "?location=manchester&treatment=scar"
    html = client.get(url).content.decode()
    assert '<option value="manchester" selected>' in html
    assert 'name="treatment" value="scar"' in html
    assert 'id="day-picker"' in html
    # No day asked for: the first free time first, and its day (12 hours' notice: tomorrow).
    assert 'id="first-available"' in html
    assert "Tuesday 3 November" in html


def test_an_online_booking_leaves_an_audit_trail_without_personal_data(client, location):
    from clients.models import AuditEvent

    _post(client, marketing_opt_in="on")
    booked = Client.objects.get()
    events = list(AuditEvent.objects.filter(client_id_ref=booked.pk).values_list("object_type", "action", "detail"))
    assert ("client", "create", "online booking form") in events
    assert ("consentrecord", "create", "online booking form") in events
    for event in AuditEvent.objects.all():
        assert booked.email not in str(event.__dict__)


def test_a_session_week_without_a_free_time_says_so_and_gives_the_phone(client, location):
    technician = location.technicians.get()
    fits = TreatmentFactory(slug="scar", name="Scar camouflage", session_minutes_min=120, session_minutes_max=180)
    # Longer than the technician's whole working day: no time, any week.
    too_long = TreatmentFactory(
        slug="hairline", name="Hairline design", session_minutes_min=480, session_minutes_max=540
    )
    technician.treatments.add(fits, too_long)
    page = reverse("bookings:book_session")

    empty = client.get(page, {"location": "manchester", "treatment": "hairline"}).content.decode()
    free = client.get(page, {"location": "manchester", "treatment": "scar"}).content.decode()

    assert 'id="no-times-week"' in empty
    assert "call Manchester on" in empty
    assert 'href="tel:01614960000"' in empty
    assert 'id="no-times-week"' not in free
