"""The CSV export of appointments and clients in the admin: what is in the file, who may take it,
that it is audited, and that its cost does not grow with the rows."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from bookings.exports import BOM, cell
from bookings.tests.factories import AppointmentFactory, LocationFactory, TechnicianFactory
from clients.models import AuditEvent
from clients.tests.factories import ClientFactory, staff_user

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
URL = "/admin/bookings/appointment/export/"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock(frozen_now):
    return frozen_now


@pytest.fixture
def london():
    return LocationFactory(name="Manchester", slug="manchester", time_zone="Europe/London")


@pytest.fixture
def new_york():
    return LocationFactory(name="Manhattan", slug="manhattan", time_zone="America/New_York")


@pytest.fixture
def reception(client):
    user = staff_user(role="Reception")
    client.force_login(user)
    return user


def _post(client, **data):
    return client.post(URL, {"what": "appointments", "date_from": "2027-01-01", "date_to": "2027-01-10", **data})


def _rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith(BOM)
    return list(csv.reader(io.StringIO(body[len(BOM) :])))


def test_the_url_is_the_appointment_admins():
    assert reverse("admin:bookings_appointment_export") == URL


def test_reception_downloads_the_appointments_of_the_period_on_each_locations_clock(
    client, reception, london, new_york
):
    ann = ClientFactory(first_name="Ann", last_name="Lee", email="ann@example.com", phone="07700 900001")
    first = AppointmentFactory(client=ann, location=london, start=datetime(2027, 1, 10, 9, tzinfo=LONDON))
    # 23:30 on the 10th in New York is 04:30 on the 11th in UTC and in London: still the 10th there.
    late = AppointmentFactory(location=new_york, start=datetime(2027, 1, 10, 23, 30, tzinfo=NEW_YORK))
    AppointmentFactory(location=london, start=datetime(2027, 1, 11, 0, 30, tzinfo=LONDON))
    AppointmentFactory(location=new_york, start=datetime(2026, 12, 31, 23, 30, tzinfo=NEW_YORK))

    response = _post(client)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="appointments_2027-01-01_2027-01-10.csv"'
    header, *rows = _rows(response)
    assert header[:6] == ["reference", "date", "start", "end", "time_zone", "location"]
    assert [r[0] for r in rows] == [first.reference, late.reference]
    assert rows[0][1:6] == ["2027-01-10", "09:00", "09:45", "Europe/London", "Manchester"]
    assert rows[1][1:6] == ["2027-01-10", "23:30", "00:15", "America/New_York", "Manhattan"]
    named = dict(zip(header, rows[0], strict=True))
    assert named["client_id"] == str(ann.pk)
    assert (named["client_first_name"], named["client_email"], named["client_phone"]) == (
        "Ann",
        "ann@example.com",
        "07700 900001",
    )
    assert "staff_notes" not in header


def test_a_location_narrows_the_export_and_names_the_file(client, reception, london, new_york):
    here = AppointmentFactory(location=london, start=datetime(2027, 1, 5, 9, tzinfo=LONDON))
    AppointmentFactory(location=new_york, start=datetime(2027, 1, 5, 9, tzinfo=NEW_YORK))

    response = _post(client, location=london.pk)

    assert response["Content-Disposition"] == 'attachment; filename="appointments_2027-01-01_2027-01-10_manchester.csv"'
    assert [r[0] for r in _rows(response)[1:]] == [here.reference]


def test_the_clients_export_lists_each_client_seen_once_with_their_count(client, reception, london):
    regular, once, elsewhere_in_time = (
        ClientFactory(last_name="Adams"),
        ClientFactory(last_name="Brown"),
        ClientFactory(),
    )
    erased = ClientFactory(last_name="Cole", erased_at=datetime(2026, 12, 1, tzinfo=LONDON))
    technician = TechnicianFactory(locations=[london])
    for day, who in [(2, regular), (3, regular), (4, once), (5, erased)]:
        AppointmentFactory(
            client=who, location=london, technician=technician, start=datetime(2027, 1, day, 9, tzinfo=LONDON)
        )
    AppointmentFactory(client=regular, location=london, start=datetime(2027, 2, 1, 9, tzinfo=LONDON))
    AppointmentFactory(client=elsewhere_in_time, location=london, start=datetime(2027, 3, 1, 9, tzinfo=LONDON))

    response = _post(client, what="clients")

    assert response["Content-Disposition"] == 'attachment; filename="clients_2027-01-01_2027-01-10.csv"'
    header, *rows = _rows(response)
    counts = {r[header.index("client_id")]: r[header.index("appointments_in_period")] for r in rows}
    assert counts == {str(regular.pk): "2", str(once.pk): "1"}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+44 7700", "'+44 7700"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Ann", "Ann"),
        ("a=b", "a=b"),
        (None, ""),
        (3, "3"),
    ],
)
def test_a_cell_a_spreadsheet_would_read_as_a_formula_is_neutralised(value, written):
    assert cell(value) == written


def test_formulas_typed_into_a_record_reach_the_file_as_text(client, reception, london):
    sly = ClientFactory(first_name='=HYPERLINK("http://evil","x")', last_name="@cmd", phone="+14155550100")
    AppointmentFactory(client=sly, location=london, start=datetime(2027, 1, 5, 9, tzinfo=LONDON))

    for what, first, last, phone in [
        ("appointments", "client_first_name", "client_last_name", "client_phone"),
        ("clients", "first_name", "last_name", "phone"),
    ]:
        header, row = _rows(_post(client, what=what))
        named = dict(zip(header, row, strict=True))
        assert named[first] == '\'=HYPERLINK("http://evil","x")'
        assert named[last] == "'@cmd"
        # UK numbers are written in national format; a foreign one keeps its "+", so it is neutralised.
        assert named[phone] == "'+1 415-555-0100"


def test_every_export_is_in_the_audit_trail_with_its_filters(client, reception, london):
    _post(client, location=london.pk)
    _post(client, what="clients", date_from="2027-02-01", date_to="2027-02-28")

    events = list(AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).order_by("id"))
    assert [(e.actor, e.object_type, e.client_id_ref) for e in events] == [
        (reception, "appointment_csv", None),
        (reception, "client_csv", None),
    ]
    assert events[0].detail == f"csv from=2027-01-01 to=2027-01-10 location={london.pk}"
    assert events[1].detail == "csv from=2027-02-01 to=2027-02-28 location=all"
    assert "client_email" in events[0].fields


@pytest.mark.parametrize("rows", [2, 50])
@pytest.mark.parametrize("what", ["appointments", "clients"])
def test_the_export_costs_the_same_queries_for_2_or_50_rows(
    client, reception, london, new_york, django_assert_max_num_queries, rows, what
):
    start = datetime(2027, 1, 1, 9, tzinfo=LONDON)
    technician = TechnicianFactory(locations=[london, new_york])
    for n in range(rows):
        AppointmentFactory(location=(london, new_york)[n % 2], technician=technician, start=start + timedelta(hours=n))

    # Session, user, the user's and groups' permissions, the locations' zones, the audit row,
    # the rows (one streamed query): 7, whatever the number of rows.
    with django_assert_max_num_queries(7):
        body = _rows(_post(client, what=what))
    assert len(body) == rows + 1


def test_a_user_without_the_permission_is_refused_and_a_stranger_sent_to_log_in(client, london):
    technician = staff_user(role="Technician")
    technician.is_staff = True  # even with the admin open to them, the export is not
    technician.save(update_fields=["is_staff"])
    client.force_login(technician)
    assert client.get(URL).status_code == 403
    assert _post(client).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()

    client.logout()
    for response in (client.get(URL), _post(client)):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_reception_and_managers_hold_the_permission_technicians_do_not():
    staff_user(role="Technician")  # the roles exist
    holders = set(
        Group.objects.filter(
            permissions__codename="export_appointments", permissions__content_type__app_label="bookings"
        ).values_list("name", flat=True)
    )
    assert holders == {"Reception", "Manager"}


def test_the_lists_link_to_the_export_for_those_allowed(client, reception):
    for changelist, what in [
        ("admin:bookings_appointment_changelist", "appointments"),
        ("admin:clients_client_changelist", "clients"),
    ]:
        page = client.get(reverse(changelist))
        assert page.status_code == 200
        assert f'href="{URL}?what={what}"' in page.content.decode()

    technician = staff_user(role="Technician")
    technician.is_staff = True
    technician.save(update_fields=["is_staff"])
    client.force_login(technician)
    page = client.get(reverse("admin:bookings_appointment_changelist"))
    assert page.status_code == 200
    assert URL not in page.content.decode()


def test_the_form_page_opens_on_the_chosen_export(client, reception):
    page = client.get(URL + "?what=clients")
    assert page.status_code == 200
    assert '<option value="clients" selected>' in page.content.decode()


def test_the_form_opens_on_this_month_so_far_in_the_date_pickers_format(client, reception, frozen_now):
    today = timezone.localdate(frozen_now)
    html = client.get(URL).content.decode()
    assert f'name="date_from" value="{today.replace(day=1):%Y-%m-%d}"' in html
    assert f'name="date_to" value="{today:%Y-%m-%d}"' in html


@pytest.mark.parametrize(
    ("date_from", "date_to", "field", "code"),
    [
        ("2027-02-30", "2027-03-01", "date_from", "invalid"),
        ("soon", "2027-03-01", "date_from", "invalid"),
        ("99999-01-01", "2027-03-01", "date_from", "invalid"),
        ("2027-03-02", "2027-03-01", "date_to", "date_order"),
        ("2027-01-01", "2028-01-02", "date_to", "period_too_long"),
        ("1999-12-31", "2000-01-05", "date_from", "date_out_of_range"),
        ("2099-12-01", "9999-12-31", "date_to", "date_out_of_range"),
    ],
)
def test_bad_dates_are_a_form_error_not_a_file(client, reception, date_from, date_to, field, code):
    response = _post(client, date_from=date_from, date_to=date_to)

    assert response.status_code == 400
    form = response.context["form"]
    assert [e.code for e in form.errors.as_data()[field]] == [code]
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def test_a_leap_year_fits_in_one_export(client, reception):
    response = _post(client, date_from="2028-01-01", date_to="2028-12-31")
    assert response.status_code == 200
    assert _rows(response)[1:] == []


def test_an_unknown_location_or_export_is_a_form_error(client, reception):
    assert _post(client, location="999999").status_code == 400
    assert _post(client, what="everything").status_code == 400


def test_roles_made_again_after_a_flush_keep_the_export_permission():
    from clients.roles import roles_ensure

    Group.objects.all().delete()
    roles_ensure()

    assert Group.objects.get(name="Reception").permissions.filter(codename="export_appointments").exists()
    assert not Group.objects.get(name="Technician").permissions.filter(codename="export_appointments").exists()
