"""Send a test push to every device of a user, now, and report what each device answered."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chat.selectors.chats import user_get
from notifications.services import push_test_create
from notifications.worker import deliver_due


class Command(BaseCommand):
    help = "Queue a test push to each device of <user-id> and deliver it at once through PUSH_BACKEND."

    def add_arguments(self, parser):
        parser.add_argument("user_id", help="the user's GUID")
        parser.add_argument("--title", default="Test notification")
        parser.add_argument("--body", default="Push notifications work.")

    def handle(self, *args, user_id: str, title: str, body: str, **options):
        user = user_get(user_id=user_id)
        if user is None:
            raise CommandError(f"no active user {user_id}")
        with transaction.atomic():
            pushes = push_test_create(user=user, title=title, body=body)
        if not pushes:
            self.stdout.write(self.style.WARNING(f"{user} has no registered devices; nothing sent."))
            return
        report = deliver_due(only_ids=[p.pk for p in pushes])
        self.stdout.write(f"backend: {settings.PUSH_BACKEND}")
        ok = 0
        for push in pushes:
            state, error = report.outcomes.get(push.pk, ("pending", "not claimed (another worker took it?)"))
            ok += state == "sent"
            line = f"push #{push.pk} {push.platform} …{push.token[-8:]}: {state}" + (f" ({error})" if error else "")
            self.stdout.write(self.style.SUCCESS(line) if state == "sent" else self.style.ERROR(line))
        self.stdout.write(f"{ok} of {len(pushes)} device(s) accepted the push.")
