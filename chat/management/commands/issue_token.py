"""`manage.py issue_token <user-id> [--name N] [--avatar URL] [--ttl SECONDS]`: print a user's access token.
`manage.py issue_token --service [--ttl SECONDS]`: print a service token for the users API (CONTRACT §10)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat.tokens import TokenClaims, issue_service_token, issue_token, user_for_claims
from chat.validation import parse_user_id


class Command(BaseCommand):
    help = (
        "Print an access token for a user (creating the user if needed), or with --service a token for "
        "the identity system's users API."
    )

    def add_arguments(self, parser):
        parser.add_argument("user_id", nargs="?", help="the user's GUID (not with --service)")
        parser.add_argument("--name", help="display name to put in the token")
        parser.add_argument("--avatar", help="avatar URL to put in the token (picture claim)")
        parser.add_argument("--ttl", type=int, default=86400, help="seconds until expiry (default 86400)")
        parser.add_argument(
            "--service",
            action="store_true",
            help='a service token (scope "chat:service", no user) for PUT/DELETE /api/users and POST /api/users/bulk',
        )

    def handle(self, *args, **options):
        ttl = options["ttl"]
        if ttl <= 0:
            raise CommandError("--ttl must be positive")
        max_lifetime = settings.CHAT_JWT_MAX_LIFETIME
        if max_lifetime > 0 and ttl > max_lifetime:
            raise CommandError(
                f"--ttl {ttl} is longer than CHAT_JWT_MAX_LIFETIME ({max_lifetime} seconds): this server would "
                "refuse the token"
            )
        if options["service"]:
            if options["user_id"] or options["name"] or options["avatar"]:
                raise CommandError("--service tokens name no user: give no user_id, --name or --avatar")
            self.stdout.write(issue_service_token(ttl=ttl))
            return
        user_id = parse_user_id(options["user_id"])
        if user_id is None:
            raise CommandError("user_id must be a GUID, e.g. 550e8400-e29b-41d4-a716-446655440000")
        user_for_claims(TokenClaims(user_id=user_id, name=options["name"], picture=options["avatar"], expires_at=0))
        token = issue_token(user_id, name=options["name"], picture=options["avatar"], ttl=ttl)
        self.stdout.write(token)
