"""Every URL pattern the project serves, fuzzed: random query strings on GET and random form data
on POST, as anonymous, technician, reception, manager and superuser. Never a 500.

The URL patterns come from the resolver, so a new view is fuzzed without anyone remembering to add
it; `test_every_url_pattern_is_fuzzed_or_excluded_with_a_reason` fails when a pattern has a path
converter this file cannot fill, or when EXCLUDED names a pattern that no longer exists.

The form fields posted are the ones each page shows (parsed from its GET as every role), plus the
admin changelist's own parameters (search, filters, ordering, page, date hierarchy) and the
autocomplete's. Path parameters are a real object's key most of the time and arbitrary text
otherwise. FUZZ_URL_EXAMPLES (default 15) sets the examples per URL; 200 or more for a longer hunt.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings.models import MessageTemplate
from bookings.models_stock import SessionBatch
from bookings.services.messaging import unsubscribe_token
from bookings.tests.factories import (
    AppointmentFactory,
    BatchFactory,
    BookingPolicyFactory,
    ClientMessageFactory,
    ClosureFactory,
)
from bookings.tokens import booking_token_make, identity_token_make, intake_token_make, session_record_token_make
from clients.tests.conftest import clinic  # noqa: F401 - the clinic every URL is fuzzed against
from clients.tests.factories import ConsentRecordFactory, ConsentWordingFactory
from smpclinic.tests.logins import StaffClient, login_as

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_URL_EXAMPLES", "15"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Patterns left out on purpose, by name (or route when unnamed), each with the reason.
EXCLUDED: dict[str, str] = {}

NASTY = [
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: not encodable as UTF-8
    "99999999999999999999",
    "-99999999999999999999",
    "1e999",
    "NaN",
    "-1",
    "0",
    "1",
    "13",
    "32",
    "",
    " ",
    "\u00b2",
    "\u0661",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "0000-00-00",
    "2026-02-30",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00:00+14:00",
    "25:61",
    "on",
    "true",
    "__",
    "%",
    "'\"<>",
    "../../etc/passwd",
]
VALUES = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=12),  # surrogates and NUL included
    st.integers().map(str),
    st.dates().map(str),
    st.datetimes().map(lambda d: d.isoformat()),
)
# Query and form parameters every page may read; each page's own form fields are added to these.
COMMON_NAMES = ["q", "page", "p", "o", "next", "start", "date", "days", "week", "location", "technician"]
COMMON_NAMES += ["treatment", "kind", "status", "client", "term", "angle", "done", "length_minutes", "action"]
ROLES = ["anonymous", "technician", "reception", "manager", "superuser"]
NAME_IN_HTML = re.compile(r"<(?:input|select|textarea|button)\b[^>]*\bname=\"([^\"]+)\"", re.IGNORECASE)


@dataclass(frozen=True)
class Pattern:
    key: str  # the URL name, or the route when unnamed
    route: str
    pattern: URLPattern


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace or namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        else:
            route = prefix + str(entry.pattern)
            name = entry.name and (f"{namespace}:{entry.name}" if namespace else entry.name)
            yield Pattern(key=name or route, route=route, pattern=entry)


def url_patterns() -> list[Pattern]:
    seen, found = set(), []
    for item in _walk(get_resolver().url_patterns):
        if (item.key, item.route) not in seen:
            seen.add((item.key, item.route))
            found.append(item)
    return found


CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
PATH_TEXT = st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s)
CONVERTER_VALUES = {
    "int": st.one_of(st.integers(min_value=0, max_value=10**20).map(str), st.sampled_from(["0", "9" * 20])),
    "str": PATH_TEXT,
    "path": PATH_TEXT,
    "slug": st.from_regex(r"\A[-a-zA-Z0-9_]{1,20}\Z"),
    None: PATH_TEXT,
}
# Regex patterns (the admin's app index and its catch-all) are filled by hand: name -> strategy.
REGEX_ROUTES = {
    "admin:app_list": st.sampled_from(["auth", "axes", "otp_totp", "treatments", "clients", "bookings"]).map(
        lambda label: f"admin/{label}/"
    ),
    "admin/(?P<url>.*)$": PATH_TEXT.map(lambda text: f"admin/{quote(text.encode('utf-8', 'surrogatepass'), safe='')}"),
}


def fillable(item: Pattern) -> bool:
    if isinstance(item.pattern.pattern, RegexPattern):
        return item.key in REGEX_ROUTES
    return isinstance(item.pattern.pattern, RoutePattern) and all(
        (conv or None) in CONVERTER_VALUES for conv, _ in CONVERTER.findall(item.route)
    )


FUZZED = [item for item in url_patterns() if item.key not in EXCLUDED]


def test_every_url_pattern_is_fuzzed_or_excluded_with_a_reason():
    patterns = url_patterns()
    keys = {item.key for item in patterns}
    assert len(patterns) > 100, "the walk found too few patterns: it would prove nothing"
    stale = sorted(set(EXCLUDED) - keys)
    assert not stale, f"EXCLUDED names patterns that no longer exist: {stale}"
    assert all(reason.strip() for reason in EXCLUDED.values()), "every exclusion needs its reason"
    unfillable = sorted(item.key for item in FUZZED if not fillable(item))
    assert not unfillable, (
        f"URL patterns neither fuzzed nor excluded: {unfillable}. Teach test_fuzz_every_url.py to fill "
        "their path (CONVERTER_VALUES, REGEX_ROUTES) or add them to EXCLUDED with the reason."
    )


@pytest.fixture
def world(clinic, settings):  # noqa: F811
    """The clinic, one of every object a path can name, and a client per role, logged in."""
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    BookingPolicyFactory(minimum_notice_hours=0)
    ClosureFactory(location=clinic["here"])
    wording = ConsentWordingFactory()
    record = ConsentRecordFactory(client=clinic["client"], wording=wording)
    message = ClientMessageFactory(appointment=clinic["session"])
    # A batch the session used, so the batch pages and the recall search have rows to show.
    batch = BatchFactory(location=clinic["here"])
    SessionBatch.objects.create(session_note=clinic["note"], batch=batch, share_percent=100)
    superuser = get_user_model().objects.create_superuser("root", "root@smpclinic.example", None)
    users = {
        "technician": clinic["technician"].user,
        "reception": clinic["reception"],
        "manager": clinic["manager"],
        "superuser": superuser,
    }
    clients = {"anonymous": StaffClient()}
    for role, user in users.items():
        clients[role] = StaffClient()
        login_as(clients[role], user)
    appointment = clinic["session"]
    template = MessageTemplate.objects.first()
    by_name = {
        "client_id": clinic["client"].pk,
        "record_id": record.pk,
        "variant": "thumb",
        "size": "thumb",
        "uidb64": "MQ",
        "content_type_id": 1,
    }
    tokens = {
        "bookings:manage": booking_token_make(appointment=appointment),
        "bookings:booked": booking_token_make(appointment=appointment),
        "bookings:identity_confirm": identity_token_make(appointment=appointment, marketing_opt_in=False),
        "bookings:session_record": session_record_token_make(appointment=appointment),
        "client_messages:unsubscribe": unsubscribe_token(clinic["client"]),
        # A consultation still to come, so the intake form is open to the fuzzer's posts.
        "bookings:intake": intake_token_make(
            appointment=AppointmentFactory(
                client=clinic["client"],
                technician=clinic["technician"],
                location=clinic["here"],
                start=clinic["session"].start + timedelta(days=5),
                end=clinic["session"].start + timedelta(days=5, minutes=45),
            )
        ),
    }
    pks = {
        "staff:photo_file": clinic["photo"].pk,
        "treatments:results_photo": clinic["photo"].pk,
        "admin:bookings_messagetemplate_preview": template.pk if template else 1,
        "admin:bookings_appointment_diary_move": appointment.pk,
    }
    admin_objects = {}
    for model in admin.site._registry:
        first = model._default_manager.order_by("pk").first()
        admin_objects[f"admin/{model._meta.app_label}/{model._meta.model_name}/"] = str(first.pk) if first else "1"
    admin_objects["admin/bookings/clientmessage/"] = str(message.pk)
    return {
        "clients": clients,
        "users": users,
        "appointment": appointment,
        "by_name": by_name,
        "tokens": tokens,
        "pks": pks,
        "admin_objects": admin_objects,
    }


def real_value(world: dict, item: Pattern, conv: str | None, name: str) -> str:
    """A path value that names a real object, so the request reaches the view's parsing."""
    if name == "token":
        return world["tokens"].get(item.key, "x")
    if name == "object_id" or (name == "id" and item.route.startswith("admin/")):
        for prefix, pk in world["admin_objects"].items():
            if item.route.startswith(prefix):
                return pk
        return str(world["users"]["technician"].pk)  # admin/auth/user/<id>/password/
    if name == "pk":
        return str(world["pks"].get(item.key, world["appointment"].pk))
    return str(world["by_name"].get(name, "1"))


def path_strategy(world: dict, item: Pattern):
    if isinstance(item.pattern.pattern, RegexPattern):
        return REGEX_ROUTES[item.key].map(lambda path: "/" + path)
    parts = CONVERTER.findall(item.route)
    # Mostly the real object (3 in 4), so most examples get past the lookup to the parsing.
    values = [
        st.one_of(*[st.just(real_value(world, item, conv or None, name))] * 3, CONVERTER_VALUES[conv or None])
        for conv, name in parts
    ]

    def build(chosen) -> str:
        path = item.route
        for (conv, name), value in zip(parts, chosen, strict=True):
            token = f"<{conv}:{name}>" if conv else f"<{name}>"
            path = path.replace(token, quote(value.encode("utf-8", "surrogatepass"), safe=""), 1)
        return "/" + path

    return st.tuples(*values).map(build)


def changelist_names(item: Pattern, user) -> list[str]:
    for model, model_admin in admin.site._registry.items():
        if item.key == f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist":
            request = RequestFactory().get("/")
            request.user = user
            names = ["q", "o", "p", "e", "all", "_to_field", "_facets", "_popup", "_changelist_filters"]
            if model_admin.date_hierarchy:
                names += [f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day")]
            for spec in model_admin.get_changelist_instance(request).filter_specs:
                names += spec.expected_parameters()
            return names
    return []


def autocomplete_targets() -> list[tuple[str, str, str]]:
    return [
        (model._meta.app_label, model._meta.model_name, field)
        for model, model_admin in admin.site._registry.items()
        for field in model_admin.autocomplete_fields
    ]


def form_names(world: dict, path: str) -> list[str]:
    """The field names the page shows to any role: the form a POST would carry."""
    names = set()
    for role in ROLES[1:]:
        response = world["clients"][role].get(path)
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            names.update(NAME_IN_HTML.findall(response.content.decode(errors="replace")))
    names.discard("csrfmiddlewaretoken")
    return sorted(names)


def assert_handled(response, method: str, path: str, data: dict) -> None:
    where = f"{method} {path!r} {data!r}: {response.status_code}"
    assert response.status_code < 500, where
    body = response.content[:20000] if not response.streaming else b""
    assert b"Traceback" not in body, where
    assert b"technical_500" not in body, where


@pytest.mark.timeout(300)
@pytest.mark.parametrize("item", FUZZED, ids=[item.key for item in FUZZED])
def test_no_url_answers_a_500_to_random_queries_or_forms(world, item):
    paths = path_strategy(world, item)
    real_path = _real_path(world, item)
    names = sorted(set(COMMON_NAMES) | set(form_names(world, real_path)))
    names += changelist_names(item, world["users"]["superuser"])
    targets = autocomplete_targets() if item.key == "admin:autocomplete" else []
    params = st.dictionaries(st.sampled_from(names), VALUES, max_size=6)
    if targets:
        params = st.tuples(st.sampled_from(targets), params).map(
            lambda pair: {"app_label": pair[0][0], "model_name": pair[0][1], "field_name": pair[0][2], **pair[1]}
        )
    is_logout = "logout" in item.route

    @FUZZ
    @given(role=st.sampled_from(ROLES), path=paths, data=params)
    def check(role, path, data):
        client = world["clients"][role]
        # Encoded by hand: a lone surrogate goes out as the invalid UTF-8 bytes a client could send.
        body = urlencode({name: value.encode("utf-8", "surrogatepass") for name, value in data.items()})
        response = client.get(f"{path}?{body}" if body else path)
        assert_handled(response, "GET", path, data)
        response = client.post(path, body, content_type="application/x-www-form-urlencoded")
        assert_handled(response, "POST", path, data)
        if is_logout and role != "anonymous":
            login_as(client, world["users"][role])

    check()


def _real_path(world: dict, item: Pattern) -> str:
    if isinstance(item.pattern.pattern, RegexPattern):
        return "/admin/clients/" if item.key == "admin:app_list" else "/admin/nothing-here/"
    path = item.route
    for conv, name in CONVERTER.findall(item.route):
        token = f"<{conv}:{name}>" if conv else f"<{name}>"
        path = path.replace(token, quote(real_value(world, item, conv or None, name), safe=""), 1)
    return "/" + path
