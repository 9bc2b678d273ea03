"""Phone numbers in E.164, an index for the exact phone search, and trigram indexes for the
admin's name and e-mail search.

The trigram indexes exist on PostgreSQL only (pg_trgm); SQLite, the embedded default, skips
them. They are not in Client.Meta.indexes, because Django would then ask SQLite to build a GIN
index: the operation below creates them without adding them to the migration state, so
makemigrations sees nothing to do either way.
"""

import re

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models
from django.db.migrations.operations.base import Operation
from django.db.models.functions import Upper

import clients.phones

UK_NUMBER = re.compile(r"(?:\+44|0044|0)(7\d{9}|[123589]\d{8,9})")
SEPARATORS = re.compile(r"[\s\-().]")

# Django's icontains on PostgreSQL is UPPER(col::text) LIKE UPPER('%term%'): the indexes are on
# the same expression, so the planner uses them for the admin's "contains" search.
TRIGRAM_INDEXES = [
    GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=f"client_{field}_trgm")
    for field in ("first_name", "last_name", "email")
]


class AddIndexOnPostgres(Operation):
    """Create (and on reverse drop) an index on PostgreSQL; nothing anywhere else, no state."""

    reversible = True

    def __init__(self, model_name, index):
        self.model_name, self.index = model_name, index

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.add_index(to_state.apps.get_model(app_label, self.model_name), self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.remove_index(to_state.apps.get_model(app_label, self.model_name), self.index)

    def describe(self):
        return f"Create index {self.index.name} on PostgreSQL"

    def deconstruct(self):
        return self.__class__.__name__, [], {"model_name": self.model_name, "index": self.index}


def _e164(raw: str) -> str:
    match = UK_NUMBER.fullmatch(SEPARATORS.sub("", raw))
    return "+44" + match.group(1) if match else raw


def _respell(schema_editor, spell) -> None:
    """Rewrite every stored number with ``spell``, in raw SQL: the field's own conversion (at
    whichever end of this migration) would hide the spelling that is actually stored."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, phone FROM clients_client WHERE phone <> ''")
        rows = [(spell(phone), pk) for pk, phone in cursor.fetchall() if spell(phone) != phone]
        cursor.executemany("UPDATE clients_client SET phone = %s WHERE id = %s", rows)


def phones_to_e164(apps, schema_editor):
    """Every stored UK number, whatever its spacing, becomes +44...; anything else stays as it was
    (nothing is thrown away: staff see it and correct it)."""
    _respell(schema_editor, _e164)


def _national(phone: str) -> str:
    if not phone.startswith("+44"):
        return phone
    digits = "0" + phone[3:]
    return f"{digits[:5]} {digits[5:]}" if digits.startswith("07") else f"{digits[:4]} {digits[4:]}"


def phones_to_national(apps, schema_editor):
    _respell(schema_editor, _national)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0006_client_match"),
    ]

    operations = [
        migrations.AlterField(
            model_name="client",
            name="phone",
            field=clients.phones.UKPhoneNumberField(
                blank=True, help_text="UK number, e.g. 07700 900123.", max_length=20, region="GB"
            ),
        ),
        migrations.RunPython(phones_to_e164, phones_to_national, elidable=False),
        migrations.AddIndex(
            model_name="client",
            index=models.Index(fields=["phone"], name="client_phone_idx"),
        ),
        migrations.AddIndex(
            model_name="client",
            index=models.Index(fields=["last_name", "first_name", "id"], name="client_name_order_idx"),
        ),
        TrigramExtension(),
        *(AddIndexOnPostgres(model_name="client", index=index) for index in TRIGRAM_INDEXES),
    ]
