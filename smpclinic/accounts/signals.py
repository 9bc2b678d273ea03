"""Session flags set once at login (connected in SmpClinicConfig.ready)."""

from __future__ import annotations

from .middleware import session_seen
from .otp import login_flags_set


def on_login(sender, request, user, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    session_seen(request)
    login_flags_set(request, user)
