"""The diary in the admin: /admin/bookings/appointment/diary/, a location's day or week with the
technicians as columns, and from it booking a client into a free time and moving an appointment.

Every page works with plain links and forms; htmx (static, no inline script) only swaps the
grid for the previous or next day without a full load, opens the booking form beside the grid
and suggests clients as reception types. Booking calls appointment_staff_book and moving calls
appointment_staff_move: the service checks the permission again, locks the technician and
judges the time (hours, breaks, time off, closures, other appointments with their buffers);
the diary only decides which links to draw.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from clients.models import Client
from clients.phones import phone_search_value
from clients.selectors import client_search
from treatments.models import Treatment

from . import zones
from .availability import local_instant
from .diary import diary_grid, gap_kinds, utc_param, week_start
from .diary_html import diary_cells_render
from .models import Appointment, Location, Technician
from .selectors import BookingRequestError, booking_policy_for
from .services.appointments import STAFF_CHANNELS, appointment_staff_book, appointment_staff_move
from .services.booking import ChangeNotAllowed, SlotTaken

DIARY_URL_NAME = "bookings_appointment_diary"
BOOK_URL_NAME = "bookings_appointment_diary_book"
MOVE_URL_NAME = "bookings_appointment_diary_move"
CLIENTS_URL_NAME = "bookings_appointment_diary_clients"
VIEWS = (("day", "Day"), ("week", "Week"))
SEARCH_LIMIT = 20
# What appointment_staff_move accepts; the diary offers "Move" only on these.
MOVABLE = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED)
MAX_ID = 2**31 - 1


def _bad_request(request: HttpRequest, message: str, *, parameter: str) -> HttpResponse:
    # The site's 400 page, as the day board answers (smpclinic's BadInput is a higher layer).
    return render(request, "400.html", {"message": message, "parameter": parameter}, status=400)


def _invalid(request: HttpRequest, form: forms.Form) -> HttpResponse:
    text = " ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
    return _bad_request(request, text, parameter=next(iter(form.errors)))


class DayField(forms.DateField):
    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%Y-%m-%d"])
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
        super().__init__(**kwargs)

    def clean(self, value):
        day = super().clean(value)
        # A week is built with day + 7 and a week's Monday with day - 6: keep clear of the calendar's ends.
        if day is not None and not (date(2, 1, 1) <= day <= date(9998, 12, 24)):
            raise ValidationError("Choose a date between the years 2 and 9998.", code="date_out_of_range")
        return day


class InstantField(forms.CharField):
    """A UTC instant as the diary's links carry it (2026-11-20T10:00Z)."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError("Give the time as the diary links do, e.g. 2026-11-20T10:00Z.", code="bad_start")
        if instant.tzinfo is None or instant.utcoffset() != timedelta(0):
            raise ValidationError("The time must be in UTC (ending in Z).", code="bad_start")
        if not (datetime(2, 1, 1, tzinfo=UTC) <= instant <= datetime(9998, 12, 31, 23, 59, tzinfo=UTC)):
            raise ValidationError("Choose a time between the years 2 and 9998.", code="bad_start")
        return instant


class DiaryQueryForm(forms.Form):
    location = forms.ModelChoiceField(queryset=Location.objects.filter(is_active=True), required=False)
    date = DayField(required=False)
    view = forms.ChoiceField(choices=VIEWS, required=False)
    move = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)


def _active_technicians():
    return Technician.objects.filter(is_active=True)


class BookForm(forms.Form):
    location = forms.ModelChoiceField(queryset=Location.objects.filter(is_active=True), widget=forms.HiddenInput)
    technician = forms.ModelChoiceField(queryset=_active_technicians(), widget=forms.HiddenInput)
    start = InstantField(widget=forms.HiddenInput)
    q = forms.CharField(label="Find the client", required=False, max_length=100)
    client = forms.ModelChoiceField(
        queryset=Client.objects.filter(erased_at__isnull=True),
        required=False,
        error_messages={"invalid_choice": "That client is no longer on record: search again."},
    )
    kind = forms.ChoiceField(choices=Appointment.Kind.choices, initial=Appointment.Kind.CONSULTATION)
    treatment = forms.ModelChoiceField(
        queryset=Treatment.objects.filter(is_active=True),
        required=False,
        help_text="Needed for a treatment session; for a consultation, what the client is interested in.",
    )
    length_minutes = forms.IntegerField(
        label="Length (minutes)",
        min_value=15,
        max_value=12 * 60,
        required=False,
        help_text="Empty: the usual length for the kind chosen (a session: the treatment's longest).",
        widget=forms.NumberInput(attrs={"placeholder": "Usual length"}),
    )
    channel = forms.ChoiceField(
        choices=[(c.value, c.label) for c in STAFF_CHANNELS], initial=Appointment.Channel.PHONE, label="Booked by"
    )
    staff_notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)


FIXED = ("location", "technician", "start")
APPOINTMENT_FIELDS = ("kind", "treatment", "length_minutes", "channel", "staff_notes")


class SlotForm(forms.Form):
    """The gap a booking page is for: the diary's link gives all three."""

    location = BookForm.base_fields["location"]
    technician = BookForm.base_fields["technician"]
    start = BookForm.base_fields["start"]


class MoveForm(forms.Form):
    date = DayField(label="Day")
    time = forms.TimeField(label="Time", input_formats=["%H:%M"], widget=forms.TimeInput(attrs={"type": "time"}))
    technician = forms.ModelChoiceField(queryset=_active_technicians(), empty_label=None)


def _link(name: str, **params) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")}, safe=":")
    return f"{reverse(f'admin:{name}')}?{query}" if query else reverse(f"admin:{name}")


# What a booking page's address carries back after a new client is added from it.
BOOK_RETURN_PARAMS = ("location", "technician", "start", "kind", "treatment", "length_minutes")


def add_client_link(*, query: str, slot: dict | None) -> str:
    """The client add page for a caller the search did not find: what reception typed prefilled
    (an e-mail, a phone number or a name) and, given the gap, ``next`` back to its booking page
    (ClientBookingsAdmin.response_add returns there with the new client chosen)."""
    params: dict[str, str] = {}
    if slot is not None:
        start = utc_param(slot["start"])
        params["next"] = _link(
            BOOK_URL_NAME, location=slot["location"].pk, technician=slot["technician"].pk, start=start
        )
    term = " ".join(query.split())
    if "@" in term:
        params["email"] = term
    elif phone_search_value(term):
        params["phone"] = term
    elif term and not any(c.isdigit() for c in term):  # a name, not a reference or a part of a number
        params["first_name"], _, params["last_name"] = term.partition(" ")
    add = reverse("admin:clients_client_add")
    return f"{add}?{urlencode(params)}" if params else add


def booking_return(url: str, *, client: Client) -> str | None:
    """The diary booking page ``url`` names, with ``client`` chosen; None for any other address
    (``next`` comes from the browser: only this site's booking page is followed)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" in a host
        return None
    if parts.scheme or parts.netloc or parts.path != reverse(f"admin:{BOOK_URL_NAME}"):
        return None
    params = {k: v for k, v in parse_qsl(parts.query) if k in BOOK_RETURN_PARAMS}
    return _link(BOOK_URL_NAME, **params, client=client.pk)


class DiaryAdminMixin:
    """Adds /admin/bookings/appointment/diary/ (and its booking and moving pages) to the
    Appointment ModelAdmin."""

    diary_template = "admin/bookings/appointment/diary.html"

    def get_urls(self):
        diary = [
            path("diary/", self.admin_site.admin_view(self.diary_view), name=DIARY_URL_NAME),
            path("diary/book/", self.admin_site.admin_view(self.diary_book_view), name=BOOK_URL_NAME),
            path("diary/clients/", self.admin_site.admin_view(self.diary_clients_view), name=CLIENTS_URL_NAME),
            path("diary/move/<int:pk>/", self.admin_site.admin_view(self.diary_move_view), name=MOVE_URL_NAME),
        ]
        # Before the ModelAdmin's own: its "<path:object_id>/" would take "diary/" for an id.
        return [*diary, *super().get_urls()]

    # The grid ------------------------------------------------------------------------

    def diary_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        query = DiaryQueryForm(request.GET)
        if not query.is_valid():
            return _invalid(request, query)
        data = query.cleaned_data
        locations = list(Location.objects.filter(is_active=True))
        location = data["location"] or (locations[0] if locations else None)
        now = timezone.now()
        view = data["view"] or "day"
        context = {
            **self.admin_site.each_context(request),
            "title": f"Diary: {location}" if location else "Diary",
            "opts": self.model._meta,
            "locations": locations,
            "location": location,
            "view": view,
            "views": VIEWS,
        }
        if location is None:
            return TemplateResponse(request, self.diary_template, context)
        today = zones.local_today(location, now=now)
        day = data["date"] or today
        first = week_start(day) if view == "week" else day
        span = 7 if view == "week" else 1
        moving = None
        if data["move"] is not None:
            if not self.has_change_permission(request):
                raise PermissionDenied
            moving = (
                Appointment.objects.select_related("client", "technician")
                .filter(pk=data["move"], location=location)
                .first()
            )
            if moving is None:
                return _bad_request(request, "move: There is no such appointment at this location.", parameter="move")
            if moving.status not in MOVABLE:
                status = moving.get_status_display().lower()
                return _bad_request(request, f"move: A {status} appointment cannot be moved.", parameter="move")
        diary = diary_grid(location=location, first_day=first, days=span, now=now, moving=moving)
        may_book = self.has_add_permission(request)
        may_move = self.has_change_permission(request)
        self._links(diary, location=location, view=view, moving=moving, may_book=may_book, may_move=may_move)
        diary_cells_render(diary, tz=location.tz, moving=moving is not None)
        step = timedelta(days=span)

        def nav(target: date, as_view: str = view) -> str:
            return _link(DIARY_URL_NAME, location=location.pk, date=target.isoformat(), view=as_view)

        context.update(
            {
                "diary": diary,
                "day": day,
                "first": first,
                "last": first + timedelta(days=span - 1),
                "today": today,
                "now_local": zones.local(now, location),
                "moving": moving,
                "may_book": may_book,
                "may_move": may_move,
                "prev_url": nav(first - step),
                "next_url": nav(first + step),
                "today_url": nav(today),
                "day_url": nav(day, "day"),
                "week_url": nav(day, "week"),
                "day_heads": [(d, nav(d, "day")) for d in diary.days],
                "cancel_move_url": nav(day),
            }
        )
        response = TemplateResponse(request, self.diary_template, context)
        # Every time on the page is on the location's clock, whatever the user's zone.
        with timezone.override(location.tz):
            response.render()
        return response

    def _links(self, diary, *, location, view, moving, may_book, may_move) -> None:
        """The URL on each free cell (book, or move the appointment being moved) and each block."""
        book = reverse(f"admin:{BOOK_URL_NAME}")
        change = reverse("admin:bookings_appointment_change", args=[0]).replace("/0/", "/{}/")
        move_to = reverse(f"admin:{MOVE_URL_NAME}", args=[moving.pk]) if moving is not None else ""
        diary_url = reverse(f"admin:{DIARY_URL_NAME}")
        for row in diary.rows:
            for cell in row.cells:
                if cell.appointment is not None:
                    cell.change_url = change.format(cell.appointment.pk)
                    if may_move and cell.appointment.status in MOVABLE and cell.kind == "appointment":
                        day = zones.local_date(cell.appointment.start, location).isoformat()
                        query = {"location": location.pk, "date": day, "view": view, "move": cell.appointment.pk}
                        cell.move_url = f"{diary_url}?{urlencode(query, safe=':')}"
                if not cell.bookable:
                    continue
                params = {"technician": cell.technician.pk, "start": utc_param(cell.start)}
                if moving is not None:
                    cell.link = move_to + "?" + urlencode(params, safe=":")
                elif may_book:
                    cell.link = f"{book}?{urlencode({'location': location.pk, **params}, safe=':')}"

    # Booking into a gap ----------------------------------------------------------------

    def diary_book_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = BookForm(request.POST)
            valid = form.is_valid()
            if any(name in form.errors for name in FIXED):
                return _invalid(request, form)
            slot = {name: form.cleaned_data[name] for name in FIXED}
            # "Find" (also what Enter in the search box presses) only searches; "Book" books.
            if valid and "book" in request.POST:
                response = self._book(request, form)
                if response is not None:
                    return response
            query, chosen = (form.cleaned_data.get("q") or "").strip(), form.cleaned_data.get("client")
            return self._book_page(request, form, slot=slot, query=query, chosen=chosen)
        fixed = SlotForm(request.GET)
        if not fixed.is_valid():
            return _invalid(request, fixed)
        initial = self._book_initial(request)
        slot = fixed.cleaned_data
        policy = booking_policy_for(slot["location"])
        fit_note = ""
        if "kind" not in request.GET:
            # The gap may be shorter than a consultation: start the form on a kind that fits.
            fit_note = self._fit_kind(initial, slot=slot, policy=policy)
        form = BookForm(initial={**initial, **{name: request.GET[name] for name in FIXED}})
        raw = str(initial.get("client", ""))
        chosen = (
            Client.objects.filter(pk=int(raw), erased_at__isnull=True).first()
            if raw.isdigit() and int(raw) <= MAX_ID
            else None
        )
        query = str(initial.get("q", "")).strip()[:100]
        return self._book_page(request, form, slot=slot, query=query, chosen=chosen, policy=policy, fit_note=fit_note)

    def _fit_kind(self, initial: dict, *, slot: dict, policy) -> str:
        """Set the initial kind and length to the first usual kind that fits the gap; say so when
        that is not the consultation the form would otherwise offer."""
        fits = gap_kinds(
            location=slot["location"],
            technician=slot["technician"],
            start=slot["start"],
            policy=policy,
            now=timezone.now(),
        )
        if not fits or fits[0] == Appointment.Kind.CONSULTATION:
            if fits == []:
                return "Nothing fits here at its usual length any more: choose another free time in the diary."
            return ""
        kind = Appointment.Kind(fits[0])
        initial["kind"] = kind.value
        return (
            f"A {policy.consultation_minutes}-minute consultation does not fit this gap; "
            f"it has room for: {', '.join(str(Appointment.Kind(k).label).lower() for k in fits)}."
        )

    def _book_initial(self, request: HttpRequest) -> dict:
        initial: dict = {"channel": Appointment.Channel.PHONE, "kind": Appointment.Kind.CONSULTATION}
        for name in ("q", "client", "kind", "length_minutes", "treatment"):
            if request.GET.get(name):
                initial[name] = request.GET[name]
        return initial

    def _book_page(
        self,
        request: HttpRequest,
        form: BookForm,
        *,
        slot: dict,
        query: str,
        chosen: Client | None,
        policy=None,
        fit_note: str = "",
    ) -> HttpResponse:
        location, technician, start = slot["location"], slot["technician"], slot["start"]
        if policy is None:
            policy = booking_policy_for(location)
        results = self._client_results(query)
        if chosen is not None and chosen not in results:
            results = [chosen, *results]
        # The length is left empty (the chosen kind's usual length) rather than prefilled: a
        # prefilled 45 stayed 45 when reception switched the kind to a touch-up, and was booked so.
        local_start = zones.local(start, location)
        context = {
            **self.admin_site.each_context(request),
            "title": "Book into the diary",
            "opts": self.model._meta,
            "form": form,
            "location": location,
            "technician": technician,
            "start": start,
            "local_start": local_start,
            "query": query,
            "results": results,
            "chosen": chosen,
            "searched": bool(query),
            "policy": policy,
            "fit_note": fit_note,
            "diary_url": _link(DIARY_URL_NAME, location=location.pk, date=local_start.date().isoformat(), view="day"),
            "clients_url": reverse(f"admin:{CLIENTS_URL_NAME}"),
            "alternatives": getattr(form, "alternatives", []),
            "appointment_fields": [form[name] for name in APPOINTMENT_FIELDS],
            "add_client_url": add_client_link(query=query, slot=slot),
        }
        response = TemplateResponse(request, "admin/bookings/appointment/diary_book.html", context)
        with timezone.override(location.tz):
            response.render()
        return response

    def _client_results(self, query: str) -> list[Client]:
        if not query:
            return []
        return client_search(clients=Client.objects.all(), query=query, size=SEARCH_LIMIT).clients

    def _book(self, request: HttpRequest, form: BookForm) -> HttpResponse | None:
        data = form.cleaned_data
        if data["client"] is None:
            form.add_error("client", "Choose the client: find them by name, e-mail, phone or booking reference.")
            return None
        location, technician, start = data["location"], data["technician"], data["start"]
        if start < timezone.now():
            form.add_error(None, "That time has passed: choose a free time from now on.")
            return None
        # Said plainly here: the engine would only answer that the technician is not free.
        if not technician.locations.filter(pk=location.pk).exists():
            form.add_error(None, f"{technician} does not work at {location}: choose a gap in their column.")
            return None
        treatment = data["treatment"]
        offered = data["kind"] == Appointment.Kind.CONSULTATION or treatment is None
        if not offered and not technician.treatments.filter(pk=treatment.pk).exists():
            form.add_error("treatment", f"{technician} does not offer {treatment}: choose another technician's gap.")
            return None
        try:
            appointment = appointment_staff_book(
                by=request.user,
                client=data["client"],
                location=location,
                kind=data["kind"],
                treatment=data["treatment"],
                technician=technician,
                start=start,
                length_minutes=data["length_minutes"],
                channel=data["channel"],
                staff_notes=data["staff_notes"],
            )
        except SlotTaken as exc:
            form.alternatives = self._alternatives(exc, location=location, data=data)
            form.add_error(
                None,
                f"{technician} is not free for that long at {zones.local(start, location):%H:%M} on "
                f"{zones.local(start, location):%a %d/%m} (working hours, breaks, time off, closures and other "
                "appointments with their clean-up time). Choose one of the nearest free times below or another gap.",
            )
            return None
        except BookingRequestError as exc:
            # On the field it is about when the form shows it (the gap's own fields are hidden).
            form.add_error(exc.field if exc.field in APPOINTMENT_FIELDS else None, exc.message)
            return None
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
            return None
        local_start = zones.local(appointment.start, location)
        client = appointment.client
        self.message_user(
            request,
            f"Booked {client.first_name} {client.last_name} ({appointment.reference}) with {appointment.technician} "
            f"at {local_start:%H:%M} on {local_start:%a %d/%m/%Y}; the confirmation is on its way to the client.",
            messages.SUCCESS,
        )
        back = _link(DIARY_URL_NAME, location=location.pk, date=local_start.date().isoformat(), view="day")
        return HttpResponseRedirect(back)

    def _alternatives(self, exc: SlotTaken, *, location: Location, data: dict) -> list[dict]:
        technicians = {t.pk: t for t in Technician.objects.filter(pk__in={s.technician_id for s in exc.alternatives})}
        out = []
        for slot in exc.alternatives:
            params = {
                "location": location.pk,
                "technician": slot.technician_id,
                "start": utc_param(slot.start),
                "client": data["client"].pk if data.get("client") else "",
                "kind": data["kind"],
                "treatment": data["treatment"].pk if data.get("treatment") else "",
                "length_minutes": data.get("length_minutes") or "",
            }
            when = zones.local(slot.start, location)
            out.append(
                {
                    "label": f"{when:%a %d/%m %H:%M} with {technicians.get(slot.technician_id)}",
                    "url": _link(BOOK_URL_NAME, **params),
                }
            )
        return out

    def diary_clients_view(self, request: HttpRequest) -> HttpResponse:
        """The client suggestions htmx swaps in as reception types (a fragment)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        query = (request.GET.get("q") or "").strip()[:100]
        # The booking form sends its gap along (hx-include), for the "add them" link's way back.
        fixed = SlotForm(request.GET)
        slot = fixed.cleaned_data if fixed.is_valid() else None
        return TemplateResponse(
            request,
            "admin/bookings/appointment/diary_clients.html",
            {
                "results": self._client_results(query),
                "searched": bool(query),
                "query": query,
                "chosen": None,
                "add_client_url": add_client_link(query=query, slot=slot),
            },
        )

    # Moving an appointment -------------------------------------------------------------

    def diary_move_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        appointment = (
            Appointment.objects.select_related("client", "technician", "location").filter(pk=pk).first()
            if pk <= MAX_ID
            else None
        )
        if appointment is None:
            return _bad_request(request, "There is no such appointment.", parameter="appointment")
        location = appointment.location
        technicians = Technician.objects.filter(is_active=True, locations=location)
        if request.method == "POST":
            form = MoveForm(request.POST)
            form.fields["technician"].queryset = technicians
            if form.is_valid():
                response = self._diary_move(request, form, appointment)
                if response is not None:
                    return response
        else:
            initial = self._diary_move_initial(request, appointment)
            if initial is None:
                return _bad_request(request, "start: Give the time as the diary links do.", parameter="start")
            form = MoveForm(initial=initial)
            form.fields["technician"].queryset = technicians
        local_start = zones.local(appointment.start, location)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Move {appointment.reference}",
            "opts": self.model._meta,
            "form": form,
            "appointment": appointment,
            "location": location,
            "local_start": local_start,
            "local_end": zones.local(appointment.end, location),
            "diary_url": _link(DIARY_URL_NAME, location=location.pk, date=local_start.date().isoformat()),
            "pick_url": _link(
                DIARY_URL_NAME, location=location.pk, date=local_start.date().isoformat(), move=appointment.pk
            ),
            "alternatives": getattr(form, "alternatives", []),
        }
        response = TemplateResponse(request, "admin/bookings/appointment/diary_move.html", context)
        with timezone.override(location.tz):
            response.render()
        return response

    def _diary_move_initial(self, request: HttpRequest, appointment: Appointment) -> dict | None:
        location = appointment.location
        start, technician = appointment.start, appointment.technician_id
        if request.GET.get("start"):
            try:
                start = InstantField().clean(request.GET["start"])
            except ValidationError:
                return None
        raw = request.GET.get("technician", "")
        if raw.isdigit() and int(raw) <= MAX_ID:
            technician = int(raw)
        local_start = zones.local(start, location)
        return {"date": local_start.date(), "time": local_start.strftime("%H:%M"), "technician": technician}

    def _diary_move(self, request: HttpRequest, form: MoveForm, appointment: Appointment) -> HttpResponse | None:
        location = appointment.location
        data = form.cleaned_data
        start = local_instant(data["date"], data["time"], tz=location.tz)
        technician = data["technician"]
        try:
            moved = appointment_staff_move(appointment=appointment, start=start, technician=technician, by=request.user)
        except SlotTaken as exc:
            form.alternatives = [
                {
                    "label": f"{zones.local(s.start, location):%a %d/%m %H:%M}",
                    "url": reverse(f"admin:{MOVE_URL_NAME}", args=[appointment.pk])
                    + "?"
                    + urlencode({"technician": s.technician_id, "start": utc_param(s.start)}, safe=":"),
                }
                for s in exc.alternatives
            ]
            form.add_error(
                None,
                f"{technician} is not free for this appointment's {appointment.duration_minutes} minutes at "
                f"{zones.local(start, location):%H:%M} on {zones.local(start, location):%a %d/%m} (working hours, "
                "breaks, time off, closures and other appointments with their clean-up time). Nothing was changed.",
            )
            return None
        except (ChangeNotAllowed, BookingRequestError) as exc:
            form.add_error(None, exc.message)
            return None
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
            return None
        local_start = zones.local(moved.start, location)
        self.message_user(
            request,
            f"Moved {moved.reference} to {local_start:%H:%M} on {local_start:%a %d/%m/%Y} with {moved.technician}; "
            "the client will be told.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            _link(DIARY_URL_NAME, location=location.pk, date=local_start.date().isoformat(), view="day")
        )
