"""Back up the database and the private photos into one folder (or .tar) with a checksummed manifest."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.core.files.storage import InvalidStorageError, storages
from django.core.management.base import BaseCommand, CommandError

from smpclinic.backup import BackupError, backup_create, backup_upload


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump's custom format on PostgreSQL, a SQLite copy otherwise) and every "
        "photo and thumbnail into DESTINATION/smpclinic-backup-<UTC time>/ (or .tar with --archive), "
        "with manifest.json: migrations, row counts and SHA-256 of every file. With --to-storage the "
        ".tar goes into that storage (object storage, say) instead of, or as well as, DESTINATION."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "destination", type=Path, nargs="?", help="Folder to write the backup into (created if needed)."
        )
        parser.add_argument("--archive", action="store_true", help="Write one .tar file instead of a folder.")
        parser.add_argument(
            "--to-storage", metavar="ALIAS", help="Also store the .tar in this settings.STORAGES alias."
        )
        parser.add_argument("--database", default="default", help="Database alias to back up (default: default).")

    def handle(self, *args, destination: Path | None, archive: bool, to_storage: str | None, database: str, **options):
        if destination is None and to_storage is None:
            raise CommandError("Give a destination folder, or --to-storage ALIAS, or both.")
        try:
            target = storages[to_storage] if to_storage else None
        except InvalidStorageError:
            raise CommandError(f"No storage {to_storage!r} in settings.STORAGES.") from None
        with tempfile.TemporaryDirectory(prefix="smpclinic-backup-") as tmp:
            try:
                path, manifest = backup_create(
                    destination=destination or Path(tmp), archive=archive or target is not None, using=database
                )
                stored = backup_upload(archive=path, storage=target) if target is not None else None
            except BackupError as exc:
                raise CommandError(str(exc)) from None
        counts = manifest["counts"]
        media = sum(1 for name in manifest["files"] if name.startswith("media/"))
        if destination is not None:
            self.stdout.write(f"Backup written to {path}")
        if stored is not None:
            self.stdout.write(f"Backup stored as {stored} in storage {to_storage!r}")
        self.stdout.write(
            f"{manifest['database']['vendor']} database, {sum(counts.values())} rows in {len(counts)} tables, "
            f"{media} photo files"
        )
        if manifest["missing_photo_files"]:
            self.stderr.write(
                self.style.WARNING(
                    f"{manifest['missing_photo_files']} photo files were deleted while the backup ran "
                    "and are not in it."
                )
            )
