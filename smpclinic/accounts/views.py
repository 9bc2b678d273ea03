"""Login pages around Django's: the lockout page, the second factor, password reset by e-mail."""

from __future__ import annotations

import logging
import math
from base64 import b32encode
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from clients.access import is_manager

from . import services
from .forms import EnrolForm, TokenForm
from .otp import ENROL_KEY, OTP_PENDING, is_verified, next_url

logger = logging.getLogger(__name__)


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """axes' AXES_LOCKOUT_CALLABLE: a plain page, 429, that names no account and no address."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(
        request,
        "accounts/locked_out.html",
        {"cooloff_minutes": math.ceil(seconds / 60)},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


def _token_page(request: HttpRequest, template: str, context: dict, form) -> HttpResponse:
    # 400 on a refused code: the browser shows the form again, a script sees it failed.
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, template, {"form": form, "next": next_url(request), **context}, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request: HttpRequest) -> HttpResponse:
    """After the password: the code from the user's authenticator app."""
    user = request.user
    if is_verified(user):
        return redirect(next_url(request))
    if not user_has_device(user):
        if is_manager(user):
            return redirect(f"{reverse('accounts:otp_enrol')}?{urlencode({'next': next_url(request)})}")
        request.session.pop(OTP_PENDING, None)
        return redirect(next_url(request))
    form = TokenForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.totp_verify(
                user=user, device_id=form.cleaned_data["device"], token=form.cleaned_data["token"]
            )
        except ValidationError as exc:
            form.add_error("token", exc)
        else:
            otp_login(request, device)
            request.session.pop(OTP_PENDING, None)
            return redirect(next_url(request))
    return _token_page(request, "accounts/otp_verify.html", {}, form)


def _secret_groups(key: str) -> str:
    secret = b32encode(bytes.fromhex(key)).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def otp_enrol(request: HttpRequest) -> HttpResponse:
    """Add an authenticator app: scan the QR code (or type the secret), then type a code it shows."""
    user = request.user
    # Whoever has an app must prove it first: a stolen password must not add the thief's phone.
    if user_has_device(user) and not is_verified(user):
        return redirect(f"{reverse('accounts:otp_verify')}?{urlencode({'next': request.get_full_path()})}")
    key = request.session.get(ENROL_KEY)
    if not isinstance(key, str) or len(key) != 40:
        key = request.session[ENROL_KEY] = random_hex(20)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.totp_device_enrol(
                user=user, key=key, token=form.cleaned_data["token"], name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            form.add_error("token", exc)
        else:
            request.session.pop(ENROL_KEY, None)
            otp_login(request, device)
            request.session.pop(OTP_PENDING, None)
            messages.success(request, "Authenticator app added: you will be asked for a code when you log in.")
            return redirect(next_url(request))
    uri = TOTPDevice(user=user, key=key).config_url
    context = {
        "qr_data_uri": segno.make(uri, error="m").svg_data_uri(scale=5, border=2),
        "secret": _secret_groups(key),
        "required": is_manager(user),
    }
    return _token_page(request, "accounts/otp_enrol.html", context, form)


class _AdminLook:
    """The admin's registration templates, with the admin site's header and links."""

    def get_context_data(self, **kwargs):
        return {**admin.site.each_context(self.request), **super().get_context_data(**kwargs)}


class _RefusedIs400:
    """A form sent back with errors answers 400, like every other refused input on the site."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class PasswordResetView(_RefusedIs400, _AdminLook, auth_views.PasswordResetView):
    email_template_name = "emails/staff/password_reset.txt"
    subject_template_name = "emails/staff/password_reset.subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    @property
    def extra_email_context(self) -> dict:
        # Links in e-mails use the address the clinic runs on, not the request's Host header.
        return {
            "site_url": settings.SITE_URL,
            "clinic_name": settings.CLINIC_NAME,
            "timeout_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        }


class PasswordResetDoneView(_AdminLook, auth_views.PasswordResetDoneView):
    pass


class PasswordResetConfirmView(_RefusedIs400, _AdminLook, auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(_AdminLook, auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
