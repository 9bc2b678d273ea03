"""The technician workspace at /staff/: thin views; access through workspace.access, writes through services."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bookings.forms_stock import SessionBatchesForm
from bookings.models import Technician
from bookings.payments.desk import PERMISSION as DESK_PERMISSION
from bookings.payments.desk import Statement, course_statement
from bookings.selectors import NO_ATTENDANCE_ISSUES, BookingRequestError, client_attendance_counts
from bookings.services import appointments
from bookings.services import courses as planner
from bookings.services.booking import SlotTaken
from bookings.services.erasure import client_erase as client_erase_service
from bookings.services.stock import client_export_with_stock, session_note_record
from bookings.stock_selectors import LEGACY_FIELDS
from bookings.zones import local_date
from clients import selectors as records
from clients import services
from clients.ages import age_on
from clients.forms import (
    AssessmentForm,
    CompareForm,
    ConsentSignForm,
    CoursePlanForm,
    IdCheckForm,
    NextSessionForm,
    PatchTestForm,
    PhotoUploadForm,
    SessionNoteForm,
)
from clients.intake import intake_declarations
from clients.models import Assessment, ConsentRecord, Intake, PatchTest, Photo, SessionNote
from smpclinic.accounts.otp import second_factor_redirect
from smpclinic.badinput import BadInput

from . import access, selectors

logger = logging.getLogger(__name__)


def staff_view(view):
    """Login required, the second factor verified where required (managers), never cached
    (health data must not sit in shared caches)."""

    @wraps(view)
    def second_factor_checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return second_factor_redirect(request) or view(request, *args, **kwargs)

    return login_required(never_cache(second_factor_checked))


# How far from today the schedule pages: two years either way covers every course and its
# history; a date beyond is a typo (year 9999 would overflow the date arithmetic), answered 400.
SCHEDULE_REACH = timedelta(days=730)
SCHEDULE_VIEWS = ("week", "day")


def _schedule_params(request: HttpRequest, today: date) -> tuple[date, str]:
    view = request.GET.get("view") or "week"
    if view not in SCHEDULE_VIEWS:
        raise BadInput("Choose view=day or view=week.", parameter="view")
    raw = request.GET.get("date") or ""
    if not raw:
        return today, view
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None  # YYYY-MM-DD, nothing longer
    except ValueError:
        day = None
    if day is None:
        raise BadInput("Give the date as YYYY-MM-DD.", parameter="date")
    if abs(day - today) > SCHEDULE_REACH:
        raise BadInput("The schedule goes back and forward two years from today.", parameter="date")
    return day, view


def _schedule_technician(request: HttpRequest) -> tuple[Technician | None, list[Technician]]:
    """Whose schedule to show, and the technicians a manager may pick from.

    A technician sees only their own (a ``technician`` parameter is ignored); a manager picks one
    technician at a time, so the page holds one person's week however large the clinic grows."""
    own = access.technician_for(request.user)
    if not access.is_manager(request.user):
        return own, []
    choices = selectors.schedule_technicians()
    raw = request.GET.get("technician") or ""
    if not raw:
        return (own if own is not None else (choices[0] if choices else None)), choices
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise BadInput("Choose a technician from the list.", parameter="technician")
    picked = next((t for t in choices if t.pk == int(raw)), None)
    if picked is None:
        raise Http404("No such technician.")
    return picked, choices


@staff_view
def schedule(request: HttpRequest) -> HttpResponse:
    access.require_workspace(request.user)
    technician, choices = _schedule_technician(request)
    # "Today" is the technician's clinic's today; each row prints on its own clinic's clock.
    tz = selectors.schedule_zone(technician=technician)
    now = timezone.now()
    today = timezone.localdate(now, timezone=tz)
    day, view = _schedule_params(request, today)
    if view == "day":
        first = last = day
        step = timedelta(days=1)
    else:
        first = day - timedelta(days=day.weekday())  # Monday to Sunday
        last = first + timedelta(days=6)
        step = timedelta(days=7)
    if technician is None:  # a manager in a clinic with no technicians yet
        days = {"earlier": [], "today": [], "later": []}
    else:
        days = selectors.schedule_for(technician=technician, first=first, last=last, today=today, now=now, tz=tz)
    earliest, latest = today - SCHEDULE_REACH, today + SCHEDULE_REACH
    return render(
        request,
        "staff/schedule.html",
        {
            "today": today,
            "day": day,
            "view": view,
            "first": first,
            "last": last,
            "has_today": first <= today <= last,
            "days": days,
            "everything": days["earlier"] + days["today"] + days["later"],
            "previous": first - step if first - step >= earliest else None,
            "next": first + step if first + step <= latest else None,
            "technician": technician,
            "technicians": choices,
            # Every link keeps the manager's pick; a technician's links carry nothing extra.
            "picked": f"technician={technician.pk}&" if choices and technician is not None else "",
        },
    )


@staff_view
def appointment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = access.require_appointment(request.user, pk)
    with timezone.override(appointment.location.tz):
        return _appointment_detail(request, appointment)


def _appointment_detail(request: HttpRequest, appointment, *, id_form: IdCheckForm | None = None) -> HttpResponse:
    record = selectors.client_record(client=appointment.client, before=appointment)
    now = timezone.now()
    Status = appointment.Status
    intake = Intake.objects.filter(appointment=appointment).first()
    services.audit_view(
        actor=request.user,
        client=appointment.client,
        what="client_record",
        object_id=appointment.client_id,
        fields=["assessment", "session_notes", "photos", *(["intake"] if intake else [])],
    )
    return render(
        request,
        "staff/appointment.html",
        {
            "appointment": appointment,
            "record": record,
            "client": appointment.client,
            "can_manage": access.is_manager(request.user),
            "is_consultation": appointment.kind == appointment.Kind.CONSULTATION,
            "intake": intake,
            "intake_declared": intake_declarations(intake),
            # Offered only when the service would accept it: started, and a status that may complete.
            "can_complete": appointment.start <= now
            and appointments.may_transition(by=request.user, current=appointment.status, target=Status.COMPLETED),
            "overdue": appointment.status in selectors.STILL_OPEN and appointment.end <= now,
            **_safety_context(appointment.client, appointment=appointment, id_form=id_form),
        },
    )


def _safety_context(client, *, appointment=None, id_form: IdCheckForm | None = None) -> dict:
    """Age, the ID check and the patch tests, for the appointment and client pages (two queries)."""
    today = timezone.localdate()
    return {
        "age": age_on(born=client.date_of_birth, day=today) if client.date_of_birth else None,
        "id_checked_by": client.id_checked_by if client.id_checked_at else None,
        "id_form": id_form or IdCheckForm(),
        "patch_tests": list(PatchTest.objects.filter(client=client).select_related("photo", "recorded_by")[:10]),
        "safety_appointment": appointment,
    }


def _refusal_to_forms(exc: ValidationError, *forms) -> None:
    """A service's refusal shown on the page: each field's messages on the form that has that
    field, the rest (a model field no form shows) above the first form, never an error page."""
    if not hasattr(exc, "error_dict"):
        forms[0].add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        target = next((f for f in forms if name in f.fields), None)
        if target is None:
            forms[0].add_error(None, errors)
        else:
            target.add_error(name, errors)


def _clinical_form(request: HttpRequest, appointment, *, model, form_class, save, what: str, template: str, saved: str):
    """One clinical record of an appointment (assessment or session note): a view of it is
    audited, a valid post goes through its service."""
    instance = model.objects.filter(appointment=appointment).first()
    if instance is not None and request.method == "GET":
        services.audit_view(actor=request.user, client=appointment.client, what=what, object_id=instance.pk)
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            save(appointment=appointment, data=form.cleaned_data, by=request.user)
        except ValidationError as exc:
            _refusal_to_forms(exc, form)
        else:
            messages.success(request, saved)
            return redirect("staff:appointment", pk=appointment.pk)
    return render(request, template, {"form": form, "appointment": appointment}, status=400 if form.errors else 200)


@staff_view
@require_http_methods(["GET", "POST"])
def assessment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = access.require_appointment(request.user, pk)
    return _clinical_form(
        request,
        appointment,
        model=Assessment,
        form_class=AssessmentForm,
        save=services.assessment_save,
        what="assessment",
        template="staff/assessment_form.html",
        saved="Assessment saved.",
    )


@staff_view
@require_http_methods(["GET", "POST"])
def session_note_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The session's note and the batches it used (pigment blend by batch, needles), saved
    together by bookings.services.stock.session_note_record."""
    appointment = access.require_appointment(request.user, pk)
    if appointment.kind == appointment.Kind.CONSULTATION:
        raise Http404("A consultation has an assessment, not a session note.")
    note = SessionNote.objects.filter(appointment=appointment).first()
    if note is not None and request.method == "GET":
        services.audit_view(actor=request.user, client=appointment.client, what="sessionnote", object_id=note.pk)
    form = SessionNoteForm(request.POST or None, instance=note)
    stock = SessionBatchesForm(request.POST or None, appointment=appointment, note=note)
    if request.method == "POST" and form.is_valid() & stock.is_valid():
        try:
            session_note_record(appointment=appointment, data=form.cleaned_data, uses=stock.uses(), by=request.user)
        except ValidationError as exc:
            _refusal_to_forms(exc, stock, form)
        else:
            messages.success(request, "Session note saved.")
            return redirect("staff:appointment", pk=appointment.pk)
    legacy = {f: getattr(note, f) for f in LEGACY_FIELDS if note is not None and getattr(note, f)}
    return render(
        request,
        "staff/session_note_form.html",
        {"form": form, "stock": stock, "appointment": appointment, "legacy": legacy},
        status=400 if form.errors or stock.errors else 200,
    )


@staff_view
@require_http_methods(["GET", "POST"])
def photo_upload(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = access.require_appointment(request.user, pk)
    form = PhotoUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            uploads = [
                services.PhotoUpload(file=f, angle=angle)
                for f, angle in zip(form.cleaned_data["photos"], form.angles(request.POST), strict=True)
            ]
            try:
                photos = services.photos_add(
                    client=appointment.client,
                    appointment=appointment,
                    uploads=uploads,
                    phase=form.cleaned_data["phase"],
                    by=request.user,
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("photos", message)
            else:
                messages.success(request, f"{len(photos)} photo{'s' if len(photos) != 1 else ''} saved.")
                return redirect("staff:appointment", pk=appointment.pk)
        status = 400
    return render(
        request,
        "staff/photo_upload.html",
        {"form": form, "appointment": appointment, "angles": Photo.Angle.choices},
        status=status,
    )


@staff_view
def photo_file(request: HttpRequest, pk: int, variant: str) -> FileResponse:
    """The only way to a photo's bytes: permission checked, the view logged."""
    access.require_workspace(request.user)
    photo = get_object_or_404(Photo, pk=pk)
    client = access.require_client(request.user, photo.client_id)
    field = photo.thumbnail if variant == "thumb" and photo.thumbnail else photo.image
    if variant not in {"thumb", "full"} or not field:
        raise Http404("No such photo.")
    services.audit_view(actor=request.user, client=client, what="photo", object_id=photo.pk, fields=[variant])
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        logger.warning("photo file missing photo=%s variant=%s", photo.pk, variant)
        raise Http404("No such photo.") from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = f'inline; filename="photo-{photo.pk}-{variant}.jpg"'
    return response


@staff_view
def photo_compare(request: HttpRequest, client_id: int) -> HttpResponse:
    client = access.require_client(request.user, client_id)
    form = CompareForm(request.GET or None)
    angle = form.cleaned_data["angle"] if form.is_valid() else Photo.Angle.FRONT
    rows = records.photos_by_angle(client=client, angle=angle)
    services.audit_view(actor=request.user, client=client, what="photo_compare", object_id=client.pk, fields=[angle])
    return render(
        request,
        "staff/compare.html",
        {"client": client, "rows": rows, "angle": angle, "form": form, "angles": Photo.Angle.choices},
    )


@staff_view
@require_http_methods(["GET", "POST"])
def consent_sign(request: HttpRequest, client_id: int) -> HttpResponse:
    client = access.require_client(request.user, client_id)
    wordings = services.consent_wordings_current()
    form = ConsentSignForm(request.POST or None, wordings=wordings)
    if request.method == "POST" and form.is_valid():
        try:
            services.consent_sign(
                client=client,
                wordings=list(form.cleaned_data["wordings"]),
                signed_name=form.cleaned_data["signed_name"],
                witness=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Consent recorded.")
            return redirect("staff:consents", client_id=client.pk)
    records = ConsentRecord.objects.filter(client=client).select_related("wording", "witnessed_by")
    return render(
        request,
        "staff/consents.html",
        {"client": client, "form": form, "wordings": wordings, "records": records},
        status=400 if form.errors else 200,
    )


@staff_view
@require_POST
def consent_withdraw(request: HttpRequest, client_id: int, record_id: int) -> HttpResponse:
    client = access.require_client(request.user, client_id)
    record = get_object_or_404(ConsentRecord, pk=record_id, client=client)
    services.consent_withdraw(record=record, by=request.user, note=request.POST.get("note", ""))
    messages.success(request, "Consent withdrawn; it takes effect now.")
    return redirect("staff:consents", client_id=client.pk)


@staff_view
def client_export(request: HttpRequest, client_id: int) -> FileResponse:
    access.require_export(request.user)
    client = access.require_client(request.user, client_id)
    archive = client_export_with_stock(client=client, by=request.user)
    response = FileResponse(
        archive, as_attachment=True, filename=f"client-{client.pk}-record.zip", content_type="application/zip"
    )
    response["Cache-Control"] = "private, no-store"
    return response


@staff_view
@require_http_methods(["GET", "POST"])
def client_erase(request: HttpRequest, client_id: int) -> HttpResponse:
    access.require_erase(request.user)
    client = access.require_client(request.user, client_id)
    if request.method == "POST":
        if request.POST.get("confirm") != "ERASE":
            messages.error(request, "Type ERASE to confirm.")
            return render(request, "staff/erase.html", {"client": client}, status=400)
        client_erase_service(client=client, by=request.user)
        messages.success(request, f"Client #{client.pk} erased.")
        return redirect("staff:schedule")
    return render(request, "staff/erase.html", {"client": client})


@staff_view
@require_POST
def appointment_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the session completed. Before its booked end, the technician confirms first: a tap by
    mistake 5 minutes into a 3-hour session would start the client's aftercare from now."""
    appointment = access.require_appointment(request.user, pk)
    now = timezone.now()
    if appointment.start <= now < appointment.end and request.POST.get("early") != "confirmed":
        return render(request, "staff/complete_early.html", {"appointment": appointment, "now": now})
    try:
        appointments.appointment_complete(appointment=appointment, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Session marked completed: aftercare messages are on their way.")
    return redirect("staff:appointment", pk=appointment.pk)


@staff_view
@require_http_methods(["GET", "POST"])
def next_session(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = access.require_appointment(request.user, pk)
    # Proposals, the message and the chosen time are all on the clinic's clock.
    with timezone.override(appointment.location.tz):
        return _next_session(request, appointment)


def _next_session(request: HttpRequest, appointment) -> HttpResponse:
    if appointment.course_id is None:
        messages.error(request, "This appointment is not part of a course: plan a course first.")
        return redirect("staff:course_plan", pk=appointment.pk)
    # Said before any time is offered, not after the technician has picked one.
    blocked = planner.next_session_blocked(appointment=appointment, course=appointment.course)
    proposals = [] if blocked else planner.next_session_proposals(appointment=appointment)
    form = NextSessionForm(request.POST or None, proposals=proposals)
    if blocked is not None:
        return render(
            request,
            "staff/next_session.html",
            {"appointment": appointment, "form": form, "proposals": proposals, "blocked": blocked},
            status=400 if request.method == "POST" else 200,
        )
    if request.method == "POST" and form.is_valid():
        try:
            start, technician_id = planner.parse_proposal(form.cleaned_data["slot"])
            booked = planner.next_session_book(
                appointment=appointment,
                start=start,
                technician=get_object_or_404(Technician, pk=technician_id, is_active=True),
                by=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except SlotTaken as exc:
            form.add_error(None, exc.message + " Choose another time.")
        except BookingRequestError as exc:
            form.add_error(None, exc.message)
        else:
            local = timezone.localtime(booked.start)
            messages.success(request, f"Session {booked.session_number} booked for {local:%a %d %b %Y at %H:%M}.")
            return redirect("staff:appointment", pk=appointment.pk)
    return render(
        request,
        "staff/next_session.html",
        {"appointment": appointment, "form": form, "proposals": proposals},
        status=400 if form.errors else 200,
    )


@staff_view
@require_http_methods(["GET", "POST"])
def course_plan(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = access.require_appointment(request.user, pk)
    # The form reads and prints its date-times (datetime-local, no zone) on the clinic's clock.
    with timezone.override(appointment.location.tz):
        return _course_plan(request, appointment)


def _course_account(user, appointment) -> Statement | None:
    """The appointment's course's account (price, deposits, payments, refunds, balance), for
    the staff who take payments; technicians see none."""
    if appointment.course_id is None or not user.has_perm(DESK_PERMISSION):
        return None
    return course_statement(appointment.course)


def _course_plan(request: HttpRequest, appointment) -> HttpResponse:
    assessment = Assessment.objects.filter(client=appointment.client).order_by("-assessed_at").first()
    initial = {
        "treatment": appointment.treatment,
        "price_band": assessment.stage if assessment else "",
        # A week on from today, or from the appointment when it is still ahead (a course planned
        # before the consultation starts from it, not from today).
        "first_date": max(timezone.localdate(), local_date(appointment.start, appointment.location))
        + timedelta(days=7),
    }
    form = CoursePlanForm(request.POST or None, initial=initial)
    proposed, guide, patch_plan = False, None, None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if request.POST.get("action") == "book":
            try:
                course = planner.course_create_and_book(
                    client=appointment.client,
                    treatment=data["treatment"],
                    location=appointment.location,
                    technician=appointment.technician,
                    planned_sessions=data["planned_sessions"],
                    price_band=data["price_band"],
                    price_agreed_minor=data["price_agreed_minor"],
                    starts=[s for s in form.starts() if s is not None],
                    by=request.user,
                    patch_test_start=data.get("patch_test_start"),
                )
            except (ValidationError, planner.CourseBookingError) as exc:
                form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))
            except BookingRequestError as exc:
                form.add_error(None, exc.message)
            else:
                patch = course.appointments.filter(kind=appointment.Kind.PATCH_TEST).first()
                if patch is not None:
                    messages.success(
                        request,
                        f"Patch test booked for {timezone.localtime(patch.start):%a %d %b %Y at %H:%M}. Book the "
                        "sessions from its page once the result is recorded clear.",
                    )
                else:
                    messages.success(request, f"Course booked: {course.planned_sessions} sessions.")
                return redirect("staff:appointment", pk=appointment.pk)
        else:
            guide = planner.price_guide_for(
                treatment=data["treatment"], band=data["price_band"], location=appointment.location
            )
            try:
                plan = planner.course_plan_with_patch_test(
                    client=appointment.client,
                    location=appointment.location,
                    treatment=data["treatment"],
                    technician=appointment.technician,
                    first_date=data["first_date"],
                    sessions=data["planned_sessions"],
                )
            except BookingRequestError as exc:  # e.g. a first date typed as year 9999
                form.add_error("first_date", exc.message)
            else:
                values = form.data.copy()
                for n, slot in enumerate(plan.sessions, start=1):
                    values[f"start_{n}"] = timezone.localtime(slot.start).strftime("%Y-%m-%dT%H:%M") if slot else ""
                patch = plan.patch_test.start if plan.patch_test else None
                values["patch_test_start"] = timezone.localtime(patch).strftime("%Y-%m-%dT%H:%M") if patch else ""
                form = CoursePlanForm(values, initial=initial)
                form.is_valid()
                if plan.patch_test_refusal:
                    form.add_error(None, plan.patch_test_refusal)
                proposed = True
                patch_plan = plan
    return render(
        request,
        "staff/course_plan.html",
        {
            "appointment": appointment,
            "form": form,
            "proposed": proposed,
            "guide": guide,
            "account": _course_account(request.user, appointment),
            "patch_plan": patch_plan,
        },
        status=400 if form.errors else 200,
    )


@staff_view
def client_list(request: HttpRequest) -> HttpResponse:
    access.require_workspace(request.user)
    query = request.GET.get("q", "").strip()[:80]
    raw_after = request.GET.get("after") or ""
    if raw_after and not (raw_after.isascii() and raw_after.isdigit() and len(raw_after) <= 10):
        raise BadInput("The page link is not valid: search again.", parameter="after")
    page = records.client_search(
        clients=access.clients_visible_to(request.user), query=query, after=int(raw_after) if raw_after else None
    )
    # The page's clients, with their no-shows counted in one query.
    attendance = client_attendance_counts(c.pk for c in page)
    for row in page:
        row.attendance = attendance.get(row.pk, NO_ATTENDANCE_ISSUES)
    return render(request, "staff/client_list.html", {"page": page, "query": query, "paged": bool(raw_after)})


@staff_view
def client_detail(request: HttpRequest, client_id: int) -> HttpResponse:
    client = access.require_client(request.user, client_id)
    record = selectors.client_record(client=client)
    services.audit_view(
        actor=request.user,
        client=client,
        what="client_record",
        object_id=client.pk,
        fields=["assessment", "session_notes", "photos"],
    )
    return render(
        request,
        "staff/client.html",
        {
            "client": client,
            "record": record,
            "can_manage": access.is_manager(request.user),
            "attendance": client_attendance_counts([client.pk]).get(client.pk, NO_ATTENDANCE_ISSUES),
            **_safety_context(client),
        },
    )


@staff_view
@require_http_methods(["GET", "POST"])
def patch_test_record(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a patch test's result (clear or reaction, notes, a photo) for the appointment's client."""
    appointment = access.require_appointment(request.user, pk)
    with timezone.override(appointment.location.tz):
        return _patch_test_record(request, appointment)


def _patch_test_record(request: HttpRequest, appointment) -> HttpResponse:
    is_patch_test = appointment.kind == appointment.Kind.PATCH_TEST
    initial = {"tested_at": timezone.localtime(min(appointment.start, timezone.now())).strftime("%Y-%m-%dT%H:%M")}
    form = PatchTestForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.patch_test_record(
                client=appointment.client,
                appointment=appointment if is_patch_test else None,
                result=data["result"],
                tested_at=data["tested_at"],
                notes=data["notes"],
                photo=data["photo"],
                photo_angle=data["photo_angle"] or Photo.Angle.BACK,
                by=request.user,
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, "Patch test result recorded.")
            return redirect("staff:appointment", pk=appointment.pk)
    return render(
        request,
        "staff/patch_test_form.html",
        {"form": form, "appointment": appointment},
        status=400 if form.errors else 200,
    )


@staff_view
@require_POST
def id_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Record that the client's photo ID was checked (the consultation, or any visit before a first session)."""
    appointment = access.require_appointment(request.user, pk)
    form = IdCheckForm(request.POST)
    if form.is_valid():
        try:
            services.client_id_check_record(
                client=appointment.client,
                document=form.cleaned_data["id_document"],
                date_of_birth=form.cleaned_data["date_of_birth"],
                by=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "ID check recorded.")
            return redirect("staff:appointment", pk=appointment.pk)
    with timezone.override(appointment.location.tz):
        response = _appointment_detail(request, appointment, id_form=form)
    response.status_code = 400
    return response
