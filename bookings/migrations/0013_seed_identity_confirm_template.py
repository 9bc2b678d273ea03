"""Seed the general wording of the e-mail confirmation message (double opt-in of an online
booking) from templates/emails/messages/, as 0008 did for the booking messages."""

from pathlib import Path

from django.db import migrations

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "emails" / "messages"
KIND = "identity_confirm"


def seed(apps, schema_editor):
    MessageTemplate = apps.get_model("bookings", "MessageTemplate")

    def read(suffix):
        return (TEMPLATES / f"{KIND}{suffix}").read_text(encoding="utf-8")

    MessageTemplate.objects.get_or_create(
        kind=KIND,
        treatment=None,
        defaults={
            "subject": read(".subject.txt").strip(),
            "text_body": read(".txt"),
            "html_body": read(".html"),
            "sms_body": read(".sms.txt").strip(),
        },
    )


def unseed(apps, schema_editor):
    apps.get_model("bookings", "MessageTemplate").objects.filter(kind=KIND, treatment=None).delete()


class Migration(migrations.Migration):
    dependencies = [("bookings", "0012_identity_confirm_message")]

    operations = [migrations.RunPython(seed, unseed)]
