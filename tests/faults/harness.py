"""What the fault tests break on purpose: a PostgreSQL cluster of their own (initdb'd into a temporary
directory, on a free port, stopped, frozen with SIGSTOP and thawed with SIGCONT) and a Redis of their
own (started on a free port, killed, started again empty). Servers are tests/processes.py's
ServerProcess; clients are tests/conftest.py's Client and tests/sockets/raw_socket.py's RawSocket.

Every process started here is stopped by the fixture that started it; a test whose binaries are missing
is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.processes import REPO, ServerProcess, free_port, port_open


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, commands run as the `postgres` user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


class PostgresCluster:
    """A throwaway PostgreSQL cluster: `start()`, `stop()`, `freeze()`, `thaw()`, `destroy()`."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        if self.bin is None:
            pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (/usr/lib/postgresql/*/bin)")
        if os.geteuid() == 0 and not shutil.which("runuser"):
            pytest.skip("running as root without runuser: PostgreSQL cannot be started as another user")
        self.dir = Path(tempfile.mkdtemp(prefix="chat-faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        result = subprocess.run(
            _as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "-E", "UTF8", "--no-sync", "--no-instructions"]),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            pytest.skip(f"initdb failed: {result.stderr[-500:]}")
        self.frozen = False

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), *args]),
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        result = self._ctl("-l", str(self.log), "-o", options, "-w", "-t", "30", "start")
        if result.returncode != 0 or not port_open("127.0.0.1", self.port):
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr}\n{self.log.read_text()[-2000:]}")

    def stop(self, mode: str = "immediate") -> None:
        self._ctl("-m", mode, "-w", "-t", "30", "stop")

    def pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        pids = [postmaster]
        for stat in glob.glob("/proc/[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    pids.append(int(stat.split("/")[2]))
        return pids

    def _signal(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def freeze(self) -> None:
        """A network partition as the server sees it: connections stay open, nothing answers."""
        self._signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)
        self.frozen = False

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')

    def query(self, database: str, sql: str, params=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database).replace("postgres://", "postgresql://"), connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    def destroy(self) -> None:
        if self.frozen:
            self.thaw()
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    """A Redis of the test's own on a free port: `start()` (empty every time), `kill()`."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def server_env(database_url: str, work: Path, **overrides: str) -> dict:
    """The environment of a server process (and of its `migrate`) for these tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="chat_project.settings",
        DATABASE_URL=database_url,
        LOG_LEVEL="WARNING",
        CHAT_RATE_LIMIT="0",
        MEDIA_ROOT=str(work / "media"),
        PUSH_BACKEND="notifications.backends.filebased.PushBackend",
        PUSH_FILE_PATH=str(work / "pushes.jsonl"),
        PUSH_POLL_SECONDS="1",
        SOCKETIO_CHANNEL=f"chat-faults-{uuid.uuid4().hex[:8]}",
        **overrides,
    )
    return env


def migrate(env: dict) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=180)  # fmt: skip


def start_server(env: dict, log_path: Path) -> ServerProcess:
    server = ServerProcess(env, log_path)
    server.wait_healthy()
    return server


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tcp_connection_open(local_port: int, remote_port: int) -> bool:
    """Whether the kernel still has a live TCP connection 127.0.0.1:local_port -> 127.0.0.1:remote_port
    (any state but CLOSE and TIME_WAIT), read from /proc/net/tcp."""
    closed_states = {"07", "06"}  # TCP_CLOSE, TCP_TIME_WAIT
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, state = fields[1], fields[2], fields[3]
                if int(local.rsplit(":", 1)[1], 16) == local_port and int(remote.rsplit(":", 1)[1], 16) == remote_port:
                    if state not in closed_states:
                        return True
    return False
