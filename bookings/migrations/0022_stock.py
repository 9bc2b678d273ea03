"""Pigment and needle stock, and the free-text pigment fields of existing session notes kept.

The session notes' free text (pigment_brand, pigment_shade, pigment_blend, needle) stays where it
is, unchanged: nothing is dropped or rewritten. From it this migration also makes, once, one
"from free text" product per distinct brand and shade (and per needle text), one "lot unknown"
batch of it per location, and links each note to them, so every session's record (the client's
pigment record, the stock pages) reads the same way. Those batches are never offered for a new
session and never match a recall's lot search. See docs/stock.md.
"""

import django.core.validators
import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


CHUNK = 5000


def _text(value: str) -> str:
    return " ".join((value or "").split())


def legacy_pigment_migrate(apps, schema_editor) -> dict[str, int]:
    """Link every session note that has free-text pigment or needle to "lot unknown" batches.

    Runs again harmlessly: products and batches are found before they are made, and a note's
    link is made once. Returns what it made (for the tests)."""
    SessionNote = apps.get_model("clients", "SessionNote")
    Product = apps.get_model("bookings", "Product")
    Batch = apps.get_model("bookings", "Batch")
    SessionBatch = apps.get_model("bookings", "SessionBatch")
    made = {"products": 0, "batches": 0, "links": 0}
    products = {(p.kind, p.brand.upper(), p.shade.upper()): p.pk for p in Product.objects.filter(is_legacy=True)}
    batches = {(b.product_id, b.location_id): b.pk for b in Batch.objects.filter(is_legacy=True)}

    def product_id(kind: str, brand: str, shade: str) -> int:
        key = (kind, brand.upper(), shade.upper())
        if key not in products:
            products[key] = Product.objects.create(
                kind=kind, brand=brand, shade=shade, is_legacy=True, is_active=False
            ).pk
            made["products"] += 1
        return products[key]

    def batch_id(product: int, location: int) -> int:
        key = (product, location)
        if key not in batches:
            batches[key] = Batch.objects.create(product_id=product, location_id=location, is_legacy=True).pk
            made["batches"] += 1
        return batches[key]

    notes = (
        SessionNote.objects.exclude(pigment_brand="", pigment_shade="", needle="")
        # A note linked already (a second run) is left as it is.
        .exclude(batch_uses__batch__is_legacy=True)
        .values_list("pk", "appointment__location_id", "pigment_brand", "pigment_shade", "needle")
        .order_by("pk")
    )
    links = []
    for pk, location, brand, shade, needle in notes.iterator(chunk_size=CHUNK):
        brand, shade, needle = _text(brand), _text(shade), _text(needle)
        if brand or shade:
            links.append(
                SessionBatch(session_note_id=pk, batch_id=batch_id(product_id("pigment", brand, shade), location))
            )
        if needle:
            links.append(
                SessionBatch(session_note_id=pk, batch_id=batch_id(product_id("needle", "", needle), location))
            )
        if len(links) >= CHUNK:
            made["links"] += len(SessionBatch.objects.bulk_create(links, ignore_conflicts=True))
            links = []
    if links:
        made["links"] += len(SessionBatch.objects.bulk_create(links, ignore_conflicts=True))
    return made


def legacy_pigment_unmigrate(apps, schema_editor) -> None:
    """The links and "lot unknown" batches go; the notes' free text was never touched."""
    apps.get_model("bookings", "SessionBatch").objects.filter(batch__is_legacy=True).delete()
    apps.get_model("bookings", "Batch").objects.filter(is_legacy=True).delete()
    apps.get_model("bookings", "Product").objects.filter(is_legacy=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0021_perf_indexes"),
        ("clients", "0007_phone_e164_search"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Batch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "lot_number",
                    models.CharField(blank=True, help_text="As printed on the bottle or box.", max_length=60),
                ),
                ("expires_on", models.DateField(blank=True, null=True, verbose_name="expiry date")),
                ("received_on", models.DateField(blank=True, null=True)),
                ("opened_on", models.DateField(blank=True, null=True)),
                ("supplier", models.CharField(blank=True, max_length=120)),
                ("recalled_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("recall_reason", models.CharField(blank=True, editable=False, max_length=200)),
                (
                    "is_legacy",
                    models.BooleanField(
                        default=False,
                        editable=False,
                        help_text="Made from a session note's free text: its lot and expiry were never recorded, and it is never offered for a new session.",
                        verbose_name="lot unknown",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name_plural": "batches",
                "ordering": ["product", "expires_on", "lot_number"],
                "permissions": [
                    ("recall_batch", "Can search a recalled lot's clients, export them (CSV) and message them")
                ],
            },
        ),
        migrations.CreateModel(
            name="Product",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[("pigment", "Pigment"), ("needle", "Needle"), ("other", "Other")],
                        default="pigment",
                        max_length=10,
                        verbose_name="type",
                    ),
                ),
                ("brand", models.CharField(max_length=80)),
                (
                    "shade",
                    models.CharField(
                        blank=True,
                        help_text="The pigment's shade (e.g. 'Shade 2'), or the needle's configuration (e.g. '1RL 0.18 mm').",
                        max_length=80,
                        verbose_name="shade or size",
                    ),
                ),
                ("is_active", models.BooleanField(default=True, help_text="Untick to stop offering its batches.")),
                (
                    "is_legacy",
                    models.BooleanField(
                        default=False,
                        editable=False,
                        help_text="Made from the free text session notes held before batches were tracked.",
                        verbose_name="from free text",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["kind", "brand", "shade"],
            },
        ),
        migrations.CreateModel(
            name="RecallNotice",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "lot_number",
                    models.CharField(help_text="Upper case, as the recall search matches it.", max_length=60),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="SessionBatch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "share_percent",
                    models.PositiveSmallIntegerField(
                        blank=True,
                        help_text="Pigments: this batch's part of the blend. Leave empty for needles.",
                        null=True,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(100),
                        ],
                        verbose_name="share of the blend (%)",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "verbose_name": "batch used in a session",
                "verbose_name_plural": "batches used in sessions",
                "ordering": ["session_note", "-share_percent", "pk"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="clientmessage",
            name="clientmessage_one_per_appointment_kind",
        ),
        migrations.AlterField(
            model_name="clientmessage",
            name="kind",
            field=models.CharField(
                choices=[
                    ("aftercare_day4", "Aftercare: day 4"),
                    ("aftercare_day7", "Aftercare: day 7"),
                    ("aftercare_day10", "Aftercare: day 10"),
                    ("reminder_48h", "Reminder 48 hours before"),
                    ("next_session_prompt", "Next session not booked"),
                    ("touch_up_recall", "Touch-up recall"),
                    ("confirmation", "Booking confirmed"),
                    ("moved", "Booking moved"),
                    ("cancelled", "Booking cancelled"),
                    ("identity_confirm", "Confirm your e-mail (online booking)"),
                    ("batch_recall", "Pigment or needle batch recall"),
                ],
                max_length=30,
            ),
        ),
        migrations.AlterField(
            model_name="messagetemplate",
            name="kind",
            field=models.CharField(
                choices=[
                    ("aftercare_day4", "Aftercare: day 4"),
                    ("aftercare_day7", "Aftercare: day 7"),
                    ("aftercare_day10", "Aftercare: day 10"),
                    ("reminder_48h", "Reminder 48 hours before"),
                    ("next_session_prompt", "Next session not booked"),
                    ("touch_up_recall", "Touch-up recall"),
                    ("confirmation", "Booking confirmed"),
                    ("moved", "Booking moved"),
                    ("cancelled", "Booking cancelled"),
                    ("identity_confirm", "Confirm your e-mail (online booking)"),
                    ("batch_recall", "Pigment or needle batch recall"),
                ],
                max_length=30,
            ),
        ),
        migrations.AddConstraint(
            model_name="clientmessage",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind__in", ["confirmation", "moved", "cancelled", "batch_recall"]), _negated=True),
                fields=("appointment", "kind"),
                name="clientmessage_one_per_appointment_kind",
            ),
        ),
        migrations.AddField(
            model_name="batch",
            name="location",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="batches", to="bookings.location"
            ),
        ),
        migrations.AddField(
            model_name="batch",
            name="recalled_by",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="product",
            constraint=models.UniqueConstraint(
                models.F("kind"),
                django.db.models.functions.text.Upper("brand"),
                django.db.models.functions.text.Upper("shade"),
                condition=models.Q(("is_legacy", False)),
                name="product_unique_kind_brand_shade",
                violation_error_code="product_unique_kind_brand_shade",
                violation_error_message="This product exists already.",
            ),
        ),
        migrations.AddField(
            model_name="batch",
            name="product",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="batches", to="bookings.product"
            ),
        ),
        migrations.AddField(
            model_name="recallnotice",
            name="client",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="recall_notices", to="clients.client"
            ),
        ),
        migrations.AddField(
            model_name="recallnotice",
            name="message",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE, related_name="recall_notice", to="bookings.clientmessage"
            ),
        ),
        migrations.AddField(
            model_name="recallnotice",
            name="sent_by",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="sessionbatch",
            name="batch",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="uses", to="bookings.batch"
            ),
        ),
        migrations.AddField(
            model_name="sessionbatch",
            name="session_note",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="batch_uses", to="clients.sessionnote"
            ),
        ),
        migrations.AddIndex(
            model_name="batch",
            index=models.Index(django.db.models.functions.text.Upper("lot_number"), name="batch_lot_upper_idx"),
        ),
        migrations.AddConstraint(
            model_name="batch",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_legacy", False)),
                fields=("product", "location", "lot_number"),
                name="batch_unique_lot_per_location",
                violation_error_code="batch_unique_lot_per_location",
                violation_error_message="This location already has this lot of this product.",
            ),
        ),
        migrations.AddConstraint(
            model_name="batch",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_legacy", True)),
                fields=("product", "location"),
                name="batch_one_legacy_per_product_location",
            ),
        ),
        migrations.AddConstraint(
            model_name="batch",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("is_legacy", True),
                    models.Q(
                        models.Q(("lot_number", ""), _negated=True),
                        ("expires_on__isnull", False),
                        ("received_on__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="batch_known_lot_has_dates",
                violation_error_code="batch_known_lot_has_dates",
                violation_error_message="A batch needs its lot number, expiry date and the date it was received.",
            ),
        ),
        migrations.AddConstraint(
            model_name="batch",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("opened_on__isnull", True),
                    ("received_on__isnull", True),
                    ("opened_on__gte", models.F("received_on")),
                    _connector="OR",
                ),
                name="batch_opened_after_received",
                violation_error_code="batch_opened_after_received",
                violation_error_message="A batch cannot be opened before it was received.",
            ),
        ),
        migrations.AddConstraint(
            model_name="batch",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("recalled_at__isnull", True), models.Q(("recall_reason", ""), _negated=True), _connector="OR"
                ),
                name="batch_recall_has_reason",
                violation_error_code="batch_recall_has_reason",
                violation_error_message="A recall needs its reason.",
            ),
        ),
        migrations.AddConstraint(
            model_name="recallnotice",
            constraint=models.UniqueConstraint(
                fields=("lot_number", "client"), name="recallnotice_once_per_lot_client"
            ),
        ),
        migrations.AddConstraint(
            model_name="sessionbatch",
            constraint=models.UniqueConstraint(
                fields=("session_note", "batch"),
                name="sessionbatch_once_per_note",
                violation_error_code="sessionbatch_once_per_note",
                violation_error_message="This batch is listed twice for the session.",
            ),
        ),
        migrations.AddConstraint(
            model_name="sessionbatch",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("share_percent__isnull", True),
                    models.Q(("share_percent__gte", 1), ("share_percent__lte", 100)),
                    _connector="OR",
                ),
                name="sessionbatch_share_1_to_100",
            ),
        ),
        migrations.RunPython(legacy_pigment_migrate, legacy_pigment_unmigrate),
    ]
