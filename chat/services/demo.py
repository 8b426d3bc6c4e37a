"""Demo data for trying the server by hand (`manage.py seed_demo`), built through the real services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction

from chat.models import ChatHeader, ChatType, MessageType
from chat.services import friendships, groups
from chat.services.chats import chat_direct_get_or_create
from chat.services.messages import message_create
from chat.tokens import TokenClaims, user_for_claims

# Fixed ids, so that tokens printed once keep working after the demo is seeded again.
DEMO_USERS = {
    "Alice": uuid.UUID("550e8400-e29b-41d4-a716-446655440000"),
    "Bob": uuid.UUID("550e8400-e29b-41d4-a716-446655440001"),
    "Carol": uuid.UUID("550e8400-e29b-41d4-a716-446655440002"),
}
DEMO_GROUP = "Demo group"


@dataclass
class DemoData:
    users: dict
    direct_chat_id: int
    group_chat_id: int


def demo_seed() -> DemoData:
    """Alice and Bob are friends with a conversation; Carol has asked Alice; all three share a group.

    Running it again changes nothing: requests, chats and messages are all idempotent.
    """
    with transaction.atomic():
        users = {
            name: user_for_claims(TokenClaims(user_id=uid, name=name, picture=None, expires_at=0))
            for name, uid in DEMO_USERS.items()
        }
        alice, bob, carol = users["Alice"], users["Bob"], users["Carol"]
        friendships.friendship_request(user=alice, other=bob)
        friendships.friendship_accept(user=bob, other=alice)
        friendships.friendship_request(user=carol, other=alice)

        direct, _ = chat_direct_get_or_create(user=alice, other=bob)
        for index, (sender, text) in enumerate(
            [(alice, "Hi Bob!"), (bob, "Hello Alice, how are you?"), (alice, "Great, trying the new chat server.")]
        ):
            message_create(
                sender=sender,
                chat_id=direct.pk,
                message_type=MessageType.TEXT,
                text=text,
                client_message_id=f"demo-direct-{index}",
            )

        group = ChatHeader.objects.filter(chat_type=ChatType.GROUP, name=DEMO_GROUP, created_by=alice).first()
        if group is None:
            group = groups.group_create(creator=alice, name=DEMO_GROUP, member_ids=[bob.pk, carol.pk])
        message_create(
            sender=carol,
            chat_id=group.pk,
            message_type=MessageType.TEXT,
            text="Welcome to the demo group.",
            client_message_id="demo-group-0",
        )
    return DemoData(users=users, direct_chat_id=direct.pk, group_chat_id=group.pk)
