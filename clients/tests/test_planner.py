"""The course planner: next-session proposals at the treatment's spacing, and whole courses booked all or nothing."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment, Course
from bookings.services import courses as planner
from bookings.tests.factories import AppointmentFactory, TechnicianFactory, WorkingHoursFactory
from clients.tests.conftest import PASSWORD
from clients.tests.factories import ClientFactory
from treatments.tests.factories import PriceGuideFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def open_every_day(technician, location, treatment):
    technician.treatments.add(treatment)
    for weekday in range(7):
        WorkingHoursFactory(
            technician=technician, location=location, weekday=weekday, start_time=time(9), end_time=time(17)
        )


@pytest.fixture
def open_clinic(clinic):
    open_every_day(clinic["technician"], clinic["here"], clinic["course"].treatment)
    colleague = TechnicianFactory(locations=[clinic["here"]], display_name="Colleague")
    open_every_day(colleague, clinic["here"], clinic["course"].treatment)
    clinic["colleague"] = colleague
    return clinic


def test_next_session_proposals_fall_14_to_21_days_later_with_the_same_technician_first(open_clinic):
    session = open_clinic["session"]
    proposals = planner.next_session_proposals(appointment=session)
    assert proposals
    day = timezone.localdate(session.start)
    for p in proposals:
        assert 14 <= (timezone.localdate(p.slot.start) - day).days <= 21
    flags = [p.same_technician for p in proposals]
    assert flags[0] is True
    assert flags == sorted(flags, reverse=True)  # every same-technician time before any colleague's
    assert {p.slot.technician_id for p in proposals if p.same_technician} == {open_clinic["technician"].pk}


def test_a_technician_books_the_next_session_from_the_proposals(client, open_clinic):
    session = open_clinic["session"]
    client.login(username="tech", password=PASSWORD)
    url = reverse("staff:next_session", args=[session.pk])
    page = client.get(url)
    assert page.status_code == 200
    first = page.context["proposals"][0]
    response = client.post(url, {"slot": first.value})
    assert response.status_code == 302
    booked = Appointment.objects.get(course=session.course, session_number=3)
    assert (booked.start, booked.technician) == (first.slot.start, open_clinic["technician"])
    assert booked.channel == Appointment.Channel.STAFF


def test_a_made_up_next_session_time_is_refused(client, open_clinic):
    session = open_clinic["session"]
    client.login(username="tech", password=PASSWORD)
    too_soon = (session.start + timedelta(days=3)).isoformat()
    response = client.post(
        reverse("staff:next_session", args=[session.pk]), {"slot": f"{too_soon}|{open_clinic['technician'].pk}"}
    )
    assert response.status_code == 400
    assert not Appointment.objects.filter(session_number=3).exists()


def course_starts(first: datetime, gaps=(14, 14)) -> list[datetime]:
    starts = [first]
    for gap in gaps:
        starts.append(
            datetime.combine(starts[-1].date() + timedelta(days=gap), first.timetz().replace(tzinfo=None), LONDON)
        )
    return starts


def test_a_course_is_booked_whole_across_the_clock_change(open_clinic):
    client = ClientFactory()
    # 28 March 2027: the clocks go forward between session 1 and session 2.
    starts = course_starts(datetime(2027, 3, 20, 10, tzinfo=LONDON))
    course = planner.course_create_and_book(
        client=client,
        treatment=open_clinic["course"].treatment,
        location=open_clinic["here"],
        technician=open_clinic["technician"],
        planned_sessions=3,
        price_band="N4",
        price_agreed_minor=150000,
        starts=starts,
        by=open_clinic["technician"].user,
    )
    booked = list(course.appointments.order_by("session_number"))
    assert [a.session_number for a in booked] == [1, 2, 3]
    assert [timezone.localtime(a.start).time() for a in booked] == [time(10)] * 3
    assert [timezone.localtime(a.start).date() for a in booked] == [
        date(2027, 3, 20),
        date(2027, 4, 3),
        date(2027, 4, 17),
    ]


def test_if_one_session_is_taken_nothing_of_the_course_is_booked(client, open_clinic):
    patient = open_clinic["client"]
    starts = course_starts(datetime(2027, 2, 1, 10, tzinfo=LONDON))
    AppointmentFactory(  # someone else already holds session 2's time
        technician=open_clinic["technician"],
        location=open_clinic["here"],
        start=starts[1],
        end=starts[1] + timedelta(hours=1),
    )
    before = Appointment.objects.count(), Course.objects.count()
    http = client
    http.login(username="tech", password=PASSWORD)
    response = http.post(
        reverse("staff:course_plan", args=[open_clinic["consultation"].pk]),
        {
            "action": "book",
            "treatment": open_clinic["course"].treatment.pk,
            "planned_sessions": 3,
            "price_band": "N4",
            "price_agreed_minor": "1500",
            "first_date": "2027-02-01",
            **{f"start_{n}": s.strftime("%Y-%m-%dT%H:%M") for n, s in enumerate(starts, start=1)},
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Session 2 (Mon 15 Feb 2027 10:00)" in body
    assert "Nothing was booked" in body
    assert (Appointment.objects.count(), Course.objects.count()) == before
    assert not Course.objects.filter(client=patient, price_agreed_minor=150000).exists()


def test_sessions_closer_than_the_treatment_spacing_are_refused(open_clinic):
    with pytest.raises(ValidationError, match="needs 14-21 days between sessions"):
        planner.course_create_and_book(
            client=ClientFactory(),
            treatment=open_clinic["course"].treatment,
            location=open_clinic["here"],
            technician=open_clinic["technician"],
            planned_sessions=2,
            price_band="",
            price_agreed_minor=None,
            starts=course_starts(datetime(2027, 2, 1, 10, tzinfo=LONDON), gaps=(7,)),
            by=open_clinic["technician"].user,
        )
    assert not Course.objects.filter(price_agreed_minor=None, planned_sessions=2).exists()


def test_the_course_page_opens_with_its_first_date_filled_in_for_the_date_picker(client, open_clinic):
    """A date input shows only an ISO value: the en-GB "03/12/2026" left it blank, and "Propose
    times" answered "This field is required." to a technician who had typed nothing wrong."""
    client.login(username="tech", password=PASSWORD)
    html = client.get(reverse("staff:course_plan", args=[open_clinic["consultation"].pk])).content.decode()
    field = re.search(r'<input[^>]*name="first_date"[^>]*>', html).group(0)
    week_on = timezone.localdate() + timedelta(days=7)
    assert f'value="{week_on.isoformat()}"' in field


def test_a_course_planned_from_a_consultation_weeks_ahead_starts_a_week_after_it(client, open_clinic):
    consultation = open_clinic["consultation"]  # 30 days ago: moved to 14 days ahead
    consultation.start += timedelta(days=44)
    consultation.end += timedelta(days=44)
    consultation.save()
    client.login(username="tech", password=PASSWORD)
    html = client.get(reverse("staff:course_plan", args=[consultation.pk])).content.decode()
    field = re.search(r'<input[^>]*name="first_date"[^>]*>', html).group(0)
    week_after = timezone.localdate(consultation.start) + timedelta(days=7)
    assert f'value="{week_after.isoformat()}"' in field


def test_the_course_page_proposes_a_time_per_session_at_valid_spacing(client, open_clinic):
    PriceGuideFactory(
        treatment=open_clinic["course"].treatment, band="N4", price_from_minor=120000, price_to_minor=160000
    )
    client.login(username="tech", password=PASSWORD)
    response = client.post(
        reverse("staff:course_plan", args=[open_clinic["consultation"].pk]),
        {
            "action": "propose",
            "treatment": open_clinic["course"].treatment.pk,
            "planned_sessions": 3,
            "price_band": "N4",
            "first_date": (timezone.localdate() + timedelta(days=7)).isoformat(),
        },
    )
    assert response.status_code == 200
    assert response.context["guide"].price_from_minor == 120000  # the stage's guide price, shown to agree the price
    assert "Guide price for Norwood 4" in response.content.decode()
    form = response.context["form"]
    starts = [form.cleaned_data[f"start_{n}"] for n in (1, 2, 3)]
    assert all(starts)
    gaps = [(starts[i + 1].date() - starts[i].date()).days for i in range(2)]
    assert all(14 <= g <= 21 for g in gaps)


def test_a_next_session_time_taken_meanwhile_is_reported_not_booked(client, open_clinic):
    session = open_clinic["session"]
    client.login(username="tech", password=PASSWORD)
    url = reverse("staff:next_session", args=[session.pk])
    first = client.get(url).context["proposals"][0]
    AppointmentFactory(  # another device books that time first
        technician=open_clinic["technician"],
        location=open_clinic["here"],
        start=first.slot.start,
        end=first.slot.end,
    )
    response = client.post(url, {"slot": first.value})
    assert response.status_code == 400
    assert "Choose another time" in response.content.decode()
    assert not Appointment.objects.filter(course=session.course, session_number=3).exists()


def test_the_next_session_is_booked_only_from_the_courses_latest_session(client, open_clinic):
    """Session 2 is booked (today): "book the next session" from session 1 must not book session 3
    14-21 days after session 1, a day or two after session 2, numbered out of order."""
    session = open_clinic["session"]
    first = Appointment.objects.get(course=session.course, session_number=1)
    later = [p for p in planner.next_session_proposals(appointment=first) if p.slot.start > session.start]
    assert later  # the window after session 1 reaches past today's session 2
    with pytest.raises(ValidationError) as refused:
        planner.next_session_book(
            appointment=first, start=later[0].slot.start, technician=open_clinic["technician"], by=None
        )
    assert refused.value.code == "not_latest_session"

    client.login(username="tech", password=PASSWORD)
    url = reverse("staff:next_session", args=[first.pk])
    page = client.get(url)
    text = page.content.decode()
    assert page.context["proposals"] == []
    assert "Session 2 is already booked" in text
    assert reverse("staff:next_session", args=[session.pk]) in text  # the way on: from the latest session
    response = client.post(url, {"slot": later[0].value})
    assert response.status_code == 400
    assert not Appointment.objects.filter(course=session.course, session_number=3).exists()


def test_a_fully_booked_course_says_so_instead_of_offering_times(client, open_clinic):
    session = open_clinic["session"]
    course = session.course
    course.planned_sessions = 2
    course.save(update_fields=["planned_sessions"])
    client.login(username="tech", password=PASSWORD)
    page = client.get(reverse("staff:next_session", args=[session.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert page.context["proposals"] == []
    assert "All 2 planned sessions of this course are booked." in text
    assert "Book this time" not in text
