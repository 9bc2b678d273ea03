"""The intake form a client opens from their confirmation: no login, a signed link that expires.

Thin: check the link, parse the form, call bookings.services.intake.intake_submit, render.
A refusal is a 4xx page that says why; nothing the client sent before is lost by it.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from clients.intake import intake_questions
from clients.models import ConsentWording, Intake

from .forms_intake import IntakeForm
from .models import Appointment
from .services.intake import (
    INTAKE_MAX_PHOTOS,
    IntakeClosed,
    intake_closed_reason,
    intake_photo_count,
    intake_submit,
    photo_consent_needed,
)
from .tokens import TokenExpired, TokenInvalid, intake_token_load, intake_token_make

logger = logging.getLogger(__name__)


def intake_path(appointment: Appointment) -> str:
    """A fresh link to a consultation's intake form ('' for other kinds)."""
    if appointment.kind != Appointment.Kind.CONSULTATION:
        return ""
    return reverse("bookings:intake", kwargs={"token": intake_token_make(appointment=appointment)})


def _closed(request: HttpRequest, appointment: Appointment, reason: str) -> HttpResponse:
    return render(
        request, "bookings/intake_closed.html", {"reason": reason, "location": appointment.location}, status=410
    )


# The page shows the client's own answers (medicines, allergies, medical history) again: no
# browser or proxy keeps a copy.
@never_cache
@require_http_methods(["GET", "POST"])
def intake(request: HttpRequest, token: str) -> HttpResponse:
    try:
        appointment = intake_token_load(token)
    except TokenExpired:
        return render(request, "bookings/intake_expired.html", status=410)
    except TokenInvalid:
        return render(request, "bookings/link_invalid.html", status=404)
    now = timezone.now()
    reason = intake_closed_reason(appointment, now=now)
    if reason:
        return _closed(request, appointment, reason)
    saved = Intake.objects.filter(appointment=appointment).first()
    form = IntakeForm(request.POST or None, request.FILES or None, questions=intake_questions(), intake=saved)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                intake_submit(
                    appointment=appointment,
                    data=form.text_answers(),
                    medical_answers=form.medical_answers(),
                    photos=form.cleaned_data["photos"],
                    photo_consent=form.cleaned_data["photo_consent"],
                    now=now,
                )
            except IntakeClosed as exc:
                return _closed(request, appointment, str(exc))
            except ValidationError as exc:
                errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
                for field, messages in errors.items():
                    form.add_error(field if field in form.fields else None, messages)
            else:
                return redirect(reverse("bookings:intake", kwargs={"token": token}) + "?done=1")
        status = 400
    photo_count = intake_photo_count(appointment)
    wording = ConsentWording.objects.filter(kind=ConsentWording.Kind.CLINICAL_PHOTOS).order_by("-version").first()
    with timezone.override(appointment.location.tz):
        return render(
            request,
            "bookings/intake.html",
            {
                "appointment": appointment,
                "form": form,
                "saved": saved,
                "done": request.method == "GET" and request.GET.get("done") == "1" and saved is not None,
                "photo_count": photo_count,
                "photo_room": max(INTAKE_MAX_PHOTOS - photo_count, 0),
                "max_photos": INTAKE_MAX_PHOTOS,
                "photo_consent_needed": photo_consent_needed(appointment),
                "photo_wording": wording,
                # A refused form cannot give the chosen files back: say so, or they are lost unseen.
                "photos_dropped": status == 400 and bool(request.FILES.getlist("photos")),
            },
            status=status,
        )
