"""The Permissions-Policy header: browser features no page of the clinic uses, switched off.

Django has no setting for this header (it sets HSTS, Referrer-Policy, COOP, X-Frame-Options and
the CSP itself), so this small middleware adds it from settings.PERMISSIONS_POLICY. If a script
ever got into a page (a stored XSS the CSP missed), it could still not ask for the client's
location, microphone or a payment.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse


def header_value(policy: dict[str, list[str]]) -> str:
    """`{"geolocation": [], "camera": ["self"]}` -> `geolocation=(), camera=(self)`."""
    parts = []
    for feature, allow in policy.items():
        if not feature.replace("-", "").isalnum():
            raise ImproperlyConfigured(f"PERMISSIONS_POLICY feature {feature!r} is not a feature name.")
        origins = " ".join(origin if origin in {"self", "*"} else f'"{origin}"' for origin in allow)
        parts.append(f"{feature}=({origins})")
    return ", ".join(parts)


class PermissionsPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # Built once: the policy is the same for every response.
        self.value = header_value(settings.PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.value:
            response.headers.setdefault("Permissions-Policy", self.value)
        return response
