"""Whole pages kept in the cache for anonymous visitors: the public site and the booking form.

A page is stored under its address (scheme, host, path, query) with the tokens of the versions
it depends on when it was rendered; a write that changes what the page shows replaces a token,
so the next request finds the stored tokens out of date, renders afresh and stores the page
again. The versions and the page come back in one round trip (MGET).

- ``SITE``: everything the public pages and the booking form's choices show (the catalogue,
  clinics and their hours, consented results photos, consent wordings). Replaced from the model
  signals connected below, so the admin, the workspace and the services all invalidate alike.
- ``AVAILABILITY``: free times. Replaced when any appointment is saved or deleted (booked, moved,
  cancelled, a status changed) and when hours, breaks, time off, closures, technicians or a
  booking policy change. One version for every clinic: a technician may work at two, so an
  appointment at one changes free times at the other, and finding those clinics would cost a
  query inside the booking transaction.
  The booking form's key also carries the five-minute bucket of "now" (the smallest slot step
  the policy allows), so a cached picker offers a time the minimum notice has just excluded for
  at most five minutes. The POST re-checks every rule whatever the page offered.

Tokens are replaced when the transaction commits, not before: a page rendered from the old
rows while the transaction runs is stored under the old token, and the replacement after the
commit makes it a miss. (Tests that write inside their own transaction run the callbacks with
django_capture_on_commit_callbacks.)

The cache is Redis in production and may be away: every read and write here fails soft (the
page is rendered as if nothing were cached), as the rate limits do.

Nothing is cached for a request with a session or messages cookie (staff, or a message
waiting), for a query parameter the page does not take, or for a response that is not a plain
200 (cookies, Vary: Cookie, Cache-Control private/no-store, its own CSP, a CSP nonce used, the
session read). The booking form's CSRF token is cut out before storing and a fresh one put in
for each request, so each visitor still gets their own token and cookie.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from functools import wraps
from urllib.parse import urlencode

from django.apps import apps
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from redis.exceptions import RedisError

from .selectors import MAX_DAYS

logger = logging.getLogger(__name__)

SITE = "pages:v:site"
AVAILABILITY = "pages:v:availability"
# The smallest slot step a booking policy may have (bookingpolicy_step_at_least_5).
NOTICE_BUCKET_SECONDS = 5 * 60
CACHE_ERRORS = (ConnectionError, OSError, RedisError)
MAX_PARAM_LENGTH = 64
CSRF_PLACEHOLDER = "@@csrf-token@@"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CSRF_INPUT = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*(")')


def _cache():
    return caches["default"]


def _failed(action: str, exc: Exception) -> None:
    logger.warning("page cache %s skipped (%s): the cache did not answer", action, type(exc).__name__)


def _new_token() -> str:
    return secrets.token_hex(6)


def _read(keys: list[str], page_key: str) -> tuple[list[str], object] | None:
    """The current token of each version (made if missing) and the stored page, in one round
    trip on a hit; None if the cache is away."""
    try:
        found = _cache().get_many([*keys, page_key])
        missing = {key: _new_token() for key in keys if key not in found}
        if missing:
            _cache().set_many(missing, timeout=None)
            found.update(missing)
    except CACHE_ERRORS as exc:
        _failed("read", exc)
        return None
    return [found[key] for key in keys], found.get(page_key)


def _replace(keys: Iterable[str]) -> None:
    try:
        _cache().set_many({key: _new_token() for key in keys}, timeout=None)
    except CACHE_ERRORS as exc:
        # A version that could not be replaced keeps serving pages until their timeout.
        _failed("invalidation", exc)


def versions_bump(*keys: str) -> None:
    """Replace these versions once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _replace(keys))


def notice_bucket() -> int:
    return int(timezone.now().timestamp() // NOTICE_BUCKET_SECONDS)


# Pages ---------------------------------------------------------------------------------


def _request_cacheable(request: HttpRequest, params: frozenset[str]) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    if settings.SESSION_COOKIE_NAME in request.COOKIES or CookieStorage.cookie_name in request.COOKIES:
        return False
    return all(
        name in params and len(values) == 1 and len(values[0]) <= MAX_PARAM_LENGTH
        for name, values in request.GET.lists()
    )


def _response_cacheable(request: HttpRequest, response: HttpResponse) -> bool:
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    if "cookie" in response.get("Vary", "").lower():
        return False
    if any(word in response.get("Cache-Control", "").lower() for word in ("private", "no-store", "no-cache")):
        return False
    # A page that set its own policy, or printed a nonce that must match this response's header.
    if hasattr(response, "_csp_config") or hasattr(response, "_csp_ro_config") or getattr(request, "_csp_nonce", None):
        return False
    # The session was empty (no cookie); the staff idle check reads it on every request, so
    # "accessed" says nothing, but a page that stored something in it is that visitor's own.
    session = getattr(request, "session", None)
    return not (session is not None and session.modified)


def _page_key(request: HttpRequest, extra: str) -> str:
    # The parameters sorted: the same page asked in another order is the same entry.
    query = urlencode(sorted(request.GET.items()))
    address = f"{request.scheme}://{request.get_host()}{request.path}?{query}"
    return "pages:page:" + hashlib.sha256(f"{address}|{extra}".encode()).hexdigest()[:40]


def anonymous_page_cache(
    *,
    versions: tuple[str, ...] = (SITE,),
    params: Iterable[str] = (),
    timeout: Callable[[], int] | None = None,
    extra: Callable[[HttpRequest], str] | None = None,
    accept: Callable[[HttpRequest], bool] | None = None,
    csrf: bool = False,
):
    """Serve an anonymous GET from the cache, or render it and keep the result.

    ``params``: the query parameters the page takes (any other one bypasses the cache);
    ``accept``: whether the parameters' values are worth an entry; ``extra``: more of the key
    (the booking form's notice bucket); ``csrf``: the page prints a CSRF token, replaced per
    request, and is kept only if it did (the booking form prints one only for a valid search).
    Pages that stay small in number: every entry must be one a visitor could ask for, since
    Redis runs with noeviction (docs/deploy.md) and also carries the broker.
    """
    allowed = frozenset(params)

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            seconds = settings.PAGE_CACHE_SECONDS
            if timeout is not None:
                seconds = min(seconds, timeout())
            if seconds <= 0 or not _request_cacheable(request, allowed) or (accept and not accept(request)):
                return view(request, *args, **kwargs)
            key = _page_key(request, extra(request) if extra else "")
            read = _read(list(versions), key)
            if read is None:
                return view(request, *args, **kwargs)
            tokens, stored = read
            # Kept with the tokens it was rendered under: a version replaced since is a miss.
            if stored is not None and stored[0] == tokens:
                _, status, headers, content = stored
                if csrf:
                    content = content.replace(CSRF_PLACEHOLDER.encode(), get_token(request).encode())
                return HttpResponse(content, status=status, headers=headers)
            response = view(request, *args, **kwargs)
            if not _response_cacheable(request, response):
                return response
            content = response.content
            if csrf:
                content, found = _CSRF_INPUT.subn(rb"\g<1>" + CSRF_PLACEHOLDER.encode() + rb"\g<2>", content)
                if not found:
                    return response
            elif request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
                return response  # the page printed a token this view does not expect
            try:
                _cache().set(key, (tokens, response.status_code, dict(response.items()), content), seconds)
            except CACHE_ERRORS as exc:
                _failed("write", exc)
            return response

        return wrapped

    return decorator


def booking_form_timeout() -> int:
    return NOTICE_BUCKET_SECONDS


def booking_form_extra(request: HttpRequest) -> str:
    return f"notice:{notice_bucket()}"


def booking_form_accept(request: HttpRequest) -> bool:
    """A day asked for is kept only within the booking horizon's reach (the form takes a year)."""
    start = request.GET.get("start")
    if not start:
        return True
    try:
        day = date.fromisoformat(start) if _ISO_DATE.fullmatch(start) else None
    except ValueError:
        day = None
    today = timezone.localdate()
    # A day either side of today: the location's today may be the server's yesterday or tomorrow.
    return day is not None and today - timedelta(days=1) <= day <= today + timedelta(days=MAX_DAYS)


booking_form_cache = anonymous_page_cache(
    versions=(SITE, AVAILABILITY),
    params=("location", "treatment", "start"),
    timeout=booking_form_timeout,
    extra=booking_form_extra,
    accept=booking_form_accept,
    csrf=True,
)


# Invalidation ------------------------------------------------------------------------------

# What the public pages and the booking form's choices read, besides every catalogue model.
SITE_MODELS = (
    "bookings.Location",
    "bookings.OpeningHours",
    "clients.Photo",
    "clients.ConsentWording",
)
# What the availability engine reads (bookings.selectors.availability_schedules).
AVAILABILITY_MODELS = (
    "bookings.Appointment",
    "bookings.Location",
    "bookings.Technician",
    "bookings.WorkingHours",
    "bookings.Break",
    "bookings.TimeOff",
    "bookings.Closure",
    "bookings.BookingPolicy",
)


def _site_changed(sender, **kwargs) -> None:
    versions_bump(SITE)


def _availability_changed(sender, **kwargs) -> None:
    versions_bump(AVAILABILITY)


def _consent_changed(sender, instance, **kwargs) -> None:
    """Only a marketing-photos consent changes /results/; every booking writes a health-data one."""
    from clients.models import ConsentWording

    field = sender._meta.get_field("wording")
    # Without the wording at hand, replace the version rather than spend a query finding out.
    if not field.is_cached(instance) or instance.wording.kind == ConsentWording.Kind.MARKETING_PHOTOS:
        versions_bump(SITE)


def _after_m2m(receiver):
    def changed(sender, action: str, **kwargs) -> None:
        if action.startswith("post_"):  # not once more for each pre_ signal
            receiver(sender, **kwargs)

    return changed


def _connect(models: Iterable, receiver, uid: str) -> None:
    for model in models:
        label = model._meta.label
        post_save.connect(receiver, sender=model, dispatch_uid=f"{uid}:save:{label}")
        post_delete.connect(receiver, sender=model, dispatch_uid=f"{uid}:delete:{label}")
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            m2m_changed.connect(
                _after_m2m(receiver), sender=through, weak=False, dispatch_uid=f"{uid}:m2m:{through._meta.label}"
            )


def signals_connect() -> None:
    """Called from BookingsConfig.ready(): the writes that change a cached page replace its version."""
    catalogue = list(apps.get_app_config("treatments").get_models())
    _connect([*catalogue, *(apps.get_model(label) for label in SITE_MODELS)], _site_changed, "pages-site")
    _connect([apps.get_model(label) for label in AVAILABILITY_MODELS], _availability_changed, "pages-availability")
    _connect([apps.get_model("clients.ConsentRecord")], _consent_changed, "pages-consent")
