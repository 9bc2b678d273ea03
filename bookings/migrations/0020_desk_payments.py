"""Desk payments and receipts: a course's currency, the payment-receipt message kind (one per
request, not one per appointment), and the desk-payment permission for the Reception role
(managers hold every permission already)."""

import django.core.validators
from django.db import migrations, models

GRANTS = {"Reception": ["record_desk_payment"], "Manager": ["record_desk_payment"]}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate finishes; the groups need this one now.
    app_config = apps.get_app_config("bookings")
    previous, app_config.models_module = getattr(app_config, "models_module", None), True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = previous

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label="bookings", content_type__model="payment", codename__in=codenames
                )
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Reception"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="bookings", codename__in=GRANTS[group.name])
        )


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0019_payments'),
        ('clients', '0003_roles'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='clientmessage',
            name='clientmessage_one_per_appointment_kind',
        ),
        migrations.AddField(
            model_name='course',
            name='currency',
            field=models.CharField(default='GBP', help_text='ISO 4217 code of the price agreed and of every payment against the course.', max_length=3, validators=[django.core.validators.RegexValidator('^[A-Z]{3}$', 'A three-letter ISO 4217 currency code in capitals, e.g. GBP.')]),
        ),
        migrations.AlterField(
            model_name='clientmessage',
            name='kind',
            field=models.CharField(choices=[('aftercare_day4', 'Aftercare: day 4'), ('aftercare_day7', 'Aftercare: day 7'), ('aftercare_day10', 'Aftercare: day 10'), ('reminder_48h', 'Reminder 48 hours before'), ('next_session_prompt', 'Next session not booked'), ('touch_up_recall', 'Touch-up recall'), ('confirmation', 'Booking confirmed'), ('moved', 'Booking moved'), ('cancelled', 'Booking cancelled'), ('identity_confirm', 'Confirm your e-mail (online booking)'), ('receipt', 'Payment receipt')], max_length=30),
        ),
        migrations.AlterField(
            model_name='messagetemplate',
            name='kind',
            field=models.CharField(choices=[('aftercare_day4', 'Aftercare: day 4'), ('aftercare_day7', 'Aftercare: day 7'), ('aftercare_day10', 'Aftercare: day 10'), ('reminder_48h', 'Reminder 48 hours before'), ('next_session_prompt', 'Next session not booked'), ('touch_up_recall', 'Touch-up recall'), ('confirmation', 'Booking confirmed'), ('moved', 'Booking moved'), ('cancelled', 'Booking cancelled'), ('identity_confirm', 'Confirm your e-mail (online booking)'), ('receipt', 'Payment receipt')], max_length=30),
        ),
        migrations.AddConstraint(
            model_name='clientmessage',
            constraint=models.UniqueConstraint(condition=models.Q(('kind__in', ['confirmation', 'moved', 'cancelled', 'receipt']), _negated=True), fields=('appointment', 'kind'), name='clientmessage_one_per_appointment_kind'),
        ),
        migrations.RunPython(grant, revoke),
    ]
