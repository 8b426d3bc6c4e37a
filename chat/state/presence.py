"""Who is connected and who is viewing which chat (CONTRACT §3).

Presence counts verified sockets, not users: a user is online while at least one socket of theirs is
connected, on any worker. Viewing is per socket: a phone viewing a chat is not undone by a laptop
leaving. Without `REDIS_URL` the state lives in this process; with it, in Redis, so that every worker
and host sees the same answer (the push rules of CONTRACT §7 depend on it).

The API is async and awaited on the event loop, never from the ORM's thread and never inside a
database transaction: the socket handlers ask it before or after their hop to the ORM, and pass what
the services need (who is viewing a chat, for the push outbox) as arguments. Reads that show presence
(`isOnline`, `isViewingChat`) return what to look up, and the transport fills it in (chat.state.reads).

The memory store never awaits inside a method, so each call is atomic on the loop; its lock only guards
against other threads (tests that read it from their own loop).
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from chat.state.redis_client import RedisConnector, redis_errors
from chat.state.redis_keys import adelete_keys_with_prefix


class SocketLimitReached(Exception):
    """The user already holds as many verified sockets as allowed (CHAT_MAX_SOCKETS_PER_USER)."""


@dataclass(frozen=True)
class PresenceSnapshot:
    """Who of the users asked is online, and who views each chat asked, at one moment."""

    online: frozenset[str] = frozenset()
    viewing: dict[int, frozenset[str]] = field(default_factory=dict)

    def viewers(self, chat_id: int) -> frozenset[str]:
        return self.viewing.get(int(chat_id), frozenset())


class MemoryPresence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._user_sids: dict[str, dict[str, str]] = defaultdict(dict)  # user -> {sid: client_type}
        self._chat_viewers: dict[int, dict[str, str]] = defaultdict(dict)  # chat -> {sid: user}
        self._sid_viewing: dict[str, set[int]] = defaultdict(set)  # sid -> {chat}

    async def add_socket(self, user_id: str, sid: str, client_type: str, *, limit: int | None = None) -> bool:
        """Register a verified socket; True when the user has just come online.

        With `limit`, a user who already holds that many sockets gets no more: SocketLimitReached.
        """
        with self._lock:
            sids = self._user_sids[str(user_id)]
            added = sid not in sids
            if added and limit is not None and len(sids) >= limit:
                if not sids:
                    del self._user_sids[str(user_id)]
                raise SocketLimitReached(user_id)
            sids[sid] = client_type
            return added and len(sids) == 1

    async def remove_socket(self, user_id: str, sid: str) -> tuple[bool, set[int]]:
        """Forget a socket: (whether the user has just gone offline, chats it was viewing)."""
        with self._lock:
            chats = self._sid_viewing.pop(sid, set())
            for chat_id in chats:
                self._drop_viewer(chat_id, sid)
            sids = self._user_sids.get(str(user_id))
            if sids is None or sid not in sids:
                return False, chats
            del sids[sid]
            if not sids:
                del self._user_sids[str(user_id)]
                return True, chats
            return False, chats

    async def user_sids(self, user_id: str) -> set[str]:
        with self._lock:
            return set(self._user_sids.get(str(user_id), ()))

    async def sids_of_users(self, user_ids: Iterable) -> set[str]:
        """Every socket of any of `user_ids` (the skip list of an event hidden from them)."""
        with self._lock:
            return {sid for u in user_ids for sid in self._user_sids.get(str(u), ())}

    async def online_user_ids(self, user_ids: Iterable) -> set[str]:
        with self._lock:
            return {str(u) for u in user_ids if self._user_sids.get(str(u))}

    async def set_viewing(self, sid: str, user_id: str, chat_id: int) -> None:
        with self._lock:
            self._chat_viewers[int(chat_id)][sid] = str(user_id)
            self._sid_viewing[sid].add(int(chat_id))

    async def clear_viewing(self, sid: str, chat_id: int) -> None:
        with self._lock:
            self._clear_viewing(sid, int(chat_id))

    def _clear_viewing(self, sid: str, chat_id: int) -> None:
        self._drop_viewer(chat_id, sid)
        chats = self._sid_viewing.get(sid)
        if chats is not None:
            chats.discard(chat_id)
            if not chats:
                del self._sid_viewing[sid]

    async def clear_user_viewing(self, user_id: str, chat_id: int) -> None:
        """Every socket of a user stops viewing a chat (they were removed from it)."""
        with self._lock:
            for sid in list(self._user_sids.get(str(user_id), ())):
                self._clear_viewing(sid, int(chat_id))

    def _drop_viewer(self, chat_id: int, sid: str) -> None:
        """The chat side of a socket no longer viewing it; the caller holds the lock."""
        viewers = self._chat_viewers.get(chat_id)
        if viewers is not None:
            viewers.pop(sid, None)
            if not viewers:
                del self._chat_viewers[chat_id]

    async def viewing_user_ids(self, chat_id: int) -> set[str]:
        with self._lock:
            return set(self._chat_viewers.get(int(chat_id), {}).values())

    async def viewing_by_chat(self, chat_ids: Iterable[int]) -> dict[int, set[str]]:
        with self._lock:
            return {int(c): set(self._chat_viewers.get(int(c), {}).values()) for c in chat_ids}

    async def snapshot(self, *, user_ids: Iterable = (), chat_ids: Iterable[int] = ()) -> PresenceSnapshot:
        """Who of `user_ids` is online and who views each of `chat_ids`, in one call."""
        with self._lock:
            online = frozenset(str(u) for u in user_ids if self._user_sids.get(str(u)))
            viewing = {int(c): frozenset(self._chat_viewers.get(int(c), {}).values()) for c in chat_ids}
        return PresenceSnapshot(online=online, viewing=viewing)

    async def online_user_count(self) -> int:
        with self._lock:
            return len(self._user_sids)

    def entries(self) -> tuple[list[tuple[str, str, str]], list[tuple[int, str, str]]]:
        """Everything held: (user, sid, client type) of each socket, (chat, sid, user) of each viewer."""
        with self._lock:
            sockets = [(user, sid, kind) for user, sids in self._user_sids.items() for sid, kind in sids.items()]
            viewers = [(chat, sid, user) for chat, sids in self._chat_viewers.items() for sid, user in sids.items()]
        return sockets, viewers

    # A process's memory dies with it: there is no other host whose sockets could be left behind.
    async def heartbeat(self, ttl: int) -> None:
        return None

    async def retire(self) -> None:
        return None

    async def reap_dead_hosts(self) -> list[tuple[str, str]]:
        return []

    async def reset(self) -> None:
        with self._lock:
            self._user_sids.clear()
            self._chat_viewers.clear()
            self._sid_viewing.clear()


class RedisPresence:
    """The same state in Redis hashes and sets, shared by every worker and host.

    Each server process is a *host* that lists its sockets under its own key and keeps an `alive` key
    with a time-to-live fresh (`heartbeat`). A host that dies without closing its sockets stops doing
    that; the others then remove its sockets (`reap_dead_hosts`), so its users do not stay online, or
    "viewing" and without pushes, forever.

    Each host also keeps its own sockets and their viewing in memory (`local`, a MemoryPresence): its
    local truth. While Redis is down (a call failed: `RedisConnector.down`) every call works from it
    alone, so that sockets still connect and events still answer: this worker's users are online, a
    chat's viewers are those on this worker (anybody else counts as not viewing: a push too many beats a
    push lost), a socket limit counts this worker's sockets. When Redis answers again, and whenever it
    turns out to have lost this host's keys (restarted empty), `republish()` writes the local truth
    back (chat.state.store watches for both).
    """

    def __init__(self, redis: RedisConnector | str, prefix: str = "chat:presence", host_id: str | None = None) -> None:
        self._connector = redis if isinstance(redis, RedisConnector) else RedisConnector(redis)
        self._prefix = prefix
        self.host_id = host_id or uuid.uuid4().hex
        self.local = MemoryPresence()

    @property
    def down(self) -> bool:
        return self._connector.down

    def _host_key(self, host_id: str) -> str:
        return f"{self._prefix}:host:{host_id}"

    def _alive_key(self, host_id: str) -> str:
        return f"{self._prefix}:alive:{host_id}"

    def _user_key(self, user_id) -> str:
        return f"{self._prefix}:user:{user_id}"

    def _chat_key(self, chat_id) -> str:
        return f"{self._prefix}:chat:{int(chat_id)}"

    def _sid_key(self, sid) -> str:
        return f"{self._prefix}:sid:{sid}"

    async def add_socket(self, user_id: str, sid: str, client_type: str, *, limit: int | None = None) -> bool:
        if not self.down:
            try:
                came_online = await self._add_socket(user_id, sid, client_type, limit=limit)
            except redis_errors() as exc:
                self._connector.mark_down(exc)
            else:
                await self.local.add_socket(user_id, sid, client_type)
                return came_online
        return await self.local.add_socket(user_id, sid, client_type, limit=limit)

    async def _add_socket(self, user_id: str, sid: str, client_type: str, *, limit: int | None) -> bool:
        async with self._connector.client() as r:
            pipe = r.pipeline(transaction=True)
            pipe.sadd(self._host_key(self.host_id), f"{user_id} {sid}")
            pipe.hset(self._user_key(user_id), sid, client_type)
            pipe.hlen(self._user_key(user_id))
            _, added, count = await pipe.execute()
            if added and limit is not None and count > limit:
                # Added first and taken back, so that two workers adding at once cannot both slip under
                # the limit (at worst both are refused).
                await self._remove(r, user_id, sid)
                raise SocketLimitReached(user_id)
        return bool(added) and count == 1

    async def remove_socket(self, user_id: str, sid: str) -> tuple[bool, set[int]]:
        local = await self.local.remove_socket(user_id, sid)
        if not self.down:
            try:
                async with self._connector.client() as r:
                    return await self._remove(r, user_id, sid)
            except redis_errors() as exc:
                self._connector.mark_down(exc)
        return local

    async def _remove(self, r, user_id: str, sid: str) -> tuple[bool, set[int]]:
        chats = {int(c) for c in await r.smembers(self._sid_key(sid))}
        pipe = r.pipeline(transaction=True)
        for chat_id in chats:
            pipe.hdel(self._chat_key(chat_id), sid)
        pipe.delete(self._sid_key(sid))
        pipe.srem(self._host_key(self.host_id), f"{user_id} {sid}")
        pipe.hdel(self._user_key(user_id), sid)
        pipe.hlen(self._user_key(user_id))
        *_, removed, remaining = await pipe.execute()
        return bool(removed) and remaining == 0, chats

    async def _ask(self, ask, local):
        """`ask(r)` in Redis; `local()` (this host's own answer) while Redis is down or when it fails."""
        if not self.down:
            try:
                async with self._connector.client() as r:
                    return await ask(r)
            except redis_errors() as exc:
                self._connector.mark_down(exc)
        return await local()

    async def user_sids(self, user_id: str) -> set[str]:
        async def ask(r):
            return set(await r.hkeys(self._user_key(user_id)))

        return await self._ask(ask, lambda: self.local.user_sids(user_id))

    async def sids_of_users(self, user_ids: Iterable) -> set[str]:
        ids = [str(u) for u in user_ids]
        if not ids:
            return set()

        async def ask(r):
            pipe = r.pipeline(transaction=False)
            for uid in ids:
                pipe.hkeys(self._user_key(uid))
            return {sid for sids in await pipe.execute() for sid in sids}

        return await self._ask(ask, lambda: self.local.sids_of_users(ids))

    async def online_user_ids(self, user_ids: Iterable) -> set[str]:
        return set((await self.snapshot(user_ids=user_ids)).online)

    async def online_user_count(self) -> int:
        """Users online on any host (the admin's dashboard): a SCAN of the user hashes."""

        async def ask(r):
            return sum([1 async for _ in r.scan_iter(match=self._user_key("*"), count=1000)])

        return await self._ask(ask, self.local.online_user_count)

    async def set_viewing(self, sid: str, user_id: str, chat_id: int) -> None:
        await self.local.set_viewing(sid, user_id, chat_id)

        async def ask(r):
            pipe = r.pipeline(transaction=True)
            pipe.hset(self._chat_key(chat_id), sid, str(user_id))
            pipe.sadd(self._sid_key(sid), int(chat_id))
            await pipe.execute()

        await self._ask(ask, _nothing)

    async def clear_viewing(self, sid: str, chat_id: int) -> None:
        await self.local.clear_viewing(sid, chat_id)

        async def ask(r):
            await self._clear_viewing(r, [sid], chat_id)

        await self._ask(ask, _nothing)

    async def _clear_viewing(self, r, sids: Iterable[str], chat_id: int) -> None:
        pipe = r.pipeline(transaction=True)
        for sid in sids:
            pipe.hdel(self._chat_key(chat_id), sid)
            pipe.srem(self._sid_key(sid), int(chat_id))
        await pipe.execute()

    async def clear_user_viewing(self, user_id: str, chat_id: int) -> None:
        """Every socket of a user stops viewing a chat (they were removed from it)."""
        await self.local.clear_user_viewing(user_id, chat_id)

        async def ask(r):
            sids = await r.hkeys(self._user_key(user_id))
            if sids:
                await self._clear_viewing(r, sids, chat_id)

        await self._ask(ask, _nothing)

    async def viewing_user_ids(self, chat_id: int) -> set[str]:
        async def ask(r):
            return set(await r.hvals(self._chat_key(chat_id)))

        return await self._ask(ask, lambda: self.local.viewing_user_ids(chat_id))

    async def viewing_by_chat(self, chat_ids: Iterable[int]) -> dict[int, set[str]]:
        snapshot = await self.snapshot(chat_ids=chat_ids)
        return {chat_id: set(viewers) for chat_id, viewers in snapshot.viewing.items()}

    async def snapshot(self, *, user_ids: Iterable = (), chat_ids: Iterable[int] = ()) -> PresenceSnapshot:
        """Who of `user_ids` is online and who views each of `chat_ids`: one round trip."""
        users = [str(u) for u in dict.fromkeys(str(u) for u in user_ids)]
        chats = list(dict.fromkeys(int(c) for c in chat_ids))
        if not users and not chats:
            return PresenceSnapshot()

        async def ask(r):
            pipe = r.pipeline(transaction=False)
            for uid in users:
                pipe.hlen(self._user_key(uid))
            for chat_id in chats:
                pipe.hvals(self._chat_key(chat_id))
            answers = await pipe.execute()
            counts, viewers = answers[: len(users)], answers[len(users) :]
            return PresenceSnapshot(
                online=frozenset(uid for uid, count in zip(users, counts, strict=True) if count),
                viewing={chat_id: frozenset(vals) for chat_id, vals in zip(chats, viewers, strict=True)},
            )

        return await self._ask(ask, lambda: self.local.snapshot(user_ids=users, chat_ids=chats))

    async def heartbeat(self, ttl: int) -> None:
        """This host is alive for `ttl` more seconds (nothing while Redis is down: the watcher is on it)."""
        if self.down:
            return
        try:
            async with self._connector.client() as r:
                await r.set(self._alive_key(self.host_id), "1", ex=ttl)
        except redis_errors() as exc:
            self._connector.mark_down(exc)

    async def lost_by_redis(self) -> bool:
        """Whether Redis forgot this host (restarted empty, or its heartbeat ran out): one EXISTS."""
        async with self._connector.client() as r:
            return not await r.exists(self._alive_key(self.host_id))

    async def republish(self, ttl: int) -> int:
        """Write this host's local truth back to Redis: its heartbeat, its sockets and their viewing, and
        none of the sockets Redis still lists for it that are gone. Returns the number of sockets."""
        sockets, viewers = self.local.entries()
        wanted = {f"{user} {sid}" for user, sid, _ in sockets}
        async with self._connector.client() as r:
            for member in await r.smembers(self._host_key(self.host_id)) - wanted:
                user_id, _, sid = member.partition(" ")
                await self._remove(r, user_id, sid)
            pipe = r.pipeline(transaction=False)
            pipe.set(self._alive_key(self.host_id), "1", ex=ttl)
            for user, sid, kind in sockets:
                pipe.sadd(self._host_key(self.host_id), f"{user} {sid}")
                pipe.hset(self._user_key(user), sid, kind)
            for chat_id, sid, user in viewers:
                pipe.hset(self._chat_key(chat_id), sid, user)
                pipe.sadd(self._sid_key(sid), int(chat_id))
            await pipe.execute()
        return len(sockets)

    async def retire(self) -> None:
        """This host is stopping: the others may reap whatever sockets it leaves at once."""
        if self.down:
            return
        async with self._connector.client() as r:
            await r.delete(self._alive_key(self.host_id))

    async def reap_dead_hosts(self) -> list[tuple[str, str]]:
        """Remove the sockets of hosts whose heartbeat expired; returns (user id, client type) of the
        users that went offline by it, each once even when several hosts reap at the same time."""
        if self.down:
            return []  # every host's heartbeat is gone with Redis: nobody is taken for dead
        offline: list[tuple[str, str]] = []
        async with self._connector.client() as r:
            async for key in r.scan_iter(match=self._host_key("*"), count=500):
                host_id = key.rsplit(":", 1)[1]
                if host_id == self.host_id or await r.exists(self._alive_key(host_id)):
                    continue
                for member in await r.smembers(key):
                    user_id, _, sid = member.partition(" ")
                    client_type = await r.hget(self._user_key(user_id), sid) or "web"
                    went_offline, _ = await self._remove(r, user_id, sid)
                    if went_offline:
                        offline.append((user_id, client_type))
                await r.delete(key)
        return offline

    async def reset(self) -> None:
        await self.local.reset()
        async with self._connector.client() as r:
            await adelete_keys_with_prefix(r, self._prefix)


async def _nothing() -> None:
    return None
