"""User writes: placeholders for users named before their first token (CONTRACT §2), the identity
system's upserts and deactivations (§10), and the last-seen mark.

A deactivated user's sockets are disconnected by the `post_save` receiver in `chat/receivers.py`, so
that the admin, these services and `manage.py shell` (`user.is_active = False; user.save()`) all
disconnect them the same way, after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.errors import Invalid, NotFound
from chat.models import User

MAX_NAME_LENGTH = User._meta.get_field("name").max_length
MAX_AVATAR_LENGTH = User._meta.get_field("avatar").max_length
BULK_MAX_USERS = 100  # POST /api/users/bulk, and the batch size of import_users


def user_touch_last_seen(*, user_id) -> None:
    """Remember when a user was last connected (their last socket just closed)."""
    User.objects.filter(pk=user_id).update(last_seen=timezone.now())


def clean_avatar(value) -> str | None:
    """An avatar URL as stored: an http(s) URL with a host, or None for anything else (CONTRACT §11).

    `javascript:alert(3)`, `data:` URLs, relative paths, whitespace or control characters inside, or a
    URL longer than the column would be a broken or dangerous `<img src>` in every app, so they are
    dropped rather than stored or cut.
    """
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_AVATAR_LENGTH or any(ord(c) <= 32 or ord(c) == 127 for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    return value


def _placeholder(user_id: uuid.UUID) -> User:
    """An unsaved user known only by their GUID: no name, no avatar, no usable password."""
    return User(id=user_id, name="", avatar="", password=make_password(None))


def user_get_or_placeholder(*, user_id) -> User | None:
    """The active user with that GUID, created as a placeholder when this server never saw it.

    The apps' users live in their identity system, so a well-formed GUID named by a user (`joinRoom`
    `otherUserId`, `getChatHeaderAsync`, a friend request) is a real user whose token has not reached
    us yet: they get a row with no name and no avatar, which their first token fills in. Two callers
    naming the same new GUID at once get the same row (the primary key decides the race).

    None, which callers answer `not_found`, for a deactivated user, for a value that is no GUID, and
    for an unknown GUID when `CHAT_PROVISION_REFERENCED_USERS` is off.
    """
    users = users_get_or_placeholder(user_ids=[user_id])
    return users[0] if users else None


def users_get_or_placeholder(*, user_ids: Iterable) -> list[User]:
    """`user_get_or_placeholder` for many GUIDs at once (group members), in at most three queries.

    Returns the active users in the order given, duplicates dropped; the GUIDs left out (malformed,
    deactivated, or unknown with provisioning off) are the caller's `not_found`.
    """
    ids = list(dict.fromkeys(uid for uid in (_as_uuid(v) for v in user_ids) if uid is not None))
    if not ids:
        return []
    found = {u.pk: u for u in User.objects.filter(pk__in=ids)}
    missing = [uid for uid in ids if uid not in found]
    if missing and settings.CHAT_PROVISION_REFERENCED_USERS:
        # ignore_conflicts: a row another request inserted meanwhile wins, and is read back below.
        User.objects.bulk_create([_placeholder(uid) for uid in missing], ignore_conflicts=True)
        found.update((u.pk, u) for u in User.objects.filter(pk__in=missing))
    return [found[uid] for uid in ids if uid in found and found[uid].is_active]


def _as_uuid(value) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


# --- the identity system's pushes (CONTRACT §10) ---------------------------------------------------


@dataclass(frozen=True)
class UserRecord:
    """One user as the identity system describes them. `is_active` None leaves it as it is."""

    user_id: uuid.UUID
    name: str | None
    avatar: str | None
    is_active: bool | None = None


@dataclass(frozen=True)
class BulkResult:
    created: int
    updated: int


def _checked(record: UserRecord) -> tuple[str, str]:
    """The name and avatar columns of a record: a name longer than its column is `invalid` (it is the
    caller's data, not a token claim to cut); an avatar that is no http(s) URL is stored as none."""
    name = record.name or ""
    if len(name) > MAX_NAME_LENGTH:
        raise Invalid(f"name: at most {MAX_NAME_LENGTH} characters.")
    return name, clean_avatar(record.avatar) or ""


def user_upsert(*, record: UserRecord) -> tuple[User, bool]:
    """Create or overwrite a user from the identity system. Returns (user, created).

    `name` and `avatar` replace what is stored (None: none). `is_active` False deactivates the user
    (every token refused, sockets disconnected after the commit), True reactivates them. The history
    stays either way.
    """
    name, avatar = _checked(record)
    for _attempt in range(2):
        with transaction.atomic():
            user = User.objects.select_for_update().filter(pk=record.user_id).first()
            created = user is None
            if created:
                try:
                    with transaction.atomic():
                        user = User.objects.create_user(
                            id=record.user_id,
                            name=name,
                            avatar=avatar,
                            is_active=True if record.is_active is None else record.is_active,
                        )
                except IntegrityError:
                    continue  # created meanwhile (a token, a placeholder): update it instead
                return user, True
            user.name, user.avatar = name, avatar
            if record.is_active is not None:
                user.is_active = record.is_active
            user.save(update_fields=["name", "avatar", "is_active"])
            return user, False
    raise AssertionError("unreachable: the second attempt finds the row")  # pragma: no cover


def users_upsert_bulk(*, records: list[UserRecord]) -> BulkResult:
    """Create or overwrite up to BULK_MAX_USERS users in one transaction: all of them or none.

    `updated` counts the users that already existed, whether or not anything about them changed. Each
    user id may appear once. `is_active` is not touched (deactivate with `user_deactivate`).
    """
    if len(records) > BULK_MAX_USERS:
        raise Invalid(f"users: at most {BULK_MAX_USERS} per request, got {len(records)}.")
    seen: set[uuid.UUID] = set()
    rows: dict[uuid.UUID, tuple[str, str]] = {}
    for index, record in enumerate(records):
        if record.user_id in seen:
            raise Invalid(f"users[{index}].userId: {record.user_id} appears twice.")
        seen.add(record.user_id)
        try:
            rows[record.user_id] = _checked(record)
        except Invalid as exc:
            raise Invalid(f"users[{index}].{exc.message}") from exc
    if not rows:
        return BulkResult(created=0, updated=0)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return _bulk_write(rows)
        except IntegrityError:
            continue  # one of the new users was created meanwhile: the second pass updates it
    raise AssertionError("unreachable: the second attempt finds the rows")  # pragma: no cover


def _bulk_write(rows: dict[uuid.UUID, tuple[str, str]]) -> BulkResult:
    existing = list(User.objects.select_for_update().filter(pk__in=rows))
    changed = []
    for user in existing:
        name, avatar = rows[user.pk]
        if (user.name, user.avatar) != (name, avatar):
            user.name, user.avatar = name, avatar
            changed.append(user)
    if changed:
        User.objects.bulk_update(changed, ["name", "avatar"])
    known = {user.pk for user in existing}
    new = [
        User(id=uid, name=name, avatar=avatar, password=make_password(None))
        for uid, (name, avatar) in rows.items()
        if uid not in known
    ]
    if new:
        User.objects.bulk_create(new)
    return BulkResult(created=len(new), updated=len(existing))


def user_deactivate(*, user_id: uuid.UUID) -> User:
    """Deactivate a user (DELETE /api/users/<id>): every token refused, their sockets disconnected after
    the commit; messages, chats and friendships stay. Deactivating twice changes nothing. An unknown
    user is `not_found`."""
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound("No such user.")
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
    return user
