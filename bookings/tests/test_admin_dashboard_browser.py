"""The dashboard in real Chromium: Chart.js (served from static/) draws every chart from the JSON
element under the strict CSP, each chart's table opens beneath it, and axe finds nothing serious,
on a phone and on a desk."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings.models import Appointment, ClientMessage
from bookings.tests.factories import AppointmentFactory, ClientMessageFactory, CourseFactory, LocationFactory
from clients.tests.factories import staff_user
from conftest import DESKTOP, PHONE, axe_violations
from smpclinic.tests.logins import totp_code, totp_device_for
from treatments.models import Treatment
from treatments.tests.factories import PriceGuideFactory, TreatmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 6, 10, 10, 30, tzinfo=LONDON)
CHARTS = ("appointments", "rates", "revenue", "touchups", "aftercare")
# Every Content Security Policy violation on the page, whether or not the console reports it.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def _clinic() -> None:
    K, S = Appointment.Kind, Appointment.Status
    here = LocationFactory(name="Manchester", order=0)
    hairline = TreatmentFactory(name="Hairline design", slug="hairline")
    touch_up = TreatmentFactory(name="Touch-up", slug="touch-up", category=Treatment.Category.TOUCH_UP)
    PriceGuideFactory(treatment=touch_up, band="small", price_from_minor=10000)
    course = CourseFactory(treatment=hairline, planned_sessions=2, price_agreed_minor=160000)
    for weeks, kind, status in [
        (1, K.CONSULTATION, S.COMPLETED),
        (2, K.CONSULTATION, S.NO_SHOW),
        (3, K.TREATMENT_SESSION, S.COMPLETED),
        (4, K.TOUCH_UP, S.COMPLETED),
        (5, K.CONSULTATION, S.CANCELLED),
    ]:
        start = NOW - timedelta(weeks=weeks)
        appointment = AppointmentFactory(
            location=here,
            start=start,
            end=start + timedelta(hours=2),
            kind=kind,
            status=status,
            treatment=touch_up if kind == K.TOUCH_UP else hairline if kind == K.TREATMENT_SESSION else None,
            course=course if kind == K.TREATMENT_SESSION else None,
            completed_at=start if status == S.COMPLETED else None,
            cancelled_at=start - timedelta(hours=1) if status == S.CANCELLED else None,
            # Recorded as the cancel service records an hour's notice: late (the dashboard reads the flag).
            late_cancellation=status == S.CANCELLED,
            cancelled_via=Appointment.CancelledVia.STAFF if status == S.CANCELLED else "",
        )
        if kind == K.TREATMENT_SESSION:
            ClientMessageFactory(
                appointment=appointment,
                due_at=start + timedelta(days=4),
                status=ClientMessage.Status.SENT,
                sent_at=start + timedelta(days=4),
            )
    # A course that ended two years ago: its touch-up falls due next month.
    ended = CourseFactory(treatment=hairline, planned_sessions=1)
    start = NOW - timedelta(days=700)
    AppointmentFactory(
        location=here,
        client=ended.client,
        start=start,
        end=start + timedelta(hours=2),
        kind=K.TREATMENT_SESSION,
        status=S.COMPLETED,
        completed_at=start,
        course=ended,
        session_number=1,
    )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_dashboard_draws_its_charts_under_the_csp_and_is_axe_clean(page_factory, live_server, viewport):
    with time_machine.travel(NOW, tick=True):
        _clinic()
        user = staff_user(role="Manager", username="boss")
        device = totp_device_for(user)
        page = page_factory(viewport=viewport)
        page.add_init_script(CSP_LISTENER)
        errors = []
        page.on("console", lambda m: errors.append((m.location["url"], m.text)) if m.type == "error" else None)
        page.goto(live_server.url + "/admin/login/?next=/admin/dashboard/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        # A manager shows the second factor: the code their authenticator app shows now.
        page.wait_for_url("**/accounts/two-factor/?*")
        page.get_by_label("6-digit code").fill(totp_code(device))
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url("**/admin/dashboard/")

        for chart in CHARTS:
            page.wait_for_selector(f"#chart-{chart}[data-drawn=true]", state="attached")
        assert page.locator("canvas[data-chart]").count() == len(CHARTS)
        for chart in CHARTS:
            # Chart.js sized the canvas to its box: it drew something, not a 0 x 0 placeholder.
            assert page.locator(f"#chart-{chart}").evaluate("c => c.width > 0 && c.height > 0")

        table = page.locator("#table-appointments")
        assert not table.is_visible()
        page.locator("#appointments-heading ~ details summary").click()
        assert table.is_visible()
        assert "Total" in table.inner_text()

        assert page.locator("#card-touch-ups dd").inner_text() == "1"
        # The one cancellation, recorded late: counted over the five appointments.
        assert page.locator("#card-late dd").inner_text().split() == ["20.0%", "(1", "of", "5)"]
        assert page.evaluate("window.__cspViolations") == []
        # Chromium asks for /favicon.ico, which the project does not have (every page gets that 404).
        assert [e for e in errors if not e[0].endswith("/favicon.ico")] == []
        assert axe_violations(page) == []
