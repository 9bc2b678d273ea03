"""Back up and restore the clinic: the database and the private photos, with a manifest to check both.

A backup is one folder (or the same folder as a .tar) holding:

- `manifest.json`: when it was made, the database vendor, the latest applied migration per app,
  the row count of every model and the SHA-256 and size of every other file;
- the database: `database.pgdump` (pg_dump's custom format) on PostgreSQL, or `database.sqlite3`
  (a copy made with SQLite's online backup API);
- `media/<name>`: every file a Photo row refers to (image and thumbnail), read through the photo
  field's storage, so local disk and object storage back up and restore alike.

The counts, the photo names and the dump come from one snapshot of the database (an exported
PostgreSQL snapshot, or the SQLite copy itself), so a backup taken while the clinic is open agrees
with itself. Nothing here prints or logs personal data: only counts, sizes and file names, which
are random (clients.models.photo_upload_to).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import Storage
from django.db import connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from bookings.pagecache import AVAILABILITY, SITE, versions_bump
from clients.models import Photo

logger = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
MEDIA_DIR = "media"
DUMP_NAMES = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
# Rows that only a working clinic has; a database with none of them (a new one, or one that has
# only been migrated) may be restored over without --force.
DATA_MODELS = ("clients.client", "clients.photo", "bookings.appointment", settings.AUTH_USER_MODEL)
CHUNK = 1024 * 1024


class BackupError(Exception):
    """Something the operator must fix; the message says what, without personal data."""


@dataclass
class RestoreResult:
    counts: dict[str, int]
    files: int
    pending_migrations: list[str] = field(default_factory=list)


def photo_storage() -> Storage:
    """The storage the Photo model's file fields use (local disk or object storage)."""
    return Photo._meta.get_field("image").storage


def _models():
    return [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy and not m._meta.swapped]


def _count_rows(cursor, quote, tables: set[str] | None = None) -> dict[str, int]:
    counts = {}
    for model in _models():
        if tables is not None and model._meta.db_table not in tables:
            continue
        cursor.execute(f"SELECT COUNT(*) FROM {quote(model._meta.db_table)}")  # noqa: S608 (a model's table)
        counts[model._meta.label_lower] = cursor.fetchone()[0]
    return dict(sorted(counts.items()))


def _photo_names(cursor, quote) -> set[str]:
    table = quote(Photo._meta.db_table)
    image = quote(Photo._meta.get_field("image").column)
    thumbnail = quote(Photo._meta.get_field("thumbnail").column)
    cursor.execute(f"SELECT {image}, {thumbnail} FROM {table}")  # noqa: S608 (the model's names)
    return {name for row in cursor.fetchall() for name in row if name}


def _latest_migrations(connection) -> dict[str, str]:
    latest: dict[str, tuple[int, str]] = {}
    for (app, name), record in MigrationRecorder(connection).applied_migrations().items():
        if app not in latest or record.id > latest[app][0]:
            latest[app] = (record.id, name)
    return {app: name for app, (_, name) in sorted(latest.items())}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_command(program: str, settings_dict: dict) -> tuple[list[str], dict[str, str]]:
    """The program's connection arguments and environment; the password goes in PGPASSWORD only."""
    args = [program, "--no-password"]
    if settings_dict.get("HOST"):
        args += ["--host", str(settings_dict["HOST"])]
    if settings_dict.get("PORT"):
        args += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        args += ["--username", str(settings_dict["USER"])]
    env = {**os.environ}
    env.pop("PGPASSWORD", None)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    options = settings_dict.get("OPTIONS") or {}
    for option, variable in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT")):
        if options.get(option):
            env[variable] = str(options[option])
    return args, env


def _run(args: list[str], env: dict[str, str]) -> None:
    try:
        result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"{args[0]} is not installed: install the PostgreSQL client tools.") from None
    if result.returncode != 0:
        # DETAIL lines can quote row values (a duplicate key's e-mail, say): never pass them on.
        lines = [line for line in result.stderr.splitlines() if line.strip() and "DETAIL" not in line]
        raise BackupError(f"{args[0]} failed (exit {result.returncode}): " + " / ".join(lines[-5:]))


def _dump_postgresql(connection, target: Path) -> tuple[dict[str, int], set[str]]:
    """pg_dump at an exported snapshot; counts and photo names read at that same snapshot."""
    quote = connection.ops.quote_name
    # Connect (and run any health check query) now: SET TRANSACTION must be the transaction's first statement.
    connection.cursor().close()
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        args, env = _pg_command("pg_dump", connection.settings_dict)
        args += ["--format=custom", f"--snapshot={snapshot}", f"--file={target}", connection.settings_dict["NAME"]]
        _run(args, env)
        return _count_rows(cursor, quote), _photo_names(cursor, quote)


def _dump_sqlite(connection, target: Path) -> tuple[dict[str, int], set[str]]:
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        # The online backup API copies a consistent image even while others write.
        connection.connection.backup(copy)
        cursor = copy.cursor()
        quote = connection.ops.quote_name
        return _count_rows(cursor, quote), _photo_names(cursor, quote)
    finally:
        copy.close()


def backup_create(*, destination: Path, archive: bool = False, using: str = "default") -> tuple[Path, dict]:
    """Write a backup under `destination`; return its path (folder or .tar) and its manifest."""
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in DUMP_NAMES:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {vendor}.")
    created_at = timezone.now().astimezone(UTC)
    name = f"smpclinic-backup-{created_at:%Y%m%dT%H%M%SZ}"
    destination.mkdir(parents=True, exist_ok=True)
    final = destination / (f"{name}.tar" if archive else name)
    if final.exists():
        raise BackupError(f"{final} already exists; wait a second or choose another folder.")
    # Health data: only the owner may read what is being written.
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=destination))
    try:
        dump = work / DUMP_NAMES[vendor]
        if vendor == "postgresql":
            counts, names = _dump_postgresql(connection, dump)
        else:
            counts, names = _dump_sqlite(connection, dump)
        migrations = _latest_migrations(connection)

        storage = photo_storage()
        missing = 0
        for storage_name in sorted(names):
            relative = _safe_relative(f"{MEDIA_DIR}/{storage_name}")
            target = work / relative
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                with storage.open(storage_name, "rb") as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
            except FileNotFoundError:
                # A photo deleted since the snapshot; its row is in the dump, its file is gone.
                target.unlink(missing_ok=True)
                missing += 1
        files = {
            path.relative_to(work).as_posix(): {"sha256": _sha256(path), "size": path.stat().st_size}
            for path in sorted(work.rglob("*"))
            if path.is_file()
        }
        manifest = {
            "format": FORMAT,
            "created_at": created_at.isoformat(),
            "database": {"vendor": vendor, "file": dump.name},
            "migrations": migrations,
            "counts": counts,
            "missing_photo_files": missing,
            "files": files,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for path in work.rglob("*"):
            path.chmod(0o700 if path.is_dir() else 0o600)
        if archive:
            partial = final.with_name(final.name + ".partial")
            with tarfile.open(partial, "w") as tar:
                for path in sorted(work.rglob("*")):
                    if path.is_file():
                        tar.add(path, arcname=path.relative_to(work).as_posix())
            partial.chmod(0o600)
            partial.rename(final)
        else:
            work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("backup written: %s rows, %s files, %s photo files missing", sum(counts.values()), len(files), missing)
    return final, manifest


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in name:
        raise BackupError(f"The manifest lists an unsafe path ({name!r}): this backup is refused.")
    return path


@contextmanager
def backup_open(path: Path) -> Iterator[Path]:
    """The backup's folder: the folder itself, or a .tar unpacked into a private temporary folder."""
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise BackupError(f"No backup at {path}.")
    with tempfile.TemporaryDirectory(prefix="smpclinic-restore-") as tmp:
        try:
            with tarfile.open(path) as tar:
                # The "data" filter refuses links, devices and paths outside the folder.
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"{path} is not a readable backup archive ({exc.__class__.__name__}).") from None
        yield Path(tmp)


def backup_verify(folder: Path) -> dict:
    """Read the manifest and check every file's size and SHA-256; raise BackupError on any difference."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"No {MANIFEST} in the backup: it is incomplete or not a backup.") from None
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"{MANIFEST} is not valid JSON: the backup is corrupted.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"Unknown backup format (expected format {FORMAT}).")
    try:
        files = manifest["files"]
        vendor = manifest["database"]["vendor"]
        dump = manifest["database"]["file"]
        if not isinstance(manifest["counts"], dict) or not isinstance(manifest["migrations"], dict):
            raise TypeError
    except (KeyError, TypeError):
        raise BackupError(f"{MANIFEST} lacks required entries: the backup is corrupted.") from None
    if DUMP_NAMES.get(vendor) != dump or dump not in files:
        raise BackupError(f"{MANIFEST} names no database dump for {vendor!r}: the backup is corrupted.")
    bad = []
    for name, expected in files.items():
        path = folder / _safe_relative(name)
        if not path.is_file():
            bad.append(f"{name} is missing")
        elif path.stat().st_size != expected.get("size") or _sha256(path) != expected.get("sha256"):
            bad.append(f"{name} does not match its checksum")
    if bad:
        shown = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise BackupError(f"The backup is corrupted, nothing was restored: {shown}.")
    return manifest


def database_has_data(using: str) -> bool:
    """Whether any table a working clinic fills (clients, photos, appointments, users) has a row."""
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for label in DATA_MODELS:
            table = apps.get_model(label)._meta.db_table
            if table in tables:
                cursor.execute(f"SELECT 1 FROM {quote(table)} LIMIT 1")  # noqa: S608 (a model's table)
                if cursor.fetchone():
                    return True
    return False


def _check_migrations(manifest: dict) -> list[str]:
    """Refuse a backup from newer code; return the migrations this code would still apply after it."""
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    unknown = [f"{app}.{name}" for app, name in manifest["migrations"].items() if (app, name) not in known]
    if unknown:
        raise BackupError(
            "The backup was made by a newer version of SMP Clinic (unknown migrations: "
            + ", ".join(unknown)
            + "). Deploy that version, then restore."
        )
    latest: dict[str, str] = {}
    for app, name in sorted(known):
        latest[app] = name
    return [f"{app}.{name}" for app, name in latest.items() if manifest["migrations"].get(app, "") < name]


def _restore_postgresql(connection, dump: Path) -> None:
    args, env = _pg_command("pg_restore", connection.settings_dict)
    # One transaction: a restore that fails half-way leaves the target as it was.
    args += [
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        f"--dbname={connection.settings_dict['NAME']}",
        str(dump),
    ]
    connection.close()
    _run(args, env)


def _restore_sqlite(connection, dump: Path) -> None:
    connection.ensure_connection()
    source = sqlite3.connect(dump)
    try:
        source.backup(connection.connection)
    finally:
        source.close()
    connection.close()


def backup_restore(
    *, path: Path, force: bool = False, using: str = "default", storage: Storage | None = None
) -> RestoreResult:
    """Verify the backup, then restore the database and the photos; raise BackupError if anything disagrees."""
    connection = connections[using]
    storage = storage or photo_storage()
    with backup_open(path) as folder:
        manifest = backup_verify(folder)
        vendor = manifest["database"]["vendor"]
        if vendor != connection.vendor:
            raise BackupError(f"This is a {vendor} backup; the target database is {connection.vendor}.")
        pending = _check_migrations(manifest)
        if not force and database_has_data(using):
            raise BackupError(
                "The target database already holds clients, appointments or users. Restoring would "
                "replace them: run restore again with --force if that is what you want."
            )
        dump = folder / manifest["database"]["file"]
        if vendor == "postgresql":
            _restore_postgresql(connection, dump)
        else:
            _restore_sqlite(connection, dump)

        files = 0
        for name, expected in sorted(manifest["files"].items()):
            relative = _safe_relative(name)
            if relative.parts[0] != MEDIA_DIR:
                continue
            storage_name = PurePosixPath(*relative.parts[1:]).as_posix()
            if storage.exists(storage_name):
                # Storage.save never overwrites (it would pick another name); the backup's copy wins.
                storage.delete(storage_name)
            with (folder / relative).open("rb") as fh:
                saved = storage.save(storage_name, File(fh, name=storage_name))
            if saved != storage_name:
                raise BackupError(f"The storage saved {storage_name} as {saved}: the photos would not match.")
            digest = hashlib.sha256()
            with storage.open(saved, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
            if digest.hexdigest() != expected["sha256"]:
                raise BackupError(f"{storage_name} reads back different from the backup after restoring.")
            files += 1

    # A model this code has but the backup's version had not is not there until `migrate`.
    tables = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        counts = _count_rows(cursor, connection.ops.quote_name, tables)
    differ = sorted(
        label
        for label in set(counts) | set(manifest["counts"])
        if counts.get(label, 0) != manifest["counts"].get(label, 0)
    )
    if differ:
        raise BackupError("After the restore these row counts differ from the manifest: " + ", ".join(differ))
    logger.info("backup restored: %s rows, %s photo files", sum(counts.values()), files)
    # Rows written under the models' signals' feet: no page cached before may be served again.
    versions_bump(SITE, AVAILABILITY)
    return RestoreResult(counts=counts, files=files, pending_migrations=pending)


def backup_upload(*, archive: Path, storage: Storage) -> str:
    """Copy a .tar backup into a storage (object storage, typically); return the name it was saved under."""
    with archive.open("rb") as fh:
        return storage.save(archive.name, File(fh, name=archive.name))


def backup_download(*, name: str, storage: Storage, folder: Path) -> Path:
    """Copy a .tar backup out of a storage into `folder`, to restore it from there."""
    target = folder / PurePosixPath(name).name
    try:
        with storage.open(name, "rb") as src, target.open("wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
    except FileNotFoundError:
        raise BackupError(f"No backup named {name!r} in that storage.") from None
    return target
