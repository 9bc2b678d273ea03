"""Seed each message's general wording from the default files in templates/emails/, so staff
start from the clinic's aftercare facts and edit them in the admin."""

from pathlib import Path

from django.db import migrations

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "emails"
AFTERCARE = ("aftercare_day4", "aftercare_day7", "aftercare_day10")
OTHERS = ("reminder_48h", "next_session_prompt", "touch_up_recall")


def seed(apps, schema_editor):
    MessageTemplate = apps.get_model("bookings", "MessageTemplate")
    for milestone in AFTERCARE + OTHERS:
        base = TEMPLATES / ("aftercare" if milestone in AFTERCARE else "messages") / milestone

        def read(suffix):
            return base.with_name(base.name + suffix).read_text(encoding="utf-8")

        MessageTemplate.objects.get_or_create(
            milestone=milestone,
            treatment=None,
            defaults={
                "subject": read(".subject.txt").strip(),
                "text_body": read(".txt"),
                "html_body": read(".html"),
                "sms_body": read(".sms.txt").strip(),
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("bookings", "MessageTemplate").objects.filter(treatment=None).delete()


class Migration(migrations.Migration):
    dependencies = [("bookings", "0004_message_templates")]

    operations = [migrations.RunPython(seed, unseed)]
