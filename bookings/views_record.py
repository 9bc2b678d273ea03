"""The client's session record: one session's aftercare and the pigments, lots and needles used in
each of their sessions up to it (the record EN 17169 expects a client to be given), reached by
the signed link in every aftercare message. No account: the link is the key, as for bookings."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from treatments.selectors import aftercare_milestone_list

from .stock_selectors import pigment_record, session_day
from .tokens import TokenInvalid, session_record_token_load


@never_cache
@require_GET
def session_record(request: HttpRequest, token: str) -> HttpResponse:
    try:
        appointment = session_record_token_load(token)
    except TokenInvalid:
        return render(request, "bookings/link_invalid.html", status=404)
    sessions = pigment_record(client=appointment.client_id, up_to=appointment)
    this = next((s for s in sessions if s.appointment.pk == appointment.pk), None)
    earlier = [s for s in sessions if s is not this]
    earlier.reverse()
    with timezone.override(appointment.location.tz):
        response = render(
            request,
            "bookings/session_record.html",
            {
                "appointment": appointment,
                "day": session_day(appointment),
                "this": this,
                "earlier": earlier,
                "milestones": aftercare_milestone_list(),
            },
        )
    # Health data of one person: kept out of shared caches and other sites' referrers.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
