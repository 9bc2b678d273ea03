"""Price guides in integers of minor units (pence) with a currency, copied exactly from the pounds."""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


def to_minor(amount: Decimal | None, places: int = 2) -> int | None:
    """Decimal('1250.50') -> 125050, exactly; None stays None. Refuses to drop a fraction of a minor unit."""
    if amount is None:
        return None
    scaled = Decimal(amount).scaleb(places)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than {places} decimals")
    return int(scaled)


def from_minor(minor: int | None, places: int = 2) -> Decimal | None:
    return None if minor is None else Decimal(minor).scaleb(-places)


def copy_to_minor(apps, schema_editor):
    PriceGuide = apps.get_model("treatments", "PriceGuide")
    guides = list(PriceGuide.objects.only("pk", "price_from", "price_to"))
    for guide in guides:
        guide.price_from_minor = to_minor(guide.price_from)
        guide.price_to_minor = to_minor(guide.price_to)
    PriceGuide.objects.bulk_update(guides, ["price_from_minor", "price_to_minor"], batch_size=500)


def copy_to_pounds(apps, schema_editor):
    PriceGuide = apps.get_model("treatments", "PriceGuide")
    guides = list(PriceGuide.objects.only("pk", "price_from_minor", "price_to_minor"))
    for guide in guides:
        guide.price_from = from_minor(guide.price_from_minor)
        guide.price_to = from_minor(guide.price_to_minor)
    PriceGuide.objects.bulk_update(guides, ["price_from", "price_to"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0007_patch_tests"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="priceguide", name="priceguide_price_not_negative"),
        migrations.RemoveConstraint(model_name="priceguide", name="priceguide_price_range"),
        # Nullable while both exist, so that going back can add it before copying the pounds in.
        migrations.AlterField(
            model_name="priceguide",
            name="price_from",
            field=models.DecimalField(
                decimal_places=2,
                max_digits=8,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AddField(
            model_name="priceguide",
            name="price_from_minor",
            field=models.BigIntegerField(null=True, verbose_name="price from"),
        ),
        migrations.AddField(
            model_name="priceguide",
            name="price_to_minor",
            field=models.BigIntegerField(blank=True, null=True, verbose_name="price to"),
        ),
        migrations.AddField(
            model_name="priceguide",
            name="currency",
            field=models.CharField(
                default="GBP",
                max_length=3,
                validators=[
                    django.core.validators.RegexValidator(
                        "^[A-Z]{3}$", "A three-letter ISO 4217 currency code in capitals, e.g. GBP."
                    )
                ],
            ),
        ),
        migrations.RunPython(copy_to_minor, copy_to_pounds),
        migrations.AlterField(
            model_name="priceguide",
            name="price_from_minor",
            field=models.BigIntegerField(
                validators=[django.core.validators.MinValueValidator(0)], verbose_name="price from"
            ),
        ),
        migrations.RemoveField(model_name="priceguide", name="price_from"),
        migrations.RemoveField(model_name="priceguide", name="price_to"),
        migrations.AddConstraint(
            model_name="priceguide",
            constraint=models.CheckConstraint(
                condition=models.Q(("price_from_minor__gte", 0)),
                name="priceguide_price_not_negative",
                violation_error_code="priceguide_price_not_negative",
                violation_error_message="A price cannot be negative.",
            ),
        ),
        migrations.AddConstraint(
            model_name="priceguide",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("price_to_minor__isnull", True),
                    ("price_to_minor__gte", models.F("price_from_minor")),
                    _connector="OR",
                ),
                name="priceguide_price_range",
                violation_error_code="priceguide_price_range",
                violation_error_message="The 'to' price cannot be below the 'from' price.",
            ),
        ),
        migrations.AddConstraint(
            model_name="priceguide",
            constraint=models.CheckConstraint(
                condition=models.Q(("currency__regex", "^[A-Z]{3}$")),
                name="priceguide_currency_iso",
                violation_error_code="priceguide_currency_iso",
                violation_error_message="The currency is a three-letter ISO 4217 code in capitals.",
            ),
        ),
    ]
