"""The browser fixtures wait for the live server's requests before the database is flushed."""

from __future__ import annotations

import threading

import pytest

from smpclinic.tests.inflight import InFlightRequests, wait_idle


def test_wait_idle_waits_for_a_request_still_being_handled():
    started, release = threading.Event(), threading.Event()

    def slow_view(request):
        started.set()
        release.wait(5)
        return "response"

    handler = InFlightRequests(slow_view)
    thread = threading.Thread(target=handler, args=(object(),))
    thread.start()
    assert started.wait(5)
    assert wait_idle(timeout=0.05) is False
    release.set()
    assert wait_idle(timeout=5) is True
    thread.join(5)


def test_a_request_that_raises_still_counts_as_done():
    def broken_view(request):
        raise ValueError("boom")

    handler = InFlightRequests(broken_view)
    with pytest.raises(ValueError, match="boom"):
        handler(object())
    assert wait_idle(timeout=0.05) is True
