"""Seed the general wording of the booking messages (confirmed, moved, cancelled) from the
default files in templates/emails/messages/, as 0005 did for the scheduled ones."""

from pathlib import Path

from django.db import migrations

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "emails" / "messages"
KINDS = ("confirmation", "moved", "cancelled")


def seed(apps, schema_editor):
    MessageTemplate = apps.get_model("bookings", "MessageTemplate")
    for kind in KINDS:

        def read(suffix, kind=kind):
            return (TEMPLATES / f"{kind}{suffix}").read_text(encoding="utf-8")

        MessageTemplate.objects.get_or_create(
            kind=kind,
            treatment=None,
            defaults={
                "subject": read(".subject.txt").strip(),
                "text_body": read(".txt"),
                "html_body": read(".html"),
                "sms_body": read(".sms.txt").strip(),
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("bookings", "MessageTemplate").objects.filter(kind__in=KINDS, treatment=None).delete()


class Migration(migrations.Migration):
    dependencies = [("bookings", "0009_client_message")]

    operations = [migrations.RunPython(seed, unseed)]
