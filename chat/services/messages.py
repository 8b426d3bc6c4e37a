"""Message writes (CONTRACT §4): send, edit, delete, mark read.

Each service is one synchronous call in one transaction, so that a socket handler crosses into the
ORM's thread once (shared/PERFORMANCE.md). Events are published inside the transaction and leave after
it commits (chat.events.publish), so nothing rolled back is ever announced.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import orjson
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction
from django.db.models import BigIntegerField, Case, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone

from chat import domain_events, dtos
from chat.errors import AccountDisabled, ApplicationError, Blocked, Forbidden, Invalid
from chat.events import chat_room, publish
from chat.media import media_path_claim
from chat.models import ChangeKind, ChatMember, ChatMessage, Friendship, FriendshipStatus, MessageType, User
from chat.selectors.chats import members_hidden_from
from chat.selectors.messages import SendAccess, member_read_state, send_access
from chat.selectors.social import reactions_by_message
from chat.services.blocks import publish_hidden
from chat.services.changes import changes_reserve, changes_reserve_in_statement
from chat.services.chats import (
    chat_header_visibility_changed,
    chat_headers_messages_added,
    chat_headers_messages_added_sql,
)
from chat.sql import array_param, hot_cursor
from chat.state.ratelimit import refusal

MAX_REMOVE_IDS = 100
_MESSAGE_TYPES = frozenset(MessageType.values)  # the property builds a list at each call
MAX_CLIENT_MESSAGE_ID_LENGTH = 64
_MEDIA_NAMES = {
    MessageType.AUDIO: "an audio",
    MessageType.IMAGE: "an image",
    MessageType.FILE: "a file",
    MessageType.VIDEO: "a video",
}


def _clean_text(text: str) -> str:
    """Text messages are stored trimmed; 1..CHAT_MAX_MESSAGE_LENGTH characters remain."""
    cleaned = text.strip()
    if not cleaned:
        raise Invalid("message: a text message cannot be empty.")
    limit = settings.CHAT_MAX_MESSAGE_LENGTH
    if len(cleaned) > limit:
        raise Invalid(f"message: a text message has at most {limit} characters.")
    return cleaned


def _check_caption(caption: str) -> None:
    limit = settings.CHAT_MAX_CAPTION_LENGTH
    if len(caption) > limit:
        raise Invalid(f"caption: at most {limit} characters.")


def _check_media_path(*, sender: User, path: str, message_type: int) -> None:
    """The sender's own upload of that type, or a forwarded path that a visible message of their
    chats carries (CONTRACT §11); it counts as sent from now on."""
    # The spec's ChatClient.sendMessage defaults messageType to 1, so plain text sent through it lands
    # here: say what is wrong instead of only "not found".
    if not media_path_claim(sender=sender, path=path, message_type=message_type):
        raise Invalid(
            f"message: messageType {message_type} is {_MEDIA_NAMES[message_type]} message and needs the file "
            "path that POST /api/chat/uploadFile returned for that type (or one forwarded from a message "
            "of your chats); send text with messageType 0.",
        )


@dataclass(frozen=True)
class NewMessage:
    """One `createMessage`: what `message_create` takes, for `message_create_many`."""

    sender: User
    chat_id: int
    message_type: int
    text: str
    caption: str | None = None
    client_message_id: str | None = None
    over_rate_limit: bool = False
    viewing_user_ids: frozenset[str] | None = None
    reply_to_id: int | None = None  # `replyToMessageId` (CONTRACT §9)


def message_create(
    *,
    sender: User,
    chat_id: int,
    message_type: int,
    text: str,
    caption: str | None = None,
    client_message_id: str | None = None,
    over_rate_limit: bool = False,
    viewing_user_ids: frozenset[str] | None = None,
    reply_to_id: int | None = None,
) -> tuple[ChatMessage, bool]:
    """Store a message and announce it; returns (message, created).

    Rules: the sender is a member (else `forbidden`, also for chats that do not exist); no message
    crosses a block in a one-to-one chat (`blocked`); text is 1..CHAT_MAX_MESSAGE_LENGTH characters
    after trimming; a media message names a path that uploadFile returned for its type; a caption has
    at most 1000 characters; a sender's `clientMessageId` is unique per chat, and a retry with it gets
    the original message back with nothing stored or broadcast; senders are rate limited: the
    transport counts the call against the "createMessage" budget on the event loop before this one
    and passes `over_rate_limit` when it was refused, which is then `rate_limited`, unless the call is a
    retry (answered all the same, so that a retry after a lost ack is never told to slow down).

    `viewing_user_ids`: who was viewing the chat, asked of presence by the transport before this call
    (presence is never asked inside the transaction); the "message stored" event carries it to the push
    outbox. None when the caller could not ask (a script): then nobody counts as viewing.

    The chat header's last message and activity time move in the same transaction, and `message`
    goes to the chat's room once it commits. A batch of one of `message_create_many`.

    `reply_to_id` (`replyToMessageId`, CONTRACT §9): the message this one answers, a visible message of
    the same chat, else `invalid` (the same answer whether the id exists elsewhere or not).
    """
    (result,) = message_create_many(
        [
            NewMessage(
                sender=sender,
                chat_id=chat_id,
                message_type=message_type,
                text=text,
                caption=caption,
                client_message_id=client_message_id,
                over_rate_limit=over_rate_limit,
                viewing_user_ids=viewing_user_ids,
                reply_to_id=reply_to_id,
            )
        ]
    )
    if isinstance(result, ApplicationError):
        raise result
    return result


def message_create_many(requests: list[NewMessage]) -> list[tuple[ChatMessage, bool] | ApplicationError]:
    """Group commit: store many messages in one transaction, under the rules of `message_create`;
    returns one result per request, in order: (message, created), or the ApplicationError that
    refused that one message (one message's error does not fail the others).

    One transaction and one commit for the batch: one query for the senders' activity (a deactivated
    sender's messages are refused `AccountDisabled`), memberships and blocks, one bulk INSERT
    of the accepted messages in request order (so each sender's messages keep their order in ids, as in
    the rooms' broadcasts), one UPDATE of the chats' headers. A retry (a `clientMessageId` its sender
    already used in that chat) is told apart by the INSERT itself, which leaves it out on the unique
    constraint (`_insert`): then it gets the original back and nothing of it is stored or announced. Only
    the retries whose answer depends on being one before the INSERT (over the rate limit, or replying to
    a message: a retry is answered, not refused) are looked up first, in one query. Two copies of one
    retry (same sender, chat and `clientMessageId`) in a batch store one message: the second gets the
    first's back (created False). A database error fails the whole batch (the caller answers every
    message of it `server_error`), and nothing of it is stored or announced: every broadcast waits for
    the commit.
    """
    results: list = [None] * len(requests)
    prepared = []
    for index, request in enumerate(requests):
        try:
            prepared.append((index, request, *_prepare(request)))
        except ApplicationError as exc:
            results[index] = exc
    firsts: dict[tuple, int] = {}  # (sender, chat, clientMessageId) -> the batch index that stores it
    copies: dict[int, int] = {}  # a later copy of a retry in this batch -> that index
    accepted: list[tuple[int, NewMessage, ChatMessage]] = []
    now = timezone.now()
    with transaction.atomic():
        # Every sender's activity, memberships and blocks, in one query. A deactivated sender's message
        # is refused as such whatever else is wrong with it: its socket's session ends (CONTRACT §2).
        access = send_access(pairs={(request.chat_id, request.sender.pk) for request in requests})
        if access.inactive:
            for index, request in enumerate(requests):
                if request.sender.pk in access.inactive:
                    results[index] = AccountDisabled()
            prepared = [entry for entry in prepared if entry[1].sender.pk not in access.inactive]
        originals = _own_messages(
            {
                (request.sender.pk, request.chat_id, cmid)
                for _, request, *_, cmid in prepared
                if cmid and (request.over_rate_limit or request.reply_to_id)
            }
        )
        targets = _reply_targets({request.reply_to_id for _, request, *_ in prepared if request.reply_to_id})
        for index, request, text, caption, client_message_id in prepared:
            try:
                key = (request.sender.pk, request.chat_id, client_message_id)
                if client_message_id is not None and key in firsts:
                    copies[index] = firsts[key]
                    continue
                original = _checked(request, access, originals.get(key), text=text)
                if original is not None:
                    results[index] = (original, False)
                    continue
                target = _reply_target(request, targets)
            except ApplicationError as exc:
                results[index] = exc
                continue
            message = ChatMessage(
                chat_id=request.chat_id,
                sender=request.sender,
                message_type=request.message_type,
                message=text,
                caption=caption,
                client_message_id=client_message_id,
                creation_time=now,
                reply_to=target,
            )
            accepted.append((index, request, message))
            if client_message_id is not None:
                firsts[key] = index
        # What the apps that react to stored messages read first (the push devices), before the change
        # counter is taken: it is held from the INSERT to the commit, and every other writer waits for it.
        ready = {}
        if accepted:
            chat_ids = {message.chat_id for *_, message in accepted}
            ready = dict(domain_events.messages_storing.send(sender=ChatMessage, chat_ids=chat_ids))
        follow, bump = (), None
        if accepted and connection.vendor == "postgresql":
            # One statement, one round trip, where they took five: the change counter's bump (the batch's
            # first row lock but a claimed upload's, which no holder of the counter waits for), the
            # INSERT, whose rows take their seqs from it, and over what it inserted, the change rows and
            # the headers' UPDATE (which locks them in chat-id order first). The counter is held from
            # this statement to the commit, no longer across a round trip before it.
            log = changes_reserve_in_statement(len(accepted))
            follow = (
                log.rows_from_sql(_INSERTED, ChangeKind.MESSAGE_CREATED),
                chat_headers_messages_added_sql(_INSERTED, at=now),
            )
            bump = log.bump_sql()
        else:
            # The change counter's bump, the batch's first row lock but a claimed upload's.
            log = changes_reserve(len(accepted))
        for _, _, message in accepted:
            message.seq = log.take()  # into its INSERT (on PostgreSQL relative to the bump's base)
        _insert(accepted, results, follow=follow, bump=bump)
        stored = [(request, message) for index, request, message in accepted if results[index][1]]
        if not follow:
            for _, message in stored:
                log.add(ChangeKind.MESSAGE_CREATED, seq=message.seq, chat_id=message.chat_id, message_id=message.pk)
            log.write()
            chat_headers_messages_added(_per_chat(message for _, message in stored), at=now)
        if stored:
            domain_events.messages_stored.send(
                sender=ChatMessage,
                stored=[(message, frozenset(request.viewing_user_ids or ())) for request, message in stored],
                prepared=ready,
            )
    # After the commit (or, inside a caller's transaction, announced when that one commits): nothing of
    # this is built while the batch holds the change counter.
    for _, message in stored:
        # The announced MessageDto rides on the instance, so that the sender's answer reuses it
        # (`announced_message_dto`) instead of building it again on the event loop.
        message.announced_dto = dtos.message_dto(message)
        publish("message", {"chatMessage": message.announced_dto}, room=chat_room(message.chat_id))
    for index, first in copies.items():
        outcome = results[first]
        results[index] = outcome if isinstance(outcome, ApplicationError) else (outcome[0], False)
    return results


def _prepare(request: NewMessage) -> tuple[str, str, str | None]:
    """The checks that need no database: (stored text, caption, clientMessageId), or `invalid`."""
    caption = request.caption or ""
    client_message_id = request.client_message_id or None
    text = request.text
    if request.message_type not in _MESSAGE_TYPES:
        raise Invalid("messageType: must be 0 (text), 1 (audio), 2 (image), 3 (file) or 4 (video).")
    if request.message_type == MessageType.TEXT:
        text = _clean_text(text)
    _check_caption(caption)
    if client_message_id is not None and len(client_message_id) > MAX_CLIENT_MESSAGE_ID_LENGTH:
        raise Invalid(f"clientMessageId: at most {MAX_CLIENT_MESSAGE_ID_LENGTH} characters.")
    return text, caption, client_message_id


def _checked(request: NewMessage, access: SendAccess, original: ChatMessage | None, *, text: str) -> ChatMessage | None:
    """The checks that read the database, in the batch's transaction: the original message when this
    is a retry looked up before the INSERT (`original`, from `_own_messages`), None when it may be
    stored (the INSERT tells the other retries apart), else the error.
    `access`: `send_access` of the batch (no entry in `blocked`: not a member, `forbidden` whether or not
    the chat exists)."""
    blocked = access.blocked.get((request.chat_id, request.sender.pk))
    if blocked is None:
        raise Forbidden("You are not a member of this chat.")
    if blocked:
        raise Blocked("You cannot message this user: one of you has blocked the other.")
    if request.message_type != MessageType.TEXT:
        _check_media_path(sender=request.sender, path=text, message_type=request.message_type)
    if original is not None:
        original.sender = request.sender
        return original
    # After the retry check, so that a client retrying a lost ack is never told to slow down.
    if request.over_rate_limit:
        raise refusal("createMessage")
    return None


def _reply_targets(ids: set[int]) -> dict[int, ChatMessage]:
    """The visible messages that a batch's replies answer, by id: one query for the whole batch."""
    if not ids:
        return {}
    return {message.pk: message for message in ChatMessage.objects.filter(pk__in=ids, is_deleted=False)}


def _reply_target(request: NewMessage, targets: dict[int, ChatMessage]) -> ChatMessage | None:
    """The message `request` answers, or `invalid` unless it is a visible message of the same chat."""
    if request.reply_to_id is None:
        return None
    target = targets.get(request.reply_to_id)
    if target is None or target.chat_id != request.chat_id:
        raise Invalid("replyToMessageId: must be a message of this chat that is not deleted.")
    return target


def _own_messages(keys: set[tuple]) -> dict[tuple, ChatMessage]:
    """The messages already stored under `keys` (sender id, chat id, clientMessageId), by key: the
    retries of a batch, in one query.

    Each key is matched whole, so that every term walks the unique index (sender, chat, clientMessageId)
    to at most one row: matching senders and ids separately (`IN` and `IN`) read every message of the
    batch's senders that has an id, which grows with their history. Only the (rare) hits are loaded as
    instances, with what their MessageDto needs."""
    if not keys:
        return {}
    db = connections[DEFAULT_DB_ALIAS]  # not the `connection` proxy: a thread-local look-up per access
    sender_pk = ChatMessage._meta.get_field("sender").target_field
    params: list = []
    for sender_id, chat_id, client_message_id in keys:
        params += [sender_pk.get_db_prep_value(sender_id, db), chat_id, client_message_id]
    with hot_cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute(_retries_unnest_sql(), [params[0::3], params[1::3], params[2::3]])
        else:
            cursor.execute(_retries_sql(len(keys)), params)
        ids = [pk for (pk,) in cursor.fetchall()]
    if not ids:
        return {}
    found = ChatMessage.objects.filter(pk__in=ids).select_related("reply_to")  # its MessageDto's replyTo
    return {
        key: message
        for message in found
        if (key := (message.sender_id, message.chat_id, message.client_message_id)) in keys
    }


@cache
def _retries_unnest_sql() -> str:
    """PostgreSQL: the keys as three arrays, joined to the unique index (one short statement)."""
    meta = ChatMessage._meta
    q = connection.ops.quote_name
    fields = [meta.get_field(name) for name in ("sender", "chat", "client_message_id")]
    sender, chat, client_id = (q(field.column) for field in fields)
    arrays = ", ".join(array_param(field) for field in fields)
    return (
        f"SELECT m.{q(meta.pk.column)} FROM {q(meta.db_table)} m JOIN unnest({arrays}) AS k(s, c, i)"
        f" ON m.{sender} = k.s AND m.{chat} = k.c AND m.{client_id} = k.i WHERE m.{client_id} IS NOT NULL"
    )


@cache
def _retries_sql(count: int) -> str:
    meta = ChatMessage._meta
    q = connections[DEFAULT_DB_ALIAS].ops.quote_name
    sender, chat, client_id = (q(meta.get_field(name).column) for name in ("sender", "chat", "client_message_id"))
    term = f"({sender} = %s AND {chat} = %s AND {client_id} = %s)"
    return (
        f"SELECT {q(meta.pk.column)} FROM {q(meta.db_table)}"
        f" WHERE {client_id} IS NOT NULL AND ({' OR '.join([term] * count)})"
    )


def _insert(accepted: list[tuple[int, NewMessage, ChatMessage]], results: list, *, follow=(), bump=None) -> None:
    """Insert the accepted messages in one statement, in order, and put (message, True) in `results`.

    A message whose `clientMessageId` its sender already used in its chat (a retry, or the same retry
    stored meanwhile by another transaction, on another worker) is left out of the INSERT (`ON CONFLICT
    ... DO NOTHING`: the unique constraint decides, waiting for that other transaction on PostgreSQL),
    and gets the stored one back (created False), from one query for all of them; the batch's other
    messages are stored all the same. No look-up before the INSERT, no savepoint to survive a failed
    one: on PostgreSQL, those cost three round trips in every batch with a retry key. `follow`, `bump`:
    see `_insert_rows`.
    """
    if not accepted:
        return
    _insert_rows([message for _, _, message in accepted], follow=follow, bump=bump)
    lost = {}  # batch index -> (its key, its request)
    for index, request, message in accepted:
        if message.pk is not None:
            results[index] = (message, True)
        elif message.client_message_id is None:  # nothing it could conflict with: nothing may pass for stored
            raise IntegrityError(f"message {index} of the batch was left out of its INSERT")
        else:
            lost[index] = ((request.sender.pk, request.chat_id, message.client_message_id), request)
    if not lost:
        return
    winners = _own_messages({key for key, _ in lost.values()})
    for index, (key, request) in lost.items():
        original = winners.get(key)
        if original is None:
            raise IntegrityError(f"message {index} of the batch was left out of its INSERT, and no message has its key")
        original.sender = request.sender
        results[index] = (original, False)


# The name of the CTE of the rows `_insert_rows` inserted, for the statements that follow it.
_INSERTED = "inserted"


def _insert_rows(
    messages: list[ChatMessage], *, follow: tuple[tuple[str, list], ...] = (), bump: tuple[str, list] | None = None
) -> None:
    """`bulk_create(messages)`, for the hot path: one INSERT … RETURNING of every column, the ids set
    on the instances; a message whose `clientMessageId` its sender already used in its chat is left
    out (the unique constraint's conflict, `DO NOTHING`), and keeps no id. What the ORM's insert
    compiler spent on each field of each row (~70 % of a batch's time on the ORM thread, py-spy) is a
    precomputed column list and one conversion per value; every concrete field is written, so a field
    added to the model is written too. Rows come back matched by their seq (each message reserves its
    own), not by their order, which neither database promises for RETURNING.

    `bump` (PostgreSQL, required): the change counter's bump (`ChangeLog.bump_sql`), the statement's first
    CTE: the messages' seqs are relative to its `base` and become base + seq in the INSERT and on the
    instances.
    With it, `follow`: (statement, parameters) pairs that run in the same statement, as CTEs that read
    the inserted rows (`_INSERTED`: seq, id, chat_id); PostgreSQL runs each once, to its end."""
    fields, plain, head = _insert_plan()
    db = connections[DEFAULT_DB_ALIAS]  # not the `connection` proxy: a thread-local look-up per access
    params = []
    for message in messages:
        values = message.__dict__
        for field, attname in zip(fields, plain, strict=True):
            value = values[attname] if attname else None
            if attname is None or type(value) not in _PLAIN_VALUES:
                value = field.get_db_prep_save(field.pre_save(message, True), db)
            params.append(value)
    with hot_cursor() as cursor:
        if db.vendor == "postgresql":
            # The rows as one JSON parameter, that PostgreSQL reads into the table's row type: a short
            # statement, the same for every batch (a VALUES row per message made psycopg parse and quote
            # a new statement of every length), and one string for psycopg to send, where one array per
            # column went through psycopg's array dumper, written in Python, value by value: 0.29 ms of
            # a lone message's 4 ms of CPU in the ORM's thread, more than the INSERT took in PostgreSQL.
            width = len(fields)
            columns = _insert_columns()
            rows = [dict(zip(columns, params[i : i + width], strict=True)) for i in range(0, len(params), width)]
            if bump is None:
                raise RuntimeError("on PostgreSQL, the INSERT takes its seqs from the change counter's bump")
            bump_sql, bump_params = bump
            sql = _insert_bumped_sql(bump_sql, tuple(statement for statement, _ in follow))
            params = [*bump_params, orjson.dumps(rows).decode(), *(value for _, values in follow for value in values)]
            cursor.execute(sql, params)
        else:
            row = "(" + ", ".join(["%s"] * len(fields)) + ")"
            cursor.execute(f"{head}{', '.join([row] * len(messages))}{_insert_tail()}", params)
        found = cursor.fetchall()
    base = found[0][2] if bump is not None and found else 0
    ids = {seq: pk for seq, pk, *_ in found}
    for message in messages:
        message.pk = ids.get(message.seq)
        if message.pk is not None:
            message.seq += base
            message._state.adding = False
            message._state.db = db.alias


# Fields whose value, when it is one of _PLAIN_VALUES, goes to the database as it is: their
# pre_save is the attribute, and their conversions (to_python, get_prep_value, the backends'
# adapt_*_value) return such a value unchanged. Exactly these classes: a subclass may convert.
_PLAIN_FIELDS = (
    models.BigIntegerField,
    models.BooleanField,
    models.CharField,
    models.IntegerField,
    models.PositiveSmallIntegerField,
    models.TextField,
)
_PLAIN_VALUES = frozenset({int, str, bool, type(None)})


@cache
def _insert_plan() -> tuple[list, list, str]:
    """The INSERT's fields in column order; for each, its attribute name when its values may skip the
    field's conversions (None: always converted); the statement's head."""
    q = connection.ops.quote_name
    fields = [field for field in ChatMessage._meta.concrete_fields if not field.primary_key]
    plain = [field.attname if type(field) in _PLAIN_FIELDS else None for field in fields]
    columns = ", ".join(q(field.column) for field in fields)
    return fields, plain, f"INSERT INTO {q(ChatMessage._meta.db_table)} ({columns}) VALUES "


@cache
def _insert_json_sql(seq_offset: str) -> str:
    """PostgreSQL: the INSERT of _insert_plan's fields from one JSON array of rows, each an object keyed
    by column name (`json_populate_recordset` reads them as the table's own row type, so each value
    takes its column's type; rows keep their order, and so do their ids). orjson writes each value as
    the database reads it from text: str, int, bool and None as themselves, UUIDs and aware datetimes
    in their standard forms (a field whose database value orjson cannot write fails the INSERT loudly).
    `seq_offset`: an SQL expression added to each row's seq (the change counter's base)."""
    q = connection.ops.quote_name
    table = q(ChatMessage._meta.db_table)
    columns = ", ".join(f"{q(column)} + {seq_offset}" if column == "seq" else q(column) for column in _insert_columns())
    return (
        _insert_plan()[2].removesuffix(" VALUES ")
        + f" SELECT {columns} FROM json_populate_recordset(NULL::{table}, %s::json)"
    )


@cache
def _insert_columns() -> tuple[str, ...]:
    """The JSON rows' keys: _insert_plan's columns."""
    return tuple(field.column for field in _insert_plan()[0])


# The name of the change counter's bump in `_insert_bumped_sql`.
_BUMPED = "bumped"


@cache
def _insert_bumped_sql(bump: str, statements: tuple[str, ...]) -> str:
    """PostgreSQL: the counter's `bump` as the CTE `_BUMPED`, then the INSERT as `_INSERTED`, its rows'
    seqs shifted by the bump's base (a sub-select of one row, evaluated once: no join to reorder the
    rows), then `statements` as CTEs; returns (seq relative to the base, id, base) per inserted row."""
    seq = connection.ops.quote_name("seq")
    base = f"(SELECT base FROM {_BUMPED})"
    insert = _insert_json_sql(base) + _insert_tail(", chat_id")
    ctes = "".join(f", f{n} AS ({statement})" for n, statement in enumerate(statements))
    return (
        f"WITH {_BUMPED} AS ({bump}), {_INSERTED} AS ({insert}){ctes}"
        f" SELECT {seq} - {base}, id, {base} FROM {_INSERTED}"
    )


@cache
def _insert_tail(more: str = "") -> str:
    """The INSERT's conflict clause, on the partial unique index of (sender, chat, clientMessageId) and
    nothing else (any other violation still fails the batch), and what it returns: (seq, id, `more`)."""
    meta = ChatMessage._meta
    q = connection.ops.quote_name
    sender, chat, client_id = (q(meta.get_field(name).column) for name in ("sender", "chat", "client_message_id"))
    return (
        f" ON CONFLICT ({sender}, {chat}, {client_id}) WHERE {client_id} IS NOT NULL DO NOTHING"
        f" RETURNING {q(meta.get_field('seq').column)} AS seq, {q(meta.pk.column)} AS id{more}"
    )


def _per_chat(messages) -> list[tuple[int, int, int]]:
    """(chat id, how many, the newest id) for each chat of `messages`."""
    chats: dict[int, list[int]] = {}
    for message in messages:
        entry = chats.setdefault(message.chat_id, [0, 0])
        entry[0] += 1
        entry[1] = max(entry[1], message.pk)
    return [(chat_id, count, last_id) for chat_id, (count, last_id) in chats.items()]


def message_update(*, user: User, chat_id: int, message_id: int, text: str, caption: str | None = None) -> ChatMessage:
    """Edit one's own message; announces `messageUpdated`.

    Rules: only the author, still a member of `chat_id`, may edit, and only a message that is not
    deleted (`forbidden` otherwise, whether or not it exists). In a one-to-one chat with a block either
    way: `blocked`, as sending is. Text: the new text, under the same rules as sending. Media: only the
    caption changes; `message` must repeat the stored path. A caption left out (None) keeps the stored
    one. Edits and deletes share one rate limit ("edit"), counted by the transport before this call: a
    refused edit never gets here, so it changes and announces nothing.
    """
    if caption is not None:
        _check_caption(caption)
    # A group's direct_key is NULL and matches no friendship: only one-to-one chats can be blocked.
    blocked = Friendship.objects.filter(pair_key=OuterRef("chat__direct_key"), status=FriendshipStatus.BLOCKED)
    with transaction.atomic():
        log = changes_reserve(1)  # before the message's row lock (chat.services.changes)
        message = (
            ChatMessage.objects.select_for_update(of=("self",))
            .filter(
                pk=message_id,
                chat_id=chat_id,
                sender_id=user.pk,
                is_deleted=False,
                chat__memberships__user_id=user.pk,
            )
            .annotate(blocked=Exists(blocked))
            .first()
        )
        if message is None:
            raise Forbidden("You can only edit your own messages in chats you are a member of.")
        if message.blocked:
            raise Blocked("You cannot edit messages to this user: one of you has blocked the other.")
        message.sender = user
        if message.message_type == MessageType.TEXT:
            message.message = _clean_text(text)
        elif text != message.message:
            raise Invalid("message: a media message keeps its file; only its caption can be edited.")
        if caption is not None:
            message.caption = caption
        message.last_modification_time = timezone.now()
        message.is_edited = True
        message.seq = log.add(ChangeKind.MESSAGE_UPDATED, chat_id=chat_id, message_id=message.pk)
        # search_text: the search index follows the edit (chat.models.SearchTextField)
        message.save(update_fields=["message", "caption", "last_modification_time", "is_edited", "seq", "search_text"])
        log.write()
        message.prefetched_reactions = reactions_by_message([message.pk]).get(message.pk, [])
        publish("messageUpdated", dtos.message_dto(message), room=chat_room(chat_id))
    return message


def message_remove(*, user: User, chat_id: int, message_ids: list[int]) -> list[int]:
    """Soft-delete one's own messages; returns the ids (in the order asked, without repeats).

    Rules: at most 100 ids; every one must be a message of `chat_id` written by the user, who is still
    a member, else `forbidden` and nothing is deleted. Deleted messages stay for moderators and vanish
    from every client read. Ids already deleted count as done (a retry after a lost ack succeeds) but
    are not announced again. If the chat's last message goes, the header points at the newest visible
    one. `messageDeleted` (the message id, and nothing else: CONTRACT §5) goes to the chat's room once
    per newly deleted id. A call counts once against the "edit" rate limit, shared with edits (counted
    by the transport before this call).
    """
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        raise Invalid("ids: name at least one message.")
    if len(ids) > MAX_REMOVE_IDS:
        raise Invalid(f"ids: at most {MAX_REMOVE_IDS} messages at once.")
    with transaction.atomic():
        log = changes_reserve(len(ids))  # before the messages' row locks (chat.services.changes)
        # Locked, so that two sockets of the author removing the same message at once announce it once.
        found = dict(
            ChatMessage.objects.select_for_update(of=("self",))
            .filter(pk__in=ids, chat_id=chat_id, sender_id=user.pk, chat__memberships__user_id=user.pk)
            .values_list("id", "is_deleted")
        )
        if len(found) != len(ids):
            raise Forbidden("You can only delete your own messages in chats you are a member of.")
        fresh = [message_id for message_id in ids if not found[message_id]]
        if fresh:
            hidden = ChatMessage.objects.filter(pk__in=fresh, is_deleted=False).update(
                is_deleted=True, deletion_time=timezone.now()
            )
            chat_header_visibility_changed(chat_id=chat_id, delta=-hidden)
            for message_id in fresh:
                log.add(ChangeKind.MESSAGE_DELETED, chat_id=chat_id, message_id=message_id)
                publish("messageDeleted", message_id, room=chat_room(chat_id))
            log.write()
    return ids


@dataclass(frozen=True)
class ReadRequest:
    """One `readMessage`, for `chat_mark_read_many`."""

    user: User
    chat_id: int


@dataclass(frozen=True)
class DeliveredRequest:
    """One `markDelivered`, for `chat_mark_delivered_many`."""

    user: User
    chat_id: int
    last_message_id: int


def chat_mark_read(*, user: User, chat_id: int) -> int | None:
    """Mark everything in the chat read for `user`, up to its newest visible message; returns that id.

    Rules: members only (`forbidden` otherwise). The read mark is a high-water mark and never moves
    back. `messageHasBeenRead` (the chat id, and nothing else: CONTRACT §5) and then `messageRead`
    `{chatHeaderId, userId, lastReadMessageId}` go to the chat's room, less the sockets of members on
    the other side of a block from the reader (§11); the user's other devices are told. Reads are rate
    limited ("read", counted by the transport before this call): a refused read changes and announces
    nothing. What is read has been delivered: the delivered mark moves up to the read mark too
    (`messageDelivered` when it moved). A mark that moved is a `chat.read` (`chat.delivered`) change.
    """
    (result,) = chat_mark_read_many([ReadRequest(user=user, chat_id=chat_id)])
    if isinstance(result, ApplicationError):
        raise result
    return result


def chat_mark_read_many(requests: list[ReadRequest]) -> list[int | ApplicationError | None]:
    """Group commit of `chat_mark_read`: many reads in one transaction, one result each, in order
    (the read mark, or the error that refused that read alone)."""
    return _mark_many(requests, read=True)


def chat_mark_delivered(*, user: User, chat_id: int, last_message_id: int) -> int | None:
    """`markDelivered` (CONTRACT §9): the member's delivered mark moves up to `last_message_id`;
    returns the mark.

    Rules: members only (`forbidden` otherwise). A high-water mark: an id below it changes nothing, an
    id past the chat's newest visible message is clamped to that one (in a chat without messages the
    mark stays null). When it moved, `messageDelivered` `{chatHeaderId, userId, lastDeliveredMessageId}`
    goes to the chat's room (less the sockets across a block from the member, §11) and a
    `chat.delivered` change is recorded. Rate limited with reads ("read", counted by the transport).
    """
    (result,) = chat_mark_delivered_many(
        [DeliveredRequest(user=user, chat_id=chat_id, last_message_id=last_message_id)]
    )
    if isinstance(result, ApplicationError):
        raise result
    return result


def chat_mark_delivered_many(requests: list[DeliveredRequest]) -> list[int | ApplicationError | None]:
    """Group commit of `chat_mark_delivered`, as `chat_mark_read_many` is of reads."""
    return _mark_many(requests, read=False)


@dataclass
class _Mark:
    """One read or delivery of a batch: what it found, and where the marks go."""

    index: int
    request: ReadRequest | DeliveredRequest
    member_id: int
    read: int | None
    delivered: int | None
    hidden: set[str]
    read_moved: bool = False
    delivered_moved: bool = False


def _mark_many(requests: list, *, read: bool) -> list:
    results: list = [None] * len(requests)
    # In (chat, user) order, the lock order of the member rows: two workers' batches queue, never deadlock.
    order = sorted(range(len(requests)), key=lambda i: (requests[i].chat_id, str(requests[i].user.pk)))
    with transaction.atomic():
        marks: list[_Mark] = []
        for index in order:  # reads only: the change counter must be the first lock (chat.services.changes)
            request = requests[index]
            try:
                marks.append(_mark_state(index, request, read=read))
            except ApplicationError as exc:
                results[index] = exc
        moves = sum(mark.read_moved + mark.delivered_moved for mark in marks)
        log = changes_reserve(moves)
        for mark in marks:
            _mark_apply(mark, log)
            results[mark.index] = mark.read if read else mark.delivered
        log.write()
    return results


def _mark_state(index: int, request, *, read: bool) -> _Mark:
    user, chat_id = request.user, request.chat_id
    member_id, last_read, last_delivered, newest, has_blocks = member_read_state(user=user, chat_id=chat_id)
    hidden = members_hidden_from(user_id=user.pk, chat_id=chat_id) if has_blocks else set()
    mark = _Mark(index, request, member_id, last_read, last_delivered, hidden)
    if newest is None:
        return mark
    if read:
        if last_read is None or newest > last_read:
            mark.read, mark.read_moved = newest, True
        target = newest
    else:
        target = min(request.last_message_id, newest)
    if last_delivered is None or target > last_delivered:
        mark.delivered, mark.delivered_moved = target, True
    return mark


def _mark_apply(mark: _Mark, log) -> None:
    """Move the marks (never back: a concurrent move may have passed them), record and announce."""
    user, chat_id = mark.request.user, mark.request.chat_id
    room = chat_room(chat_id)
    member = ChatMember.objects.filter(pk=mark.member_id)
    if mark.read_moved and mark.delivered_moved:
        member.filter(Q(last_read_message__isnull=True) | Q(last_read_message_id__lt=mark.read)).update(
            last_read_message_id=mark.read,
            last_delivered_message_id=Case(
                When(
                    Q(last_delivered_message__isnull=True) | Q(last_delivered_message_id__lt=mark.delivered),
                    then=Value(mark.delivered),
                ),
                default=F("last_delivered_message_id"),
                output_field=BigIntegerField(),
            ),
        )
    elif mark.read_moved:
        member.filter(Q(last_read_message__isnull=True) | Q(last_read_message_id__lt=mark.read)).update(
            last_read_message_id=mark.read
        )
    elif mark.delivered_moved:
        member.filter(Q(last_delivered_message__isnull=True) | Q(last_delivered_message_id__lt=mark.delivered)).update(
            last_delivered_message_id=mark.delivered
        )
    if mark.read_moved:
        log.add(ChangeKind.CHAT_READ, chat_id=chat_id, data={"userId": str(user.pk), "lastReadMessageId": mark.read})
    if mark.delivered_moved:
        log.add(
            ChangeKind.CHAT_DELIVERED,
            chat_id=chat_id,
            data={"userId": str(user.pk), "lastDeliveredMessageId": mark.delivered},
        )
    if isinstance(mark.request, ReadRequest):
        publish_hidden("messageHasBeenRead", chat_id, room=room, hidden_user_ids=mark.hidden)
        publish_hidden(
            "messageRead",
            dtos.message_read_event(chat_id=chat_id, user_id=user.pk, last_read_message_id=mark.read),
            room=room,
            hidden_user_ids=mark.hidden,
        )
        domain_events.chat_read.send(sender=ChatMember, user=user, chat_id=chat_id, last_read_message_id=mark.read)
    if mark.delivered_moved:
        publish_hidden(
            "messageDelivered",
            dtos.message_delivered_event(chat_id=chat_id, user_id=user.pk, last_delivered_message_id=mark.delivered),
            room=room,
            hidden_user_ids=mark.hidden,
        )
