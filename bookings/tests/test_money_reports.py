"""Money on the managers' dashboard and in the CSV exports: takings per day, treatment,
technician and location, deposits held and kept, balances outstanding: exact figures on a small
clinic, a constant number of queries, managers only, exports audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.dashboard import Period
from bookings.models import Appointment
from bookings.money import Money
from bookings.payments.desk import desk_payment_record
from bookings.payments.reports import money_report
from bookings.services.deposits import Outcome, deposit_settle
from bookings.tests.factories import AppointmentFactory, CourseFactory, LocationFactory, TechnicianFactory
from bookings.tests.payments import deposit_paid
from bookings.tests.stripe_stub import stripe_stub  # noqa: F401 (a fixture)
from clients.models import AuditEvent
from clients.tests.factories import staff_user
from smpclinic.tests.logins import login_as
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 6, 10, 9, 30, tzinfo=UTC)  # a Wednesday, 10:30 in London
PERIOD = {"date_from": "2026-06-01", "date_to": "2026-06-14"}


def at(day: int, hour: int = 11, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def clinic(stripe_stub):  # noqa: F811 (the fixture above)
    desk = staff_user(role="Reception")
    a, b = LocationFactory(name="Manchester"), LocationFactory(name="Leeds")
    amara, ben = TechnicianFactory(display_name="Amara"), TechnicianFactory(display_name="Ben")
    hairline, scar = TreatmentFactory(name="Hairline design"), TreatmentFactory(name="Scar camouflage")

    def session(course, location, technician, start):
        return AppointmentFactory(
            kind=Appointment.Kind.TREATMENT_SESSION,
            client=course.client,
            course=course,
            treatment=course.treatment,
            location=location,
            technician=technician,
            start=start,
            end=start + timedelta(hours=3),
        )

    def record(kind, amount, when, **target):
        return desk_payment_record(
            by=desk, kind=kind, amount_minor=amount, currency="GBP", method="cash", now=when, **target
        )

    c1 = CourseFactory(treatment=hairline, price_agreed_minor=150000)
    s1 = session(c1, a, amara, at(3))
    record("payment", 90000, at(20, month=5), course=c1)  # before the period: in the balance only
    record("payment", 50000, at(3, 15), appointment=s1)
    deposit_paid(c1, 5000, now=NOW, location=a, technician=amara, start=at(20))  # held

    c2 = CourseFactory(treatment=scar, price_agreed_minor=40000)
    s2 = session(c2, b, ben, at(4))
    paid = record("payment", 40000, at(4, 15), appointment=s2)
    record("refund", 5000, at(5, 12), appointment=s2, refund_of=paid)
    kept = deposit_paid(c2, 3000, now=NOW, location=b, technician=ben, start=at(22))
    deposit_settle(appointment=kept.appointment, outcome=Outcome.NO_SHOW, now=NOW)

    c3 = CourseFactory(treatment=hairline, price_agreed_minor=200000)
    record("payment", 10000, at(8), course=c3)  # a course alone: no technician, no location
    CourseFactory(treatment=scar, price_agreed_minor=30000, status="cancelled")  # owes nothing
    return {"a": a, "b": b, "desk": desk}


def gbp(minor: int) -> Money:
    return Money(minor, "GBP")


def lines(takings, name):
    return [(line.key, line.taken, line.refunded, line.net) for line in takings.by(name)]


def test_takings_deposits_and_balances_are_exact(clinic):
    report = money_report(period=Period(date_from=date(2026, 6, 1), date_to=date(2026, 6, 14)))
    takings = report.takings
    assert lines(takings, "day") == [
        (date(2026, 6, 3), gbp(50000), gbp(0), gbp(50000)),
        (date(2026, 6, 4), gbp(40000), gbp(0), gbp(40000)),
        (date(2026, 6, 5), gbp(0), gbp(5000), gbp(-5000)),
        (date(2026, 6, 8), gbp(10000), gbp(0), gbp(10000)),
        (date(2026, 6, 10), gbp(8000), gbp(0), gbp(8000)),
    ]
    assert lines(takings, "location") == [
        ("-", gbp(10000), gbp(0), gbp(10000)),
        ("Leeds", gbp(43000), gbp(5000), gbp(38000)),
        ("Manchester", gbp(55000), gbp(0), gbp(55000)),
    ]
    assert lines(takings, "technician") == [
        ("-", gbp(10000), gbp(0), gbp(10000)),
        ("Amara", gbp(55000), gbp(0), gbp(55000)),
        ("Ben", gbp(43000), gbp(5000), gbp(38000)),
    ]
    assert lines(takings, "treatment") == [
        ("Hairline design", gbp(65000), gbp(0), gbp(65000)),
        ("Scar camouflage", gbp(43000), gbp(5000), gbp(38000)),
    ]
    assert [(t.taken, t.refunded, t.net) for t in takings.totals] == [(gbp(108000), gbp(5000), gbp(103000))]
    assert [(f.amount, f.count) for f in report.deposits_held] == [(gbp(5000), 1)]
    assert [(f.amount, f.count) for f in report.deposits_forfeited] == [(gbp(3000), 1)]
    # 1500 - (900 + 500 + 50) = 50; 400 - (400 + 30) + 50 = 20; 2000 - 100 = 1900.
    assert [(f.amount, f.count) for f in report.balances_outstanding] == [(gbp(197000), 3)]


def test_one_location_narrows_every_money_figure(clinic):
    report = money_report(period=Period(date_from=date(2026, 6, 1), date_to=date(2026, 6, 14), location=clinic["a"]))
    assert [(t.net) for t in report.takings.totals] == [gbp(55000)]
    assert [(f.amount, f.count) for f in report.deposits_held] == [(gbp(5000), 1)]
    assert report.deposits_forfeited == []
    assert [(f.amount, f.count) for f in report.balances_outstanding] == [(gbp(5000), 1)]


def _manager(client):
    manager = staff_user(role="Manager")
    login_as(client, manager)
    return manager


def test_the_dashboard_shows_the_money(client, clinic):
    _manager(client)
    html = client.get("/admin/dashboard/", PERIOD).content.decode()
    assert '<div class="dash-card" id="card-takings"><dt>Takings (net)</dt><dd>£1,030.00</dd></div>' in html
    assert "<dd>£50.00 <small>(1)</small></dd>" in html  # deposits held
    assert "<dd>£30.00 <small>(1)</small></dd>" in html  # deposits kept
    assert "<dd>£1,970.00 <small>(3 courses)</small></dd>" in html
    assert '<tr><th scope="row">Leeds</th><td>£430.00</td><td>£50.00</td><td>£380.00</td></tr>' in html
    assert '<tr><th scope="row">Fri 5 Jun 2026</th><td>£0.00</td><td>£50.00</td><td>-£50.00</td></tr>' in html


def test_reception_does_not_see_the_dashboard(client, clinic):
    login_as(client, clinic["desk"])
    assert client.get("/admin/dashboard/", PERIOD).status_code == 403


def _queries(client, params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/admin/dashboard/", params).status_code == 200
    return len(queries)


def test_the_money_figures_cost_the_same_queries_whatever_the_data(client, clinic, django_assert_max_num_queries):
    _manager(client)
    client.get("/admin/dashboard/", PERIOD)
    few = _queries(client, PERIOD)
    at_a = _queries(client, {**PERIOD, "location": clinic["a"].pk})
    for day in range(1, 13):
        course = CourseFactory(price_agreed_minor=99999)
        appointment = AppointmentFactory(
            kind=Appointment.Kind.TREATMENT_SESSION, course=course, client=course.client, location=clinic["a"]
        )
        desk_payment_record(
            by=clinic["desk"],
            kind="payment",
            amount_minor=100 + day,
            currency="GBP",
            method="cash",
            appointment=appointment,
            now=at(day),
        )
    with django_assert_max_num_queries(few):
        client.get("/admin/dashboard/", PERIOD)
    assert _queries(client, {**PERIOD, "location": clinic["a"].pk}) == at_a


def _export(client, what, **extra):
    return client.post(
        "/admin/bookings/appointment/export/",
        {"what": what, "date_from": "2026-06-01", "date_to": "2026-06-14", **extra},
    )


def _csv(response) -> list[str]:
    return b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()


def test_the_takings_export_has_the_same_figures_and_is_audited(client, clinic, django_assert_max_num_queries):
    manager = _manager(client)
    with django_assert_max_num_queries(12):
        rows = _csv(_export(client, "takings"))
    assert rows == [
        "date,location,technician,treatment,currency,taken,refunded,net",
        "2026-06-03,Manchester,Amara,Hairline design,GBP,500.00,0.00,500.00",
        "2026-06-04,Leeds,Ben,Scar camouflage,GBP,400.00,0.00,400.00",
        "2026-06-05,Leeds,Ben,Scar camouflage,GBP,0.00,50.00,-50.00",
        "2026-06-08,,,Hairline design,GBP,100.00,0.00,100.00",
        "2026-06-10,Leeds,Ben,Scar camouflage,GBP,30.00,0.00,30.00",
        "2026-06-10,Manchester,Amara,Hairline design,GBP,50.00,0.00,50.00",
    ]
    audit = AuditEvent.objects.get(object_type="takings_csv")
    assert (audit.actor, audit.action) == (manager, AuditEvent.Action.EXPORT)
    assert audit.detail == "csv from=2026-06-01 to=2026-06-14 location=all"


def test_the_balances_and_payments_exports(client, clinic):
    _manager(client)
    balances = _csv(_export(client, "balances"))
    assert balances[0] == "course_id,client_id,treatment,status,currency,price,paid,refunded,balance"
    assert [row.split(",")[5:] for row in balances[1:]] == [
        ["1500.00", "1450.00", "0.00", "50.00"],
        ["400.00", "430.00", "50.00", "20.00"],
        ["2000.00", "100.00", "0.00", "1900.00"],
    ]
    payments = _csv(_export(client, "payments", location=str(clinic["b"].pk)))
    assert [row.split(",")[2:7] for row in payments[1:]] == [
        ["payment", "succeeded", "cash", "GBP", "400.00"],
        ["refund", "succeeded", "cash", "GBP", "50.00"],
        ["deposit", "succeeded", "stripe", "GBP", "30.00"],
        ["forfeit", "succeeded", "none", "GBP", "30.00"],
    ]
    assert AuditEvent.objects.filter(object_type__in=["balance_csv", "payment_csv"]).count() == 2


def test_reception_cannot_export_money(client, clinic):
    login_as(client, clinic["desk"])
    response = _export(client, "takings")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not AuditEvent.objects.filter(object_type="takings_csv").exists()
    assert _export(client, "appointments").status_code == 200
