"""The client's session record on a phone, in real Chromium: readable, accessible, no CSP errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookings.models_stock import Product
from bookings.services.stock import BatchUse, session_note_record
from bookings.stock_selectors import session_day
from bookings.tests.factories import BatchFactory, ProductFactory
from bookings.tokens import session_record_token_make
from conftest import PHONE, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# At 320 pixels the pigment table scrolls sideways: its scroller must take the keyboard's focus.
@pytest.mark.parametrize("viewport", [PHONE, {"width": 320, "height": 640}], ids=["phone", "small-phone"])
def test_the_session_record_reads_on_a_phone_and_passes_axe(page_factory, live_server, clinic, viewport):
    day = session_day(clinic["session"])
    needle = ProductFactory(kind=Product.Kind.NEEDLE, brand="Sharp", shade="1RL 0.18 mm")
    pigment = BatchFactory(
        location=clinic["here"], product=ProductFactory(brand="Acme", shade="Shade 2"), lot_number="A2-9"
    )
    point = BatchFactory(location=clinic["here"], product=needle, lot_number="N-55", expires_on=day + timedelta(days=9))
    session_note_record(
        appointment=clinic["session"],
        data={"areas": ["crown"]},
        uses=[BatchUse(pigment), BatchUse(point)],
        by=clinic["technician"].user,
    )
    page = page_factory(viewport=viewport)
    url = f"{live_server.url}/booking/record/{session_record_token_make(appointment=clinic['session'])}/"
    assert page.goto(url).status == 200
    assert page.get_by_role("heading", name="Pigments and needles used").is_visible()
    assert page.get_by_role("cell", name="A2-9").is_visible()
    assert page.get_by_role("cell", name="N-55").is_visible()
    # Nothing wider than the phone's screen but the table's own scroller.
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []
    assert axe_violations(page) == []
