"""Payments and refunds at the desk (bookings.payments.desk): the rules, the lock's reason, the
audit row, and the course's balance = price agreed - payments + refunds for any sequence of desk
payments, online deposits and refunds, refused ones changing nothing (a property-based test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings.models import Appointment
from bookings.models_payments import Payment
from bookings.money import Money
from bookings.payments.desk import (
    appointment_statement,
    course_statement,
    desk_payment_record,
    refundable_minor,
)
from bookings.tests.factories import AppointmentFactory, CourseFactory
from bookings.tests.payments import deposit_paid
from bookings.tests.stripe_stub import stripe_stub  # noqa: F401 (a fixture)
from clients.models import AuditEvent
from clients.tests.factories import staff_user

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def reception():
    return staff_user(role="Reception")


def course_priced(price: str = "1500.00", **kwargs):
    return CourseFactory(price_agreed_minor=int(Decimal(price) * 100), **kwargs)


def pay(by, course, amount, *, method="cash", currency="GBP", **kwargs) -> Payment:
    return desk_payment_record(
        by=by, kind="payment", amount_minor=amount, currency=currency, method=method, course=course, **kwargs
    )


def refund(by, course, of, amount, *, method="cash", currency="GBP") -> Payment:
    return desk_payment_record(
        by=by, kind="refund", amount_minor=amount, currency=currency, method=method, course=course, refund_of=of
    )


def code_of(excinfo) -> str:
    return excinfo.value.code


# The rules ----------------------------------------------------------------------------------


def test_a_desk_payment_lowers_the_balance_and_is_audited(reception):
    course = course_priced("1234.50")
    payment = pay(reception, course, 45000, method="card_terminal", reference="T-991")
    assert (payment.kind, payment.status, payment.method, payment.money) == (
        "payment",
        "succeeded",
        "card_terminal",
        Money(45000, "GBP"),
    )
    assert payment.client_id == course.client_id
    assert payment.succeeded_at == NOW
    statement = course_statement(course)
    assert statement.price == Money(123450, "GBP")
    assert statement.balance == Money(78450, "GBP")
    assert str(statement.balance) == "£784.50"
    audit = AuditEvent.objects.get(object_type="payment", object_id=str(payment.pk))
    assert (audit.actor, audit.action, audit.client_id_ref) == (reception, AuditEvent.Action.CREATE, course.client_id)


def test_a_refund_raises_the_balance_again(reception):
    course = course_priced("1000.00")
    taken = pay(reception, course, 60000)
    back = refund(reception, course, taken, 10000, method="bank_transfer")
    assert back.settles == taken
    assert course_statement(course).balance == Money(50000, "GBP")
    assert refundable_minor(taken) == 50000


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"amount": 0}, "amount_not_positive"),
        ({"amount": -500}, "amount_not_positive"),
        ({"amount": Decimal("10.5")}, "amount_not_integer"),
        ({"amount": 10**12}, "amount_too_large"),
        ({"amount": 1000, "currency": "EUR"}, "currency_mismatch"),
        ({"amount": 1000, "currency": "gbp"}, "currency_mismatch"),
        ({"amount": 1000, "method": "stripe"}, "bad_method"),
        ({"amount": 1000, "method": "none"}, "bad_method"),
        ({"amount": 1000, "reference": "x" * 81}, "reference_too_long"),
    ],
)
def test_bad_input_is_refused_with_a_code_and_writes_nothing(reception, kwargs, code):
    course = course_priced()
    kwargs = dict(kwargs)
    amount = kwargs.pop("amount")
    with pytest.raises(ValidationError) as excinfo:
        pay(reception, course, amount, **kwargs)
    assert code_of(excinfo) == code
    assert not Payment.objects.exists()
    assert not AuditEvent.objects.filter(object_type="payment").exists()


def test_a_refund_beyond_what_is_left_of_the_payment_is_refused(reception):
    course = course_priced()
    taken = pay(reception, course, 20000)
    refund(reception, course, taken, 15000)
    with pytest.raises(ValidationError) as excinfo:
        refund(reception, course, taken, 5001)
    assert code_of(excinfo) == "refund_exceeds_paid"
    assert "£50.00" in excinfo.value.messages[0]
    refund(reception, course, taken, 5000)
    assert refundable_minor(taken) == 0


def test_a_refund_must_name_a_payment_of_this_course_that_went_through(reception):
    course, other = course_priced(), course_priced()
    theirs = pay(reception, other, 10000)
    with pytest.raises(ValidationError) as excinfo:
        refund(reception, course, theirs, 100)
    assert code_of(excinfo) == "refund_other_payment"
    with pytest.raises(ValidationError) as excinfo:
        refund(reception, course, None, 100)
    assert code_of(excinfo) == "refund_needs_payment"
    mine = pay(reception, course, 10000)
    given_back = refund(reception, course, mine, 100)
    with pytest.raises(ValidationError) as excinfo:
        refund(reception, course, given_back, 50)
    assert code_of(excinfo) == "refund_not_paid"


def test_the_currency_follows_the_course(reception):
    course = course_priced(currency="EUR")
    with pytest.raises(ValidationError) as excinfo:
        pay(reception, course, 1000, currency="GBP")
    assert code_of(excinfo) == "currency_mismatch"
    pay(reception, course, 1000, currency="EUR")
    assert str(course_statement(course).balance) == "€1,490.00"


def test_a_cancelled_course_takes_refunds_but_no_payments(reception):
    course = course_priced()
    taken = pay(reception, course, 10000)
    course.status = course.Status.CANCELLED
    course.save()
    with pytest.raises(ValidationError) as excinfo:
        pay(reception, course, 100)
    assert code_of(excinfo) == "course_cancelled"
    refund(reception, course, taken, 10000)


def test_technicians_and_anonymous_users_may_not_record_payments(reception):
    from django.contrib.auth.models import AnonymousUser

    course = course_priced()
    for who in (staff_user(role="Technician"), AnonymousUser()):
        with pytest.raises(PermissionDenied):
            pay(who, course, 1000)
    pay(staff_user(role="Manager"), course, 1000)
    assert Payment.objects.count() == 1


def test_an_appointment_payment_counts_towards_its_course(reception):
    course = course_priced("900.00")
    session = AppointmentFactory(kind=Appointment.Kind.TREATMENT_SESSION, client=course.client, course=course)
    desk_payment_record(
        by=reception, kind="payment", amount_minor=30000, currency="GBP", method="cash", appointment=session
    )
    assert course_statement(course).balance == Money(60000, "GBP")
    assert appointment_statement(session).paid == Money(30000, "GBP")
    held = AppointmentFactory(
        kind=Appointment.Kind.TREATMENT_SESSION,
        status=Appointment.Status.PENDING_PAYMENT,
        hold_expires_at=NOW + timedelta(minutes=10),
    )
    with pytest.raises(ValidationError) as excinfo:
        desk_payment_record(
            by=reception, kind="payment", amount_minor=100, currency="GBP", method="cash", appointment=held
        )
    assert code_of(excinfo) == "deposit_unsettled"


def test_a_paid_deposit_counts_as_paid_and_can_be_refunded_at_the_desk(reception, stripe_stub):  # noqa: F811
    course = course_priced("1000.00")
    deposit = deposit_paid(course, 5000, now=NOW)
    statement = course_statement(course)
    assert (statement.deposits, statement.balance) == (Money(5000, "GBP"), Money(95000, "GBP"))
    refund(reception, course, deposit, 5000)
    assert course_statement(course).balance == Money(100000, "GBP")
    with pytest.raises(ValidationError):
        refund(reception, course, deposit, 1)


# The property -------------------------------------------------------------------------------

amounts = st.one_of(st.integers(min_value=-1000, max_value=250_000), st.sampled_from([0, 1, 10**10]))
operation = st.one_of(
    st.tuples(st.just("pay"), amounts, st.sampled_from(["cash", "card_terminal", "bank_transfer", "stripe"])),
    st.tuples(st.just("pay_wrong_currency"), amounts, st.just("cash")),
    st.tuples(st.just("refund"), amounts, st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("deposit"), st.integers(min_value=1, max_value=50_000), st.just(None)),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(price_pence=st.integers(min_value=0, max_value=500_000), operations=st.lists(operation, max_size=12))
def test_the_balance_is_always_price_minus_payments_plus_refunds(
    stripe_stub,  # noqa: F811
    price_pence,
    operations,
):
    by = staff_user(role="Reception")
    course = CourseFactory(price_agreed_minor=price_pence)
    paid_in: list[Payment] = []
    expected_paid = expected_refunded = 0
    for op, amount, extra in operations:
        before = Payment.objects.filter(course=course).count()
        try:
            if op == "deposit":
                paid_in.append(deposit_paid(course, amount, now=NOW))
                expected_paid += amount
                continue
            if op == "refund":
                of = paid_in[extra % len(paid_in)] if paid_in else None
                refund(by, course, of, amount)
                expected_refunded += amount
            else:
                paid_in.append(
                    pay(by, course, amount, method=extra, currency="EUR" if op == "pay_wrong_currency" else "GBP")
                )
                expected_paid += amount
        except ValidationError:
            # Refused: nothing written.
            assert Payment.objects.filter(course=course).count() == before
        statement = course_statement(course)
        assert statement.balance == Money(price_pence - expected_paid + expected_refunded, "GBP")
        assert statement.paid.minor == expected_paid
        assert statement.refunds.minor == expected_refunded
        # Never more given back than came in, payment by payment.
        assert all(refundable_minor(p) >= 0 for p in paid_in)
