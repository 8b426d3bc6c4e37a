"""A guard that makes any Redis command sent while a database transaction is open fail, for the tests that
prove the state layer (chat.state) is never asked inside one.

A command counts as "inside a transaction" when the calling thread's connection is in an atomic block
(`django.db.connection.in_atomic_block`: a Redis call from the ORM's thread inside a service), or when
the call was started from inside one and only hopped threads to run (a view in `transaction.atomic()`
calling `async_to_sync`): Django's `Atomic` is wrapped to count open blocks in a context variable, which
asgiref carries along with every hop between threads and the event loop.

A violation raises `RedisInsideTransaction` at the caller and appends one line to the file named by
`CHAT_STATE_GUARD_LOG`, so that a test can also see what the server process swallowed. Both redis-py
clients are guarded: `redis.asyncio` (the state layer, python-socketio's Redis manager) and the
synchronous one (the bridge's write-only manager outside a server).

`application` is `chat_project.asgi:application` with the guard installed: the server process the tests
start serves `tests.sockets.state_guard:application`.
"""

from __future__ import annotations

import contextvars
import os
import threading
import traceback

_open_blocks: contextvars.ContextVar[int] = contextvars.ContextVar("open_atomic_blocks", default=0)
_installed = False
_lock = threading.Lock()
INSTALLED = "guard installed in process"  # the log's first line, so a test knows the guard was live


class RedisInsideTransaction(RuntimeError):
    """A Redis command was sent while a database transaction was open."""


def in_transaction() -> bool:
    from django.db import connection

    return _open_blocks.get() > 0 or connection.in_atomic_block


def _record(command) -> None:
    path = os.environ.get("CHAT_STATE_GUARD_LOG")
    if path:
        sent = command if isinstance(command, (bytes, str)) else b"".join(bytes(part) for part in command)
        sent = sent[:80]
        where = "".join(traceback.format_stack(limit=12)[:-2]).replace("\n", " | ")
        with _lock, open(path, "a") as log:
            log.write(f"{sent!r} in a transaction, thread {threading.current_thread().name}: {where}\n")


def install() -> None:
    """Wrap Django's atomic blocks and both redis-py connection classes (idempotent)."""
    global _installed
    if _installed:
        return
    import redis.asyncio.connection as async_connection
    import redis.connection as sync_connection
    from django.db.transaction import Atomic

    enter, leave = Atomic.__enter__, Atomic.__exit__

    def guarded_enter(self):
        result = enter(self)
        _open_blocks.set(_open_blocks.get() + 1)
        return result

    def guarded_exit(self, exc_type, exc_value, tb):
        _open_blocks.set(max(0, _open_blocks.get() - 1))
        return leave(self, exc_type, exc_value, tb)

    Atomic.__enter__, Atomic.__exit__ = guarded_enter, guarded_exit

    # Every command, pipeline and connection handshake of either client goes through send_packed_command.
    async_send = async_connection.AbstractConnection.send_packed_command

    async def guarded_async_send(self, command, *args, **kwargs):
        if in_transaction():
            _record(command)
            raise RedisInsideTransaction("a Redis command inside a database transaction")
        return await async_send(self, command, *args, **kwargs)

    sync_send = sync_connection.AbstractConnection.send_packed_command

    def guarded_sync_send(self, command, *args, **kwargs):
        if in_transaction():
            _record(command)
            raise RedisInsideTransaction("a Redis command (sync client) inside a database transaction")
        return sync_send(self, command, *args, **kwargs)

    async_connection.AbstractConnection.send_packed_command = guarded_async_send
    sync_connection.AbstractConnection.send_packed_command = guarded_sync_send
    path = os.environ.get("CHAT_STATE_GUARD_LOG")
    if path:
        with _lock, open(path, "a") as log:
            log.write(f"{INSTALLED} {os.getpid()}\n")
    _installed = True


def __getattr__(name: str):
    # `application` is built on first use, so that importing this module for `install` needs no ASGI app.
    if name == "application":
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")
        django.setup()
        install()
        from chat_project.asgi import application

        return application
    raise AttributeError(name)
