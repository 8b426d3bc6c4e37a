"""Processes that tests and the benchmark start: local PostgreSQL and Redis, and the chat server under uvicorn.

Standard library only: `make bench` (no test dependencies installed) and the Makefile's `test-postgres`
(`python -m tests.processes postgres`) use it as well as pytest.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def start_and_wait(command: list[str], host: str, port: int, seconds: float = 15) -> bool:
    """Run `command` (a daemon's start-up), then wait for `host:port` to accept connections."""
    try:
        subprocess.run(command, check=False, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.2)
    return False


def start_postgres() -> bool:
    """Is PostgreSQL answering on 127.0.0.1:5432? Starts the newest local cluster first when it is not."""
    if port_open("127.0.0.1", 5432):
        return True
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        return False
    print(f"starting PostgreSQL {versions[-1]}", file=sys.stderr)
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"]
    return start_and_wait(command, "127.0.0.1", 5432)


class ServerProcess:
    """`chat_project.asgi:application` under uvicorn on a free loopback port, as `make run` serves it
    (per-message deflate off), its output in `log_path`."""

    def __init__(self, env: dict, log_path: Path, app: str = "chat_project.asgi:application") -> None:
        self.port = free_port()
        self.env = env
        self.log_path = log_path
        with log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1",
                 "--port", str(self.port), "--ws-per-message-deflate", "false", "--log-level", "warning"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, seconds: float = 30) -> None:
        """Until `/healthz` answers 200; RuntimeError with the end of the server's log if it never does."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            time.sleep(0.1)
        raise RuntimeError(
            f"the server on port {self.port} did not start; its log:\n{self.log_path.read_text()[-4000:]}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


if __name__ == "__main__":
    # `python -m tests.processes postgres`: exit 0 when PostgreSQL is up (started if need be), else 1.
    if sys.argv[1:] != ["postgres"]:
        sys.exit("usage: python -m tests.processes postgres")
    sys.exit(0 if start_postgres() else 1)
