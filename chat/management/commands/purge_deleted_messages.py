"""`manage.py purge_deleted_messages --older-than DAYS [--dry-run]`."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from chat.services.moderation import messages_purge_deleted


class Command(BaseCommand):
    help = "Permanently delete messages that were soft-deleted more than DAYS days ago."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS")
        parser.add_argument("--dry-run", action="store_true", help="only count what would be purged")

    def handle(self, *args, **options):
        days = options["older_than"]
        if days < 0:
            raise CommandError("--older-than must be zero or more days")
        count = messages_purge_deleted(older_than=timedelta(days=days), dry_run=options["dry_run"])
        verb = "would purge" if options["dry_run"] else "purged"
        self.stdout.write(f"{verb} {count} message(s) deleted more than {days} day(s) ago")
