"""Back up the database and the private photos into one folder (or .tar) with a checksummed manifest."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from smpclinic.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump's custom format on PostgreSQL, a SQLite copy otherwise) and every "
        "photo and thumbnail into DESTINATION/smpclinic-backup-<UTC time>/ (or .tar with --archive), "
        "with manifest.json: migrations, row counts and SHA-256 of every file."
    )

    def add_arguments(self, parser):
        parser.add_argument("destination", type=Path, help="Folder to write the backup into (created if needed).")
        parser.add_argument("--archive", action="store_true", help="Write one .tar file instead of a folder.")
        parser.add_argument("--database", default="default", help="Database alias to back up (default: default).")

    def handle(self, *args, destination: Path, archive: bool, database: str, **options):
        try:
            path, manifest = backup_create(destination=destination, archive=archive, using=database)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        counts = manifest["counts"]
        media = sum(1 for name in manifest["files"] if name.startswith("media/"))
        self.stdout.write(f"Backup written to {path}")
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
