"""Forms for pigment and needle stock: the batches a session used (the workspace's session note),
and the recall pages' lot search and message wording."""

from __future__ import annotations

from django import forms

from clients.models import SessionNote

from .models import Appointment
from .models_stock import Batch, Product
from .services.recall import DEFAULT_BODY, DEFAULT_SUBJECT, MAX_BODY, MAX_SUBJECT
from .services.stock import BatchUse
from .stock_selectors import batch_choices, batch_refusal

PIGMENT_ROWS = 4


class SessionBatchesForm(forms.Form):
    """The pigment batches of a session's blend (each with its share) and its needle batches.

    Offered: the location's batches in date and not recalled on the session's day, plus any the
    note lists already. Any batch may be posted; one that may not be recorded is refused with the
    reason (expired on ..., recalled, another location), never a bare "not a valid choice"."""

    needles = forms.ModelMultipleChoiceField(
        label="Needles and other supplies",
        queryset=Batch.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(self, *args, appointment: Appointment, note: SessionNote | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.appointment, self.note = appointment, note
        offered = list(batch_choices(appointment=appointment, note=note))
        current = []
        if note is not None and note.pk is not None:
            current = list(note.batch_uses.select_related("batch__product").order_by("-share_percent", "pk"))
        self.current_ids = {u.batch_id for u in current}
        pigments = [(b.pk, b.label()) for b in offered if b.product.kind == Product.Kind.PIGMENT]
        others = [(b.pk, b.label()) for b in offered if b.product.kind != Product.Kind.PIGMENT]
        current_pigments = [u for u in current if u.batch.product.kind == Product.Kind.PIGMENT]
        self.rows = max(PIGMENT_ROWS, len(current_pigments) + 1)
        every = Batch.objects.select_related("product")
        for i in range(self.rows):
            batch = forms.ModelChoiceField(
                label=f"Pigment batch {i + 1}", queryset=every, required=False, empty_label="(none)"
            )
            batch.widget.choices = [("", "(none)"), *pigments]
            share = forms.IntegerField(
                label=f"Share of the blend {i + 1} (%)",
                min_value=1,
                max_value=100,
                required=False,
                widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1, "max": 100}),
            )
            self.fields[f"pigment_{i}"], self.fields[f"share_{i}"] = batch, share
            if i < len(current_pigments):
                self.initial.setdefault(f"pigment_{i}", current_pigments[i].batch_id)
                self.initial.setdefault(f"share_{i}", current_pigments[i].share_percent)
        self.fields["needles"].queryset = every
        self.fields["needles"].widget.choices = others
        self.initial.setdefault(
            "needles", [u.batch_id for u in current if u.batch.product.kind != Product.Kind.PIGMENT]
        )
        self.no_stock = not offered

    def pigment_rows(self):
        return [(self[f"pigment_{i}"], self[f"share_{i}"]) for i in range(self.rows)]

    def _refuse(self, name: str, batch: Batch) -> bool:
        if batch.pk in self.current_ids:
            return False
        refusal = batch_refusal(batch, appointment=self.appointment)
        if refusal is not None:
            self.add_error(name, forms.ValidationError(refusal[1], code=refusal[0]))
            return True
        return False

    def clean(self):
        cleaned = super().clean()
        seen: set[int] = set()
        pigments: list[tuple[str, Batch, int | None]] = []
        for i in range(self.rows):
            batch, share = cleaned.get(f"pigment_{i}"), cleaned.get(f"share_{i}")
            if batch is None:
                if share is not None:
                    self.add_error(f"pigment_{i}", "Choose the batch this share is for.")
                continue
            if batch.product.kind != Product.Kind.PIGMENT:
                self.add_error(f"pigment_{i}", f"{batch} is not a pigment: tick it under needles and supplies.")
                continue
            if batch.pk in seen:
                self.add_error(f"pigment_{i}", "This batch is listed twice.")
                continue
            seen.add(batch.pk)
            if not self._refuse(f"pigment_{i}", batch):
                pigments.append((f"share_{i}", batch, share))
        for batch in cleaned.get("needles") or []:
            if batch.product.kind == Product.Kind.PIGMENT:
                self.add_error("needles", f"{batch} is a pigment: choose it as a pigment batch.")
            elif batch.pk in seen:
                self.add_error("needles", f"{batch} is listed twice.")
            else:
                self._refuse("needles", batch)
        if len(pigments) == 1 and pigments[0][2] is None:
            pigments[0] = (pigments[0][0], pigments[0][1], 100)
        elif len(pigments) > 1:
            if any(share is None for _, _, share in pigments):
                for name, _, share in pigments:
                    if share is None:
                        self.add_error(name, "A blend of several batches needs each batch's share.")
            elif (total := sum(share for _, _, share in pigments)) != 100:
                for name, _, _ in pigments:  # marked on each share, where it is corrected
                    self.add_error(name, f"The shares of the blend add up to {total}%: they must add up to 100%.")
        self._pigments = pigments
        return cleaned

    def uses(self) -> list[BatchUse]:
        """What the session used, for bookings.services.stock.session_note_record."""
        uses = [BatchUse(batch=batch, share_percent=share) for _, batch, share in self._pigments]
        uses += [BatchUse(batch=batch) for batch in self.cleaned_data.get("needles") or []]
        return uses


class RecallSearchForm(forms.Form):
    lot = forms.CharField(
        label="Lot number",
        max_length=60,
        help_text="As printed on the bottle or box; any case. Every location's batches are searched.",
    )

    def clean_lot(self) -> str:
        lot = " ".join(self.cleaned_data["lot"].split())
        if not lot:
            raise forms.ValidationError("Type the lot number.", code="lot_required")
        return lot


class RecallMessageForm(forms.Form):
    lot = forms.CharField(widget=forms.HiddenInput, max_length=60)
    subject = forms.CharField(
        max_length=MAX_SUBJECT, initial=DEFAULT_SUBJECT, widget=forms.TextInput(attrs={"size": 80})
    )
    body = forms.CharField(
        label="Message",
        max_length=MAX_BODY,
        initial=DEFAULT_BODY,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80}),
        help_text="Sent by each client's preferred channel (the text message gets the same words). "
        "{{ first_name }}, {{ lot_number }}, {{ clinic_name }}, {{ location_name }} and {{ location_phone }} "
        "are filled in for each client (the location of their latest session with this lot).",
    )
