"""SQLite WAL checkpoints off the write path, in the server process.

By default SQLite checkpoints inside the commit that takes the write-ahead log past 1,000 pages: that
commit copies the log back into the database file and syncs both, while the ORM thread (every
`createMessage` of the process) waits for it. At a few hundred messages a second that happened several
times a second, and those commits took 5-20 ms instead of a fraction of one (see README, Benchmarks).

`start()` turns automatic checkpoints off for every SQLite connection the process opens from then on
(`PRAGMA wal_autocheckpoint=0`) and runs them in a thread of its own instead, on a connection of its
own, every `INTERVAL` seconds: PASSIVE checkpoints, which never wait for a reader or a writer and never
make one wait (https://www.sqlite.org/wal.html#ckpt). A log that was fully copied back is reused from
its start by the next write, so it stays about as large as one interval's writes.

Started by `chat_project.lifecycle` on SQLite only. Other processes (`manage.py` commands, the push
worker, tests) keep SQLite's automatic checkpoints.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from django.db import connections
from django.db.backends.signals import connection_created

logger = logging.getLogger("chat_project.sqlite_checkpoint")

INTERVAL = 1.0  # seconds between two checkpoints


def _autocheckpoint_off(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=0")


class Checkpointer:
    """A thread that checkpoints one SQLite database every `interval` seconds until stopped."""

    def __init__(self, path: str, interval: float = INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        # One connection for the thread's life: opening one per checkpoint would read the schema each time.
        db = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.checkpoints += 1
                except sqlite3.Error:
                    logger.exception("WAL checkpoint of %s failed", self.path)
        finally:
            db.close()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


_checkpointer: Checkpointer | None = None


def start(alias: str = "default") -> Checkpointer | None:
    """Checkpoints of the `alias` database off the write path, when it is an SQLite file (else None)."""
    global _checkpointer
    wrapper = connections[alias]
    name = str(wrapper.settings_dict["NAME"])
    if wrapper.vendor != "sqlite" or wrapper.is_in_memory_db():
        return None
    stop()
    connection_created.connect(_autocheckpoint_off, dispatch_uid="sqlite-autocheckpoint-off")
    _checkpointer = Checkpointer(name)
    _checkpointer.start()
    return _checkpointer


def stop() -> None:
    """Back to SQLite's automatic checkpoints for connections opened from now on; the thread ends."""
    global _checkpointer
    connection_created.disconnect(dispatch_uid="sqlite-autocheckpoint-off")
    if _checkpointer is not None:
        _checkpointer.stop()
        _checkpointer = None
