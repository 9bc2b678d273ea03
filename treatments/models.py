"""The treatment catalogue and its price guides: data staff edit, never constants in code."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from .money import CURRENCY_PATTERN, DEFAULT_CURRENCY


class HairLossStage(models.TextChoices):
    """Norwood (men) and Ludwig (women) stages, used by assessments and price guides."""

    NORWOOD_1 = "N1", "Norwood 1"
    NORWOOD_2 = "N2", "Norwood 2"
    NORWOOD_3 = "N3", "Norwood 3"
    NORWOOD_4 = "N4", "Norwood 4"
    NORWOOD_5 = "N5", "Norwood 5"
    NORWOOD_6 = "N6", "Norwood 6"
    NORWOOD_7 = "N7", "Norwood 7"
    LUDWIG_1 = "L1", "Ludwig I"
    LUDWIG_2 = "L2", "Ludwig II"
    LUDWIG_3 = "L3", "Ludwig III"


class PriceBand(models.TextChoices):
    """What a price guide is priced by: a hair-loss stage or, for small work, the area."""

    NORWOOD_1 = "N1", "Norwood 1"
    NORWOOD_2 = "N2", "Norwood 2"
    NORWOOD_3 = "N3", "Norwood 3"
    NORWOOD_4 = "N4", "Norwood 4"
    NORWOOD_5 = "N5", "Norwood 5"
    NORWOOD_6 = "N6", "Norwood 6"
    NORWOOD_7 = "N7", "Norwood 7"
    LUDWIG_1 = "L1", "Ludwig I"
    LUDWIG_2 = "L2", "Ludwig II"
    LUDWIG_3 = "L3", "Ludwig III"
    SMALL_AREA = "small", "Small area (a scar or minor patch)"
    CROWN = "crown", "Crown"
    HAIRLINE = "hairline", "Hairline"
    CROWN_AND_HAIRLINE = "crown_hairline", "Crown and hairline"
    FULL_SCALP = "full", "Full scalp"


class Treatment(models.Model):
    class Category(models.TextChoices):
        ALOPECIA = "alopecia", "Alopecia"
        SCAR_CAMOUFLAGE = "scar", "Scar camouflage"
        HAIRLINE = "hairline", "Hairline design"
        DENSITY = "density", "Density"
        TOUCH_UP = "touch_up", "Touch-up"

    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)
    category = models.CharField(max_length=20, choices=Category.choices)
    summary = models.CharField(max_length=300, help_text="One or two sentences for cards and search results.")
    who_for = models.TextField("who it is for")
    description = models.TextField(blank=True)
    aftercare_brief = models.TextField("aftercare in brief", blank=True)
    sessions_min = models.PositiveSmallIntegerField(default=2, validators=[MinValueValidator(1)])
    sessions_max = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    spacing_days_min = models.PositiveSmallIntegerField("days between sessions (min)", default=14)
    spacing_days_max = models.PositiveSmallIntegerField("days between sessions (max)", default=21)
    session_minutes_min = models.PositiveSmallIntegerField("session length in minutes (min)", default=120)
    session_minutes_max = models.PositiveSmallIntegerField("session length in minutes (max)", default=300)
    touch_up_percent = models.PositiveSmallIntegerField(
        "touch-up price, % of the original",
        default=25,
        validators=[MaxValueValidator(100)],
    )
    needs_patch_test = models.BooleanField(
        "needs a patch test",
        default=False,
        help_text="The first session can only be booked once a patch test is recorded clear (clients whose "
        "assessment lists allergies need one whatever this says).",
    )
    patch_test_hours = models.PositiveSmallIntegerField(
        "patch test at least (hours) before the first session",
        default=48,
        help_text="How long a clear patch test must have been on the skin before the first session starts.",
    )
    meta_description = models.CharField(max_length=160, blank=True)
    is_active = models.BooleanField("shown on the site and bookable", default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sessions_min__gte=1) & Q(sessions_max__gte=F("sessions_min")),
                name="treatment_sessions_range",
                violation_error_message="At least 1 session, and the most sessions cannot be fewer than the fewest.",
                violation_error_code="treatment_sessions_range",
            ),
            models.CheckConstraint(
                condition=Q(spacing_days_max__gte=F("spacing_days_min")),
                name="treatment_spacing_range",
                violation_error_message="The longest spacing between sessions cannot be shorter than the shortest.",
                violation_error_code="treatment_spacing_range",
            ),
            models.CheckConstraint(
                condition=Q(session_minutes_min__gte=15) & Q(session_minutes_max__gte=F("session_minutes_min")),
                name="treatment_session_length_range",
                violation_error_message="Sessions last 15 minutes or more, the longest no shorter than the shortest.",
                violation_error_code="treatment_session_length_range",
            ),
            models.CheckConstraint(
                condition=Q(touch_up_percent__lte=100),
                name="treatment_touch_up_percent_max",
                violation_error_message="The touch-up price is at most 100% of the course price.",
                violation_error_code="treatment_touch_up_percent_max",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("treatments:detail", kwargs={"slug": self.slug})

    def touch_up_price(self, price_minor: int) -> int:
        """The touch-up's share of a price in minor units, rounded to whole pounds as before."""
        pounds = (Decimal(price_minor * self.touch_up_percent) / 10000).quantize(Decimal("1"))
        return int(pounds) * 100


class PriceGuide(models.Model):
    """A guide price for one band of one treatment, clinic-wide or for one location."""

    treatment = models.ForeignKey(Treatment, on_delete=models.CASCADE, related_name="price_guides")
    location = models.ForeignKey(
        "bookings.Location",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="price_guides",
        help_text="Leave empty for the price at every location without its own.",
    )
    band = models.CharField(max_length=20, choices=PriceBand.choices)
    # Integers of minor units (pence) in ``currency``: never a float; staff type pounds (money.PoundsField).
    price_from_minor = models.BigIntegerField("price from", validators=[MinValueValidator(0)])
    price_to_minor = models.BigIntegerField("price to", null=True, blank=True)
    currency = models.CharField(
        max_length=3,
        default=DEFAULT_CURRENCY,
        validators=[RegexValidator(CURRENCY_PATTERN, "A three-letter ISO 4217 currency code in capitals, e.g. GBP.")],
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["treatment", "location", "band"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price_from_minor__gte=0),
                name="priceguide_price_not_negative",
                violation_error_message="A price cannot be negative.",
                violation_error_code="priceguide_price_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(price_to_minor__isnull=True) | Q(price_to_minor__gte=F("price_from_minor")),
                name="priceguide_price_range",
                violation_error_message="The 'to' price cannot be below the 'from' price.",
                violation_error_code="priceguide_price_range",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=CURRENCY_PATTERN),
                name="priceguide_currency_iso",
                violation_error_message="The currency is a three-letter ISO 4217 code in capitals.",
                violation_error_code="priceguide_currency_iso",
            ),
            models.UniqueConstraint(
                fields=["treatment", "band"],
                condition=Q(location__isnull=True),
                name="priceguide_one_default_per_band",
                violation_error_message="This treatment already has an all-locations price for this stage.",
                violation_error_code="priceguide_one_default_per_band",
            ),
            models.UniqueConstraint(
                fields=["treatment", "location", "band"],
                condition=Q(location__isnull=False),
                name="priceguide_one_per_location_band",
                violation_error_message="This treatment already has a price for this stage at this location.",
                violation_error_code="priceguide_one_per_location_band",
            ),
        ]

    def __str__(self) -> str:
        where = self.location.name if self.location_id else "all locations"
        return f"{self.treatment} · {self.get_band_display()} · {where}"


class AftercareMilestone(models.Model):
    """One step of the aftercare timeline on /aftercare/; aftercare messages link to its anchor."""

    anchor = models.SlugField(
        max_length=20,
        unique=True,
        help_text="The #id other pages and aftercare messages link to (e.g. day-4). Don't change it once used.",
    )
    label = models.CharField(max_length=40, help_text="When, e.g. 'Days 0-4' or 'For life'.")
    title = models.CharField(max_length=120)
    body = models.TextField(help_text="One instruction per line; each line becomes a bullet point.")
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return f"{self.label}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("treatments:aftercare") + f"#{self.anchor}"


class Page(models.Model):
    """The editable copy of one public page: title, meta description, introduction, sections."""

    class Key(models.TextChoices):
        HOME = "home", "Home"
        TREATMENTS = "treatments", "Treatments"
        AFTERCARE = "aftercare", "Aftercare"
        RESULTS = "results", "Results"
        LOCATIONS = "locations", "Locations"
        PRIVACY = "privacy", "Privacy notice"

    key = models.CharField(max_length=20, choices=Key.choices, unique=True)
    title = models.CharField(max_length=120, help_text="The page heading and browser title.")
    meta_description = models.CharField(max_length=160, blank=True, help_text="Shown by search engines.")
    intro = models.TextField("introduction", blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.get_key_display()


class PageSection(models.Model):
    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="sections")
    heading = models.CharField(max_length=120)
    body = models.TextField(help_text="Blank lines separate paragraphs.")
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.heading
