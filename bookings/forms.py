"""Forms of the public booking pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from clients.phones import normalise_uk_phone
from treatments.models import Treatment

from . import booking_refdata
from .models import Appointment, Location, Technician
from .selectors import MAX_DAYS, MAX_YEARS_AWAY, BookingRequestError, booking_window_check
from .zones import local_today

MAX_DAYS_SHOWN = 7


def parse_start(value: str) -> datetime:
    """An ISO 8601 time with a UTC offset (as the pages and the API give them)."""
    try:
        parsed = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise ValidationError("Choose a time from the list.", code="time_invalid") from None
    if timezone.is_naive(parsed):
        raise ValidationError("Choose a time from the list.", code="time_invalid")
    try:
        booking_window_check(instant=parsed)
    except BookingRequestError as exc:
        raise ValidationError(exc.message, code="out_of_window") from None
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
            raise ValidationError("Choose a day within the next year.", code="day_out_of_range")
        return start


class AvailabilityQueryForm(forms.Form):
    """The query string of GET /api/availability/; every message names what to send instead."""

    location = forms.ModelChoiceField(
        queryset=_locations(),
        to_field_name="slug",
        error_messages={
            "required": "location is required (a clinic's slug).",
            "invalid_choice": "No clinic has the slug %(value)r.",
        },
    )
    kind = forms.ChoiceField(
        choices=Appointment.Kind.choices,
        required=False,
        error_messages={"invalid_choice": f"kind must be one of {', '.join(Appointment.Kind.values)}."},
    )
    treatment = forms.ModelChoiceField(
        queryset=_treatments(),
        to_field_name="slug",
        required=False,
        error_messages={"invalid_choice": "No treatment has the slug %(value)r."},
    )
    start = forms.DateField(
        required=False, input_formats=["%Y-%m-%d"], error_messages={"invalid": "start must be a date as YYYY-MM-DD."}
    )
    days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        error_messages={
            "invalid": "days must be a whole number.",
            "min_value": f"days must be between 1 and {MAX_DAYS}.",
            "max_value": f"days must be between 1 and {MAX_DAYS}.",
        },
    )
    technician = forms.IntegerField(
        required=False, min_value=1, error_messages={"invalid": "technician must be a technician's id."}
    )
    length_minutes = forms.IntegerField(
        required=False,
        min_value=15,
        max_value=12 * 60,
        error_messages={
            "invalid": "length_minutes must be a whole number.",
            "min_value": "An appointment lasts between 15 minutes and 12 hours.",
            "max_value": "An appointment lasts between 15 minutes and 12 hours.",
        },
    )

    def clean_kind(self) -> str:
        return self.cleaned_data["kind"] or Appointment.Kind.CONSULTATION

    def clean_start(self) -> date:
        location = self.cleaned_data.get("location")
        today = local_today(location) if location else timezone.localdate()
        start = self.cleaned_data["start"] or today
        if abs((start - today).days) > MAX_YEARS_AWAY * 366:
            raise ValidationError(f"start must be within {MAX_YEARS_AWAY} years of today.", code="out_of_window")
        return start

    def clean_days(self) -> int:
        return self.cleaned_data["days"] or 14

    def clean(self) -> dict:
        cleaned = super().clean()
        location, technician_id = cleaned.get("location"), cleaned.get("technician")
        if location is not None and technician_id is not None:
            technician = Technician.objects.filter(pk=technician_id, is_active=True, locations=location).first()
            if technician is None:
                self.add_error("technician", f"No technician {technician_id} works at {location.slug}.")
            cleaned["technician"] = technician
        return cleaned

    def error_json(self) -> dict:
        """The first error as {"parameter", "message"} (what clients already read), and all of them."""
        errors = {field: [str(m) for m in messages] for field, messages in self.errors.items()}
        field = next(iter(errors))
        return {"error": {"parameter": field, "message": errors[field][0]}, "errors": errors}


class _RefdataSlugField(forms.ModelChoiceField):
    """A hidden active clinic or treatment by its slug, looked up in the online booking's copy of
    rarely-changing rows (bookings.booking_refdata) instead of a query per POST: the same rows
    the queryset allows."""

    def __init__(self, *, lookup, **kwargs):
        super().__init__(to_field_name="slug", widget=forms.HiddenInput, **kwargs)
        self.lookup = lookup

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, self.queryset.model):
            return value
        found = self.lookup(str(value))
        if found is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value})
        return found


class BookingForm(forms.Form):
    """Step 2 (a POST form): the chosen time and the client's details."""

    location = _RefdataSlugField(queryset=_locations(), lookup=booking_refdata.location_by_slug)
    treatment = _RefdataSlugField(queryset=_treatments(), lookup=booking_refdata.treatment_by_slug, required=False)
    start = TimeField(error_messages={"required": "Choose a time."})
    first_name = forms.CharField(max_length=80, label="First name")
    last_name = forms.CharField(max_length=80, label="Last name")
    email = forms.EmailField(label="E-mail")
    phone = forms.CharField(max_length=30, label="Mobile or phone (UK)")
    date_of_birth = forms.DateField(
        label="Date of birth",
        help_text="We can only treat clients aged 18 or over.",
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Enter your date of birth.", "invalid": "Enter your date of birth as a date."},
    )
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
    # Set by the confirmation step, after the page told the client a time near at hand can't be
    # moved or cancelled online once booked.
    late_change_accepted = forms.BooleanField(required=False, widget=forms.HiddenInput)
    # Honeypot: hidden from people, filled in by bots.
    website = forms.CharField(required=False, label="Leave this field empty")

    def clean_phone(self) -> str:
        return normalise_uk_phone(self.cleaned_data["phone"])

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()

    def clean_date_of_birth(self) -> date:
        born = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        if born > today or born.year < today.year - 120:
            raise ValidationError("Enter your real date of birth.", code="date_of_birth_invalid")
        return born

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))


class RescheduleForm(forms.Form):
    start = TimeField(error_messages={"required": "Choose a new time."})


def local_label(instant: datetime, location: Location) -> str:
    return instant.astimezone(location.tz).strftime("%H:%M")


class WaitlistJoinForm(forms.Form):
    """The waiting list's public form: where, what, which days, and how to reach the client."""

    location = forms.ModelChoiceField(
        queryset=_locations(),
        to_field_name="slug",
        empty_label="Choose a clinic",
        label="Clinic",
        error_messages={"required": "Choose a clinic.", "invalid_choice": "Choose a clinic from the list."},
    )
    treatment = forms.ModelChoiceField(
        queryset=_treatments(),
        to_field_name="slug",
        required=False,
        empty_label="Not sure yet",
        label="Treatment you are interested in (optional)",
        error_messages={"invalid_choice": "Choose a treatment from the list."},
    )
    earliest_date = forms.DateField(
        label="I could come from",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Choose the first day you could come.", "invalid": "Enter a date."},
    )
    latest_date = forms.DateField(
        label="until",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Choose the last day you could come.", "invalid": "Enter a date."},
    )
    first_name = forms.CharField(max_length=80, label="First name")
    last_name = forms.CharField(max_length=80, label="Last name")
    email = forms.EmailField(label="E-mail")
    phone = forms.CharField(max_length=30, label="Mobile or phone (UK)")
    website = forms.CharField(required=False, label="Leave this field empty")

    def clean_phone(self) -> str:
        return normalise_uk_phone(self.cleaned_data["phone"])

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))


class WaitlistClaimForm(forms.Form):
    health_consent = forms.BooleanField(
        label="I agree that the clinic may keep the health information I share, to assess and treat me.",
        error_messages={"required": "We can only book you in with your consent to keep your health information."},
    )
    late_change_accepted = forms.BooleanField(
        required=False, label="I understand this booking can't be moved or cancelled online."
    )
