"""CONTRACT §11: tokens never appear in logs, also when a client sends one in the query string.

uvicorn writes every polling request's URL with its query to the access log, and every WebSocket
handshake's to `uvicorn.error`. A real server, started as `make run` starts it (its own logging
configuration, access log on) and in-process as the tests' live server is, is sent real requests
with tokens in the query; the token must not be in what it logged, the path must be.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import socketio
import uvicorn

from chat.tokens import issue_token
from chat_project.access_log import REDACTED, RedactTokens, redact
from tests.conftest import REPO_DIR
from tests.processes import free_port

pytestmark = pytest.mark.timeout(90)


def polling_get(url: str, query: str) -> None:
    """The first request of a long-polling Socket.IO client, with its query string."""
    with urllib.request.urlopen(f"{url}/socket.io/?{query}&EIO=4&transport=polling", timeout=5) as response:
        assert response.status == 200


async def websocket_connect(url: str, user_id, token: str) -> None:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(f"{url}?userId={user_id}&accessToken={token}", transports=["websocket"], wait_timeout=5)
    await client.disconnect()


async def send_tokens(url: str) -> list[str]:
    """Requests with a token in the query, each way a client may name it; the tokens sent."""
    uid = uuid.uuid4()
    tokens = [issue_token(uid, name="Alice") for _ in range(3)]
    polling_get(url, f"userId={uid}&accessToken={tokens[0]}")
    polling_get(url, f"userId={uid}&token={tokens[1]}&AccessToken={tokens[1]}")
    await websocket_connect(url, uid, tokens[2])
    return tokens


def assert_redacted(log: str, tokens: list[str]) -> None:
    for token in tokens:
        assert token not in log
        # Not even its signature or payload part.
        for part in token.split(".")[1:]:
            assert part not in log
    assert "/socket.io/?userId=" in log, log[-3000:]
    assert f"accessToken={REDACTED}" in log and f"token={REDACTED}" in log, log[-3000:]
    assert '"WebSocket /socket.io/?userId=' in log, log[-3000:]


@pytest.mark.django_db(transaction=True)
@pytest.mark.own_sqlite
async def test_the_make_run_server_logs_no_token(tmp_path):
    """The server `make run` starts: uvicorn's own command line and logging, INFO level."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", PUSH_WORKER_IN_PROCESS="false")
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO_DIR, env=env, check=True,
                   capture_output=True)  # fmt: skip
    port = free_port()
    log_path = tmp_path / "server.log"
    uvicorn_bin = Path(sys.executable).with_name("uvicorn")
    # As the Makefile's `run` target.
    command = [str(uvicorn_bin), "chat_project.asgi:application", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "--ws-per-message-deflate", "false", "--proxy-headers"]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=REPO_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"the server did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.1)
        tokens = await send_tokens(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    log = log_path.read_text()
    assert "Uvicorn running" in log or "Application startup complete" in log, log[-3000:]
    assert_redacted(log, tokens)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.mark.django_db(transaction=True)
async def test_an_in_process_uvicorn_server_logs_no_token():
    """`uvicorn.Server` in this process, as the test fixtures and embedders run it: uvicorn configures its
    logging after Django did, and the redaction must survive that."""
    from chat_project.asgi import application

    names = ("uvicorn.access", "uvicorn.error")
    levels = {name: logging.getLogger(name).level for name in names}
    # lifespan off: this server must not run the process's start-up and shut-down, which would detach the
    # socket bridge from the session's live server that the other tests share.
    config = uvicorn.Config(application, host="127.0.0.1", port=free_port(), log_level="info", lifespan="off")
    server = uvicorn.Server(config)
    capture = Capture()
    for name in names:
        logging.getLogger(name).addHandler(capture)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the in-process server did not start"
            time.sleep(0.02)
        tokens = await send_tokens(f"http://127.0.0.1:{config.port}")
    finally:
        server.should_exit = True
        thread.join(10)
        for name in names:
            logging.getLogger(name).removeHandler(capture)
            logging.getLogger(name).setLevel(levels[name])
    assert_redacted("\n".join(capture.lines), tokens)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /socket.io/?u=1&accessToken=abc.def.ghi&EIO=4", f"GET /socket.io/?u=1&accessToken={REDACTED}&EIO=4"),
        ("/x?token=abc", f"/x?token={REDACTED}"),
        ("/x?AccessToken=abc#frag", f"/x?AccessToken={REDACTED}#frag"),
        ("/x?access_token=abc&access%5Ftoken=def", f"/x?access_token={REDACTED}&access%5Ftoken={REDACTED}"),
        ("/x?Authorization=Bearer%20abc", f"/x?Authorization={REDACTED}"),
        ("/x?mytoken=abc&tokens=1", "/x?mytoken=abc&tokens=1"),
        ("no url here", "no url here"),
    ],
)  # fmt: skip
def test_redact(line, expected):
    assert redact(line) == expected


def test_the_filter_rewrites_arguments_and_keeps_the_record():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s" %d',
                               ("1.2.3.4", "GET", "/socket.io/?accessToken=secret", 200), None)  # fmt: skip
    assert RedactTokens().filter(record) is True
    assert "secret" not in record.getMessage() and REDACTED in record.getMessage()
    assert all(RedactTokens in {type(f) for f in logging.getLogger(name).filters} for name in ("uvicorn.access",))
