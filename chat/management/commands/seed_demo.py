"""`manage.py seed_demo`: demo users, a friendship, a conversation and a group, with their tokens."""

from django.core.management.base import BaseCommand

from chat.services.demo import demo_seed
from chat.tokens import issue_token


class Command(BaseCommand):
    help = "Create demo users (Alice, Bob, Carol), chats and messages, and print a token for each user."

    def add_arguments(self, parser):
        parser.add_argument("--ttl", type=int, default=7 * 86400, help="token lifetime in seconds (default 7 days)")

    def handle(self, *args, **options):
        demo = demo_seed()
        self.stdout.write(f"one-to-one chat (Alice, Bob): {demo.direct_chat_id}")
        self.stdout.write(f"group chat (Alice, Bob, Carol): {demo.group_chat_id}")
        for name, user in demo.users.items():
            self.stdout.write(f"{name} userId={user.pk} accessToken={issue_token(user.pk, ttl=options['ttl'])}")
