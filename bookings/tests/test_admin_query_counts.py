"""Every changelist and change page in the admin costs the same number of queries for 1 row as
for 10 (and a change page the same for 1 inline row as for 10): nothing is fetched per row.

The models come from the admin site's registry, so a model registered later without a maker
here fails with a message saying so, rather than going unmeasured."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from itertools import count

import pytest
import time_machine
from axes.models import AccessAttempt, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bookings.models import Appointment, ClientMessage, MessageTemplate, OpeningHours, WebhookEvent
from bookings.models_stock import SessionBatch
from bookings.tests.factories import (
    AppointmentFactory,
    BatchFactory,
    BookingPolicyFactory,
    BreakFactory,
    ClientMessageFactory,
    ClosureFactory,
    CourseFactory,
    DepositPolicyFactory,
    LocationFactory,
    PaymentFactory,
    ProductFactory,
    TechnicianFactory,
    TimeOffFactory,
    UserFactory,
    WaitlistEntryFactory,
    WaitlistOfferFactory,
    WaitlistReleaseFactory,
    WorkingHoursFactory,
)
from clients.models import AuditEvent, ConsentWording, Intake, IntakeQuestion
from clients.tests.factories import (
    AssessmentFactory,
    ClientFactory,
    ConsentRecordFactory,
    ConsentWordingFactory,
    PatchTestFactory,
    PhotoFactory,
    SessionNoteFactory,
)
from smpclinic.tests.logins import login_as
from treatments.models import Page, PageSection
from treatments.tests.factories import AftercareMilestoneFactory, PageFactory, PriceGuideFactory, TreatmentFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
SEQ = count(1)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def boss(client):
    user = UserFactory(username="boss", is_staff=True, is_superuser=True)
    login_as(client, user)
    return user


# Each model: (make one row, add n rows to what its change page shows inline) ----------------


def _nothing(obj, n: int) -> None:
    return None


def _client_children(obj, n: int) -> None:
    wording = ConsentWordingFactory(kind=ConsentWording.Kind.TREATMENT)
    for _ in range(n):
        appointment = AppointmentFactory(client=obj, start=NOW + timedelta(days=next(SEQ)))
        ClientMessageFactory(appointment=appointment)
        AssessmentFactory(client=obj, appointment=appointment)
        ConsentRecordFactory(client=obj, wording=wording, witnessed_by=UserFactory())
        PhotoFactory(client=obj, appointment=appointment)
        CourseFactory(client=obj)
        PatchTestFactory(
            client=obj,
            appointment=appointment,
            photo=PhotoFactory(client=obj, appointment=appointment),
            recorded_by=UserFactory(),
        )


def _appointment_children(obj, n: int) -> None:
    for _ in range(n):
        ClientMessageFactory(appointment=obj, kind=ClientMessage.Kind.CONFIRMATION, sequence=next(SEQ))
        PaymentFactory(appointment=obj, client=obj.client, recorded_by=UserFactory())


def _course_children(obj, n: int) -> None:
    for _ in range(n):
        AppointmentFactory(
            client=obj.client,
            course=obj,
            treatment=obj.treatment,
            kind=Appointment.Kind.TREATMENT_SESSION,
            session_number=next(SEQ),
            start=NOW + timedelta(days=next(SEQ)),
        )


def _location_children(obj, n: int) -> None:
    for i in range(n):
        OpeningHours.objects.create(location=obj, weekday=i % 7, opens=time(9), closes=time(17))


def _technician_children(obj, n: int) -> None:
    location = obj.locations.first()
    for i in range(n):
        WorkingHoursFactory(technician=obj, location=location, weekday=i % 7)
        BreakFactory(technician=obj, weekday=i % 7)
        TimeOffFactory(technician=obj, start=NOW + timedelta(days=next(SEQ)))


def _treatment_children(obj, n: int) -> None:
    for _ in range(n):
        PriceGuideFactory(treatment=obj, location=LocationFactory())


def _page_children(obj, n: int) -> None:
    for i in range(n):
        PageSection.objects.create(page=obj, heading=f"Section {i}", body="Text.", order=i)


def _session_note_children(obj, n: int) -> None:
    for _ in range(n):
        SessionBatch.objects.create(session_note=obj, batch=BatchFactory(location=obj.appointment.location))


def _user_children(obj, n: int) -> None:
    obj.groups.add(*(Group.objects.create(name=f"team {next(SEQ)}") for _ in range(n)))


PAGE_KEYS = iter(Page.Key.values * 20)
TEMPLATE_KINDS = [k for k in ClientMessage.Kind.values]


def _message_template():
    return MessageTemplate.objects.create(
        kind=TEMPLATE_KINDS[next(SEQ) % len(TEMPLATE_KINDS)],
        treatment=TreatmentFactory(),
        subject="Subject",
        text_body="Text",
        html_body="<p>HTML</p>",
        sms_body="SMS",
    )


def _page():
    key = next(PAGE_KEYS)
    Page.objects.filter(key=key).delete()
    return PageFactory(key=key)


def _to_match():
    holder = ClientFactory()
    return ClientFactory(email=holder.email, match_of=holder, match_status="pending")


def _entry_children(obj, n: int) -> None:
    for _ in range(n):
        WaitlistOfferFactory(entry=obj, release=WaitlistReleaseFactory(location=obj.location))


MAKERS: dict[str, tuple[Callable[[], object], Callable[[object, int], None]]] = {
    "auth.group": (lambda: Group.objects.create(name=f"group {next(SEQ)}"), _nothing),
    "auth.user": (lambda: UserFactory(), _user_children),
    "treatments.treatment": (lambda: TreatmentFactory(), _treatment_children),
    "treatments.priceguide": (lambda: PriceGuideFactory(location=LocationFactory()), _nothing),
    "treatments.aftercaremilestone": (lambda: AftercareMilestoneFactory(), _nothing),
    "treatments.page": (_page, _page_children),
    "clients.consentwording": (
        lambda: ConsentWordingFactory(kind=ConsentWording.Kind.CLINICAL_PHOTOS, version=next(SEQ)),
        _nothing,
    ),
    "clients.photo": (lambda: PhotoFactory(appointment=AppointmentFactory()), _nothing),
    "clients.sessionnote": (lambda: SessionNoteFactory(), _session_note_children),
    "clients.patchtest": (
        lambda: PatchTestFactory(recorded_by=UserFactory(), appointment=AppointmentFactory()),
        _nothing,
    ),
    "clients.intake": (
        lambda: Intake.objects.create(
            appointment=(appointment := AppointmentFactory()), client=appointment.client, completed_at=timezone.now()
        ),
        _nothing,
    ),
    "clients.intakequestion": (
        lambda: IntakeQuestion.objects.create(text=f"Question {next(SEQ)}?", order=next(SEQ)),
        _nothing,
    ),
    "clients.auditevent": (
        lambda: AuditEvent.objects.create(
            actor=UserFactory(), action=AuditEvent.Action.VIEW, object_type="client", object_id=str(next(SEQ))
        ),
        _nothing,
    ),
    "clients.client": (lambda: ClientFactory(), _client_children),
    "bookings.messagetemplate": (_message_template, _nothing),
    "bookings.location": (lambda: LocationFactory(), _location_children),
    "bookings.technician": (lambda: TechnicianFactory(), _technician_children),
    "bookings.closure": (lambda: ClosureFactory(location=LocationFactory()), _nothing),
    "bookings.course": (lambda: CourseFactory(), _course_children),
    "bookings.appointment": (lambda: AppointmentFactory(), _appointment_children),
    "bookings.clientmessage": (lambda: ClientMessageFactory(), _nothing),
    "bookings.bookingpolicy": (lambda: BookingPolicyFactory(location=LocationFactory()), _nothing),
    "bookings.bookingtomatch": (_to_match, _nothing),
    "bookings.depositpolicy": (lambda: DepositPolicyFactory(location=LocationFactory()), _nothing),
    "bookings.payment": (lambda: PaymentFactory(recorded_by=UserFactory()), _nothing),
    "bookings.webhookevent": (
        lambda: WebhookEvent.objects.create(
            provider="stripe", event_id=f"evt_{next(SEQ)}", type="checkout.session.completed", object_id="cs_1"
        ),
        _nothing,
    ),
    "bookings.product": (lambda: ProductFactory(), _nothing),
    "bookings.batch": (lambda: BatchFactory(), _nothing),
    "bookings.waitlistentry": (lambda: WaitlistEntryFactory(), _entry_children),
    "bookings.waitlistrelease": (lambda: WaitlistReleaseFactory(), _nothing),
    # The staff logins' admin (django-axes lockouts and login log, django-otp authenticator apps).
    "axes.accessattempt": (
        lambda: AccessAttempt.objects.create(
            username=f"user{next(SEQ)}", ip_address="192.0.2.1", user_agent="test", failures_since_start=5
        ),
        _nothing,
    ),
    "axes.accesslog": (
        lambda: AccessLog.objects.create(username=f"user{next(SEQ)}", ip_address="192.0.2.1", user_agent="test"),
        _nothing,
    ),
    "otp_totp.totpdevice": (lambda: TOTPDevice.objects.create(user=UserFactory(), name="Phone"), _nothing),
}

REGISTERED = sorted(model._meta.label_lower for model in admin.site._registry)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return len(ctx.captured_queries)


def _maker(label: str):
    if label not in MAKERS:
        pytest.fail(f"{label} is registered in the admin but has no maker in {__name__}.MAKERS: add one")
    return MAKERS[label]


def _url(label: str, view: str, *args) -> str:
    return reverse(f"admin:{label.replace('.', '_')}_{view}", args=args)


@pytest.mark.parametrize("label", REGISTERED)
def test_a_changelist_costs_the_same_for_1_row_and_for_10(client, boss, label, django_assert_max_num_queries):
    make, _children = _maker(label)
    url = _url(label, "changelist")
    make()
    _queries(client, url)  # caches (content types, the session) warm
    one = _queries(client, url)
    for _ in range(9):
        make()
    with django_assert_max_num_queries(one):
        ten = _queries(client, url)
    assert ten == one, f"{label} changelist: {one} queries for 1 row, {ten} for 10"


@pytest.mark.parametrize("label", REGISTERED)
def test_a_change_page_costs_the_same_for_1_inline_row_and_for_10(client, boss, label, django_assert_max_num_queries):
    make, children = _maker(label)
    obj = make()
    url = _url(label, "change", obj.pk)
    children(obj, 1)
    _queries(client, url)
    one = _queries(client, url)
    children(obj, 9)
    with django_assert_max_num_queries(one):
        ten = _queries(client, url)
    assert ten == one, f"{label} change page: {one} queries for 1 inline row, {ten} for 10"


def test_every_registered_model_has_a_maker():
    assert set(REGISTERED) <= set(MAKERS), f"no maker for {sorted(set(REGISTERED) - set(MAKERS))}"
