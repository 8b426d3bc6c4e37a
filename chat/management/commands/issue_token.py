"""`manage.py issue_token <user-id> [--name N] [--ttl SECONDS]`: print an access token."""

from django.core.management.base import BaseCommand, CommandError

from chat.tokens import TokenClaims, issue_token, parse_user_id, user_for_claims


class Command(BaseCommand):
    help = "Print an access token for a user (creating the user if needed)."

    def add_arguments(self, parser):
        parser.add_argument("user_id", help="the user's GUID")
        parser.add_argument("--name", help="display name to put in the token")
        parser.add_argument("--avatar", help="avatar URL to put in the token (picture claim)")
        parser.add_argument("--ttl", type=int, default=86400, help="seconds until expiry (default 86400)")

    def handle(self, *args, **options):
        user_id = parse_user_id(options["user_id"])
        if user_id is None:
            raise CommandError("user_id must be a GUID, e.g. 550e8400-e29b-41d4-a716-446655440000")
        if options["ttl"] <= 0:
            raise CommandError("--ttl must be positive")
        user_for_claims(TokenClaims(user_id=user_id, name=options["name"], picture=options["avatar"], expires_at=0))
        token = issue_token(user_id, name=options["name"], picture=options["avatar"], ttl=options["ttl"])
        self.stdout.write(token)
