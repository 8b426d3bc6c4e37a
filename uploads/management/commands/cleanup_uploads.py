"""`manage.py cleanup_uploads [--older-than HOURS] [--dry-run]`: delete uploads no message references."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from uploads.services import uploads_cleanup


class Command(BaseCommand):
    help = "Delete uploaded files that no message references (soft-deleted messages still count)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=24.0,
            metavar="HOURS",
            help="only uploads at least this old, so files about to be sent are kept (default 24)",
        )
        parser.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")

    def handle(self, *args, older_than: float, dry_run: bool, **options):
        if older_than < 0:
            raise CommandError("--older-than must not be negative")
        found = uploads_cleanup(older_than=timezone.now() - timedelta(hours=older_than), dry_run=dry_run)
        for upload in found:
            self.stdout.write(upload.path)
        verb = "would delete" if dry_run else "deleted"
        total = sum(u.size for u in found)
        self.stdout.write(self.style.SUCCESS(f"{verb} {len(found)} unreferenced upload(s), {total} bytes"))
