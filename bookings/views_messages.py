"""The unsubscribe link in reminders and follow-ups (signed token, no login)."""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from bookings.services.messaging import client_reminders_opt_out, unsubscribe_client_id
from clients.models import Client


@csrf_exempt  # The signed token is the credential; mail clients' one-click POST (RFC 8058) has no CSRF cookie.
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (link scanners must not unsubscribe anyone); POST unsubscribes."""
    try:
        client = Client.objects.get(pk=unsubscribe_client_id(token), erased_at__isnull=True)
    except (signing.BadSignature, Client.DoesNotExist):
        return render(request, "bookings/messages/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        client_reminders_opt_out(client=client)
        return render(request, "bookings/messages/unsubscribe.html", {"done": True})
    return render(request, "bookings/messages/unsubscribe.html", {"token": token})
