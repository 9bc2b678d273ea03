"""The outbox's wake-up after a commit: at most one a second per process, none dropped."""

from __future__ import annotations

from unittest import mock

import pytest
from celery import current_app

from bookings.services import messaging


class _ManualTimer:
    """threading.Timer that fires when the test says so (no waiting on the clock)."""

    started: list[_ManualTimer] = []

    def __init__(self, interval, function):
        self.interval, self.function, self.daemon, self.cancelled = interval, function, False, False

    def start(self):
        _ManualTimer.started.append(self)

    def cancel(self):
        self.cancelled = True

    def fire(self):
        if not self.cancelled:
            self.function()


@pytest.fixture
def timers(monkeypatch):
    """Manual timers, and the process's throttle forgetting any wake an earlier test made."""
    _ManualTimer.started = []
    monkeypatch.setattr(messaging.threading, "Timer", _ManualTimer)
    messaging._wake_dispatcher.reset()
    yield _ManualTimer.started
    messaging._wake_dispatcher.reset()


def test_a_burst_of_commits_wakes_the_dispatcher_once_then_once_more_when_the_second_is_up(timers):
    with mock.patch.object(current_app, "send_task") as send:
        for _ in range(5):
            messaging._wake_dispatcher()
        assert send.call_count == 1
        assert len(timers) == 1
        assert 0 < timers[0].interval <= messaging.WAKE_INTERVAL_SECONDS
        timers[0].fire()
        assert send.call_count == 2  # the rows committed during the second are not left to beat
        send.assert_called_with(messaging.DISPATCH_TASK, retry=False, expires=55)


def test_a_wake_after_the_interval_goes_out_at_once(timers, monkeypatch):
    clock = iter([100.0, 101.5])
    monkeypatch.setattr(messaging._wake_dispatcher, "clock", lambda: next(clock))
    with mock.patch.object(current_app, "send_task") as send:
        messaging._wake_dispatcher()
        messaging._wake_dispatcher()
    assert send.call_count == 2
    assert timers == []
