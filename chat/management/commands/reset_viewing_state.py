"""`manage.py reset_viewing_state`: forget presence and viewing state (after a crash, before start-up)."""

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand

from chat.state.store import get_state


class Command(BaseCommand):
    help = (
        "Forget who is online and who is viewing which chat. With REDIS_URL this clears the shared state "
        "that crashed workers may have left behind; run it while no server is running, since live sockets "
        "are forgotten too (they are counted again when they reconnect)."
    )

    def handle(self, *args, **options):
        # The state layer is async; a command has no loop of its own, so this call brings one.
        asyncio.run(get_state().presence.reset())
        where = "Redis" if settings.REDIS_URL else "this process (nothing is shared without REDIS_URL)"
        self.stdout.write(f"presence and viewing state cleared in {where}")
