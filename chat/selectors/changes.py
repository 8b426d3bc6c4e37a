"""The change feed's reads: `sync` pages (CONTRACT §9).

A page costs the same few queries however many chats the user is in: the counter (with the resync
check), the page of changes (the primary key's range scan, each change checked against the user's
membership through the (chat, user) index), and then only for what the page holds: its messages, the
user's blocks, its new chats' headers.

Why a page can be trusted: `head` is read first, and every seq up to a committed `head` is committed
(chat.services.changes), so the page, read afterwards and only up to `head`, misses nothing below it.
A client that goes on from `cursor` therefore never skips a change that committed late.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from chat import dtos
from chat.models import Change, ChangeCounter, ChangeKind, ChatMember, ChatMessage, Friendship, FriendshipStatus, User
from chat.selectors.chats import chat_headers_with_hidden
from chat.selectors.social import fill_reactions
from chat.state.reads import PresenceNeeds, WithPresence

DEFAULT_SYNC_LIMIT = 200
MAX_SYNC_LIMIT = 500

_KIND_NAMES = {kind.value: kind.label for kind in ChangeKind}
_MESSAGE_STATES = (ChangeKind.MESSAGE_CREATED, ChangeKind.MESSAGE_UPDATED)
# Changes about what one member did, hidden across a block as their live events are (CONTRACT §11).
_ABOUT_A_MEMBER = (ChangeKind.CHAT_READ, ChangeKind.CHAT_DELIVERED, ChangeKind.MEMBER_JOINED)


def change_head() -> tuple[int, int]:
    """(head, pruned_through) of the feed: 0s while nothing was ever recorded."""
    row = ChangeCounter.objects.filter(pk=1).values_list("head", "pruned_through").first()
    return row or (0, 0)


def changes_page(*, user: User, since: int | None, limit: int = DEFAULT_SYNC_LIMIT) -> WithPresence[dict]:
    """`sync`: the changes after `since` that `user` may see, oldest first, at most `limit` (1..500).

    `{changes, cursor, hasMore}`; `since` None: no changes, the current cursor. A cursor ahead of the
    feed: an empty page and the current cursor. A cursor the feed no longer covers (changes after it
    were pruned, or are older than `CHAT_SYNC_RETENTION_DAYS`): `{resyncRequired: true, cursor}`.

    Each change shows the current state of what it names: a message change its message as it is now
    (one deleted since is skipped: its `message.deleted` comes after it); `chat.created` the chat's
    header as `user` sees it now (skipped once they left it). A page may hold fewer than `limit`
    changes and still say `hasMore`; the client goes on until `hasMore` is false.
    """
    limit = max(1, min(int(limit), MAX_SYNC_LIMIT))
    cutoff = timezone.now() - timedelta(days=settings.CHAT_SYNC_RETENTION_DAYS)
    counter = (
        ChangeCounter.objects.filter(pk=1)
        .annotate(oldest=Change.objects.filter(seq__gt=since or 0).order_by("seq").values("at")[:1])
        .values_list("head", "pruned_through", "oldest")
        .first()
    )
    head, pruned_through, oldest = counter or (0, 0, None)
    if since is None or since >= head:
        return WithPresence(dtos.sync_ack(changes=[], cursor=head, has_more=False))
    if since < pruned_through or (oldest is not None and oldest < cutoff):
        return WithPresence(dtos.resync_ack(cursor=head))

    member_since = ChatMember.objects.filter(
        chat_id=OuterRef("chat_id"), user_id=user.pk, joined_seq__lte=OuterRef("seq")
    )
    rows = list(
        Change.objects.filter(
            Q(audience_id=user.pk) | Q(audience__isnull=True) & Exists(member_since),
            seq__gt=since,
            seq__lte=head,
        )
        .order_by("seq")
        .values_list("seq", "kind", "chat_id", "at", "message_id", "data")[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    cursor = rows[-1][0] if has_more else head
    changes, needs = _render(user, rows)
    return WithPresence(dtos.sync_ack(changes=changes, cursor=cursor, has_more=has_more), needs)


def _render(user: User, rows: list[tuple]) -> tuple[list[dict], PresenceNeeds]:
    message_ids = {message_id for _, kind, _, _, message_id, _ in rows if kind in _MESSAGE_STATES}
    messages = {}
    if message_ids:
        found = ChatMessage.objects.filter(pk__in=message_ids, is_deleted=False).values(*dtos.MESSAGE_DTO_VALUES)
        messages = {row["id"]: dtos.message_dto_from_values(row) for row in found}
        fill_reactions(messages.values())
    hidden: set[str] = set()
    if any(kind in _ABOUT_A_MEMBER for _, kind, *_ in rows):
        hidden = _blocked_with(user)
    new_chats = list(dict.fromkeys(chat_id for _, kind, chat_id, *_ in rows if kind == ChangeKind.CHAT_CREATED))
    headers, needs = {}, PresenceNeeds()
    if new_chats:
        found, _ = chat_headers_with_hidden(viewer=user, chat_ids=new_chats)
        headers, needs = {header["id"]: header for header in found.value}, found.needs

    changes = []
    for seq, kind, chat_id, at, message_id, data in rows:
        if kind in _MESSAGE_STATES:
            data = messages.get(message_id)
        elif kind == ChangeKind.MESSAGE_DELETED:
            data = {"messageId": message_id}
        elif kind == ChangeKind.CHAT_CREATED:
            data = headers.get(chat_id)
        elif kind in _ABOUT_A_MEMBER:  # member.joined: its MemberDto as it joined, shown offline
            if data["userId"] in hidden:
                continue
        if data is None:
            continue  # a message deleted since, a chat the user has left since
        changes.append(dtos.change_dto(seq=seq, kind=_KIND_NAMES[kind], chat_id=chat_id, at=at, data=data))
    return changes, needs


def _blocked_with(user: User) -> set[str]:
    """The users on the other side of a block from `user`, either way."""
    rows = Friendship.objects.filter(
        Q(requester_id=user.pk) | Q(addressee_id=user.pk), status=FriendshipStatus.BLOCKED
    ).values_list("requester_id", "addressee_id")
    me = str(user.pk)
    return {str(a) if str(r) == me else str(r) for r, a in rows}
