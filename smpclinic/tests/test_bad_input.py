"""Bad input to the admin and the staff workspace: a 400 with a message that names what was wrong,
never a 500, and nothing saved. The guards are site-wide (a middleware for NUL characters, the
admin site for date parts), so these requests stand for every view and every ModelAdmin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from bookings.models import Appointment, Course
from bookings.tests.factories import AppointmentFactory
from clients.models import AuditEvent, ConsentRecord
from clients.tests.conftest import PASSWORD, clinic  # noqa: F401 - the workspace fixture
from smpclinic.admin_site import date_bound_check
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 10, tzinfo=UTC)
CHANGELIST = "/admin/bookings/appointment/"


@pytest.fixture(autouse=True)
def _now(settings):
    # A fast hasher: the staff fixtures hash half a dozen passwords, which is not what is tested here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def superuser(client):
    user = get_user_model().objects.create_superuser("root", "root@smpclinic.example", None)
    login_as(client, user)
    return user


@pytest.fixture
def appointment(db):
    return AppointmentFactory(start=NOW + timedelta(days=3), end=NOW + timedelta(days=3, minutes=45))


def _snapshot() -> tuple:
    rows = Appointment.objects.order_by("pk").values_list("pk", "start", "end", "status", "technician_id")
    return list(rows), AuditEvent.objects.count(), Course.objects.count(), ConsentRecord.objects.count()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (CHANGELIST + "?status__exact=%00", "status__exact must not contain a null character"),
        (CHANGELIST + "?q=%00", "q must not contain a null character"),
        (
            "/admin/autocomplete/?term=%00&app_label=bookings&model_name=appointment&field_name=client",
            "term must not contain a null character",
        ),
        (CHANGELIST + "?start__year=99999999999999999999", "start__year must be a whole number from 1 to 9998."),
        (CHANGELIST + "?start__year=abc", "start__year must be a whole number from 1 to 9998."),
        (CHANGELIST + "?start__year=0", "start__year must be a whole number from 1 to 9998."),
        (CHANGELIST + "?start__year=2026&start__month=13", "start__month must be a whole number from 1 to 12."),
        (CHANGELIST + "?start__year=2026&start__month=2&start__day=0", "start__day must be a whole number from 1"),
        (CHANGELIST + "?start__year=2026&start__month=2&start__day=31", "start: 31/2/2026 is not a date."),
        (CHANGELIST + "?start__year=9999&start__month=12&start__day=31", "start__year must be a whole number"),
        ("/admin/clients/auditevent/?at__year=99999999999999999999", "at__year must be a whole number"),
        ("/admin/bookings/closure/?start_date__year=2026&start_date__month=%C2%B2", "start_date__month must be"),
        ("/admin/bookings/waitlistrelease/?location=9223372036854775808", "location is a number too large"),
        (CHANGELIST + "?technician__id__exact=-" + "9" * 5000, "technician__id__exact is a number too large"),
    ],
)
def test_a_bad_admin_filter_is_a_400_with_a_message(client, superuser, appointment, url, message):
    before = _snapshot()
    response = client.get(url)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/results/?treatment=%00", "treatment must not contain a null character"),
        ("/book/?location=%00", "location must not contain a null character"),
        ("/treatments/%00/", "path must not contain a null character"),
    ],
)
def test_a_nul_on_a_public_page_is_a_400_page_with_the_message(client, url, message):
    response = client.get(url)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "We couldn't use what was sent" in html


def test_the_admin_still_filters_by_a_real_day(client, superuser, appointment):
    day = appointment.start.date()
    response = client.get(CHANGELIST, {"start__year": day.year, "start__month": day.month, "start__day": day.day})
    assert response.status_code == 200
    assert appointment.reference in response.content.decode()


def test_the_date_part_guard_answers_signed_in_staff_only(client, appointment):
    response = client.get(CHANGELIST + "?start__year=abc")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_nul_in_an_admin_form_post_saves_nothing(client, superuser, appointment):
    before = _snapshot()
    url = reverse("admin:bookings_appointment_change", args=[appointment.pk])
    response = client.post(url, {"status": "cancelled", "client_message": "late\x00"})
    assert response.status_code == 400
    assert "client_message must not contain a null character" in response.content.decode()
    assert _snapshot() == before


def test_the_staff_client_search_with_a_nul_is_a_400_with_a_message(client, clinic):  # noqa: F811
    client.login(username="tech", password=PASSWORD)
    response = client.get(reverse("staff:clients"), {"q": "Ta\x00ylor"})
    assert response.status_code == 400
    assert "q must not contain a null character" in response.content.decode()


def test_a_consent_signed_with_a_nul_in_the_name_records_nothing(client, clinic):  # noqa: F811
    login_as(client, clinic["manager"])
    before = _snapshot()
    response = client.post(
        reverse("staff:consents", args=[clinic["client"].pk]), {"signed_name": "Sam\x00", "wordings": ["1"]}
    )
    assert response.status_code == 400
    assert _snapshot() == before


@pytest.mark.parametrize("when", ["9999-12-31T23:59", "0001-01-01T00:00"])
def test_booking_a_course_at_the_calendars_ends_is_a_form_error_and_books_nothing(client, clinic, when):  # noqa: F811
    client.login(username="tech", password=PASSWORD)
    before = _snapshot()
    response = client.post(
        reverse("staff:course_plan", args=[clinic["consultation"].pk]),
        {
            "action": "book",
            "treatment": clinic["course"].treatment.pk,
            "planned_sessions": 1,
            "first_date": "2026-11-09",
            "start_1": when,
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["start_1"] == ["Choose a date within 5 years of today."]
    assert _snapshot() == before


@pytest.mark.parametrize("first_date", ["9999-12-31", "0001-01-01"])
def test_a_course_planned_from_the_calendars_ends_is_a_form_error(client, clinic, first_date):  # noqa: F811
    client.login(username="tech", password=PASSWORD)
    response = client.post(
        reverse("staff:course_plan", args=[clinic["consultation"].pk]),
        {
            "action": "propose",
            "treatment": clinic["course"].treatment.pk,
            "planned_sessions": 3,
            "first_date": first_date,
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["first_date"] == ["Choose a date within 5 years of today."]


def test_a_nul_in_the_session_cookie_is_a_400_before_the_session_is_looked_up(client, django_assert_num_queries):
    client.cookies["sessionid"] = "abcdefgh\x00"
    with django_assert_num_queries(0):
        response = client.get(reverse("treatments:home"))
    assert response.status_code == 400
    assert "sessionid must not contain a null character" in response.content.decode()


@pytest.mark.parametrize("next_value", ["295", "0039-08-08", "admin:index", "//evil.example/", "https://evil.example/"])
def test_a_next_that_is_not_a_path_on_this_site_goes_home_after_the_second_factor(client, superuser, next_value):
    # Found by the fuzzer: ?next=295 reached redirect(), which took it for a view name: a 500.
    response = client.get(reverse("accounts:otp_verify"), {"next": next_value})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert client.get(reverse("accounts:otp_verify"), {"next": "/staff/"})["Location"] == "/staff/"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        # Found by the fuzzer: the date filter's bounds reached the query as naive datetimes at year 1.
        ("/admin/clients/client/?created_at__gte=00010101", "created_at__gte must be a date from year 2 to 9998"),
        ("/admin/clients/client/?created_at__lt=9999-12-31", "created_at__lt must be a date from year 2 to 9998"),
        ("/admin/clients/client/?created_at__gte=2026-11-02T10:00", "created_at__gte needs its UTC offset"),
        ("/admin/clients/client/?created_at__gte=soon", "created_at__gte must be a date such as"),
        ("/admin/axes/accessattempt/?attempt_time__gte=0001-01-01", "attempt_time__gte must be a date from year 2"),
    ],
)
def test_a_bad_date_filter_bound_is_a_400_with_a_message(client, superuser, url, message):
    response = client.get(url)
    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.parametrize("url", ["/admin/axes/accesslog/", "/admin/clients/client/"])
def test_a_plain_date_on_a_date_time_filter_is_local_midnight(client, superuser, url):
    # Found by the fuzzer: ?attempt_time__gte=0002-01-01 reached the query as a naive date-time
    # (a RuntimeWarning, an error under pytest). Now it is that day's midnight, London time.
    field = "attempt_time" if "axes" in url else "created_at"
    response = client.get(url, {f"{field}__gte": "0002-01-01", f"{field}__lt": "2026-07-01"})
    assert response.status_code == 200


def test_a_plain_date_bound_keeps_the_clinic_day():
    # 1 July is in summer time: midnight in London is 23:00 UTC the day before.
    assert date_bound_check("start__gte", "2026-07-01", with_time=True) == "2026-07-01T00:00:00+01:00"
    assert date_bound_check("start__gte", "2026-07-01", with_time=False) == "2026-07-01"


def test_the_date_filter_still_filters_by_its_own_links(client, superuser, appointment):
    response = client.get("/admin/clients/client/", {"created_at__gte": "2026-11-02 00:00:00+00:00"})
    assert response.status_code == 200


@pytest.mark.parametrize("value", ["0468-12-02", "\ufffd", "abc", "99999999999999999999", "1,x"])
@pytest.mark.parametrize("url", ["/admin/bookings/appointment/add/", "/admin/bookings/course/add/"])
def test_an_add_form_ignores_a_prefilled_client_that_is_not_a_key(client, superuser, url, value):
    # Found by the fuzzer: ?client=0468-12-02 reached the autocomplete widget's query (a 500).
    response = client.get(url, {"client": value})
    assert response.status_code == 200


def test_an_add_form_still_prefills_a_real_client(client, superuser, appointment):
    response = client.get("/admin/bookings/appointment/add/", {"client": appointment.client_id})
    assert response.status_code == 200
    assert f'value="{appointment.client_id}" selected' in response.content.decode()


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "\x00",
        "99999-01-01",
        "0000-00-00 25:61",
        "2026-02-30",
        # Found by the fuzzer: they parse, then fall off the calendar in local time or UTC.
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:00-14:00",
    ],
)
def test_an_add_form_ignores_a_prefilled_start_that_is_not_a_date_time(client, superuser, value):
    # Found by the fuzzer: ?start=<text> reached the split date-time widget as text (a 500).
    response = client.get("/admin/bookings/appointment/add/", {"start": value})
    assert response.status_code in (200, 400)


def test_an_add_form_still_prefills_a_real_start(client, superuser):
    response = client.get("/admin/bookings/appointment/add/", {"start": "2026-12-01 10:15"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="01/12/2026"' in html or 'value="2026-12-01"' in html
    assert 'value="10:15:00"' in html or 'value="10:15"' in html


@pytest.mark.parametrize("value", ["\u00b2", "\ufffd\ufffd\ufffd", "0468-12-02"])
def test_a_posted_course_whose_client_is_not_a_key_is_a_form_error(client, superuser, value):
    # Found by the fuzzer: the form re-rendered with client=² and the widget looked it up (a 500).
    before = Course.objects.count()
    response = client.post("/admin/bookings/course/add/", {"client": value, "_addanother": "1"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Course.objects.count() == before


def test_a_long_run_of_digits_is_still_a_search_term(client, superuser, appointment):
    assert client.get(CHANGELIST + "?q=" + "9" * 25).status_code == 200
    # The largest id a column holds is only a filter that matches nothing.
    assert client.get("/admin/bookings/waitlistrelease/?location=9223372036854775807").status_code == 200
