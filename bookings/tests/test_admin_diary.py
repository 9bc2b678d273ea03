"""The diary (/admin/bookings/appointment/diary/): a location's day or week with technicians as
columns, booking into a free time and moving an appointment, each through its service."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse

from bookings.diary import diary_grid
from bookings.models import Appointment, ClientMessage, OpeningHours
from bookings.tests.factories import (
    AppointmentFactory,
    BreakFactory,
    ClosureFactory,
    LocationFactory,
    TechnicianFactory,
    TimeOffFactory,
    UserFactory,
    technician_working,
)
from clients.models import AuditEvent, Client
from clients.tests.factories import ClientFactory, staff_user
from smpclinic.tests.logins import login_as
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db

S = Appointment.Status
LONDON = ZoneInfo("Europe/London")
# A Friday morning in November (GMT, no clock change near).
NOW = datetime(2026, 11, 20, 10, 30, tzinfo=LONDON)
DIARY = "/admin/bookings/appointment/diary/"
BOOK = "/admin/bookings/appointment/diary/book/"
# A technician's schedules (hours, breaks, time off, appointments, closures): one query on
# PostgreSQL, five on SQLite (bookings.selectors.availability_schedules).
SCHEDULE_QUERIES = 1 if connection.vendor == "postgresql" else 5


def MOVE(pk):
    return f"/admin/bookings/appointment/diary/move/{pk}/"


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def clinic():
    location = LocationFactory(name="A Manchester", order=0, time_zone="Europe/London")
    for weekday in range(7):
        OpeningHours.objects.create(location=location, weekday=weekday, opens=time(9), closes=time(17))
    return location


@pytest.fixture
def amara(clinic):
    return technician_working(location=clinic, display_name="Amara")


@pytest.fixture
def ben(clinic):
    return technician_working(location=clinic, display_name="Ben")


def _login(client, role: str):
    user = staff_user(role=role)
    login_as(client, user)
    return user


def _at(location, technician, start, status=S.BOOKED, *, first="Ann", minutes=45, **kwargs) -> Appointment:
    return AppointmentFactory(
        location=location,
        technician=technician,
        client=ClientFactory(first_name=first, last_name="Client"),
        start=start,
        end=start + timedelta(minutes=minutes),
        status=status,
        completed_at=start if status == S.COMPLETED else None,
        cancelled_at=start - timedelta(days=1) if status == S.CANCELLED else None,
        **kwargs,
    )


def _z(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _rows(html: str) -> list[str]:
    return re.findall(r'<th scope="row" class="diary-time">([^<]+)</th>', html)


def _gaps(html: str) -> list[str]:
    return [a.replace("&amp;", "&") for a in re.findall(r'class="diary-gap" href="([^"]+)"', html)]


# Access ------------------------------------------------------------------------------


def test_anonymous_is_sent_to_the_login_page(client, clinic):
    response = client.get(DIARY)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_technician_outside_the_admin_is_sent_to_the_login_page(client, clinic, amara):
    _login(client, "Technician")  # not staff
    assert client.get(DIARY).status_code == 302
    assert client.get(BOOK, {"location": clinic.pk, "technician": amara.pk, "start": _z(NOW)}).status_code == 302


def test_staff_without_view_permission_get_403(client, clinic, amara):
    login_as(client, UserFactory(is_staff=True))
    assert client.get(DIARY).status_code == 403
    assert client.get(BOOK, {"location": clinic.pk, "technician": amara.pk, "start": _z(NOW)}).status_code == 403


def test_staff_who_may_only_view_see_the_diary_but_cannot_book_or_move(client, clinic, amara):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_appointment"))
    login_as(client, user)
    appointment = _at(clinic, amara, NOW + timedelta(hours=1))

    response = client.get(DIARY)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="diary-appointment-{appointment.pk}"' in html
    assert _gaps(html) == []
    assert "diary-move" not in html
    start = _z(NOW + timedelta(hours=3))
    assert client.get(BOOK, {"location": clinic.pk, "technician": amara.pk, "start": start}).status_code == 403
    assert client.post(MOVE(appointment.pk), {"date": "2026-11-20", "time": "15:00"}).status_code == 403
    assert client.get(DIARY, {"move": appointment.pk}).status_code == 403


def test_reception_sees_the_diary_and_it_is_linked_from_the_index_and_the_changelist(client, clinic, amara):
    _login(client, "Reception")
    assert client.get(DIARY).status_code == 200
    assert DIARY in client.get("/admin/").content.decode()
    assert DIARY in client.get("/admin/bookings/appointment/").content.decode()


# The grid ----------------------------------------------------------------------------


def test_the_day_shows_technicians_as_columns_and_opening_hours_as_15_minute_rows(client, clinic, amara, ben):
    _login(client, "Reception")
    html = client.get(DIARY).content.decode()
    assert re.findall(r'<th scope="col" class="diary-tech[^"]*">([^<]+)</th>', html) == ["Amara", "Ben"]
    rows = _rows(html)
    assert rows[0] == "09:00"
    assert rows[-1] == "16:45"
    assert len(rows) == 32
    assert "Friday 20 November 2026 (today)" in html


def test_an_appointment_is_a_block_with_kind_and_status_in_words_linking_to_its_page(client, clinic, amara, ben):
    _login(client, "Reception")
    appointment = _at(
        clinic, ben, NOW.replace(hour=12, minute=0), S.CONFIRMED, first="Nora", kind=Appointment.Kind.TREATMENT_SESSION
    )
    html = client.get(DIARY).content.decode()
    block = html.split(f'id="diary-appointment-{appointment.pk}"', 1)[1].split("</td>", 1)[0]
    cell = html.split(f'id="diary-appointment-{appointment.pk}"', 1)[0].rsplit("<td", 1)[1]
    assert 'rowspan="3"' in cell  # 12:00-12:45
    assert "kind-session" in cell
    assert "status-confirmed" in cell
    assert "Nora Client" in block
    assert "Treatment session" in block
    assert "Confirmed" in block
    assert "12:00\u201312:45" in block
    assert f'href="/admin/bookings/appointment/{appointment.pk}/change/"' in block
    assert f"?location={clinic.pk}&amp;date=2026-11-20&amp;view=day&amp;move={appointment.pk}" in block


def test_names_and_reasons_on_the_grid_are_escaped(client, clinic, amara):
    _login(client, "Reception")
    amara.display_name = "Amara <i>&</i>"
    amara.save()
    _at(clinic, amara, NOW.replace(hour=12, minute=0), first="<b>O'Neil</b>")
    TimeOffFactory(technician=amara, start=NOW.replace(hour=15), end=NOW.replace(hour=16), reason="<script>x</script>")
    html = client.get(DIARY).content.decode()
    grid = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "&lt;b&gt;O&#x27;Neil&lt;/b&gt; Client" in grid
    assert "Time off: &lt;script&gt;x&lt;/script&gt;" in grid
    assert "Book Amara &lt;i&gt;&amp;&lt;/i&gt;, Fri 20 Nov at" in grid
    assert "<b>" not in grid
    assert "<script>" not in grid
    assert "<i>" not in grid


def test_breaks_time_off_and_closures_are_shaded_and_not_bookable(client, clinic, amara, ben):
    _login(client, "Reception")
    BreakFactory(technician=amara, weekday=4, start_time=time(13), end_time=time(13, 45))
    TimeOffFactory(
        technician=ben, start=NOW.replace(hour=14, minute=0), end=NOW.replace(hour=16, minute=0), reason="Dentist"
    )
    html = client.get(DIARY).content.decode()
    assert re.search(r'rowspan="3" class="diary-cell diary-shaded diary-break[^"]*">Break', html)
    assert re.search(r'rowspan="8" class="diary-cell diary-shaded diary-time-off[^"]*">Time off: Dentist', html)
    gaps = _gaps(html)
    assert not any(f"technician={amara.pk}&start=2026-11-20T13:{m}Z" in g for g in gaps for m in ("00", "15", "30"))
    assert any(f"technician={amara.pk}&start=2026-11-20T13:45Z" in g for g in gaps)
    assert not any(f"technician={ben.pk}&start=2026-11-20T15:" in g for g in gaps)
    # Past quarter hours cannot be booked; the one starting after now can.
    assert not any("start=2026-11-20T10:15Z" in g for g in gaps)
    assert any(f"technician={amara.pk}&start=2026-11-20T10:45Z" in g for g in gaps)

    ClosureFactory(location=clinic, start_date=date(2026, 11, 21), end_date=date(2026, 11, 21), reason="Refit")
    html = client.get(DIARY, {"date": "2026-11-21"}).content.decode()
    assert _gaps(html) == []
    assert html.count("Closed: Refit") == 2  # one cell per technician, spanning the day


def test_a_gap_links_to_the_booking_page_for_that_technician_and_time(client, clinic, amara):
    _login(client, "Reception")
    html = client.get(DIARY, {"date": "2026-11-23"}).content.decode()
    first = _gaps(html)[0]
    assert first == f"{BOOK}?location={clinic.pk}&technician={amara.pk}&start=2026-11-23T09:00Z"
    page = client.get(first)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Book Amara at A Manchester, Monday 23 November 2026 at 09:00" in text
    assert _length_as_shown(text) == ""  # empty: the kind chosen's usual length


def _selected_kind(html: str) -> str:
    select = html.split('name="kind"', 1)[1].split("</select>", 1)[0]
    return re.search(r'<option value="(\w+)" selected>', select).group(1)


def test_a_free_time_is_a_gap_only_if_the_shortest_booking_fits_and_its_form_starts_on_a_kind_that_fits(
    client, clinic, amara
):
    desk = _login(client, "Reception")
    monday = datetime(2026, 11, 23, tzinfo=LONDON)
    # Amara works 09:00-17:00; the default policy: consultation 45, patch test 15, touch-up 120
    # minutes, 15 minutes' clean-up after each appointment.
    _at(clinic, amara, monday.replace(hour=11), first="Morning")  # 11:00-11:45, clean-up to 12:00
    _at(clinic, amara, monday.replace(hour=12, minute=15), first="Noon")  # needs 12:00 clear too
    _at(clinic, amara, monday.replace(hour=14, minute=30), first="Long", minutes=105)  # to 16:15, clean-up to 16:30

    html = client.get(DIARY, {"date": "2026-11-23"}).content.decode()

    def offered(hhmm: str) -> bool:
        start = _z(datetime.combine(monday.date(), time.fromisoformat(hhmm), tzinfo=LONDON))
        return any(f"technician={amara.pk}&start={start}" in g for g in _gaps(html))

    # 12:00: free, but a 15-minute patch test would leave no clean-up before 12:15.
    assert not offered("12:00")
    assert re.search(r'class="diary-cell diary-shaded diary-too-short[^"]*">Too short', html)
    # 16:30 and 16:45: no consultation fits before 17:00, a patch test does.
    assert offered("16:30")
    assert offered("16:45")
    assert offered("13:15")  # a consultation fits: 13:15-14:00, clean-up to 14:15

    link = next(g for g in _gaps(html) if f"technician={amara.pk}&start=2026-11-23T16:30Z" in g)
    page = client.get(link).content.decode()
    assert _selected_kind(page) == Appointment.Kind.PATCH_TEST
    assert _length_as_shown(page) == ""
    assert "A 45-minute consultation does not fit this gap; it has room for: patch test." in page
    page = client.get(next(g for g in _gaps(html) if "start=2026-11-23T13:15Z" in g)).content.decode()
    assert _selected_kind(page) == Appointment.Kind.CONSULTATION

    # Booking what the form starts on succeeds.
    nora = ClientFactory(first_name="Nora", last_name="Late")
    start = monday.replace(hour=16, minute=30)
    data = _book_data(clinic, amara, start, nora, kind=Appointment.Kind.PATCH_TEST, length_minutes="15")
    response = client.post(BOOK, data)
    assert response.status_code == 302
    booked = Appointment.objects.get(client=nora)
    assert (booked.kind, booked.start, booked.duration_minutes) == (Appointment.Kind.PATCH_TEST, start, 15)
    event = AuditEvent.objects.get(object_type="appointment", object_id=str(booked.pk))
    assert (event.actor, event.action) == (desk, AuditEvent.Action.CREATE)


def test_moving_offers_only_the_times_the_appointment_being_moved_fits(client, clinic, amara, ben):
    _login(client, "Reception")
    monday = datetime(2026, 11, 23, tzinfo=LONDON)
    moving = _at(clinic, amara, monday.replace(hour=10))  # 45 minutes
    _at(clinic, ben, monday.replace(hour=14), minutes=135)  # Ben is free from 16:30 (clean-up)
    html = client.get(DIARY, {"date": "2026-11-23", "move": moving.pk}).content.decode()
    gaps = _gaps(html)
    assert any(f"technician={ben.pk}&start=2026-11-23T13:00Z" in g for g in gaps)
    assert not any(f"technician={ben.pk}&start=2026-11-23T16:" in g for g in gaps)
    # Its own time does not stand in its way: 15 minutes earlier, with Amara.
    assert any(f"technician={amara.pk}&start=2026-11-23T09:45Z" in g for g in gaps)


def test_cancellations_and_no_shows_are_listed_under_the_grid_not_drawn_on_it(client, clinic, amara):
    _login(client, "Reception")
    cancelled = _at(clinic, amara, NOW.replace(hour=15, minute=0), S.CANCELLED, first="Gone")
    html = client.get(DIARY).content.decode()
    assert f'id="diary-appointment-{cancelled.pk}"' not in html
    assert "Gone Client, Consultation with Amara" in html
    assert any("start=2026-11-20T15:00Z" in g for g in _gaps(html))


def test_the_week_view_has_a_column_group_per_day(client, clinic, amara, ben):
    _login(client, "Reception")
    _at(clinic, amara, datetime(2026, 11, 22, 11, tzinfo=LONDON), first="Sunday")
    html = client.get(DIARY, {"view": "week"}).content.decode()
    assert "Week of Monday 16 November 2026 to Sunday 22 November 2026" in html
    assert html.count('scope="colgroup" colspan="2"') == 7
    assert "Sunday Client" in html
    assert len(re.findall(r'<th scope="col" class="diary-tech', html)) == 14


def test_previous_and_next_move_by_the_view(client, clinic, amara):
    _login(client, "Reception")
    html = client.get(DIARY, {"date": "2026-11-20", "view": "week"}).content.decode()
    assert f"?location={clinic.pk}&amp;date=2026-11-09&amp;view=week" in html
    assert f"?location={clinic.pk}&amp;date=2026-11-23&amp;view=week" in html
    html = client.get(DIARY, {"date": "2026-11-20"}).content.decode()
    assert f"?location={clinic.pk}&amp;date=2026-11-19&amp;view=day" in html
    assert 'meta name="htmx-config"' in html
    assert "includeIndicatorStyles" in html
    assert "vendor/htmx/htmx.min.js" in html


def test_another_zones_clinic_is_drawn_on_its_own_clock(client, clinic, amara):
    _login(client, "Reception")
    new_york = LocationFactory(name="B New York", order=1, time_zone="America/New_York")
    OpeningHours.objects.create(location=new_york, weekday=0, opens=time(9), closes=time(12))
    dana = technician_working(location=new_york, display_name="Dana", weekdays=[0])
    appointment = _at(new_york, dana, datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("America/New_York")))
    html = client.get(DIARY, {"location": new_york.pk, "date": "2026-11-23"}).content.decode()
    assert _rows(html)[0] == "09:00"
    tr = html.split(f'id="diary-appointment-{appointment.pk}"', 1)[0].rsplit("<tr>", 1)[1]
    assert '<th scope="row" class="diary-time">09:00</th>' in tr
    assert any(f"technician={dana.pk}&start=2026-11-23T15:00Z" in g for g in _gaps(html))  # 10:00 in New York


def test_a_technicians_appointment_at_another_clinic_is_shaded_not_free(client, clinic, amara):
    _login(client, "Reception")
    other = LocationFactory(name="Nottingham")
    amara.locations.add(other)
    _at(other, amara, datetime(2026, 11, 23, 11, tzinfo=LONDON))
    html = client.get(DIARY, {"date": "2026-11-23"}).content.decode()
    assert re.search(r'rowspan="3" class="diary-cell diary-shaded diary-elsewhere[^"]*"><a [^>]*>At Nottingham', html)
    assert not any("start=2026-11-23T11:15Z" in g for g in _gaps(html))
    assert "0 appointments at A Manchester" in html


# Clock changes -----------------------------------------------------------------------


def test_the_day_the_clocks_go_forward_shows_the_hours_on_the_clinics_clock(client, clinic, amara):
    _login(client, "Reception")
    spring = date(2027, 3, 28)  # last Sunday of March: 01:00 GMT becomes 02:00 BST
    appointment = _at(clinic, amara, datetime(2027, 3, 28, 10, tzinfo=LONDON), first="Spring")
    html = client.get(DIARY, {"date": spring.isoformat()}).content.decode()
    rows = _rows(html)
    assert (rows[0], rows[-1], len(rows)) == ("09:00", "16:45", 32)
    # 10:00 BST is 09:00 UTC: the block starts on the 10:00 row.
    tr = html.split(f'id="diary-appointment-{appointment.pk}"', 1)[0].rsplit("<tr>", 1)[1]
    assert '<th scope="row" class="diary-time">10:00</th>' in tr
    assert "10:00\u201310:45" in html
    assert any(f"technician={amara.pk}&start=2027-03-28T08:00Z" in g for g in _gaps(html))  # 09:00 BST


def test_the_hour_skipped_and_the_hour_repeated_are_shown_as_they_happen():
    late = LocationFactory(name="Night clinic", time_zone="Europe/London")
    for weekday in range(7):
        OpeningHours.objects.create(location=late, weekday=weekday, opens=time(0), closes=time(4))
    technician_working(location=late, weekdays=[], display_name="Nobody")  # a column, working no hours
    now = datetime(2027, 1, 1, tzinfo=UTC)

    spring = diary_grid(location=late, first_day=date(2027, 3, 28), days=1, now=now)
    assert [r.label for r in spring.rows] == ["00:00", "00:15", "00:30", "00:45"] + [
        f"{h:02}:{m:02}" for h in (2, 3) for m in (0, 15, 30, 45)
    ]

    autumn = diary_grid(location=late, first_day=date(2027, 10, 31), days=1, now=now)
    labels = [r.label for r in autumn.rows]
    assert len(labels) == 20  # four hours on the wall clock, five in fact
    assert labels[4:12] == [f"01:{m:02} BST" for m in (0, 15, 30, 45)] + [f"01:{m:02} GMT" for m in (0, 15, 30, 45)]

    # A week holding the spring change: every other day has 01:00-01:45, that Sunday says it has none.
    week = diary_grid(location=late, first_day=date(2027, 3, 22), days=7, now=now)
    assert len(week.rows) == 16
    # Each technician's idle week is one cell per day; on Sunday the missing hour is its own cell.
    [starting_at_one] = [row.cells for row in week.rows if row.label == "01:00"]
    assert [(c.kind, c.day, c.rowspan) for c in starting_at_one] == [("no-such-time", date(2027, 3, 28), 4)]


# Booking into a gap ------------------------------------------------------------------


def _book_data(clinic, technician, start, client_, **extra):
    return {
        "location": clinic.pk,
        "technician": technician.pk,
        "start": _z(start),
        "client": client_.pk,
        "kind": Appointment.Kind.CONSULTATION,
        "length_minutes": "45",
        "channel": Appointment.Channel.PHONE,
        "staff_notes": "",
        "book": "1",
        **extra,
    }


def test_booking_into_a_gap_goes_through_the_staff_booking_service(client, clinic, amara):
    desk = _login(client, "Reception")
    nora = ClientFactory(first_name="Nora", last_name="Booked")
    start = datetime(2026, 11, 23, 11, tzinfo=LONDON)

    response = client.post(BOOK, _book_data(clinic, amara, start, nora))

    assert response.status_code == 302
    assert response["Location"] == f"{DIARY}?location={clinic.pk}&date=2026-11-23&view=day"
    appointment = Appointment.objects.get(client=nora)
    assert (appointment.technician, appointment.start, appointment.duration_minutes) == (amara, start, 45)
    assert appointment.channel == Appointment.Channel.PHONE
    event = AuditEvent.objects.get(object_type="appointment", object_id=str(appointment.pk))
    assert (event.actor, event.action) == (desk, AuditEvent.Action.CREATE)
    assert ClientMessage.objects.filter(appointment=appointment, kind=ClientMessage.Kind.CONFIRMATION).exists()
    [message] = get_messages(response.wsgi_request)
    assert "Booked Nora Booked" in message.message
    assert "11:00" in message.message


def _length_as_shown(html: str) -> str:
    field = re.search(r'<input[^>]*name="length_minutes"[^>]*>', html).group(0)
    value = re.search(r'value="([^"]*)"', field)
    return value.group(1) if value else ""


def test_changing_the_kind_on_the_booking_page_books_the_new_kinds_usual_length(client, clinic, amara):
    """The page opens on a consultation; reception switches to a touch-up and books without
    touching the length: a 120-minute touch-up, not one cut to the consultation's 45 minutes."""
    _login(client, "Reception")
    monday = datetime(2026, 11, 23, tzinfo=LONDON)
    page = client.get(BOOK, {"location": clinic.pk, "technician": amara.pk, "start": _z(monday.replace(hour=9))})
    assert _selected_kind(page.content.decode()) == Appointment.Kind.CONSULTATION
    nora = ClientFactory(first_name="Nora", last_name="Touchup")
    data = _book_data(
        clinic,
        amara,
        monday.replace(hour=9),
        nora,
        kind=Appointment.Kind.TOUCH_UP,
        length_minutes=_length_as_shown(page.content.decode()),
    )
    assert client.post(BOOK, data).status_code == 302
    assert Appointment.objects.get(client=nora).duration_minutes == 120

    # A gap only a patch test fits opens on a patch test; switched to a consultation, it is refused
    # as not fitting, not booked as a 15-minute consultation.
    _at(clinic, amara, monday.replace(hour=16, minute=45), minutes=15)  # to 17:00, the end of her day
    page = client.get(BOOK, {"location": clinic.pk, "technician": amara.pk, "start": _z(monday.replace(hour=16))})
    assert _selected_kind(page.content.decode()) == Appointment.Kind.PATCH_TEST
    olive = ClientFactory(first_name="Olive", last_name="Consult")
    data = _book_data(
        clinic, amara, monday.replace(hour=16), olive, length_minutes=_length_as_shown(page.content.decode())
    )
    response = client.post(BOOK, data)
    assert response.status_code == 200
    assert "Amara is not free for that long" in response.content.decode()
    assert not Appointment.objects.filter(client=olive).exists()


def test_a_caller_new_to_the_clinic_is_added_from_the_booking_page_and_comes_back_chosen(client, clinic, amara):
    """No match for the caller: "add them" keeps the gap (and the name typed), and saving the new
    client comes back to the same booking page with them chosen, not to the client list."""
    _login(client, "Reception")
    start = datetime(2026, 11, 23, 11, tzinfo=LONDON)
    slot = {"location": clinic.pk, "technician": amara.pk, "start": _z(start)}
    page = client.get(BOOK, {**slot, "q": "Nia Newcaller"}).content.decode()
    assert "No client matches" in page
    add = re.search(r'id="diary-add-client" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    form = client.get(add).content.decode()
    assert re.search(r'name="first_name"[^>]*value="Nia"', form)
    assert re.search(r'name="last_name"[^>]*value="Newcaller"', form)

    response = client.post(
        add,
        {
            "first_name": "Nia",
            "last_name": "Newcaller",
            "email": "nia@example.com",
            "phone": "07700 900555",
            "preferred_channel": "email",
            "reminders_opt_in": "on",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    nia = Client.objects.get(email="nia@example.com")
    back = response["Location"]
    assert back.startswith(f"{BOOK}?")
    page = client.get(back).content.decode()
    assert "Book Amara at A Manchester, Monday 23 November 2026 at 11:00" in page
    assert f'value="{nia.pk}" id="diary-client-{nia.pk}" checked' in page

    # Anywhere but the diary's booking page, the admin's own redirect stands.
    response = client.post(
        reverse("admin:clients_client_add") + "?next=https://evil.example/",
        {
            "first_name": "Eve",
            "last_name": "Elsewhere",
            "email": "eve@example.com",
            "preferred_channel": "email",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert "evil" not in response["Location"]


def test_booking_a_time_already_taken_says_so_and_offers_the_nearest_free_times(client, clinic, amara):
    _login(client, "Reception")
    start = datetime(2026, 11, 23, 11, tzinfo=LONDON)
    _at(clinic, amara, start + timedelta(minutes=15))
    nora = ClientFactory(first_name="Nora", last_name="Clash")

    response = client.post(BOOK, _book_data(clinic, amara, start, nora))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Amara is not free for that long at 11:00 on Mon 23/11" in html
    assert "Nearest free times" in html
    assert "/diary/book/?location=" in html
    assert not Appointment.objects.filter(client=nora).exists()
    assert not AuditEvent.objects.exists()


def test_booking_without_a_client_or_in_the_past_is_refused_with_a_message(client, clinic, amara):
    _login(client, "Reception")
    data = _book_data(clinic, amara, datetime(2026, 11, 23, 11, tzinfo=LONDON), ClientFactory())
    data["client"] = ""
    assert "Choose the client" in client.post(BOOK, data).content.decode()
    past = _book_data(clinic, amara, NOW - timedelta(hours=1), ClientFactory())
    assert "That time has passed" in client.post(BOOK, past).content.decode()
    session = _book_data(
        clinic,
        amara,
        datetime(2026, 11, 23, 11, tzinfo=LONDON),
        ClientFactory(),
        kind=Appointment.Kind.TREATMENT_SESSION,
    )
    assert "A treatment session needs a treatment." in client.post(BOOK, session).content.decode()
    far = _book_data(clinic, amara, datetime(2040, 1, 2, 11, tzinfo=LONDON), ClientFactory())
    assert "Choose a time within 5 years of today." in client.post(BOOK, far).content.decode()
    assert not Appointment.objects.exists()


def test_booking_a_technician_for_what_they_do_not_do_says_why(client, clinic, amara):
    _login(client, "Reception")
    start = datetime(2026, 11, 23, 11, tzinfo=LONDON)
    elsewhere = TechnicianFactory(display_name="Away", locations=[LocationFactory()])
    html = client.post(BOOK, _book_data(clinic, elsewhere, start, ClientFactory())).content.decode()
    assert "Away does not work at A Manchester" in html
    hairline = TreatmentFactory(name="Hairline design")
    session = _book_data(clinic, amara, start, ClientFactory(), kind=Appointment.Kind.TREATMENT_SESSION)
    html = client.post(BOOK, {**session, "treatment": hairline.pk}).content.decode()
    assert "Amara does not offer Hairline design" in html
    assert not Appointment.objects.exists()


def test_finding_a_client_lists_them_to_choose_without_booking(client, clinic, amara):
    _login(client, "Reception")
    ClientFactory(first_name="Priya", last_name="Shah", email="priya@example.com", phone="07700 900123")
    data = _book_data(clinic, amara, datetime(2026, 11, 23, 11, tzinfo=LONDON), ClientFactory())
    data.pop("book")
    data.update(client="", q="shah", find="1")
    html = client.post(BOOK, data).content.decode()
    # The number as reception reads it, not as it is stored (+447700900123).
    assert "Priya Shah, priya@example.com, 07700 900123" in html
    assert not Appointment.objects.exists()
    fragment = client.get("/admin/bookings/appointment/diary/clients/", {"q": "priya"}).content.decode()
    assert 'id="diary-results"' in fragment
    assert "Priya Shah" in fragment


# Moving ------------------------------------------------------------------------------


def test_moving_an_appointment_to_another_technician_and_time(client, clinic, amara, ben):
    desk = _login(client, "Reception")
    appointment = _at(clinic, amara, datetime(2026, 11, 23, 11, tzinfo=LONDON))

    # Move mode: every free cell links to the move page for that time and technician.
    html = client.get(DIARY, {"date": "2026-11-23", "move": appointment.pk}).content.decode()
    link = next(g for g in _gaps(html) if f"technician={ben.pk}&start=2026-11-23T14:00Z" in g)
    assert link.startswith(MOVE(appointment.pk))
    page = client.get(link).content.decode()
    assert 'value="14:00"' in page
    assert 'value="2026-11-23"' in page

    response = client.post(MOVE(appointment.pk), {"date": "2026-11-23", "time": "14:00", "technician": ben.pk})

    assert response.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.technician, appointment.start) == (ben, datetime(2026, 11, 23, 14, tzinfo=LONDON))
    event = AuditEvent.objects.get(object_type="appointment", object_id=str(appointment.pk))
    assert (event.actor, event.detail) == (desk, "moved")
    assert ClientMessage.objects.filter(appointment=appointment, kind=ClientMessage.Kind.MOVED).exists()


def test_moving_onto_a_taken_time_is_a_clear_message_and_changes_nothing(client, clinic, amara, ben):
    _login(client, "Reception")
    appointment = _at(clinic, amara, datetime(2026, 11, 23, 11, tzinfo=LONDON))
    _at(clinic, ben, datetime(2026, 11, 23, 14, tzinfo=LONDON))

    response = client.post(MOVE(appointment.pk), {"date": "2026-11-23", "time": "14:15", "technician": ben.pk})

    assert response.status_code == 200
    assert "Ben is not free for this appointment&#x27;s 45 minutes at 14:15" in response.content.decode()
    appointment.refresh_from_db()
    assert (appointment.technician, appointment.start.hour) == (amara, 11)
    assert not AuditEvent.objects.exists()


def test_a_completed_appointment_cannot_be_moved(client, clinic, amara):
    _login(client, "Reception")
    done = _at(clinic, amara, NOW - timedelta(hours=2), S.COMPLETED)
    html = client.get(DIARY).content.decode()
    assert f"move={done.pk}" not in html
    assert client.get(DIARY, {"move": done.pk}).status_code == 400
    response = client.post(MOVE(done.pk), {"date": "2026-11-23", "time": "14:00", "technician": amara.pk})
    assert response.status_code == 200
    assert "cannot be moved" in response.content.decode()


# Bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"date": "garbage"},
        {"date": "2026-13-45"},
        {"date": "9999-12-31"},
        {"location": "999"},
        {"location": "abc"},
        {"view": "month"},
        {"move": "abc"},
        {"move": "999999"},
        {"date": "2026-11-20\x00"},
    ],
)
def test_bad_diary_parameters_are_a_400(client, clinic, amara, query):
    _login(client, "Reception")
    response = client.get(DIARY, query)
    assert response.status_code == 400


@pytest.mark.parametrize("day", ["0002-01-01", "9998-12-24"])
@pytest.mark.parametrize("view", ["day", "week"])
def test_the_first_and_last_days_allowed_still_draw(client, clinic, amara, day, view):
    _login(client, "Reception")
    response = client.get(DIARY, {"date": day, "view": view})
    assert response.status_code == 200
    for link in _gaps(response.content.decode())[:1]:  # far ahead: the page opens, booking says why not
        assert client.get(link).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"start": "garbage"},
        {"start": "2026-11-23T11:00"},
        {"start": "0001-01-01T00:00Z"},
        {"technician": "999"},
        {"location": "999"},
        {"start": None},
    ],
)
def test_bad_booking_links_are_a_400(client, clinic, amara, query):
    _login(client, "Reception")
    params = {"location": clinic.pk, "technician": amara.pk, "start": "2026-11-23T11:00Z", **query}
    response = client.get(BOOK, {k: v for k, v in params.items() if v is not None})
    assert response.status_code == 400
    response = client.post(
        BOOK, {**_book_data(clinic, amara, NOW, ClientFactory()), **{k: v or "" for k, v in query.items()}}
    )
    assert response.status_code == 400
    assert not Appointment.objects.exists()


def test_bad_move_input_is_a_400_or_a_form_error(client, clinic, amara):
    _login(client, "Reception")
    appointment = _at(clinic, amara, datetime(2026, 11, 23, 11, tzinfo=LONDON))
    assert client.get(MOVE(99999999)).status_code == 400
    assert client.get(MOVE(99999999999999)).status_code == 400
    assert client.get(MOVE(appointment.pk), {"start": "garbage"}).status_code == 400
    response = client.post(MOVE(appointment.pk), {"date": "garbage", "time": "25:00", "technician": "x"})
    assert response.status_code == 200
    assert response.content.decode().count('class="errornote"') == 3
    assert client.get(MOVE(appointment.pk), {"technician": "abc"}).status_code == 200


def test_a_repeat_no_show_carries_a_badge_on_their_block(client, clinic, amara):
    _login(client, "Reception")
    booked = _at(clinic, amara, NOW.replace(hour=10, minute=0), first="Repeat")
    for days in (30, 60):
        AppointmentFactory(
            client=booked.client,
            location=clinic,
            technician=amara,
            start=NOW - timedelta(days=days),
            end=NOW - timedelta(days=days) + timedelta(minutes=45),
            status=S.NO_SHOW,
        )
    _at(clinic, amara, NOW.replace(hour=14, minute=0), first="Reliable")

    html = client.get(DIARY, {"date": "2026-11-20"}).content.decode()

    assert html.count("no-shows: 2") == 1
    assert "no-shows: 2" in html[html.index("Repeat") : html.index("Reliable")]


def test_the_summary_counts_the_no_shows_and_cancellations_listed_under_the_grid(client, clinic, amara):
    """The day board counts a no-show among the day's appointments; the diary lists it under the
    grid, so its count says so rather than looking one short."""
    _login(client, "Reception")
    _at(clinic, amara, NOW.replace(hour=9, minute=0), status=S.NO_SHOW)
    _at(clinic, amara, NOW.replace(hour=11, minute=0))
    _at(clinic, amara, NOW.replace(hour=14, minute=0), status=S.CANCELLED)
    _at(clinic, amara, NOW.replace(hour=15, minute=0), status=S.CANCELLED)

    html = client.get(DIARY, {"date": "2026-11-20"}).content.decode()

    assert "1 appointment at A Manchester on the grid, and 1 no-show and 2 cancelled listed below." in html


# Queries -----------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["day", "week"])
def test_the_diary_costs_the_same_queries_for_1_or_30_appointments(client, clinic, django_assert_max_num_queries, view):
    _login(client, "Reception")
    technicians = [technician_working(location=clinic, display_name=f"T{i}") for i in range(3)]
    BreakFactory(technician=technicians[0], weekday=4)

    def add(numbers):
        for i in numbers:
            day = NOW.replace(hour=9, minute=0) + timedelta(days=(i % 3) if view == "week" else 0)
            _at(clinic, technicians[i % 3], day + timedelta(minutes=45 * (i // 3)), first=f"C{i}", minutes=30)

    counts = []
    for numbers, total in ((range(1), 1), (range(1, 30), 30)):
        add(numbers)
        # Session, user, permissions (user + groups); locations, technicians, appointments with
        # their clients, working hours, breaks, time off, closures, opening hours, booking policy,
        # the clients' no-show counts.
        with django_assert_max_num_queries(14) as queries:
            response = client.get(DIARY, {"view": view, "date": "2026-11-20"})
        assert response.content.decode().count('class="diary-block-client"') == total
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_the_booking_page_costs_the_same_queries_for_1_or_15_clients_found(
    client, clinic, amara, django_assert_max_num_queries
):
    _login(client, "Reception")
    params = {"location": clinic.pk, "technician": amara.pk, "start": "2026-11-23T11:00Z", "q": "Jones"}
    counts = []
    for number, total in ((1, 1), (14, 15)):
        for _ in range(number):
            ClientFactory(last_name="Jones")
        # The search's own 9, and the technician's day, to start the form on a kind that fits
        # (the schedules in one query on PostgreSQL, five elsewhere).
        with django_assert_max_num_queries(9 + SCHEDULE_QUERIES) as queries:
            response = client.get(BOOK, params)
        assert response.content.decode().count('name="client" value=') == total
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]
