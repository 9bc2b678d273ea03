"""`manage.py backup` and `manage.py restore` end to end: every record and every photo's bytes come back."""

from __future__ import annotations

import copy
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.db.utils import load_backend

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory
from clients.models import Client, ConsentRecord, Photo, SessionNote
from clients.services import PhotoUpload, photos_add
from clients.tests.factories import ClientFactory, ConsentRecordFactory, SessionNoteFactory, staff_user
from clients.tests.images import jpeg, png
from smpclinic.backup import _pg_command, photo_storage

# pg_dump and pg_restore work outside the test's transaction: the rows must be committed.
in_postgres = pytest.mark.django_db(transaction=True)
RECORDS = (Client, Appointment, SessionNote, ConsentRecord, Photo)
BASE_DIR = Path(django_settings.BASE_DIR)


@pytest.fixture
def restore_db(postgres):
    """An empty second database on the same server, reachable as the connection alias "restore"."""
    import psycopg2

    source = connections["default"].settings_dict
    name = f"{source['NAME']}_restore"
    params = {
        "dbname": "postgres",
        "user": source["USER"],
        "password": source["PASSWORD"] or None,
        "host": source["HOST"] or None,
        "port": source["PORT"] or None,
    }

    def admin(sql: str) -> None:
        conn = psycopg2.connect(**params)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
        finally:
            conn.close()

    admin(f'DROP DATABASE IF EXISTS "{name}"')
    admin(f'CREATE DATABASE "{name}"')
    target = copy.deepcopy(connections.settings["default"])
    target["NAME"] = name
    # A connection made on the fly, not listed in settings: Django's test case allows those.
    connections["restore"] = load_backend(target["ENGINE"]).DatabaseWrapper(target, "restore")
    try:
        yield "restore"
    finally:
        connections["restore"].close()
        del connections["restore"]
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def second_media(settings, tmp_path):
    """A second, empty private media folder, as the storage alias "restore_media"."""
    root = tmp_path / "media2"
    settings.STORAGES = {
        **settings.STORAGES,
        "restore_media": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


def clinic_build() -> list[Photo]:
    """Three clients with appointments, session notes, consents and real photos (with thumbnails)."""
    technician = staff_user(role="Technician")
    photos = []
    for n in range(3):
        client = ClientFactory(staff_notes=f"Client {n}: prefers mornings", postcode="M1 1AA")
        consultation = AppointmentFactory(client=client)
        SessionNoteFactory(appointment__client=client, pigment_shade=str(n + 1), notes="Light hand on the crown")
        ConsentRecordFactory(client=client, signed_name=f"{client.first_name} {client.last_name}")
        uploads = [
            PhotoUpload(file=SimpleUploadedFile("front.jpg", jpeg(colour=(n * 40, 90, 60))), angle="front"),
            PhotoUpload(file=SimpleUploadedFile("top.png", png(size=(40 + n, 30))), angle="top"),
        ]
        photos += photos_add(client=client, appointment=consultation, uploads=uploads, phase="before", by=technician)
    return photos


def rows(model, using: str) -> list[dict]:
    return list(model.objects.using(using).order_by("pk").values())


def photo_files(using: str) -> list[str]:
    return sorted(
        name for image, thumb in Photo.objects.using(using).values_list("image", "thumbnail") for name in (image, thumb)
    )


@pytest.fixture
def clinic(frozen_now):
    photos = clinic_build()
    assert len(photos) == 6
    assert all(p.thumbnail for p in photos)
    return photos


@in_postgres
def test_backup_then_restore_into_an_empty_database_brings_back_every_record_and_photo(
    clinic, restore_db, second_media, tmp_path, capsys
):
    call_command("backup", str(tmp_path / "backups"))
    (backup,) = (tmp_path / "backups").iterdir()
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"]["vendor"] == "postgresql"
    assert manifest["counts"]["clients.client"] == 3
    assert manifest["counts"]["clients.photo"] == 6
    assert manifest["migrations"]["clients"].startswith("00")
    assert len([name for name in manifest["files"] if name.startswith("media/")]) == 12
    capsys.readouterr()

    call_command("restore", str(backup), "--database", restore_db, "--photo-storage", "restore_media")
    out = capsys.readouterr().out
    assert "counts match the manifest" in out

    for model in RECORDS:
        original = rows(model, "default")
        assert original, model
        assert rows(model, restore_db) == original, model
    storage = photo_storage()
    names = photo_files("default")
    assert len(names) == 12
    assert photo_files(restore_db) == names
    for name in names:
        with storage.open(name, "rb") as fh:
            assert (second_media / name).read_bytes() == fh.read(), name

    # Nothing personal reaches the output: names, e-mails and phones stay in the database.
    for client in Client.objects.all():
        for value in (client.first_name, client.last_name, client.email, str(client.phone)):
            assert value not in out

    # The target now holds clients: a second restore must be asked for.
    with pytest.raises(CommandError, match="--force"):
        call_command("restore", str(backup), "--database", restore_db, "--photo-storage", "restore_media")
    Client.objects.using(restore_db).filter(pk=Client.objects.order_by("pk")[0].pk).update(staff_notes="changed")
    call_command("restore", str(backup), "--database", restore_db, "--photo-storage", "restore_media", "--force")
    assert rows(Client, restore_db) == rows(Client, "default")


@in_postgres
def test_restore_refuses_a_database_that_holds_data_without_force(clinic, tmp_path):
    call_command("backup", str(tmp_path / "backups"))
    (backup,) = (tmp_path / "backups").iterdir()
    before = {model: rows(model, "default") for model in RECORDS}
    with pytest.raises(CommandError, match=r"already holds clients.*--force"):
        call_command("restore", str(backup))
    assert {model: rows(model, "default") for model in RECORDS} == before


@in_postgres
def test_restore_refuses_a_backup_made_by_newer_code(tmp_path):
    call_command("backup", str(tmp_path / "backups"))
    (backup,) = (tmp_path / "backups").iterdir()
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["migrations"]["clients"] = "9999_from_the_future"
    (backup / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CommandError, match=r"newer version of SMP Clinic \(unknown migrations: clients.9999"):
        call_command("restore", str(backup), "--force")


@in_postgres
@pytest.mark.parametrize("damage", ["photo", "dump", "missing"])
def test_restore_refuses_a_tampered_backup_before_touching_anything(clinic, restore_db, second_media, tmp_path, damage):
    call_command("backup", str(tmp_path / "backups"))
    (backup,) = (tmp_path / "backups").iterdir()
    photos = sorted((backup / "media" / "photos").iterdir())
    victim = backup / "database.pgdump" if damage == "dump" else photos[0]
    if damage == "missing":
        victim.unlink()
    else:
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.write_bytes(bytes(data))

    with pytest.raises(CommandError, match="corrupted, nothing was restored"):
        call_command("restore", str(backup), "--database", restore_db, "--photo-storage", "restore_media")
    assert connections[restore_db].introspection.table_names() == []
    assert not second_media.exists()


@in_postgres
def test_a_tar_archive_restores_and_a_tampered_one_is_refused(clinic, restore_db, second_media, tmp_path):
    call_command("backup", str(tmp_path / "backups"), "--archive")
    (archive,) = (tmp_path / "backups").iterdir()
    assert archive.suffix == ".tar"
    assert oct(archive.stat().st_mode & 0o777) == "0o600"

    tampered = tmp_path / "tampered.tar"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w") as out:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.startswith("media/thumbs/"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    with pytest.raises(CommandError, match="does not match its checksum"):
        call_command("restore", str(tampered), "--database", restore_db, "--photo-storage", "restore_media")

    call_command("restore", str(archive), "--database", restore_db, "--photo-storage", "restore_media")
    assert rows(Photo, restore_db) == rows(Photo, "default")


@in_postgres
def test_backup_goes_to_object_storage_and_restores_from_it(clinic, restore_db, second_media, settings, monkeypatch):
    """--to-storage and --from-storage on an S3 bucket (moto's in-process S3)."""
    from moto import mock_aws

    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "testing")
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="eu-west-2")
        s3.create_bucket(Bucket="clinic-backups", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        settings.STORAGES = {
            **settings.STORAGES,
            "backups": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": "clinic-backups", "region_name": "eu-west-2", "file_overwrite": False},
            },
        }
        call_command("backup", "--to-storage", "backups")
        (stored,) = [item["Key"] for item in s3.list_objects_v2(Bucket="clinic-backups")["Contents"]]
        assert stored.startswith("smpclinic-backup-")
        assert stored.endswith(".tar")

        call_command(
            "restore", stored, "--from-storage", "backups", "--database", restore_db, "--photo-storage", "restore_media"
        )
    for model in RECORDS:
        assert rows(model, restore_db) == rows(model, "default"), model
    assert len(list((second_media / "photos").iterdir())) == 6


def test_pg_tools_get_the_password_from_the_environment_never_the_command_line():
    args, env = _pg_command(
        "pg_dump",
        {
            "HOST": "db.internal",
            "PORT": 5433,
            "USER": "clinic",
            "PASSWORD": "s3cret-pw",
            "OPTIONS": {"sslmode": "require"},
        },
    )
    assert args == ["pg_dump", "--no-password", "--host", "db.internal", "--port", "5433", "--username", "clinic"]
    assert not any("s3cret-pw" in arg for arg in args)
    assert env["PGPASSWORD"] == "s3cret-pw"
    assert env["PGSSLMODE"] == "require"


SQLITE_CLINIC = """
import time_machine
from datetime import datetime, UTC
with time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=UTC), tick=False):
    from smpclinic.tests.test_backup_restore import clinic_build
    clinic_build()
"""


def manage(*args: str, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def sqlite_rows(path: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f'SELECT * FROM "{table}" ORDER BY id').fetchall()
    finally:
        conn.close()


def test_sqlite_backup_restores_into_a_new_database_file(tmp_path):
    """The embedded setup: a SQLite copy through the online backup API, photos on local disk."""
    source_db, target_db = tmp_path / "source.sqlite3", tmp_path / "target.sqlite3"
    source_media, target_media = tmp_path / "media1", tmp_path / "media2"
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PRIVATE_MEDIA_ROOT"}}
    source = {**base, "DATABASE_URL": f"sqlite:///{source_db}", "PRIVATE_MEDIA_ROOT": str(source_media)}
    target = {**base, "DATABASE_URL": f"sqlite:///{target_db}", "PRIVATE_MEDIA_ROOT": str(target_media)}

    manage("migrate", "--verbosity=0", env=source)
    manage("shell", "--command", SQLITE_CLINIC, env=source)
    manage("backup", str(tmp_path / "backups"), "--archive", env=source)
    (archive,) = (tmp_path / "backups").iterdir()
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["database"] == {"vendor": "sqlite", "file": "database.sqlite3"}
    out = manage("restore", str(archive), env=target)
    assert "counts match the manifest" in out

    for model in RECORDS:
        table = model._meta.db_table
        original = sqlite_rows(source_db, table)
        assert original, table
        assert sqlite_rows(target_db, table) == original, table
    files = sorted(p.relative_to(source_media) for p in source_media.rglob("*") if p.is_file())
    assert len(files) == 12
    for name in files:
        assert (target_media / name).read_bytes() == (source_media / name).read_bytes()

    with pytest.raises(AssertionError, match="--force"):
        manage("restore", str(archive), env=target)
