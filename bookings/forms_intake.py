"""The intake form: the clinic's medical-history questions (yes or no, with details), four
free-text answers and up to four phone photos."""

from __future__ import annotations

from django import forms

from clients.forms import MultipleFileInput
from clients.models import Intake, IntakeQuestion

from .services.intake import INTAKE_MAX_PHOTOS

TEXT_MAX = 2000
YES_NO = [("no", "No"), ("yes", "Yes")]


class IntakePhotosField(forms.FileField):
    """Zero to INTAKE_MAX_PHOTOS files; the photo pipeline (clients.photos) decides whether each
    is a photo, by decoding it, never by its name or content type."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget",
            MultipleFileInput(
                attrs={"accept": "image/*", "capture": "environment", "class": "form-control form-control-lg"}
            ),
        )
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > INTAKE_MAX_PHOTOS:
            raise forms.ValidationError(
                f"Choose at most {INTAKE_MAX_PHOTOS} photos (you chose {len(files)}).", code="intake_too_many_photos"
            )
        return [super(IntakePhotosField, self).clean(f, initial) for f in files]


def _textarea(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
    )


class IntakeForm(forms.Form):
    medications = _textarea("Medicines you take now", "Include creams or tablets for your hair or scalp.")
    allergies = _textarea("Allergies", "Medicines, metals, latex, numbing creams, hair dye or tattoo ink.")
    previous_treatments = _textarea(
        "Previous hair treatments", "Transplants, SMP elsewhere, minoxidil, finasteride, laser, and when."
    )
    goals = _textarea("What you would like", "The look you are after: a hairline, density, covering a scar.")
    photos = IntakePhotosField(
        label=f"Photos of your scalp (up to {INTAKE_MAX_PHOTOS})",
        help_text="Take them in good light: the front, the top, the crown and any scar. JPEG, PNG or WebP, "
        "up to 15 MB each.",
    )
    photo_consent = forms.BooleanField(required=False)

    def __init__(self, *args, questions: list[IntakeQuestion], intake: Intake | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = questions
        previous = {a.get("question"): a for a in (intake.medical_answers if intake else [])}
        for question in questions:
            answer = previous.get(question.text, {})
            self.fields[f"q{question.pk}"] = forms.ChoiceField(
                label=question.text,
                help_text=question.help_text,
                choices=YES_NO,
                widget=forms.RadioSelect,
                initial=answer.get("answer"),
                error_messages={"required": "Answer yes or no."},
            )
            self.fields[f"q{question.pk}_details"] = forms.CharField(
                label="Details",
                required=False,
                max_length=500,
                initial=answer.get("details", ""),
                widget=forms.TextInput(attrs={"class": "form-control"}),
            )
        if intake is not None:
            for name in ("medications", "allergies", "previous_treatments", "goals"):
                self.fields[name].initial = getattr(intake, name)

    def question_rows(self):
        return [(q, self[f"q{q.pk}"], self[f"q{q.pk}_details"]) for q in self.questions]

    def medical_answers(self) -> list[dict[str, str]]:
        data = self.cleaned_data
        return [
            {
                "question": q.text,
                "answer": data[f"q{q.pk}"],
                "details": data[f"q{q.pk}_details"].replace("\x00", "").strip(),
            }
            for q in self.questions
        ]

    def text_answers(self) -> dict[str, str]:
        return {name: self.cleaned_data[name] for name in ("medications", "allergies", "previous_treatments", "goals")}
