"""The money rows: deposit policies, payments (deposits, desk payments, refunds, forfeits) and
the provider's webhook events already handled.

Every amount is an integer of minor units (``amount_minor``) beside its ISO 4217 currency
(``currency``); bookings.money.Money does the arithmetic. Imported by bookings.models so
Django finds them in the bookings app; relations name other models by string.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce

from .money import DEFAULT_CURRENCY, Money

currency_validator = RegexValidator(r"^[A-Z]{3}$", "A three-letter ISO 4217 currency code in capitals, e.g. GBP.")


def _currency_field() -> models.CharField:
    return models.CharField(max_length=3, default=DEFAULT_CURRENCY, validators=[currency_validator])


def _currency_check(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(currency__regex=r"^[A-Z]{3}$"),
        name=name,
        violation_error_message="The currency is a three-letter ISO 4217 code in capitals.",
        violation_error_code=name,
    )


class DepositPolicy(models.Model):
    """What deposit a booking takes, per appointment kind, treatment and location.

    The most specific active row wins: location and treatment, then location, then treatment,
    then the clinic-wide row (both empty). Consultations are free: only a row for the
    consultation kind (a location may add one) asks a deposit for them.
    """

    class Kind(models.TextChoices):
        TREATMENT_SESSION = "session", "Treatment session"
        TOUCH_UP = "touch_up", "Touch-up"
        CONSULTATION = "consultation", "Consultation"

    kind = models.CharField("for", max_length=20, choices=Kind.choices, default=Kind.TREATMENT_SESSION)
    location = models.ForeignKey(
        "bookings.Location",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deposit_policies",
        help_text="Empty: every location without its own policy.",
    )
    treatment = models.ForeignKey(
        "treatments.Treatment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deposit_policies",
        help_text="Empty: every treatment without its own policy.",
    )
    amount_minor = models.BigIntegerField(
        "fixed amount (pence)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="A fixed deposit in minor units (pence: 5000 is £50.00). Leave empty to use a percentage.",
    )
    percent = models.PositiveSmallIntegerField(
        "percentage of the price",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Of the course's agreed price, else the price guide's 'from' price for the treatment.",
    )
    currency = _currency_field()
    required_online = models.BooleanField(
        "online booking requires it", default=True, help_text="Clients booking online pay it before the booking holds."
    )
    refundable_until_hours = models.PositiveSmallIntegerField(
        "refundable until (hours before)",
        default=48,
        help_text="A cancellation or move at least this long before the start gets the deposit back.",
    )
    late_cancellation_forfeit_percent = models.PositiveSmallIntegerField(
        "a late cancellation keeps (% of the deposit)", default=100, validators=[MaxValueValidator(100)]
    )
    no_show_forfeit_percent = models.PositiveSmallIntegerField(
        "a no-show keeps (% of the deposit)", default=100, validators=[MaxValueValidator(100)]
    )
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "deposit policy"
        verbose_name_plural = "deposit policies"
        constraints = [
            models.CheckConstraint(
                condition=(Q(amount_minor__isnull=False) & Q(percent__isnull=True))
                | (Q(amount_minor__isnull=True) & Q(percent__isnull=False)),
                name="depositpolicy_amount_or_percent",
                violation_error_message="Give either a fixed amount or a percentage, not both.",
                violation_error_code="depositpolicy_amount_or_percent",
            ),
            models.CheckConstraint(
                condition=Q(amount_minor__isnull=True) | Q(amount_minor__gt=0),
                name="depositpolicy_amount_positive",
                violation_error_message="The deposit amount must be more than zero.",
                violation_error_code="depositpolicy_amount_positive",
            ),
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | (Q(percent__gte=1) & Q(percent__lte=100)),
                name="depositpolicy_percent_1_to_100",
                violation_error_message="The percentage is between 1 and 100.",
                violation_error_code="depositpolicy_percent_1_to_100",
            ),
            models.CheckConstraint(
                condition=Q(late_cancellation_forfeit_percent__lte=100) & Q(no_show_forfeit_percent__lte=100),
                name="depositpolicy_forfeit_at_most_100",
                violation_error_message="A forfeit is at most 100% of the deposit.",
                violation_error_code="depositpolicy_forfeit_at_most_100",
            ),
            _currency_check("depositpolicy_currency_iso"),
            models.UniqueConstraint(
                "kind",
                Coalesce("location", Value(0)),
                Coalesce("treatment", Value(0)),
                name="depositpolicy_one_per_scope",
                violation_error_message="There is already a deposit policy for this kind, location and treatment.",
                violation_error_code="depositpolicy_one_per_scope",
            ),
        ]

    def __str__(self) -> str:
        where = self.location or "all locations"
        what = self.treatment or "all treatments"
        return f"Deposit for {self.get_kind_display().lower()}: {what}, {where}"

    @property
    def fixed_amount(self) -> Money | None:
        return Money(self.amount_minor, self.currency) if self.amount_minor is not None else None


class Payment(models.Model):
    """One movement (or keeping) of a client's money, against an appointment and/or a course.

    Refunds and forfeits are rows of their own pointing at the deposit they settle
    (``settles``), so a course's balance is price - succeeded payments + succeeded refunds, and
    nothing is ever rewritten but a row's status.
    """

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"
        FORFEIT = "forfeit", "Deposit kept (forfeit)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled (abandoned or expired)"

    class Method(models.TextChoices):
        STRIPE = "stripe", "Online (Stripe)"
        CARD_TERMINAL = "card_terminal", "Card terminal"
        CASH = "cash", "Cash"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        NONE = "none", "No money moves (a forfeit)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    method = models.CharField(max_length=20, choices=Method.choices)
    amount_minor = models.BigIntegerField("amount (minor units)", validators=[MinValueValidator(1)])
    currency = _currency_field()
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="payments")
    appointment = models.ForeignKey(
        "bookings.Appointment", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    course = models.ForeignKey(
        "bookings.Course", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    settles = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settlements",
        help_text="For a refund or a forfeit: the payment (deposit) it gives back or keeps.",
    )
    # The provider's side (online payments and their refunds); empty for desk payments.
    provider = models.CharField(max_length=20, blank=True)
    provider_checkout_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    provider_payment_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    provider_refund_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    # Sent with the provider call that moves money (a refund): a retry is the same request.
    idempotency_key = models.CharField(max_length=80, null=True, blank=True, unique=True)
    reference = models.CharField(
        max_length=80, blank=True, help_text="Terminal receipt number, bank reference, and so on."
    )
    reason = models.TextField(blank=True)
    # A deposit keeps the policy's terms it was taken under (refundable_until_hours and the
    # forfeit percentages): a policy edited later does not change what the client agreed to.
    terms = models.JSONField(default=dict, blank=True, editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]
        permissions = [
            ("override_deposit", "Can refund or keep a deposit against the policy"),
            ("record_desk_payment", "Can record payments taken at the desk"),
        ]
        indexes = [
            models.Index(fields=["kind", "status", "created_at"], name="payment_kind_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0),
                name="payment_amount_positive",
                violation_error_message="An amount is more than zero (a refund is its own row).",
                violation_error_code="payment_amount_positive",
            ),
            _currency_check("payment_currency_iso"),
            models.CheckConstraint(
                condition=Q(appointment__isnull=False) | Q(course__isnull=False),
                name="payment_has_appointment_or_course",
                violation_error_message="A payment is against an appointment or a course.",
                violation_error_code="payment_has_appointment_or_course",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["refund", "forfeit"]) | Q(settles__isnull=False),
                name="payment_settlement_names_payment",
                violation_error_message="A refund or a forfeit names the payment it settles.",
                violation_error_code="payment_settlement_names_payment",
            ),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(succeeded_at__isnull=False),
                name="payment_succeeded_has_time",
            ),
            models.CheckConstraint(
                condition=Q(kind="forfeit", method="none") | (~Q(kind="forfeit") & ~Q(method="none")),
                name="payment_forfeit_moves_no_money",
                violation_error_message="Only a forfeit has no payment method.",
                violation_error_code="payment_forfeit_moves_no_money",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.money} ({self.get_status_display().lower()})"

    @property
    def money(self) -> Money:
        return Money(self.amount_minor, self.currency)


class WebhookEvent(models.Model):
    """A provider's webhook event, recorded once: a second delivery of the same event id finds its
    row and changes nothing. Only ids and the type are kept, never the payload (it may carry the
    client's e-mail)."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhookevent_once_per_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"
