"""The outbox is every message to a client, not only aftercare: AftercareReminder becomes
ClientMessage and `milestone` becomes `kind`, keeping every row. Change messages (booking
confirmed, moved, cancelled) are one row per change, so the one-row-per-kind rule now holds
only for the scheduled kinds."""

import django.db.models.deletion
from django.db import migrations, models

CHANGE_KINDS = ["confirmation", "moved", "cancelled"]
KINDS = [
    ("aftercare_day4", "Aftercare: day 4"),
    ("aftercare_day7", "Aftercare: day 7"),
    ("aftercare_day10", "Aftercare: day 10"),
    ("reminder_48h", "Reminder 48 hours before"),
    ("next_session_prompt", "Next session not booked"),
    ("touch_up_recall", "Touch-up recall"),
    ("confirmation", "Booking confirmed"),
    ("moved", "Booking moved"),
    ("cancelled", "Booking cancelled"),
]


def rename_permissions(apps, schema_editor, old="aftercarereminder", new="clientmessage"):
    # The content type follows RenameModel by itself; the codenames the staff groups hold do not.
    Permission = apps.get_model("auth", "Permission")
    for permission in Permission.objects.filter(content_type__app_label="bookings", codename__endswith=f"_{old}"):
        codename = permission.codename.removesuffix(old) + new
        if Permission.objects.filter(content_type=permission.content_type, codename=codename).exists():
            continue
        permission.codename = codename
        permission.save(update_fields=["codename"])


def restore_permissions(apps, schema_editor):
    rename_permissions(apps, schema_editor, old="clientmessage", new="aftercarereminder")


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("bookings", "0008_constraint_error_codes"),
        ("clients", "0004_reminders_help_text"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="aftercarereminder", name="reminder_one_per_appointment_milestone"),
        migrations.RemoveConstraint(model_name="aftercarereminder", name="reminder_sent_has_time"),
        migrations.RenameModel(old_name="AftercareReminder", new_name="ClientMessage"),
        migrations.RenameField(model_name="clientmessage", old_name="milestone", new_name="kind"),
        migrations.RenameIndex(
            model_name="clientmessage", new_name="clientmessage_status_due_idx", old_name="bookings_af_status_e02165_idx"
        ),
        migrations.AlterField(
            model_name="clientmessage",
            name="appointment",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="messages", to="bookings.appointment"
            ),
        ),
        migrations.AlterField(
            model_name="clientmessage", name="kind", field=models.CharField(choices=KINDS, max_length=30)
        ),
        migrations.AddField(
            model_name="clientmessage",
            name="sequence",
            field=models.PositiveIntegerField(
                default=0, help_text="The appointment's calendar sequence when a change message was queued."
            ),
        ),
        migrations.AddField(
            model_name="clientmessage",
            name="payload",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="What a change message says, as it was at the change (times in UTC).",
            ),
        ),
        migrations.AddField(
            model_name="appointment",
            name="ics_sequence",
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name="calendar sequence"),
        ),
        migrations.AddConstraint(
            model_name="clientmessage",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind__in", CHANGE_KINDS), _negated=True),
                fields=("appointment", "kind"),
                name="clientmessage_one_per_appointment_kind",
            ),
        ),
        migrations.AddConstraint(
            model_name="clientmessage",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind__in", CHANGE_KINDS)),
                fields=("appointment", "kind", "sequence", "channel"),
                name="clientmessage_one_per_change_channel",
            ),
        ),
        migrations.AddConstraint(
            model_name="clientmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("status", "sent"), _negated=True), ("sent_at__isnull", False), _connector="OR"),
                name="clientmessage_sent_has_time",
            ),
        ),
        migrations.RemoveConstraint(model_name="messagetemplate", name="messagetemplate_one_general_per_milestone"),
        migrations.RemoveConstraint(model_name="messagetemplate", name="messagetemplate_one_per_milestone_treatment"),
        migrations.RenameField(model_name="messagetemplate", old_name="milestone", new_name="kind"),
        migrations.AlterField(
            model_name="messagetemplate", name="kind", field=models.CharField(choices=KINDS, max_length=30)
        ),
        migrations.AlterModelOptions(name="messagetemplate", options={"ordering": ["kind", "treatment"]}),
        migrations.AddConstraint(
            model_name="messagetemplate",
            constraint=models.UniqueConstraint(
                condition=models.Q(("treatment__isnull", True)),
                fields=("kind",),
                name="messagetemplate_one_general_per_kind",
                violation_error_code="messagetemplate_one_general_per_kind",
                violation_error_message="There is already a general template for this message.",
            ),
        ),
        migrations.AddConstraint(
            model_name="messagetemplate",
            constraint=models.UniqueConstraint(
                fields=("kind", "treatment"),
                name="messagetemplate_one_per_kind_treatment",
                violation_error_code="messagetemplate_one_per_kind_treatment",
                violation_error_message="This treatment already has a template for this message.",
            ),
        ),
        migrations.RunPython(rename_permissions, restore_permissions),
    ]
