"""WAL checkpoints leave the write path in the server process (chat_project/sqlite_checkpoint.py).

Each test writes to an SQLite file of its own, through a Django connection with the project's options
(WAL, IMMEDIATE), and reads the log's length with the PASSIVE checkpoint's answer.
"""

from __future__ import annotations

import sqlite3
import time

import pytest
from django.db import connections
from django.db.backends.sqlite3.base import DatabaseWrapper

from chat_project import sqlite_checkpoint

pytestmark = [
    pytest.mark.skipif(
        connections["default"].vendor != "sqlite", reason="SQLite's checkpoints; PostgreSQL has none of these"
    ),
    pytest.mark.django_db,  # pytest-django's switch for database access; these files are the tests' own
]

COMMITS = 1_200  # more than SQLite's automatic checkpoint threshold (1,000 pages), one page or more each


def _connection(path) -> DatabaseWrapper:
    return DatabaseWrapper({**connections["default"].settings_dict, "NAME": str(path)}, alias="checkpoint-test")


def _commit_rows(db: DatabaseWrapper, count: int) -> None:
    with db.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    for i in range(count):
        with db.cursor() as cursor:  # autocommit: one commit per row
            cursor.execute("INSERT INTO t VALUES (%s)", [i])


def _log_frames(path) -> int:
    """Frames in the write-ahead log now (copied back or not): what a PASSIVE checkpoint reports."""
    raw = sqlite3.connect(str(path), isolation_level=None)
    try:
        return raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    finally:
        raw.close()


@pytest.fixture
def started():
    assert sqlite_checkpoint.start() is not None
    yield
    sqlite_checkpoint.stop()


def test_commits_do_not_checkpoint_once_the_checkpointer_runs(started, tmp_path):
    db = _connection(tmp_path / "server.sqlite3")
    try:
        _commit_rows(db, COMMITS)
        with db.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone()[0] == 0
        # No commit copied the log back: it holds every commit's pages. (Read while the connection is
        # open: SQLite checkpoints when the last one closes.)
        assert _log_frames(tmp_path / "server.sqlite3") >= COMMITS
    finally:
        db.close()


def test_other_processes_keep_sqlites_automatic_checkpoints(tmp_path):
    # Without the checkpointer (a management command, the push worker, tests), SQLite checkpoints in
    # the commit that takes the log past 1,000 pages and the next write starts the log again.
    db = _connection(tmp_path / "command.sqlite3")
    try:
        _commit_rows(db, COMMITS)
        assert _log_frames(tmp_path / "command.sqlite3") < 1_000
    finally:
        db.close()


def test_stopped_checkpointer_gives_new_connections_automatic_checkpoints_back(tmp_path):
    sqlite_checkpoint.start()
    sqlite_checkpoint.stop()
    db = _connection(tmp_path / "after.sqlite3")
    try:
        with db.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone()[0] == 1000
    finally:
        db.close()


def test_the_checkpointer_thread_copies_the_log_back_so_that_writes_reuse_it(started, tmp_path):
    path = tmp_path / "server.sqlite3"
    db = _connection(path)
    checkpointer = sqlite_checkpoint.Checkpointer(str(path), interval=0.02)
    try:
        _commit_rows(db, COMMITS)
        checkpointer.start()
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert checkpointer.checkpoints >= 2
        checkpointer.stop()
        # Everything was copied back, so the next commit writes at the start of the log again.
        _commit_rows(db, 1)
        assert _log_frames(path) < 10
    finally:
        checkpointer.stop()
        db.close()
