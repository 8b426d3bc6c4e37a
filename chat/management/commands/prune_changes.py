"""`manage.py prune_changes [--older-than DAYS]`: the change feed keeps CHAT_SYNC_RETENTION_DAYS."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat.services.changes import changes_prune


class Command(BaseCommand):
    help = (
        "Delete change-feed entries older than CHAT_SYNC_RETENTION_DAYS (or --older-than DAYS); a client "
        "whose cursor is older then gets resyncRequired from sync. The push worker also prunes every hour."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, metavar="DAYS", help="default: CHAT_SYNC_RETENTION_DAYS")

    def handle(self, *args, **options):
        days = options["older_than"]
        if days is None:
            days = settings.CHAT_SYNC_RETENTION_DAYS
        if days < 0:
            raise CommandError("--older-than must be zero or more days")
        count = changes_prune(retention_days=days)
        self.stdout.write(f"pruned {count} change(s) older than {days} day(s)")
