from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from PIL import Image, ImageChops

from bookings.models import Appointment, ClientMessage, Closure, Course, Location, Technician, WorkingHours
from bookings.services.messaging import (
    AFTERCARE_DAYS,
    SCHEDULED_KINDS,
    TREATED_KINDS,
    message_preview,
    message_render,
    owed_kinds,
    reminders_sync,
    wording_table,
)
from bookings.services.outbox import reminders_dispatch
from clients.models import AuditEvent, Client, Photo, SessionNote
from smpclinic.demo_photos import scalp_pair
from treatments.models import PriceGuide, Treatment

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
# A Wednesday afternoon: the morning's appointments are done, the afternoon's are in the chair.
WEDNESDAY = datetime(2026, 11, 25, 14, 30, tzinfo=LONDON)
Status = Appointment.Status
Sent, Pending, Failed = ClientMessage.Status.SENT, ClientMessage.Status.PENDING, ClientMessage.Status.FAILED


def snapshot() -> dict[str, list]:
    return {
        model._meta.label: sorted(map(repr, model.objects.values()))
        for model in apps.get_models()
        if model._meta.app_label in {"treatments", "clients", "bookings", "auth"}
    }


@pytest.fixture
def demo(settings, clock_stopped):
    """Seeded on whatever day the run is on (the real clock, or --clock's)."""
    call_command("seed_demo", verbosity=0)


def seeded_at(moment: datetime):
    traveller = time_machine.travel(moment, tick=False)
    traveller.start()
    call_command("seed_demo", verbosity=0)
    return traveller


@pytest.fixture
def wednesday(settings):
    traveller = seeded_at(WEDNESDAY)
    yield WEDNESDAY
    traveller.stop()


def changed(diff: Image.Image, *, over: int) -> int:
    """How many pixels of a greyscale difference are above `over`."""
    return sum(diff.histogram()[over + 1 :])


def test_the_demo_sessions_used_batches_in_date_and_a_recalled_lot_reaches_every_location(demo):
    from bookings.models_stock import Batch, SessionBatch
    from bookings.stock_selectors import recall_search, session_day
    from smpclinic.demo import RECALLED_LOT

    for location in Location.objects.all():
        assert Batch.objects.filter(location=location, recalled_at__isnull=True, is_legacy=False).count() >= 4
    uses = SessionBatch.objects.select_related("batch", "session_note__appointment__location")
    assert uses.values("session_note").distinct().count() == SessionNote.objects.count()
    for use in uses:
        appointment = use.session_note.appointment
        assert use.batch.location_id == appointment.location_id
        assert use.batch.received_on <= session_day(appointment) <= use.batch.expires_on
    result = recall_search(RECALLED_LOT.lower())
    assert result.clients
    assert len({s.appointment.location_id for c in result.clients for s in c.sessions}) == 3


def working_days_this_week(technician: Technician, today) -> list:
    monday = today - timedelta(days=today.weekday())
    weekdays = set(WorkingHours.objects.filter(technician=technician).values_list("weekday", flat=True))
    closed = set(Closure.objects.values_list("start_date", flat=True))
    days = [monday + timedelta(days=n) for n in range(7)]
    return [d for d in days if d.weekday() in weekdays and d not in closed]


def test_the_demo_clinic_has_what_the_design_promises(demo):
    assert set(Location.objects.values_list("city", flat=True)) == {"Manchester", "Preston", "Nottingham"}
    assert Technician.objects.count() == 6
    assert WorkingHours.objects.values("technician").distinct().count() == 6
    for location in Location.objects.all():
        assert WorkingHours.objects.filter(location=location).values("technician").distinct().count() >= 2, location
    assert set(Treatment.objects.values_list("category", flat=True)) == set(Treatment.Category.values)
    assert PriceGuide.objects.filter(location__isnull=False).exists()
    assert Client.objects.count() > 150
    assert Appointment.objects.filter(kind="consultation").count() > 100
    assert Appointment.objects.filter(kind="session", status="completed").exists()
    assert Appointment.objects.filter(kind="touch_up", status="completed").exists()
    assert Appointment.objects.filter(status="booked").exists()
    assert SessionNote.objects.exists()
    photo = Photo.objects.first()
    assert photo is not None
    with photo.image.open("rb") as fh:
        assert fh.read(3) == b"\xff\xd8\xff"


def test_it_never_double_books_a_technician(demo):
    seen = []
    for appointment in Appointment.objects.filter(status__in=Appointment.ACTIVE_STATUSES).order_by(
        "technician", "start"
    ):
        if seen and seen[-1].technician_id == appointment.technician_id:
            assert appointment.start >= seen[-1].end
        seen.append(appointment)


def test_seeding_twice_changes_nothing(demo):
    before = snapshot()
    call_command("seed_demo", verbosity=0)
    assert snapshot() == before


def test_the_admin_accepts_the_demo_login_and_lists_the_seeded_data(demo, client, settings):
    from io import StringIO

    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert client.login(username=settings.DEMO_STAFF_USERNAME, password=settings.DEMO_STAFF_PASSWORD)
    # The demo manager shows the real second factor: the code from the published demo secret.
    to_code = client.get(reverse("admin:index"))
    assert to_code["Location"].startswith(reverse("accounts:otp_verify"))
    out = StringIO()
    call_command("demo_totp_code", stdout=out)
    device = TOTPDevice.objects.get(user__username=settings.DEMO_STAFF_USERNAME)
    verified = client.post(reverse("accounts:otp_verify"), {"device": device.persistent_id, "token": out.getvalue()})
    assert verified.status_code == 302
    for name in [
        "clients_client",
        "bookings_appointment",
        "treatments_treatment",
        "bookings_location",
        "bookings_clientmessage",
    ]:
        response = client.get(reverse(f"admin:{name}_changelist"))
        assert response.status_code == 200
    response = client.get(reverse("admin:bookings_location_changelist"))
    assert b"Nottingham" in response.content


def test_the_demo_reception_login_opens_the_admin(demo, client, settings):
    assert client.login(username="reception", password=settings.DEMO_STAFF_PASSWORD)
    assert client.get(reverse("admin:bookings_appointment_changelist")).status_code == 200


def test_the_demo_code_command_needs_the_demo_device(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="seed_demo"):
        call_command("demo_totp_code")


def test_the_home_page_lists_the_catalogue(demo, client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Hairline design" in response.content
    assert b"Preston" in response.content


def test_every_technician_has_a_session_to_open_within_days_of_seeding(demo):
    today = timezone.localdate()
    for technician in Technician.objects.all():
        upcoming = Appointment.objects.filter(
            technician=technician,
            kind="session",
            status__in=["booked", "confirmed"],
            start__date__gte=today,
            start__date__lte=today + timedelta(days=7),
        )
        assert upcoming.exists(), technician


# The diary at a fixed moment -------------------------------------------------------------


def test_aftercare_is_sent_for_past_sessions_and_due_for_recent_ones(wednesday):
    aftercare = ClientMessage.objects.filter(kind__in=AFTERCARE_DAYS)
    assert aftercare.filter(status=Sent, sent_at__lt=wednesday).count() > 50
    due = aftercare.filter(status=Pending)
    assert due.filter(due_at__gt=wednesday).exists()  # the coming days'
    assert due.filter(due_at__lte=wednesday).exists()  # the worker sends these as soon as it starts
    # Each sent message went at its due time, never before.
    for row in aftercare.filter(status=Sent)[:200]:
        assert row.sent_at == row.due_at <= wednesday
    # Today's completed sessions owe their day 4, 7 and 10 messages through the completion service.
    done_today = Appointment.objects.filter(
        kind__in=TREATED_KINDS, status=Status.COMPLETED, start__date=wednesday.date()
    ).first()
    assert done_today is not None
    assert set(done_today.messages.filter(status=Pending).values_list("kind", flat=True)) >= set(AFTERCARE_DAYS)


def test_upcoming_reminders_are_pending_and_past_ones_sent(wednesday):
    reminders = ClientMessage.objects.filter(kind=ClientMessage.Kind.REMINDER_48H)
    assert reminders.filter(status=Pending, due_at__gt=wednesday, appointment__start__gt=wednesday).count() > 10
    assert reminders.filter(status=Sent).exists()


def test_a_no_show_today_is_recorded_with_who_and_when(wednesday):
    missed = Appointment.objects.get(status=Status.NO_SHOW, start__date=wednesday.date())
    assert missed.status_changed_by.username == "reception"
    assert missed.status_changed_at == wednesday
    assert AuditEvent.objects.filter(object_type="appointment", object_id=missed.pk).exists()
    assert Appointment.objects.filter(status=Status.NO_SHOW, start__lt=wednesday - timedelta(days=7)).exists()


def test_every_technician_works_a_full_week(wednesday):
    today = wednesday.date()
    for technician in Technician.objects.all():
        days = working_days_this_week(technician, today)
        assert days, technician
        for day in days:
            held = Appointment.objects.filter(technician=technician, start__date=day).exclude(status=Status.CANCELLED)
            assert held.exists(), (technician, day)
            minutes = sum(a.duration_minutes for a in held)
            # 09:00-17:30 less the 45-minute break: 465 minutes; most of it is booked.
            assert minutes >= 465 / 2, (technician, day, minutes)
    kinds = set(Appointment.objects.filter(start__date=today).values_list("kind", flat=True))
    assert kinds == {"consultation", "session", "touch_up"}
    statuses = set(Appointment.objects.filter(start__date=today).values_list("status", flat=True))
    assert {Status.COMPLETED, Status.ARRIVED, Status.CONFIRMED, Status.NO_SHOW} <= statuses


def test_there_is_history_for_the_dashboard(wednesday):
    past = Appointment.objects.filter(start__lt=wednesday - timedelta(days=7))
    assert past.filter(start__lt=wednesday - timedelta(weeks=10)).exists()
    consultations = past.filter(kind="consultation", status=Status.COMPLETED)
    converted = consultations.filter(client__courses__isnull=False).distinct().count()
    assert 0.3 < converted / consultations.count() < 0.9
    assert Course.objects.filter(status=Course.Status.COMPLETED).exists()
    assert Course.objects.filter(status=Course.Status.IN_PROGRESS).exists()
    cancelled = list(past.filter(status=Status.CANCELLED))
    late = [a for a in cancelled if a.start - a.cancelled_at < timedelta(hours=48)]
    assert late
    assert len(late) < len(cancelled)
    # Recorded as the cancel service records them: the dashboard and the no-show limit read the flag.
    assert {a.pk for a in cancelled if a.late_cancellation} == {a.pk for a in late}
    assert all(a.cancelled_by_id and a.cancelled_via == "staff" for a in cancelled)
    no_shows = past.filter(status=Status.NO_SHOW)
    assert no_shows.exists()
    assert not no_shows.filter(no_show_marked_at__isnull=True).exists()
    sent = ClientMessage.objects.filter(status=Sent)
    assert sent.filter(kind=ClientMessage.Kind.CONFIRMATION).exists()
    assert sent.filter(kind=ClientMessage.Kind.CANCELLED).exists()
    assert sent.filter(kind__in=AFTERCARE_DAYS, channel="sms").exists()
    failed = ClientMessage.objects.get(status=Failed)
    assert failed.kind in AFTERCARE_DAYS
    assert failed.last_error
    # Bookings were made before their appointments, not on the day of seeding.
    assert not past.filter(created_at__gte=wednesday - timedelta(days=1)).exists()


def test_the_seeded_outbox_is_what_the_services_would_have_written(wednesday):
    completed = Appointment.objects.filter(kind__in=TREATED_KINDS, status=Status.COMPLETED).select_related(
        "client", "location", "course"
    )
    for appointment in completed:
        rows = {
            r.kind: r.due_at
            for r in appointment.messages.all()
            if r.kind in SCHEDULED_KINDS and r.kind != ClientMessage.Kind.REMINDER_48H
        }
        assert rows == owed_kinds(appointment), appointment
    # Re-syncing a sample of every sort of appointment changes no row.
    sample = list(Appointment.objects.order_by("pk")[::15])
    before = snapshot()["bookings.ClientMessage"]
    for appointment in sample:
        reminders_sync(appointment=appointment, now=wednesday)
    assert snapshot()["bookings.ClientMessage"] == before


def test_seeded_messages_link_to_the_address_the_clinic_runs_on(wednesday, settings, mailoutbox):
    settings.SITE_URL = "http://127.0.0.1:8100"
    row = ClientMessage.objects.filter(kind__in=AFTERCARE_DAYS, status=Pending).first()
    rendered = message_render(row)
    links = re.findall(r"https?://[^\s\"'<>]+", rendered["text"] + rendered["html"])
    assert links
    assert all(link.startswith("http://127.0.0.1:8100/") for link in links), links

    # What the worker sends: every due message of the demo, each link on port 8100.
    outcomes = reminders_dispatch(now=wednesday)
    assert outcomes.get("sent", 0) > 0
    for email in mailoutbox:
        body = email.body + "".join(str(content) for content, _ in email.alternatives)
        links = re.findall(r"https?://[^\s\"'<>]+", body)
        assert links, email.subject
        assert all(link.startswith("http://127.0.0.1:8100/") for link in links), (email.subject, links)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2027, 3, 28, 12, 0, tzinfo=LONDON),  # Sunday the clocks go forward
        datetime(2027, 3, 31, 9, 45, tzinfo=LONDON),  # the Wednesday after, Good Friday in the week
        datetime(2027, 10, 31, 0, 30, tzinfo=LONDON),  # the night the clocks go back
    ],
    ids=["clocks-forward", "after-clock-change", "clocks-back-night"],
)
def test_seeding_around_a_clock_change(settings, moment):
    traveller = seeded_at(moment)
    try:
        today = moment.date()
        for technician in Technician.objects.all():
            for day in working_days_this_week(technician, today):
                assert Appointment.objects.filter(technician=technician, start__date=day).exists(), (technician, day)
        # Every appointment sits inside its technician's hours on the London clock.
        for appointment in Appointment.objects.all()[::7]:
            assert appointment.start.astimezone(LONDON).time() >= time(9)
            assert appointment.end.astimezone(LONDON).time() <= time(17, 30)
        # Aftercare goes at 09:00 London time, summer or winter.
        for row in ClientMessage.objects.filter(kind__in=AFTERCARE_DAYS)[::25]:
            assert row.due_at.astimezone(LONDON).time() == time(9)
        assert ClientMessage.objects.filter(kind__in=AFTERCARE_DAYS, status=Sent).exists()
        assert ClientMessage.objects.filter(kind__in=AFTERCARE_DAYS, status=Pending).exists()
        before = snapshot()
        call_command("seed_demo", verbosity=0)
        assert snapshot() == before
    finally:
        traveller.stop()


# The before and after photos -------------------------------------------------------------


def test_before_and_after_differ_only_where_the_pigment_went():
    pair = scalp_pair(2026)
    assert pair.before.size == pair.after.size
    diff = ImageChops.difference(pair.before, pair.after).convert("L")
    left, top, right, bottom = pair.area
    inside = diff.crop(pair.area)
    assert changed(inside, over=0) > 500  # the dots
    outside = diff.copy()
    outside.paste(0, (left, top, right, bottom))
    assert outside.getbbox() is None  # nothing else changed: same skin, same hair
    assert scalp_pair(2026).before.tobytes() == pair.before.tobytes()  # deterministic


@pytest.mark.parametrize("seed", range(2030, 2040))
def test_the_dots_show_on_every_skin_tone(seed):
    pair = scalp_pair(seed)
    inside = ImageChops.difference(pair.before, pair.after).convert("L").crop(pair.area)
    assert changed(inside, over=30) > 0.1 * inside.width * inside.height


def test_the_stored_before_and_after_photos_are_the_same_scalp(demo):
    photos = Photo.objects.filter(phase="before").select_related("client")
    assert photos.count() >= 2
    for before in photos:
        after = Photo.objects.get(client=before.client, phase="after", angle=before.angle)
        with before.image.open("rb") as fh:
            first = Image.open(fh).convert("L")
            first.load()
        with after.image.open("rb") as fh:
            second = Image.open(fh).convert("L")
            second.load()
        assert first.size == second.size
        diff = ImageChops.difference(first, second)
        # JPEG blurs the dots' edges a little: compare the corners (background and hair) and
        # the middle of the head (the thinning patch, where the dots are).
        width, height = first.size
        corner = diff.crop((0, 0, width // 6, height // 6))
        middle = diff.crop((width * 2 // 5, height * 2 // 5, width * 3 // 5, height * 3 // 5))
        assert changed(corner, over=8) == 0
        assert changed(middle, over=12) > 0.1 * middle.width * middle.height


def test_the_outbox_list_of_the_demo_names_clients_and_previews_in_few_queries(
    wednesday, client, settings, django_assert_max_num_queries
):
    client.force_login(get_user_model().objects.get(username="reception"))
    url = reverse("admin:bookings_clientmessage_changelist") + "?status__exact=sent"
    with django_assert_max_num_queries(10):
        response = client.get(url)
    rows = response.context["cl"].result_list
    assert len(rows) == 100  # a full page
    page = response.content.decode()
    table = wording_table()
    for message in rows[:5]:
        subject, text = message_preview(message, table=table)
        assert str(message.appointment.client) in page
        assert escape(subject) in page
        assert escape(text) in page
