from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone

from treatments.models import PriceBand, Treatment
from treatments.money import PoundsField

from .models import Assessment, Client, ConsentWording, PatchTest, Photo, SessionNote

TOUCH = {"class": "form-control form-control-lg"}

# Dates staff type are bounded like the booking pages' (bookings.selectors.MAX_YEARS_AWAY, which this
# lower layer cannot import): further off is a typing slip, and near year 1 or 9999 date arithmetic overflows.
YEARS_AWAY = 5


def _earliest() -> date:
    return timezone.localdate() - timedelta(days=YEARS_AWAY * 366)


def _latest() -> date:
    return timezone.localdate() + timedelta(days=YEARS_AWAY * 366)


def within_years_validators() -> list:
    message = f"Choose a date within {YEARS_AWAY} years of today."
    return [MinValueValidator(_earliest, message=message), MaxValueValidator(_latest, message=message)]


class DateWithinYearsField(forms.DateField):
    default_validators = within_years_validators()


class DateTimeWithinYearsField(forms.DateTimeField):
    """Compared by its date (the field gives times in the current time zone), whatever the time of day."""

    def validate(self, value):
        super().validate(value)
        if value is not None:
            for validator in within_years_validators():
                validator(value.date())


class AssessmentForm(forms.ModelForm):
    class Meta:
        model = Assessment
        fields = [
            "hair_loss_type",
            "stage",
            "skin_type",
            "skin_tone",
            "natural_hair_colour",
            "pigment_match",
            "hairline_design_notes",
            "medical_history",
            "contraindications",
            "allergies",
            "suitability",
            "suitability_notes",
        ]
        widgets = {
            "hairline_design_notes": forms.Textarea(attrs={"rows": 3}),
            "medical_history": forms.Textarea(attrs={"rows": 3}),
            "contraindications": forms.Textarea(attrs={"rows": 2}),
            "allergies": forms.Textarea(attrs={"rows": 2}),
            "suitability_notes": forms.Textarea(attrs={"rows": 2}),
        }


class SessionNoteForm(forms.ModelForm):
    # Checkboxes: quicker than typing on a tablet, and the values stay comparable.
    areas = forms.MultipleChoiceField(
        label="Areas treated", choices=SessionNote.Area.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    reactions = forms.MultipleChoiceField(
        label="Reactions seen",
        choices=SessionNote.Reaction.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = SessionNote
        # The free-text pigment_brand, pigment_shade, pigment_blend and needle are kept, read-only:
        # a session's pigments and needles are now the batches it used (bookings' stock).
        fields = [
            "areas",
            "depth",
            "machine_settings",
            "duration_minutes",
            "numbing_used",
            "reactions",
            "notes",
            "next_time_notes",
        ]
        labels = {"duration_minutes": "Duration (minutes)", "numbing_used": "Numbing used (product, if any)"}
        widgets = {
            "depth": forms.RadioSelect,
            "notes": forms.Textarea(attrs={"rows": 3}),
            "next_time_notes": forms.Textarea(attrs={"rows": 3}),
            "duration_minutes": forms.NumberInput(attrs={"inputmode": "numeric", "min": 0, "max": 600}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["depth"].choices = SessionNote.Depth.choices


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A list of files; the photo pipeline, not this field, decides whether each is a photo."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if not files:
            raise forms.ValidationError("Choose at least one photo.", code="required")
        if len(files) > 20:
            raise forms.ValidationError("At most 20 photos at a time.", code="too_many_photos")
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class PhotoUploadForm(forms.Form):
    """Several photos at once; each gets its own angle (chosen per file by staff.js, else the default)."""

    photos = MultipleFileField(
        widget=MultipleFileInput(
            attrs={
                "accept": "image/jpeg,image/png,image/webp,image/*",
                "capture": "environment",
                "class": "form-control form-control-lg",
            }
        ),
        help_text="JPEG, PNG or WebP, up to 15 MB each.",
    )
    # Patch-test photos come with their result (PatchTestForm), not from here.
    phase = forms.ChoiceField(
        choices=[(Photo.Phase.BEFORE, Photo.Phase.BEFORE.label), (Photo.Phase.AFTER, Photo.Phase.AFTER.label)],
        widget=forms.RadioSelect,
        initial=Photo.Phase.BEFORE,
    )
    default_angle = forms.ChoiceField(
        label="Angle (for photos without their own)",
        choices=Photo.Angle.choices,
        initial=Photo.Angle.FRONT,
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
    )

    def angles(self, data) -> list[str]:
        default = self.cleaned_data["default_angle"]
        given = data.getlist("angles")
        return [(given[i] if i < len(given) and given[i] else default) for i in range(len(self.cleaned_data["photos"]))]


class ConsentSignForm(forms.Form):
    wordings = forms.ModelMultipleChoiceField(
        queryset=ConsentWording.objects.none(), widget=forms.CheckboxSelectMultiple, label="The client consents to"
    )
    signed_name = forms.CharField(
        label="Client's full name (typed signature)",
        max_length=160,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, wordings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["wordings"].queryset = ConsentWording.objects.filter(pk__in=[w.pk for w in wordings])
        self.fields["wordings"].label_from_instance = lambda w: f"{w.get_kind_display()} (version {w.version})"


class CompareForm(forms.Form):
    angle = forms.ChoiceField(choices=Photo.Angle.choices, initial=Photo.Angle.FRONT)


class NextSessionForm(forms.Form):
    slot = forms.ChoiceField(
        label="Next session",
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": "That time is no longer free (someone may have just booked it). Choose another time.",
            "required": "Choose a time.",
        },
    )

    def __init__(self, *args, proposals=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slot"].choices = [(p.value, p.value) for p in proposals]


class CoursePlanForm(forms.Form):
    """Step 1 proposes a time per session; step 2 (with the times) books them all."""

    treatment = forms.ModelChoiceField(queryset=None)
    planned_sessions = forms.IntegerField(min_value=1, max_value=5, initial=3)
    price_band = forms.ChoiceField(choices=[("", "Not set"), *PriceBand.choices], required=False)
    # Typed in pounds ("1,250.00" or "1250"), cleaned to an integer of pence.
    price_agreed_minor = PoundsField(min_minor=0, required=False, label="Price agreed (£)")
    # A date input shows only an ISO value; the en-GB "03/12/2026" would leave it blank.
    first_date = DateWithinYearsField(
        label="First session on or after", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["treatment"].queryset = Treatment.objects.filter(is_active=True)
        for n in range(1, 6):
            self.fields[f"start_{n}"] = DateTimeWithinYearsField(
                label=f"Session {n}",
                required=False,
                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                input_formats=["%Y-%m-%dT%H:%M"],
            )

        self.fields["patch_test_start"] = DateTimeWithinYearsField(
            label="Patch test",
            required=False,
            help_text="Booked first when the client needs one; the sessions are booked once it is recorded clear.",
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            input_formats=["%Y-%m-%dT%H:%M"],
        )

    def starts(self) -> list:
        n = self.cleaned_data["planned_sessions"]
        return [self.cleaned_data.get(f"start_{i}") for i in range(1, n + 1)]


class PatchTestForm(forms.Form):
    """A patch test's result, with notes and an optional photo of the test site."""

    result = forms.ChoiceField(choices=PatchTest.Result.choices, widget=forms.RadioSelect)
    tested_at = DateTimeWithinYearsField(
        label="Pigment applied at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", **TOUCH}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M"],
        help_text="The wait before the first session counts from here.",
    )
    notes = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3, **TOUCH}))
    photo = forms.FileField(
        required=False,
        label="Photo of the test site (optional)",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,image/webp,image/*", "capture": "environment", **TOUCH}
        ),
    )
    photo_angle = forms.ChoiceField(
        label="Where on the head",
        required=False,
        choices=Photo.Angle.choices,
        initial=Photo.Angle.BACK,
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
    )


class IdCheckForm(forms.Form):
    """Photo ID seen at the consultation: which document, and the date of birth it shows."""

    id_document = forms.ChoiceField(
        label="ID document seen",
        choices=[("", "Choose the document"), *Client.IdDocument.choices],
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
        error_messages={"required": "Choose the document seen."},
    )
    date_of_birth = forms.DateField(
        required=False,
        label="Date of birth on the ID",
        widget=forms.DateInput(attrs={"type": "date", **TOUCH}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )

    def clean_date_of_birth(self):
        born = self.cleaned_data.get("date_of_birth")
        if born is not None and (born > timezone.localdate() or born.year < timezone.localdate().year - 120):
            raise forms.ValidationError("Enter the date of birth shown on the ID.", code="date_of_birth_invalid")
        return born
