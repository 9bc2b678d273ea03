"""Forms of the public booking pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from clients.phones import normalise_uk_phone
from treatments.models import Treatment

from .models import Location
from .zones import local_today

MAX_DAYS_SHOWN = 7


def parse_start(value: str) -> datetime:
    """An ISO 8601 time with a UTC offset (as the pages and the API give them)."""
    try:
        parsed = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise ValidationError("Choose a time from the list.") from None
    if timezone.is_naive(parsed):
        raise ValidationError("Choose a time from the list.")
    return parsed


class TimeField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        return parse_start(value)


def _locations():
    return Location.objects.filter(is_active=True)


def _treatments():
    return Treatment.objects.filter(is_active=True)


class SlotSearchForm(forms.Form):
    """Step 1 (a GET form): where, for what, and from which day."""

    location = forms.ModelChoiceField(
        queryset=_locations(), to_field_name="slug", empty_label="Choose a clinic", label="Clinic"
    )
    treatment = forms.ModelChoiceField(
        queryset=_treatments(),
        to_field_name="slug",
        required=False,
        empty_label="Not sure yet",
        label="Treatment you are interested in (optional)",
    )
    start = forms.DateField(
        required=False, label="Show times from", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def clean_start(self) -> date:
        location = self.cleaned_data.get("location")
        # "Today" at the clinic chosen: a New York clinic's today begins five hours after London's.
        today = local_today(location) if location else timezone.localdate()
        start = self.cleaned_data.get("start") or today
        if start < today:
            return today
        if start > today + timedelta(days=366):
            raise ValidationError("Choose a day within the next year.")
        return start


class BookingForm(forms.Form):
    """Step 2 (a POST form): the chosen time and the client's details."""

    location = forms.ModelChoiceField(queryset=_locations(), to_field_name="slug", widget=forms.HiddenInput)
    treatment = forms.ModelChoiceField(
        queryset=_treatments(), to_field_name="slug", required=False, widget=forms.HiddenInput
    )
    start = TimeField(error_messages={"required": "Choose a time."})
    first_name = forms.CharField(max_length=80, label="First name")
    last_name = forms.CharField(max_length=80, label="Last name")
    email = forms.EmailField(label="E-mail")
    phone = forms.CharField(max_length=30, label="Mobile or phone (UK)")
    description = forms.CharField(
        max_length=1000,
        required=False,
        label="Tell us briefly about your hair loss (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    health_consent = forms.BooleanField(
        label="I agree that the clinic may keep the health information I share, to assess and treat me.",
        error_messages={"required": "We can only book you in with your consent to keep your health information."},
    )
    marketing_opt_in = forms.BooleanField(required=False, label="Send me occasional news and offers by e-mail.")
    # Honeypot: hidden from people, filled in by bots.
    website = forms.CharField(required=False, label="Leave this field empty")

    def clean_phone(self) -> str:
        return normalise_uk_phone(self.cleaned_data["phone"])

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))


class RescheduleForm(forms.Form):
    start = TimeField(error_messages={"required": "Choose a new time."})


def local_label(instant: datetime, location: Location) -> str:
    return instant.astimezone(location.tz).strftime("%H:%M")
