"""Who must show a second factor, and where they are sent until they have.

Managers must verify a TOTP code before they reach the admin or the staff workspace (and are
sent to add an authenticator app if they have none). Anyone else may add one; once they have,
they are asked for a code after their password too, or the app would protect nothing.

Whether a user has a device is worked out once, when they log in (``login_flags_set``), and
kept in the session, so a page view costs no query for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import user_has_device

from clients.access import is_manager

if TYPE_CHECKING:
    from django.http import HttpRequest

# Session keys: a device was found at login, and the secret of an app being added.
OTP_PENDING = "smp_otp_pending"
ENROL_KEY = "smp_otp_enrol_key"


def is_verified(user) -> bool:
    """True when this session's second factor is verified (OTPMiddleware sets is_verified)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def login_flags_set(request: HttpRequest, user) -> None:
    """At login: remember whether this user has an authenticator app to ask a code from."""
    request.session[OTP_PENDING] = user_has_device(user)


def second_factor_missing(request: HttpRequest) -> bool:
    user = request.user
    if not user.is_authenticated or is_verified(user):
        return False
    return is_manager(user) or bool(request.session.get(OTP_PENDING))


def second_factor_redirect(request: HttpRequest) -> HttpResponseRedirect | None:
    """None when the user may go on; else a redirect to the code page (or, for a manager with no
    app yet, to adding one), coming back to this page afterwards."""
    if not second_factor_missing(request):
        return None
    user = request.user
    if user_has_device(user):
        target = "accounts:otp_verify"
    elif is_manager(user):
        target = "accounts:otp_enrol"
    else:
        # Their only app was removed (a manager deleted a lost phone's): nothing to ask for.
        request.session.pop(OTP_PENDING, None)
        return None
    return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")


def next_url(request: HttpRequest) -> str:
    """Where to go after the code: the page asked for, if it is on this site; else the user's home."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    # Only a path on this site: redirect() takes anything else without a slash ("295") for a
    # view name to reverse, and a made-up one was a 500.
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index") if request.user.is_staff else reverse("staff:schedule")
