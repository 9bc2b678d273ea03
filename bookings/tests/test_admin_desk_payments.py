"""The desk in the admin: the course and appointment pages show the account, reception records
payments and refunds through the desk service (bad input: a 400 and the reason, never a 500),
and each payment's receipt is a page, a PDF and one e-mail through the outbox per click."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Appointment, ClientMessage
from bookings.models_payments import Payment
from bookings.payments.desk import desk_payment_record
from bookings.services.outbox import reminders_dispatch
from bookings.tests.factories import AppointmentFactory, CourseFactory
from clients.models import AuditEvent
from clients.tests.factories import ClientFactory, staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def reception(client):
    user = staff_user(role="Reception")
    login_as(client, user)
    return user


@pytest.fixture
def course():
    course = CourseFactory(price_agreed_minor=123450, client=ClientFactory(first_name="Alex", email="alex@example.com"))
    start = NOW + timedelta(days=3)
    AppointmentFactory(
        kind=Appointment.Kind.TREATMENT_SESSION,
        client=course.client,
        course=course,
        start=start,
        end=start + timedelta(hours=3),
    )
    return course


def record_url(course) -> str:
    return reverse("admin:bookings_course_payment", args=[course.pk])


def post(client, course, **fields):
    data = {"kind": "payment", "method": "card_terminal", "amount": "100.00", "currency": "GBP", **fields}
    return client.post(record_url(course), data)


def test_reception_records_a_card_payment_and_sees_the_balance(client, reception, course):
    response = post(client, course, amount="234.50", reference="T-0042")
    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:bookings_course_receipt", args=[course.pk, payment.pk])
    assert (payment.amount_minor, payment.method, payment.recorded_by) == (23450, "card_terminal", reception)
    page = client.get(reverse("admin:bookings_course_change", args=[course.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "£1,234.50" in html  # price agreed
    assert '<td id="money-balance"><strong>£1,000.00</strong></td>' in html
    assert record_url(course) in html


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "abc"}, "Enter a number."),
        ({"amount": "0"}, "The amount must be more than zero."),
        ({"amount": "-5"}, "The amount must be more than zero."),
        ({"amount": "10.005"}, "GBP amounts have at most 2 decimal places."),
        ({"amount": "99999999999999"}, "Ensure that there are no more than 12 digits in total."),
        ({"currency": "EUR"}, "The currency must be GBP, the course&#x27;s."),
        ({"method": "stripe"}, "Select a valid choice."),
        ({"kind": "forfeit"}, "Select a valid choice."),
        ({"kind": "refund"}, "Choose the payment the refund gives back."),
        ({"refund_of": "999999"}, "Select a valid choice."),
        ({"amount": "NaN"}, "Enter a number."),
    ],
)
def test_bad_input_is_a_400_with_the_reason_and_records_nothing(client, reception, course, fields, message):
    response = post(client, course, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Payment.objects.exists()


def test_a_refund_beyond_the_payment_is_a_400(client, reception, course):
    taken = desk_payment_record(
        by=reception, kind="payment", amount_minor=5000, currency="GBP", method="cash", course=course
    )
    response = post(client, course, kind="refund", amount="50.01", refund_of=str(taken.pk))
    assert response.status_code == 400
    assert "At most £50.00 of that payment is left to refund." in response.content.decode()
    assert post(client, course, kind="refund", amount="50.00", refund_of=str(taken.pk)).status_code == 302
    assert Payment.objects.filter(kind="refund").count() == 1


def test_technicians_may_not_record_payments_or_read_receipts(client, course):
    technician = staff_user(role="Technician")
    technician.is_staff = True  # in the admin, for the sake of the test: still no desk permission
    technician.save()
    login_as(client, technician)
    assert post(client, course).status_code == 403
    payment = desk_payment_record(
        by=staff_user(role="Reception"), kind="payment", amount_minor=100, currency="GBP", method="cash", course=course
    )
    assert client.get(reverse("admin:bookings_course_receipt", args=[course.pk, payment.pk])).status_code == 403
    assert client.post(reverse("admin:bookings_course_receipt_email", args=[course.pk, payment.pk])).status_code == 403
    assert Payment.objects.count() == 1


def test_an_unknown_course_is_a_404(client, reception):
    assert client.get("/admin/bookings/course/99999/payment/").status_code == 404


def test_the_course_page_costs_the_same_queries_for_one_payment_or_many(
    client, reception, course, django_assert_max_num_queries
):
    url = reverse("admin:bookings_course_change", args=[course.pk])
    desk_payment_record(by=reception, kind="payment", amount_minor=100, currency="GBP", method="cash", course=course)
    with django_assert_max_num_queries(60) as one:
        client.get(url)
    for _ in range(8):
        desk_payment_record(
            by=reception, kind="payment", amount_minor=100, currency="GBP", method="cash", course=course
        )
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(url).status_code == 200


def test_the_appointment_page_records_against_the_appointment(client, reception, course):
    session = course.appointments.get()
    url = reverse("admin:bookings_appointment_payment", args=[session.pk])
    response = client.post(url, {"kind": "payment", "method": "cash", "amount": "20", "currency": "GBP"})
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert (payment.appointment, payment.course) == (session, course)
    page = client.get(reverse("admin:bookings_appointment_change", args=[session.pk])).content.decode()
    assert "£20.00" in page


def test_the_receipt_renders_as_html_and_pdf(client, reception, course):
    payment = desk_payment_record(
        by=reception, kind="payment", amount_minor=123450, currency="GBP", method="cash", course=course
    )
    html = client.get(reverse("admin:bookings_course_receipt", args=[course.pk, payment.pk]))
    assert html.status_code == 200
    text = html.content.decode()
    assert f"Receipt R-{payment.pk:06d}" in text
    assert '<dd id="receipt-amount"><strong>£1,234.50</strong></dd>' in text
    assert '<td id="receipt-balance"><strong>£0.00</strong></td>' in text
    pdf = client.get(reverse("admin:bookings_course_receipt_pdf", args=[course.pk, payment.pk]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert b"1,234.50" in pdf.content
    assert f"R-{payment.pk:06d}".encode() in pdf.content


def test_a_receipt_of_another_course_is_a_404(client, reception, course):
    other = CourseFactory(price_agreed_minor=1000)
    theirs = desk_payment_record(
        by=reception, kind="payment", amount_minor=100, currency="GBP", method="cash", course=other
    )
    assert client.get(reverse("admin:bookings_course_receipt", args=[course.pk, theirs.pk])).status_code == 404


def test_the_receipt_is_emailed_through_the_outbox_once_per_click(
    client, reception, course, mailoutbox, django_capture_on_commit_callbacks
):
    payment = desk_payment_record(
        by=reception, kind="payment", amount_minor=45000, currency="GBP", method="card_terminal", course=course
    )
    url = reverse("admin:bookings_course_receipt_email", args=[course.pk, payment.pk])
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post(url).status_code == 302
        # A second click while the first copy waits queues nothing more.
        second = client.post(url, follow=True)
    assert "already on its way" in second.content.decode()
    message = ClientMessage.objects.get(kind=ClientMessage.Kind.RECEIPT)
    assert message.payload["receipt_amount"] == "£450.00"
    assert message.channel == ClientMessage.Channel.EMAIL
    assert AuditEvent.objects.filter(object_type="receipt_email", object_id=str(payment.pk)).count() == 1

    assert reminders_dispatch(now=NOW)["sent"] == 1
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["alex@example.com"]
    assert f"R-{payment.pk:06d}" in email.subject
    assert "£450.00" in email.body
    assert "Balance left to pay for your course: £784.50." in email.body
    [(filename, content, mimetype)] = email.attachments
    assert (filename, mimetype) == (f"receipt-R-{payment.pk:06d}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    assert b"450.00" in content
    assert reminders_dispatch(now=NOW + timedelta(minutes=5)) == {}
    assert len(mailoutbox) == 1
    # Sent: asking again is a new copy.
    assert client.post(url).status_code == 302
    assert ClientMessage.objects.filter(kind=ClientMessage.Kind.RECEIPT).count() == 2


def test_a_client_without_email_gets_no_receipt_message(client, reception, course):
    course.client.email = ""
    course.client.save()
    payment = desk_payment_record(
        by=reception, kind="payment", amount_minor=100, currency="GBP", method="cash", course=course
    )
    url = reverse("admin:bookings_course_receipt_email", args=[course.pk, payment.pk])
    response = client.post(url, follow=True)
    assert "no e-mail address" in response.content.decode()
    assert not ClientMessage.objects.filter(kind=ClientMessage.Kind.RECEIPT).exists()
