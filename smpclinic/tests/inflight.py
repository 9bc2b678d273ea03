"""Requests the live server is still handling, for tests that must not flush the database under one.

A browser test's last click can leave a request running in the live server's thread (a photo's
audit row, a form's save) after the test's pages have closed. The transactional test's teardown
then truncates every table while that request's transaction holds locks the truncation waits for,
and PostgreSQL ends one of them as a deadlock. The browser fixtures wait for ``wait_idle()``
before the teardown flushes.
"""

from __future__ import annotations

import threading

_idle = threading.Condition()
_running = 0


class InFlightRequests:
    """Outermost middleware in tests: counts the requests being handled, in any thread."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        global _running
        with _idle:
            _running += 1
        try:
            return self.get_response(request)
        finally:
            with _idle:
                _running -= 1
                _idle.notify_all()


def wait_idle(timeout: float = 15.0) -> bool:
    """True once no request is being handled (False if some still are after ``timeout`` seconds)."""
    with _idle:
        return _idle.wait_for(lambda: _running == 0, timeout=timeout)
