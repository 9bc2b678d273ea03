"""A course's agreed price in integers of minor units of its currency, copied exactly from the decimal."""

from decimal import Decimal

from django.db import migrations, models

# ISO 4217 exponents as bookings.payments.money had them when this ran (anything else: two decimals).
EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}


def to_minor(amount: Decimal | None, currency: str = "GBP") -> int | None:
    """Decimal('1250.50') in GBP -> 125050, exactly; None stays None. Refuses to drop a fraction of a minor unit."""
    if amount is None:
        return None
    places = EXPONENTS.get((currency or "GBP").upper(), 2)
    scaled = Decimal(amount).scaleb(places)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more than {places} decimals")
    return int(scaled)


def from_minor(minor: int | None, currency: str = "GBP") -> Decimal | None:
    if minor is None:
        return None
    return Decimal(minor).scaleb(-EXPONENTS.get((currency or "GBP").upper(), 2))


def copy_to_minor(apps, schema_editor):
    Course = apps.get_model("bookings", "Course")
    courses = list(Course.objects.filter(price_agreed__isnull=False).only("pk", "price_agreed", "currency"))
    for course in courses:
        course.price_agreed_minor = to_minor(course.price_agreed, course.currency)
    Course.objects.bulk_update(courses, ["price_agreed_minor"], batch_size=500)


def copy_to_pounds(apps, schema_editor):
    Course = apps.get_model("bookings", "Course")
    courses = list(Course.objects.filter(price_agreed_minor__isnull=False).only("pk", "price_agreed_minor", "currency"))
    for course in courses:
        course.price_agreed = from_minor(course.price_agreed_minor, course.currency)
    Course.objects.bulk_update(courses, ["price_agreed"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0026_merged_choices"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="course", name="course_price_not_negative"),
        migrations.AddField(
            model_name="course",
            name="price_agreed_minor",
            field=models.BigIntegerField(blank=True, null=True, verbose_name="price agreed"),
        ),
        migrations.RunPython(copy_to_minor, copy_to_pounds),
        migrations.RemoveField(model_name="course", name="price_agreed"),
        migrations.AddConstraint(
            model_name="course",
            constraint=models.CheckConstraint(
                condition=models.Q(("price_agreed_minor__isnull", True), ("price_agreed_minor__gte", 0), _connector="OR"),
                name="course_price_not_negative",
                violation_error_code="course_price_not_negative",
                violation_error_message="The price agreed cannot be negative.",
            ),
        ),
    ]
