"""Public booking pages and the availability API. Thin: parse, call a service, render."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from treatments.models import Treatment

from . import booking_refdata
from .availability import Slot
from .forms import (
    MAX_DAYS_SHOWN,
    AvailabilityQueryForm,
    BookingForm,
    RescheduleForm,
    SlotSearchForm,
    WaitlistClaimForm,
    WaitlistJoinForm,
)
from .models import Appointment, BookingPolicy, Location
from .network import client_ip
from .pagecache import booking_form_cache
from .payments.selectors import (
    appointment_deposit,
    appointment_deposit_with_settlements,
    deposit_amount,
    deposit_policy_for,
    deposit_terms,
    terms_text,
)
from .ratelimit import WINDOW_SECONDS, booking_email_limited, booking_ip_limited, booking_limited
from .selectors import MAX_DAYS, BookingRequestError, availability_compute, booking_policy_for
from .services import waitlist as waitlist_service
from .services.booking import (
    ChangeNotAllowed,
    ChangeWindowNotAccepted,
    SlotTaken,
    appointment_cancel,
    appointment_reschedule,
    cancellation_outcome,
    change_window_notice,
    client_may_change,
    in_change_window,
    online_book,
    online_consultation_book,
)
from .services.deposits import PaymentUnavailable, deposit_checkout_start
from .services.identity import Confirmed, booking_identity_confirm
from .services.safety import BookingRefused
from .tokens import (
    TokenExpired,
    TokenInvalid,
    booking_token_load,
    booking_token_make,
    identity_token_load,
    waitlist_offer_token_load,
)
from .views_intake import intake_path
from .zones import local_today

logger = logging.getLogger(__name__)


def _iso(instant, location: Location) -> str:
    return instant.astimezone(location.tz).isoformat()


def _group(
    slots_by_day: dict[date, list[Slot]], location: Location, *, current_start: datetime | None = None
) -> list[dict]:
    """Per day, each free start time once, with the technicians free then (the location's clock).
    ``current_start`` (a booking being moved) is marked, to be shown but not offered."""
    days = []
    for day, slots in sorted(slots_by_day.items()):
        times: dict = {}
        for slot in slots:
            entry = times.setdefault(slot.start, {"slot": slot, "technicians": []})
            entry["technicians"].append(slot.technician_id)
        days.append(
            {
                "date": day,
                "times": [
                    {
                        "start": _iso(e["slot"].start, location),
                        "end": _iso(e["slot"].end, location),
                        "label": e["slot"].start.astimezone(location.tz).strftime("%H:%M"),
                        "technicians": e["technicians"],
                        # Only for the move form: the availability API's times keep their four keys.
                        **({"current": e["slot"].start == current_start} if current_start else {}),
                    }
                    for e in times.values()
                ],
            }
        )
    return days


def _bad(field: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"parameter": field, "message": message}, "errors": {field: [message]}}, status=400)


@require_GET
def api_availability(request: HttpRequest) -> JsonResponse:
    """Free times per day (the location's zone, ISO 8601 with UTC offsets) for one location."""
    query = AvailabilityQueryForm(request.GET)
    if not query.is_valid():
        return JsonResponse(query.error_json(), status=400)
    params = query.cleaned_data
    location, kind, treatment, technician = (params[k] for k in ("location", "kind", "treatment", "technician"))
    try:
        slots = availability_compute(
            location=location,
            kind=kind,
            treatment=treatment,
            start_date=params["start"],
            days=params["days"],
            technician=technician,
            length_minutes=params["length_minutes"],
            policy=booking_policy_for(location),
        )
    except BookingRequestError as exc:
        return _bad(exc.field, exc.message)
    return JsonResponse(
        {
            "location": location.slug,
            "kind": kind,
            "treatment": treatment.slug if treatment else None,
            "technician": technician.pk if technician else None,
            "timezone": location.time_zone,
            "start": params["start"].isoformat(),
            "days": [
                {
                    "date": d["date"].isoformat(),
                    "times": [{k: v for k, v in t.items() if k != "label"} for t in d["times"]],
                }
                for d in _group(slots, location)
            ],
        }
    )


# Where a day's times are split for a phone: before noon, the afternoon, from 17:00.
DAY_PARTS = (("morning", "Morning", 0, 12), ("afternoon", "Afternoon", 12, 17), ("evening", "Evening", 17, 24))


def _slot_choice(slot: Slot, *, location: Location, policy: BookingPolicy, now) -> dict:
    local_start = slot.start.astimezone(location.tz)
    return {
        "start": _iso(slot.start, location),
        "label": local_start.strftime("%H:%M"),
        "hour": local_start.hour,
        "when": local_start,
        "late": in_change_window(start=slot.start, policy=policy, now=now),
    }


def _day_choices(slots: list[Slot], *, location: Location, policy: BookingPolicy, now) -> list[dict]:
    """The day's free start times once each (any technician), in morning/afternoon/evening groups."""
    seen: dict = {}
    for slot in slots:
        seen.setdefault(slot.start, slot)
    times = [_slot_choice(s, location=location, policy=policy, now=now) for s in sorted(seen.values())]
    return [
        {"key": key, "label": label, "times": [t for t in times if lo <= t["hour"] < hi]}
        for key, label, lo, hi in DAY_PARTS
        if any(lo <= t["hour"] < hi for t in times)
    ]


def _picker_context(
    *, location: Location, treatment: Treatment | None, day: date | None, policy: BookingPolicy
) -> dict:
    """The phone-first time picker: the first free time, then one day in groups, with the free
    days either side. One engine run over the booking horizon (from today) answers all three;
    a day chosen beyond it costs one more run of one day. Constant queries either way."""
    now = timezone.now()
    today = local_today(location)
    window = max(1, min(MAX_DAYS, policy.horizon_days + 1))
    by_day = availability_compute(
        location=location,
        kind=Appointment.Kind.CONSULTATION,
        treatment=treatment,
        start_date=today,
        days=window,
        policy=policy,
        now=now,
    )
    free_days = [d for d, slots in sorted(by_day.items()) if slots]
    first = by_day[free_days[0]][0] if free_days else None
    if day is None:
        day = free_days[0] if free_days else today
    day = max(day, today)
    if day in by_day:
        slots = by_day[day]
    else:
        slots = availability_compute(
            location=location,
            kind=Appointment.Kind.CONSULTATION,
            treatment=treatment,
            start_date=day,
            days=1,
            policy=policy,
            now=now,
        )[day]
    window_end = today + timedelta(days=window - 1)
    earlier = [d for d in free_days if d < day]
    later = [d for d in free_days if d > day]
    if later:
        next_day = later[0]
    elif day >= window_end and policy.horizon_days >= MAX_DAYS:
        next_day = day + timedelta(days=1)  # beyond what one run looked at: step a day at a time
    else:
        next_day = None
    groups = _day_choices(slots, location=location, policy=policy, now=now)
    return {
        "first": _slot_choice(first, location=location, policy=policy, now=now) if first else None,
        "day": day,
        "groups": groups,
        "day_has_late": any(t["late"] for g in groups for t in g["times"]),
        # Within the run every earlier free day is known; beyond it, a day at a time.
        "previous_day": earlier[-1] if earlier else (day - timedelta(days=1) if day > window_end else None),
        "next_day": next_day,
        "today": today,
        "start": day,
        "policy": policy,
        "no_times": not free_days,
        "late_notice": change_window_notice(location=location, policy=policy),
    }


@require_http_methods(["GET", "POST"])
@booking_form_cache  # the GET only: a POST goes straight through
def book(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _book_post(request)
    # A link from a treatment page may carry only ?treatment=: preselect it, no errors yet.
    search = SlotSearchForm(request.GET if request.GET.get("location") else None)
    context: dict = {"search": search, "form": None}
    if search.is_bound and search.is_valid():
        location, treatment = search.cleaned_data["location"], search.cleaned_data["treatment"]
        context["form"] = BookingForm(
            initial={"location": location.slug, "treatment": treatment.slug if treatment else ""}
        )
        policy = booking_policy_for(location)
        # No day asked for: the day of the first free time.
        day = search.cleaned_data["start"] if request.GET.get("start") else None
        context.update(_picker_context(location=location, treatment=treatment, day=day, policy=policy))
        context.update({"location": location, "treatment": treatment})
    return _render_at(request, "bookings/book.html", _with_selection(context, request.GET), context.get("location"))


def _rate_limited(request: HttpRequest) -> HttpResponse:
    response = render(request, "bookings/rate_limited.html", status=429)
    # The window's full length: an upper bound, since where in its window this client is would
    # cost another cache round trip to find out.
    response["Retry-After"] = str(WINDOW_SECONDS)
    return response


def _book_post(request: HttpRequest) -> HttpResponse:
    form = BookingForm(request.POST)
    ip = client_ip(request) or "unknown"
    # Every attempt counts against the address; a valid one against its e-mail too, in the same
    # round trip (the form is checked first, without a query once the clinic is known).
    if not form.is_bot and form.is_valid():
        limited = booking_limited(ip=ip, email=form.cleaned_data["email"])
    else:
        limited = booking_ip_limited(ip)
    if limited:
        return _rate_limited(request)
    if form.is_bot:
        logger.info("booking honeypot triggered")
        return render(request, "bookings/rejected.html", status=400)
    location = treatment = None
    status = 200
    taken = None
    policy = None
    if form.is_valid():
        data = form.cleaned_data
        location, treatment = data["location"], data["treatment"]
        policy = booking_refdata.booking_policy(location)
        try:
            appointment = online_consultation_book(
                location=location,
                start=data["start"],
                treatment=treatment,
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                phone=data["phone"],
                date_of_birth=data["date_of_birth"],
                description=data["description"],
                health_consent=data["health_consent"],
                marketing_opt_in=data["marketing_opt_in"],
                late_change_accepted=data["late_change_accepted"],
                policy=policy,
            )
        except SlotTaken as exc:
            taken = exc
            status = 409
        except ChangeWindowNotAccepted as exc:
            # The confirmation step: the notice, the time, and the same details posted again.
            return _render_at(
                request,
                "bookings/book_confirm.html",
                {
                    "form": form,
                    "notice": exc.message,
                    "location": location,
                    "treatment": treatment,
                    "when": data["start"],
                    "back_query": urlencode(
                        {
                            "location": location.slug,
                            "treatment": treatment.slug if treatment else "",
                            "start": data["start"].astimezone(location.tz).date().isoformat(),
                        }
                    ),
                },
                location,
            )
        except BookingRequestError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            status = 400
        else:
            return _after_booking(request, appointment)
    else:
        status = 400
        location = form.cleaned_data.get("location")
        treatment = form.cleaned_data.get("treatment")
    context: dict = {"form": form, "taken": taken, "search": None, "location": location, "treatment": treatment}
    if location is not None:
        start = form.cleaned_data.get("start")
        today = local_today(location)
        first = max(start.astimezone(location.tz).date(), today) if start else today
        context["search"] = SlotSearchForm(
            initial={"location": location.slug, "treatment": treatment.slug if treatment else "", "start": first}
        )
        context.update(
            _picker_context(
                location=location, treatment=treatment, day=first, policy=policy or booking_policy_for(location)
            )
        )
        if taken is not None:
            context["alternatives"] = [
                {"start": _iso(s.start, location), "label": s.start.astimezone(location.tz)} for s in taken.alternatives
            ]
    else:
        context["search"] = SlotSearchForm()
    return _render_at(request, "bookings/book.html", _with_selection(context, request.POST), location, status=status)


def _after_booking(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    """Booked: to the booked page (the confirmation was queued with the booking; the worker sends
    it), or, for a booking held for its deposit, to the provider's checkout."""
    token = booking_token_make(appointment=appointment)
    if appointment.status != Appointment.Status.PENDING_PAYMENT:
        return redirect("bookings:booked", token=token)
    payment = appointment_deposit(appointment)
    booked_url = request.build_absolute_uri(reverse("bookings:booked", kwargs={"token": token}))
    back_url = request.build_absolute_uri(reverse("bookings:manage", kwargs={"token": token}) + "?payment=cancelled")
    try:
        checkout_url = deposit_checkout_start(payment=payment, success_url=booked_url, cancel_url=back_url)
    except PaymentUnavailable:
        return _render_at(
            request, "bookings/payment_unavailable.html", {"location": appointment.location}, None, status=503
        )
    return redirect(checkout_url)


def _deposit_context(*, kind: str, location: Location, treatment: Treatment | None) -> dict:
    """The deposit a booking of this kind would ask, and its terms, shown before paying."""
    policy = deposit_policy_for(kind=kind, location=location, treatment=treatment)
    if policy is None or not policy.required_online:
        return {"deposit": None}
    amount = deposit_amount(policy=policy, treatment=treatment, location=location)
    if amount is None:
        return {"deposit": None}
    return {
        "deposit": amount,
        "deposit_terms": terms_text(deposit_terms(policy)),
        "hold_minutes": settings.PAYMENT_HOLD_MINUTES,
    }


def _session_times(*, location: Location, treatment: Treatment, start: date) -> dict:
    slots = availability_compute(
        location=location,
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=treatment,
        start_date=start,
        days=MAX_DAYS_SHOWN,
    )
    today = local_today(location)
    days = _group(slots, location)
    return {
        "days": days,
        # A week of "No free times this day" and nothing else leaves the client guessing.
        "week_empty": not any(day["times"] for day in days),
        "later": start + timedelta(days=MAX_DAYS_SHOWN),
        "earlier": max(today, start - timedelta(days=MAX_DAYS_SHOWN)) if start > today else None,
        **_deposit_context(kind=Appointment.Kind.TREATMENT_SESSION, location=location, treatment=treatment),
    }


@require_http_methods(["GET", "POST"])
def book_session(request: HttpRequest) -> HttpResponse:
    """Book a treatment session online (after a consultation): the deposit policy is shown, and
    a session that needs a deposit goes on to the provider's checkout."""
    if request.method == "POST":
        return _book_session_post(request)
    search = SlotSearchForm(request.GET if request.GET.get("location") else None)
    context: dict = {"search": search, "form": None, "days": None}
    location = None
    if search.is_bound and search.is_valid():
        location, treatment = search.cleaned_data["location"], search.cleaned_data["treatment"]
        if treatment is None:
            context["treatment_error"] = "Choose the treatment you are booking a session of."
        else:
            start = search.cleaned_data["start"]
            context["form"] = BookingForm(initial={"location": location.slug, "treatment": treatment.slug})
            context.update(_session_times(location=location, treatment=treatment, start=start))
            context.update({"location": location, "treatment": treatment, "start": start})
    status = 400 if context.get("treatment_error") else 200
    return _render_at(
        request, "bookings/book_session.html", _with_selection(context, request.GET), location, status=status
    )


def _book_session_post(request: HttpRequest) -> HttpResponse:
    if booking_ip_limited(client_ip(request) or "unknown"):
        return _rate_limited(request)
    form = BookingForm(request.POST)
    if form.is_bot:
        logger.info("booking honeypot triggered")
        return render(request, "bookings/rejected.html", status=400)
    context: dict = {"form": form, "search": None}
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        if booking_email_limited(data["email"]):
            return _rate_limited(request)
        try:
            appointment = online_book(
                kind=Appointment.Kind.TREATMENT_SESSION,
                location=data["location"],
                start=data["start"],
                treatment=data["treatment"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                phone=data["phone"],
                date_of_birth=data["date_of_birth"],
                late_change_accepted=data["late_change_accepted"],
                description=data["description"],
                health_consent=data["health_consent"],
                marketing_opt_in=data["marketing_opt_in"],
            )
        except SlotTaken as exc:
            context["taken"] = exc
            status = 409
        except BookingRefused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, _client_refusal(exc, data["location"]))
        except BookingRequestError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return _after_booking(request, appointment)
    location, treatment = form.cleaned_data.get("location"), form.cleaned_data.get("treatment")
    context.update({"location": location, "treatment": treatment})
    if location is not None and treatment is not None:
        today = local_today(location)
        start = form.cleaned_data.get("start")
        first = max(start.astimezone(location.tz).date(), today) if start else today
        context["search"] = SlotSearchForm(initial={"location": location.slug, "treatment": treatment.slug})
        context.update(_session_times(location=location, treatment=treatment, start=first))
        context["start"] = first
        if "taken" in context:
            context["alternatives"] = [
                {"start": _iso(s.start, location), "label": s.start.astimezone(location.tz)}
                for s in context["taken"].alternatives
            ]
    else:
        context["search"] = SlotSearchForm()
        if location is not None:
            context["treatment_error"] = "Choose the treatment you are booking a session of."
    return _render_at(
        request, "bookings/book_session.html", _with_selection(context, request.POST), location, status=status
    )


def _client_refusal(exc: BookingRefused, location: Location) -> str:
    """The safety rules' refusal in the client's words. The patch-test messages are written for
    staff ("record a clear patch test"), and an online booking always lands on a new record, with
    no patch test on it: only the clinic can book such a session."""
    if exc.code.startswith("patch_test"):
        return (
            "This treatment needs a clear patch test at the clinic before the session, so we can't "
            f"book it online. Please call {location.name} on {location.phone} and we'll book the "
            "patch test and the session with you."
        )
    return exc.message


def _render_at(
    request: HttpRequest, template: str, context: dict, location: Location | None, *, status: int = 200
) -> HttpResponse:
    """Render with the location's zone active, so every time the page prints is on its clock."""
    if location is None:
        return render(request, template, context, status=status)
    with timezone.override(location.tz):
        return render(request, template, context, status=status)


def _with_selection(context: dict, data) -> dict:
    """What the step-1 form shows as chosen, and the query string for the day links."""
    location, treatment = context.get("location"), context.get("treatment")
    sel_location = location.slug if location else data.get("location", "")
    sel_treatment = treatment.slug if treatment else data.get("treatment", "")
    start = context.get("start")
    context.update(
        {
            "sel_location": sel_location,
            "sel_treatment": sel_treatment,
            "sel_start": start.isoformat() if start else (data.get("start", "") or timezone.localdate().isoformat()),
            "nav_query": urlencode({"location": sel_location, "treatment": sel_treatment}) + "&",
        }
    )
    return context


def _token_page(request: HttpRequest, token: str) -> tuple[Appointment | None, HttpResponse | None]:
    try:
        appointment = booking_token_load(token)
    except TokenInvalid:
        return None, render(request, "bookings/link_invalid.html", status=404)
    if appointment.end <= timezone.now():
        return None, render(request, "bookings/link_expired.html", {"location": appointment.location}, status=410)
    return appointment, None


# A client's own booking behind a signed link: no browser or shared cache keeps it.
@never_cache
@require_GET
def booked(request: HttpRequest, token: str) -> HttpResponse:
    appointment, error = _token_page(request, token)
    if error:
        return error
    return _render_at(
        request,
        "bookings/booked.html",
        {
            "appointment": appointment,
            "manage_url": reverse("bookings:manage", kwargs={"token": token}),
            # Only a booking that was held for a deposit has one (the page stays two queries).
            **(_deposit_status(appointment) if appointment.status in DEPOSIT_STATUSES else {}),
            "intake_url": intake_path(appointment),
        },
        appointment.location,
    )


DEPOSIT_STATUSES = (
    Appointment.Status.PENDING_PAYMENT,
    Appointment.Status.HOLD_RELEASED,
    Appointment.Status.CONFIRMED,
)


def _deposit_status(appointment: Appointment) -> dict:
    """The booking's deposit for its pages: the payment, what settled it, and its terms (one query)."""
    deposit, settlements = appointment_deposit_with_settlements(appointment)
    if deposit is None:
        return {"deposit_payment": None}
    return {
        "deposit_payment": deposit,
        "deposit_settlements": settlements,
        "deposit_terms": terms_text(deposit.terms or {}),
    }


# A client's own booking behind a signed link: no browser or shared cache keeps it.
@never_cache
@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest, token: str) -> HttpResponse:
    appointment, error = _token_page(request, token)
    if error:
        return error
    policy = booking_policy_for(appointment.location)
    reason = client_may_change(appointment=appointment, policy=policy)
    context: dict = {"appointment": appointment, "token": token, "reason": reason, "policy": policy}
    if appointment.status in (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED):
        context["intake_url"] = intake_path(appointment)
    status = 200
    if request.method == "POST" and reason is None:
        action = request.POST.get("action")
        try:
            if action == "cancel":
                appointment_cancel(appointment=appointment, by_client=True)
                return redirect(reverse("bookings:manage", kwargs={"token": token}) + "?done=cancelled")
            if action == "reschedule":
                form = RescheduleForm(request.POST)
                if form.is_valid():
                    appointment_reschedule(appointment=appointment, start=form.cleaned_data["start"], by_client=True)
                    return redirect(reverse("bookings:manage", kwargs={"token": token}) + "?done=moved")
                context["reschedule_errors"] = form.errors.get("start")
                status = 400
            else:
                context["reschedule_errors"] = ["Choose to move or to cancel the booking."]
                status = 400
        except SlotTaken as exc:
            context["taken"] = exc
            context["alternatives"] = [
                {"start": _iso(s.start, appointment.location), "label": s.start.astimezone(appointment.location.tz)}
                for s in exc.alternatives
            ]
            status = 409
        except ChangeNotAllowed as exc:
            context["reason"] = exc.message
            status = 409
        except BookingRequestError as exc:
            context["reschedule_errors"] = [exc.message]
            status = 400
    elif request.method == "POST":
        status = 409
    elif reason is None and request.GET.get("confirm") == "cancel":
        # "Cancel my booking" only asks: the POST from this step cancels.
        context["outcome"] = cancellation_outcome(appointment=appointment, policy=policy)
        return _render_at(request, "bookings/manage_cancel.html", context, appointment.location)
    if context["reason"] is None:
        today = local_today(appointment.location)
        try:
            start = date.fromisoformat(request.GET["start"]) if request.GET.get("start") else today
        except ValueError:
            start = today
        # As on /book/: from today to a year ahead (an edited ?start= must not crash the page).
        start = min(max(start, today), today + timedelta(days=366))
        slots = availability_compute(
            location=appointment.location,
            kind=appointment.kind,
            treatment=appointment.treatment,
            start_date=start,
            days=MAX_DAYS_SHOWN,
            length_minutes=appointment.duration_minutes,
            exclude_appointment_id=appointment.pk,
            policy=policy,
        )
        context.update(
            {
                "days": _group(slots, appointment.location, current_start=appointment.start),
                "later": start + timedelta(days=MAX_DAYS_SHOWN),
                "earlier": max(today, start - timedelta(days=MAX_DAYS_SHOWN)) if start > today else None,
            }
        )
    context["done"] = request.GET.get("done")
    context["payment_cancelled"] = request.GET.get("payment") == "cancelled"
    if appointment.status == Appointment.Status.CANCELLED:
        context["book_again_url"] = reverse("bookings:book") + "?" + urlencode({"location": appointment.location.slug})
    context.update(_deposit_status(appointment))
    return _render_at(request, "bookings/manage.html", context, appointment.location, status=status)


# A client's own booking behind a signed link: no browser or shared cache keeps it.
@never_cache
@require_http_methods(["GET", "POST"])
def identity_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The double opt-in link. GET only shows a button: mail scanners open links, and opening one
    must not confirm anything. The POST confirms (once; again is a no-op)."""
    try:
        claim = identity_token_load(token)
    except TokenExpired:
        return render(request, "bookings/identity_expired.html", status=410)
    except TokenInvalid:
        return render(request, "bookings/link_invalid.html", status=404)
    if request.method == "GET":
        return render(request, "bookings/identity_confirm.html", {"reference": claim.reference})
    try:
        outcome = booking_identity_confirm(claim=claim)
    except TokenInvalid:
        return render(request, "bookings/link_invalid.html", status=404)
    return render(
        request,
        "bookings/identity_confirmed.html",
        {"reference": claim.reference, "already": outcome == Confirmed.ALREADY},
    )


@require_http_methods(["GET", "POST"])
def waitlist_join(request: HttpRequest) -> HttpResponse:
    """Join the waiting list for a clinic and a range of days (linked from /book/)."""
    if request.method == "GET":
        initial = {k: request.GET.get(k, "") for k in ("location", "treatment")}
        return render(request, "bookings/waitlist_join.html", {"form": WaitlistJoinForm(initial=initial)})
    if booking_ip_limited(client_ip(request) or "unknown"):
        return _rate_limited(request)
    form = WaitlistJoinForm(request.POST)
    if form.is_bot:
        logger.info("waiting-list honeypot triggered")
        return render(request, "bookings/rejected.html", status=400)
    if form.is_valid():
        data = form.cleaned_data
        if booking_email_limited(data["email"]):
            return _rate_limited(request)
        try:
            waitlist_service.waitlist_join(**{k: v for k, v in data.items() if k != "website"})
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            return redirect("bookings:waitlist_joined")
    return render(request, "bookings/waitlist_join.html", {"form": form}, status=400)


@require_GET
def waitlist_joined(request: HttpRequest) -> HttpResponse:
    return render(request, "bookings/waitlist_joined.html")


# A client's own booking behind a signed link: no browser or shared cache keeps it.
@never_cache
@require_http_methods(["GET", "POST"])
def waitlist_claim(request: HttpRequest, token: str) -> HttpResponse:
    """An offer's link. GET only shows the time and a button (mail scanners open links); the
    POST books it, if it is still there."""
    try:
        offer_id = waitlist_offer_token_load(token)
    except TokenInvalid:
        return render(request, "bookings/link_invalid.html", status=404)
    offer = waitlist_service.waitlist_offer_load(offer_id)
    if offer is None:
        return render(request, "bookings/link_invalid.html", status=404)
    location = offer.release.location
    if not waitlist_service.offer_claimable(offer):
        return _render_at(request, "bookings/waitlist_gone.html", {"location": location}, location, status=410)
    policy = booking_policy_for(location)
    late = in_change_window(start=offer.release.start, policy=policy)
    context = {
        "offer": offer,
        "location": location,
        "late": late,
        "notice": change_window_notice(location=location, policy=policy) if late else "",
    }
    if request.method == "GET":
        context["form"] = WaitlistClaimForm()
        return _render_at(request, "bookings/waitlist_claim.html", context, location)
    form = WaitlistClaimForm(request.POST)
    context["form"] = form
    if form.is_valid():
        try:
            appointment = waitlist_service.waitlist_offer_claim(
                offer_id=offer.pk,
                health_consent=form.cleaned_data["health_consent"],
                late_change_accepted=form.cleaned_data["late_change_accepted"],
            )
        except waitlist_service.OfferGone:
            return _render_at(request, "bookings/waitlist_gone.html", {"location": location}, location, status=410)
        except BookingRequestError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return redirect("bookings:booked", token=booking_token_make(appointment=appointment))
    return _render_at(request, "bookings/waitlist_claim.html", context, location, status=400)
