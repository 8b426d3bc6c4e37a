"""Who is connected and who is viewing which chat (CONTRACT §3).

Presence counts verified sockets, not users: a user is online while at least one socket of theirs is
connected, on any worker. Viewing is per socket: a phone viewing a chat is not undone by a laptop
leaving. Without `REDIS_URL` the state lives in this process; with it, in Redis, so that every worker
and host sees the same answer (the push rules of CONTRACT §7 depend on it).

The API is synchronous on purpose: services that run in the ORM's thread ask it too (who is online,
who is viewing), and both stores answer in microseconds.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings

from chat.state.redis_keys import delete_keys_with_prefix


class SocketLimitReached(Exception):
    """The user already holds as many verified sockets as allowed (CHAT_MAX_SOCKETS_PER_USER)."""


class _Presence:
    def user_sids(self, user_id: str) -> set[str]:
        raise NotImplementedError

    def clear_viewing(self, sid: str, chat_id: int) -> None:
        raise NotImplementedError

    def clear_user_viewing(self, user_id: str, chat_id: int) -> None:
        """Every socket of a user stops viewing a chat (they were removed from it)."""
        for sid in self.user_sids(user_id):
            self.clear_viewing(sid, chat_id)


class MemoryPresence(_Presence):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._user_sids: dict[str, dict[str, str]] = defaultdict(dict)  # user -> {sid: client_type}
        self._chat_viewers: dict[int, dict[str, str]] = defaultdict(dict)  # chat -> {sid: user}
        self._sid_viewing: dict[str, set[int]] = defaultdict(set)  # sid -> {chat}

    def add_socket(self, user_id: str, sid: str, client_type: str, *, limit: int | None = None) -> bool:
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

    def remove_socket(self, user_id: str, sid: str) -> tuple[bool, set[int]]:
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

    def user_sids(self, user_id: str) -> set[str]:
        with self._lock:
            return set(self._user_sids.get(str(user_id), ()))

    def online_user_ids(self, user_ids: Iterable) -> set[str]:
        with self._lock:
            return {str(u) for u in user_ids if self._user_sids.get(str(u))}

    def set_viewing(self, sid: str, user_id: str, chat_id: int) -> None:
        with self._lock:
            self._chat_viewers[int(chat_id)][sid] = str(user_id)
            self._sid_viewing[sid].add(int(chat_id))

    def clear_viewing(self, sid: str, chat_id: int) -> None:
        with self._lock:
            self._drop_viewer(int(chat_id), sid)
            chats = self._sid_viewing.get(sid)
            if chats is not None:
                chats.discard(int(chat_id))
                if not chats:
                    del self._sid_viewing[sid]

    def _drop_viewer(self, chat_id: int, sid: str) -> None:
        """The chat side of a socket no longer viewing it; the caller holds the lock."""
        viewers = self._chat_viewers.get(chat_id)
        if viewers is not None:
            viewers.pop(sid, None)
            if not viewers:
                del self._chat_viewers[chat_id]

    def viewing_user_ids(self, chat_id: int) -> set[str]:
        with self._lock:
            return set(self._chat_viewers.get(int(chat_id), {}).values())

    def viewing_by_chat(self, chat_ids: Iterable[int]) -> dict[int, set[str]]:
        with self._lock:
            return {int(c): set(self._chat_viewers.get(int(c), {}).values()) for c in chat_ids}

    # A process's memory dies with it: there is no other host whose sockets could be left behind.
    def heartbeat(self, ttl: int) -> None:
        return None

    def retire(self) -> None:
        return None

    def reap_dead_hosts(self) -> list[tuple[str, str]]:
        return []

    def reset(self) -> None:
        with self._lock:
            self._user_sids.clear()
            self._chat_viewers.clear()
            self._sid_viewing.clear()


class RedisPresence(_Presence):
    """The same state in Redis hashes and sets, shared by every worker and host.

    Each server process is a *host* that lists its sockets under its own key and keeps an `alive` key
    with a time-to-live fresh (`heartbeat`). A host that dies without closing its sockets stops doing
    that; the others then remove its sockets (`reap_dead_hosts`), so its users do not stay online, or
    "viewing" and without pushes, forever.
    """

    def __init__(self, url: str, prefix: str = "chat:presence", host_id: str | None = None) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self.host_id = host_id or uuid.uuid4().hex

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

    def add_socket(self, user_id: str, sid: str, client_type: str, *, limit: int | None = None) -> bool:
        pipe = self._redis.pipeline(transaction=True)
        pipe.sadd(self._host_key(self.host_id), f"{user_id} {sid}")
        pipe.hset(self._user_key(user_id), sid, client_type)
        pipe.hlen(self._user_key(user_id))
        _, added, count = pipe.execute()
        if added and limit is not None and count > limit:
            # Added first and taken back, so that two workers adding at once cannot both slip under
            # the limit (at worst both are refused).
            self.remove_socket(user_id, sid)
            raise SocketLimitReached(user_id)
        return bool(added) and count == 1

    def remove_socket(self, user_id: str, sid: str) -> tuple[bool, set[int]]:
        chats = {int(c) for c in self._redis.smembers(self._sid_key(sid))}
        pipe = self._redis.pipeline(transaction=True)
        for chat_id in chats:
            pipe.hdel(self._chat_key(chat_id), sid)
        pipe.delete(self._sid_key(sid))
        pipe.srem(self._host_key(self.host_id), f"{user_id} {sid}")
        pipe.hdel(self._user_key(user_id), sid)
        pipe.hlen(self._user_key(user_id))
        *_, removed, remaining = pipe.execute()
        return bool(removed) and remaining == 0, chats

    def user_sids(self, user_id: str) -> set[str]:
        return set(self._redis.hkeys(self._user_key(user_id)))

    def online_user_ids(self, user_ids: Iterable) -> set[str]:
        ids = [str(u) for u in user_ids]
        if not ids:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        for uid in ids:
            pipe.hlen(self._user_key(uid))
        return {uid for uid, count in zip(ids, pipe.execute(), strict=True) if count}

    def set_viewing(self, sid: str, user_id: str, chat_id: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._chat_key(chat_id), sid, str(user_id))
        pipe.sadd(self._sid_key(sid), int(chat_id))
        pipe.execute()

    def clear_viewing(self, sid: str, chat_id: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hdel(self._chat_key(chat_id), sid)
        pipe.srem(self._sid_key(sid), int(chat_id))
        pipe.execute()

    def viewing_user_ids(self, chat_id: int) -> set[str]:
        return set(self._redis.hvals(self._chat_key(chat_id)))

    def viewing_by_chat(self, chat_ids: Iterable[int]) -> dict[int, set[str]]:
        ids = [int(c) for c in chat_ids]
        if not ids:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for chat_id in ids:
            pipe.hvals(self._chat_key(chat_id))
        return {chat_id: set(vals) for chat_id, vals in zip(ids, pipe.execute(), strict=True)}

    def heartbeat(self, ttl: int) -> None:
        """This host is alive for `ttl` more seconds."""
        self._redis.set(self._alive_key(self.host_id), "1", ex=ttl)

    def retire(self) -> None:
        """This host is stopping: the others may reap whatever sockets it leaves at once."""
        self._redis.delete(self._alive_key(self.host_id))

    def reap_dead_hosts(self) -> list[tuple[str, str]]:
        """Remove the sockets of hosts whose heartbeat expired; returns (user id, client type) of the
        users that went offline by it, each once even when several hosts reap at the same time."""
        offline: list[tuple[str, str]] = []
        for key in self._redis.scan_iter(match=self._host_key("*"), count=500):
            host_id = key.rsplit(":", 1)[1]
            if host_id == self.host_id or self._redis.exists(self._alive_key(host_id)):
                continue
            for member in self._redis.smembers(key):
                user_id, _, sid = member.partition(" ")
                client_type = self._redis.hget(self._user_key(user_id), sid) or "web"
                went_offline, _ = self.remove_socket(user_id, sid)
                if went_offline:
                    offline.append((user_id, client_type))
            self._redis.delete(key)
        return offline

    def reset(self) -> None:
        delete_keys_with_prefix(self._redis, self._prefix)


_store: MemoryPresence | RedisPresence | None = None
_store_lock = threading.Lock()


def get_presence() -> MemoryPresence | RedisPresence:
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                if settings.REDIS_URL:
                    _store = RedisPresence(settings.REDIS_URL, prefix=f"{settings.SOCKETIO_CHANNEL}:presence")
                else:
                    _store = MemoryPresence()
    return _store


def reset_presence_store() -> None:
    """Forget the configured store (tests that switch REDIS_URL)."""
    global _store
    with _store_lock:
        _store = None
