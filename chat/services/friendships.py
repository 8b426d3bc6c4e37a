"""Friendship writes (CONTRACT §6). One row per unordered pair of users (`Friendship.pair_key`).

The row's requester is whoever acted last in a way that has a direction: who asked, or who blocked.
Blocking wins over everything: a blocked pair can do nothing but let the blocker lift the block.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.errors import Blocked, Forbidden, Invalid, NotFound
from chat.models import ChangeKind, ChatHeader, Friendship, FriendshipStatus, User, direct_pair_key
from chat.services.changes import changes_reserve
from chat.services.users import user_get_or_placeholder


def _other_user(*, user: User, other: User | None) -> User:
    if other is None or not other.is_active:
        raise NotFound("That user does not exist.")
    if other.pk == user.pk:
        raise Invalid("userId: you cannot befriend or block yourself.")
    return other


def _locked_pair(user: User, other: User) -> Friendship | None:
    return Friendship.objects.select_for_update().filter(pair_key=direct_pair_key(user.pk, other.pk)).first()


class _Pair:
    """The pair's row inside `_pair_change`; a service puts what the row became in `row` (None: deleted)."""

    def __init__(self, row: Friendship | None) -> None:
        self.row = row


def _state(row: Friendship | None):
    return None if row is None else (row.status, row.requester_id, row.blocked_by_id)


@contextmanager
def _pair_change(user: User, other: User) -> Iterator[_Pair]:
    """A transaction around the pair's locked row; when the row ended up different, each of the two
    users gets a `friendship.changed` change (CONTRACT §9) with the friendship as they see it."""
    with transaction.atomic():
        log = changes_reserve(2)  # before the pair's row lock (chat.services.changes)
        pair = _Pair(_locked_pair(user, other))
        before = _state(pair.row)
        yield pair
        if _state(pair.row) != before:
            _record(log, user, other, pair.row)
            log.write()


def _record(log, user: User, other: User, row: Friendship | None) -> None:
    chat_id = ChatHeader.objects.filter(direct_key=direct_pair_key(user.pk, other.pk)).values_list("pk", flat=True)
    chat_id = chat_id.first()
    for viewer, them in ((user, other), (other, user)):
        # The REST friendship item (CONTRACT §6) as `viewer` sees it; status and direction null: none any more.
        data = {
            "userId": str(them.pk),
            "name": them.name or None,
            "avatar": them.avatar or None,
            "status": None if row is None else row.status,
            "direction": None if row is None else ("outgoing" if row.requester_id == viewer.pk else "incoming"),
            "chatHeaderId": chat_id,
        }
        log.add(ChangeKind.FRIENDSHIP_CHANGED, chat_id=chat_id, audience_id=viewer.pk, data=data)


def _create(user: User, other: User, **fields) -> Friendship:
    """A new row for the pair, `user` acting; the unique pair key refuses a second one."""
    now = timezone.now()
    return Friendship.objects.create(
        requester=user, addressee=other, creation_time=now, last_modification_time=now, **fields
    )


def _save(friendship: Friendship, **changes) -> Friendship:
    for key, value in changes.items():
        setattr(friendship, key, value)
    friendship.last_modification_time = timezone.now()
    friendship.save()
    return friendship


def friendship_request(*, user: User, other: User | None) -> tuple[Friendship, bool]:
    """`user` asks `other` to be friends. Returns (friendship, whether something changed).

    - No row yet, or an earlier request was rejected: a new pending request from `user`.
    - `other` had already asked `user`: both want it, so it is accepted.
    - Already pending from `user`, or already friends: unchanged.
    - Blocked either way: `blocked`.

    Every request counts against the "friendRequest" rate limit (CONTRACT §11, 20/min), which the
    transport asks on the event loop before this call, so that nobody can flood others with requests
    and a refused request writes nothing.
    """
    other = _other_user(user=user, other=other)
    return _request(user=user, other=other)


def friendship_request_to(*, user: User, other_id: uuid.UUID) -> tuple[Friendship, bool]:
    """`friendship_request` to a user named by GUID. A GUID this server never saw is a placeholder
    user (CONTRACT §2); a request the rate limit refused never gets here, so it leaves no user row
    behind."""
    if other_id == user.pk:
        raise Invalid("userId: you cannot befriend or block yourself.")
    known = User.objects.filter(pk=other_id).first()
    if known is not None:
        return friendship_request(user=user, other=known)
    return _request(user=user, other=_other_user(user=user, other=user_get_or_placeholder(user_id=other_id)))


def _request(*, user: User, other: User) -> tuple[Friendship, bool]:
    try:
        with _pair_change(user, other) as pair:
            row = pair.row
            if row is None:
                pair.row = _create(user, other)
                return pair.row, True
            if row.status == FriendshipStatus.BLOCKED:
                raise Blocked("You cannot send a friend request to this user.")
            if row.status == FriendshipStatus.ACCEPTED:
                return row, False
            if row.status == FriendshipStatus.PENDING:
                if row.requester_id == user.pk:
                    return row, False
                return _save(row, status=FriendshipStatus.ACCEPTED), True
            return _save(row, requester=user, addressee=other, status=FriendshipStatus.PENDING), True
    except IntegrityError:
        # Both users asked at the same moment: the other request is there now (counted once).
        return _request(user=user, other=other)


def _answer(*, user: User, other: User | None, accept: bool) -> Friendship:
    other = _other_user(user=user, other=other)
    with _pair_change(user, other) as pair:
        row = pair.row
        if row is None:
            raise NotFound("There is no friend request from that user.")
        if row.status == FriendshipStatus.BLOCKED:
            raise Blocked("This friendship is blocked.")
        if row.requester_id == user.pk:
            raise Forbidden("Only the user who received the request can answer it.")
        if accept:
            if row.status in (FriendshipStatus.PENDING, FriendshipStatus.REJECTED):
                return _save(row, status=FriendshipStatus.ACCEPTED)
            return row
        if row.status == FriendshipStatus.PENDING:
            return _save(row, status=FriendshipStatus.REJECTED)
        if row.status == FriendshipStatus.REJECTED:
            return row
        raise Invalid("There is no pending request to reject; remove the friend instead.")


def friendship_accept(*, user: User, other: User | None) -> Friendship:
    """The addressee accepts a pending (or earlier rejected) request."""
    return _answer(user=user, other=other, accept=True)


def friendship_reject(*, user: User, other: User | None) -> Friendship:
    """The addressee rejects a pending request."""
    return _answer(user=user, other=other, accept=False)


def friendship_block(*, user: User, other: User | None) -> tuple[Friendship, bool]:
    """`user` blocks `other`, whatever was between them. Returns (friendship, whether a row was created).

    A pair has one block, owned by whoever blocked first: if `other` already blocked `user`, the row
    stays theirs (it already keeps the two apart).
    """
    other = _other_user(user=user, other=other)
    try:
        with _pair_change(user, other) as pair:
            row = pair.row
            if row is None:
                pair.row = _create(user, other, status=FriendshipStatus.BLOCKED, blocked_by=user)
                return pair.row, True
            if row.status == FriendshipStatus.BLOCKED:
                return row, False
            return _save(row, requester=user, addressee=other, status=FriendshipStatus.BLOCKED, blocked_by=user), False
    except IntegrityError:
        return friendship_block(user=user, other=other)


def friendship_delete(*, user: User, other: User | None) -> None:
    """Unfriend, withdraw or decline a request, forget a rejection, or (by the blocker only) unblock.

    The user who was blocked cannot remove the block.
    """
    other = _other_user(user=user, other=other)
    with _pair_change(user, other) as pair:
        row = pair.row
        if row is None:
            raise NotFound("There is no friendship with that user.")
        if row.status == FriendshipStatus.BLOCKED and row.blocked_by_id != user.pk:
            raise Forbidden("Only the user who blocked can lift the block.")
        row.delete()
        pair.row = None
