"""The home page's closing section becomes staff-edited copy like the rest of the page."""

from django.db import migrations

HOME_SECTIONS = [
    (
        "Not sure SMP is for you?",
        "A consultation is free and without obligation: we look at your scalp, answer your questions "
        "and tell you honestly what SMP can and can't do for you.",
    ),
]


def seed(apps, schema_editor):
    Page = apps.get_model("treatments", "Page")
    PageSection = apps.get_model("treatments", "PageSection")
    page = Page.objects.filter(key="home").first()
    if page is None or PageSection.objects.filter(page=page).exists():
        return
    for order, (heading, body) in enumerate(HOME_SECTIONS, start=1):
        PageSection.objects.create(page=page, heading=heading, body=body, order=order)


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0003_seed_site_content"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
