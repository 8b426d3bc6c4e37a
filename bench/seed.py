"""Seed one benchmark database: `python bench/seed.py --pairs N --group M --out users.json`.

Run by bench/run.py once per set-up, in its own process (Django is set up once per process, and each
set-up has its own DATABASE_URL). Migrates, then makes through the real services: 2N users in pairs, each
pair with its one-to-one chat, and one group chat of the first M users (the first one its admin). Writes
`{"users": [{id, token, chatHeaderId}], "group": {"chatHeaderId", "members"}, "seconds"}`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, required=True)
    parser.add_argument("--group", type=int, default=100, help="members of the fan-out group (0: none)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    started = time.monotonic()
    import django

    django.setup()
    from django.core.management import call_command

    from chat.models import User
    from chat.services.chats import chat_direct_get_or_create
    from chat.services.groups import group_create
    from chat.tokens import issue_token

    call_command("migrate", "--noinput", verbosity=0)
    users = User.objects.bulk_create([User(name=f"bench-{i:05d}") for i in range(args.pairs * 2)])
    out = []
    for k in range(args.pairs):
        a, b = users[2 * k], users[2 * k + 1]
        chat, _ = chat_direct_get_or_create(user=a, other=b)
        for user in (a, b):
            out.append({"id": str(user.pk), "token": issue_token(user.pk, ttl=3600), "chatHeaderId": chat.pk})
    group = None
    if args.group:
        members = users[: args.group]
        chat = group_create(creator=members[0], name="bench fan-out", member_ids=[u.pk for u in members[1:]])
        group = {"chatHeaderId": chat.pk, "members": len(members)}
    seconds = round(time.monotonic() - started, 1)
    args.out.write_text(json.dumps({"users": out, "group": group, "seconds": seconds}))


if __name__ == "__main__":
    main()
