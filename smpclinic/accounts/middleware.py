"""Staff sessions end after STAFF_SESSION_IDLE_MINUTES without a request.

The session's expiry is SESSION_COOKIE_AGE after it was last saved. SESSION_SAVE_EVERY_REQUEST
would push it on with an UPDATE of the session row on every page and every htmx fragment; this
pushes it on at most once per STAFF_SESSION_REFRESH_SECONDS, so the idle limit holds to within
that and a page view usually writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse

LAST_SEEN = "smp_last_seen"


def session_seen(request: HttpRequest) -> None:
    """Record activity now (also called at login, so the first page after it writes nothing)."""
    request.session[LAST_SEEN] = int(time.time())


class StaffSessionIdleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        # SESSION_KEY rather than request.user: a visitor without a login costs no user query.
        if session is not None and SESSION_KEY in session:
            seen = session.get(LAST_SEEN)
            if not isinstance(seen, int) or time.time() - seen >= settings.STAFF_SESSION_REFRESH_SECONDS:
                session_seen(request)  # modified: SessionMiddleware saves it with a new expiry
        return self.get_response(request)
