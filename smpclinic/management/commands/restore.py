"""Restore a backup made by `manage.py backup`: verify it, then the database, then the photos."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.core.files.storage import InvalidStorageError, storages
from django.core.management.base import BaseCommand, CommandError

from smpclinic.backup import BackupError, backup_download, backup_restore


def _storage(alias: str | None):
    try:
        return storages[alias] if alias else None
    except InvalidStorageError:
        raise CommandError(f"No storage {alias!r} in settings.STORAGES.") from None


class Command(BaseCommand):
    help = (
        "Restore a backup folder or .tar made by `manage.py backup` (or, with --from-storage, a .tar in "
        "that storage). Every file's checksum is verified before anything changes; a target database that "
        "already holds clients, appointments or users is refused unless --force is given. Prints the "
        "restored row counts, which must match the manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "backup", help="The backup folder or .tar file (a name in the storage with --from-storage)."
        )
        parser.add_argument(
            "--force", action="store_true", help="Replace a database that already holds data (it is overwritten)."
        )
        parser.add_argument("--from-storage", metavar="ALIAS", help="Read the .tar from this settings.STORAGES alias.")
        parser.add_argument("--database", default="default", help="Database alias to restore into (default: default).")
        parser.add_argument(
            "--photo-storage",
            metavar="ALIAS",
            help="settings.STORAGES alias to restore the photos into (default: the photos' own storage).",
        )

    def handle(
        self,
        *args,
        backup: str,
        force: bool,
        from_storage: str | None,
        database: str,
        photo_storage: str | None,
        **options,
    ):
        source, target = _storage(from_storage), _storage(photo_storage)
        with tempfile.TemporaryDirectory(prefix="smpclinic-restore-") as tmp:
            try:
                path = backup_download(name=backup, storage=source, folder=Path(tmp)) if source else Path(backup)
                result = backup_restore(path=path, force=force, using=database, storage=target)
            except BackupError as exc:
                raise CommandError(str(exc)) from None
        for label, count in result.counts.items():
            self.stdout.write(f"{label:40} {count:>8}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {sum(result.counts.values())} rows and {result.files} photo files; "
                "the counts match the manifest."
            )
        )
        if result.pending_migrations:
            self.stdout.write(
                "The backup predates this version: run `manage.py migrate` next ("
                + ", ".join(result.pending_migrations)
                + ")."
            )
