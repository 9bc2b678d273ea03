"""Pigment and needle stock: products, their batches at each location, the batches each session
used, and the notices a batch recall sent (see docs/stock.md).

Batches belong to a location (bookings), and a session note (clients) names the batches it used
through SessionBatch here, so imports still point down: clients knows nothing of stock.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper


class Product(models.Model):
    """A pigment shade, a needle configuration or another supply, as its maker sells it."""

    class Kind(models.TextChoices):
        PIGMENT = "pigment", "Pigment"
        NEEDLE = "needle", "Needle"
        OTHER = "other", "Other"

    kind = models.CharField("type", max_length=10, choices=Kind.choices, default=Kind.PIGMENT)
    brand = models.CharField(max_length=80)
    shade = models.CharField(
        "shade or size",
        max_length=80,
        blank=True,
        help_text="The pigment's shade (e.g. 'Shade 2'), or the needle's configuration (e.g. '1RL 0.18 mm').",
    )
    is_active = models.BooleanField(default=True, help_text="Untick to stop offering its batches.")
    is_legacy = models.BooleanField(
        "from free text",
        default=False,
        editable=False,
        help_text="Made from the free text session notes held before batches were tracked.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "brand", "shade"]
        constraints = [
            models.UniqueConstraint(
                "kind",
                Upper("brand"),
                Upper("shade"),
                condition=Q(is_legacy=False),
                name="product_unique_kind_brand_shade",
                violation_error_message="This product exists already.",
                violation_error_code="product_unique_kind_brand_shade",
            ),
        ]

    def __str__(self) -> str:
        return " ".join(p for p in (self.brand, self.shade) if p)


class Batch(models.Model):
    """One lot of a product received at one location."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="batches")
    location = models.ForeignKey("bookings.Location", on_delete=models.PROTECT, related_name="batches")
    lot_number = models.CharField(max_length=60, blank=True, help_text="As printed on the bottle or box.")
    expires_on = models.DateField("expiry date", null=True, blank=True)
    received_on = models.DateField(null=True, blank=True)
    opened_on = models.DateField(null=True, blank=True)
    supplier = models.CharField(max_length=120, blank=True)
    recalled_at = models.DateTimeField(null=True, blank=True, editable=False)
    recall_reason = models.CharField(max_length=200, blank=True, editable=False)
    recalled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    is_legacy = models.BooleanField(
        "lot unknown",
        default=False,
        editable=False,
        help_text="Made from a session note's free text: its lot and expiry were never recorded, and it is "
        "never offered for a new session.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product", "expires_on", "lot_number"]
        verbose_name_plural = "batches"
        permissions = [
            ("recall_batch", "Can search a recalled lot's clients, export them (CSV) and message them"),
        ]
        indexes = [
            # The recall search: a lot number typed in any case, across every location.
            models.Index(Upper("lot_number"), name="batch_lot_upper_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location", "lot_number"],
                condition=Q(is_legacy=False),
                name="batch_unique_lot_per_location",
                violation_error_message="This location already has this lot of this product.",
                violation_error_code="batch_unique_lot_per_location",
            ),
            models.UniqueConstraint(
                fields=["product", "location"],
                condition=Q(is_legacy=True),
                name="batch_one_legacy_per_product_location",
            ),
            models.CheckConstraint(
                condition=Q(is_legacy=True)
                | (~Q(lot_number="") & Q(expires_on__isnull=False) & Q(received_on__isnull=False)),
                name="batch_known_lot_has_dates",
                violation_error_message="A batch needs its lot number, expiry date and the date it was received.",
                violation_error_code="batch_known_lot_has_dates",
            ),
            models.CheckConstraint(
                condition=Q(opened_on__isnull=True) | Q(received_on__isnull=True) | Q(opened_on__gte=F("received_on")),
                name="batch_opened_after_received",
                violation_error_message="A batch cannot be opened before it was received.",
                violation_error_code="batch_opened_after_received",
            ),
            models.CheckConstraint(
                condition=Q(recalled_at__isnull=True) | ~Q(recall_reason=""),
                name="batch_recall_has_reason",
                violation_error_message="A recall needs its reason.",
                violation_error_code="batch_recall_has_reason",
            ),
        ]

    def __str__(self) -> str:
        lot = f"lot {self.lot_number}" if self.lot_number else "lot unknown"
        return f"{self.product} · {lot}"

    @property
    def is_recalled(self) -> bool:
        return self.recalled_at is not None

    def is_expired_on(self, day: date) -> bool:
        return self.expires_on is not None and self.expires_on < day

    def label(self) -> str:
        """How a batch reads in a picker: product, lot and expiry (and why it is not usable)."""
        text = str(self)
        if self.expires_on:
            text += f" · use by {self.expires_on:%d/%m/%Y}"
        if self.recalled_at:
            text += " · RECALLED"
        return text


class SessionBatch(models.Model):
    """A batch a session used: its share of the pigment blend, or a needle (no share)."""

    session_note = models.ForeignKey("clients.SessionNote", on_delete=models.CASCADE, related_name="batch_uses")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="uses")
    share_percent = models.PositiveSmallIntegerField(
        "share of the blend (%)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Pigments: this batch's part of the blend. Leave empty for needles.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session_note", "-share_percent", "pk"]
        verbose_name = "batch used in a session"
        verbose_name_plural = "batches used in sessions"
        constraints = [
            models.UniqueConstraint(
                fields=["session_note", "batch"],
                name="sessionbatch_once_per_note",
                violation_error_message="This batch is listed twice for the session.",
                violation_error_code="sessionbatch_once_per_note",
            ),
            models.CheckConstraint(
                condition=Q(share_percent__isnull=True) | Q(share_percent__gte=1, share_percent__lte=100),
                name="sessionbatch_share_1_to_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} in session note #{self.session_note_id}"


class RecallNotice(models.Model):
    """One client told about one recalled lot: the message queued, once per client and lot."""

    lot_number = models.CharField(max_length=60, help_text="Upper case, as the recall search matches it.")
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="recall_notices")
    message = models.OneToOneField("bookings.ClientMessage", on_delete=models.CASCADE, related_name="recall_notice")
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["lot_number", "client"], name="recallnotice_once_per_lot_client"),
        ]

    def __str__(self) -> str:
        return f"Recall of lot {self.lot_number} to client #{self.client_id}"
