"""The provider's webhook endpoint: verify, apply once, answer."""

from __future__ import annotations

import logging
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.csp import CSP
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .payments.providers import BadWebhook, checkout_origin, provider
from .services.deposits import webhook_handle

logger = logging.getLogger(__name__)


def checkout_form_allowed(view):
    """A booking form that may go on to the provider's checkout: its page's CSP form-action
    also allows the checkout's origin (the form posts here, then is redirected there)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        policy = dict(getattr(response, "_csp_config", None) or settings.SECURE_CSP)
        policy["form-action"] = [*policy.get("form-action", [CSP.SELF]), checkout_origin()]
        response._csp_config = policy
        return response

    return wrapped


# Bigger than any event Stripe sends; a larger body is not read.
MAX_BODY = 256 * 1024


@csrf_exempt  # the provider cannot send a CSRF token: the signature is the check
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """400 for anything unsigned, wrongly signed or malformed; 200 once the event is applied or
    known to need nothing (ignored types, unknown checkouts, repeated deliveries)."""
    if int(request.headers.get("Content-Length") or 0) > MAX_BODY:
        return JsonResponse({"error": "too large"}, status=400)
    try:
        event = provider().verify_webhook(request.body, request.headers.get("Stripe-Signature"))
    except BadWebhook as exc:
        logger.info("webhook refused: %s", exc)
        return JsonResponse({"error": str(exc)}, status=400)
    outcome = webhook_handle(event=event, provider_name="stripe")
    return JsonResponse({"received": True, "outcome": outcome})
