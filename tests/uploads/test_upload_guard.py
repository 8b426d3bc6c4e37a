"""The ASGI guard in front of Django: oversized or unauthenticated upload bodies are refused before
they are read (uploads/guard.py). Raw sockets against the live server, so that we control exactly
how much of the body has been sent when the answer comes back."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlparse

import httpx

from chat.tokens import issue_token
from tests.uploads import files
from uploads.models import Upload

URL = "/api/chat/uploadFile"


def connect(server) -> socket.socket:
    url = urlparse(server.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=5)
    return sock


def read_response(sock) -> tuple[int, dict, dict]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, json.loads(rest[:length] or b"null")


def request_head(*, token: str | None, extra: str) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST {URL} HTTP/1.1\r\nHost: test\r\n{auth}Content-Type: multipart/form-data; boundary=XYZ\r\n{extra}\r\n"
    ).encode()


def test_content_length_over_the_limit_is_413_before_any_body(chat_server, make_user, small_limits):
    user = make_user("Alice")
    with connect(chat_server) as sock:
        sock.sendall(request_head(token=issue_token(user.pk), extra=f"Content-Length: {500 * 1024 * 1024}\r\n"))
        status, _headers, body = read_response(sock)  # not one byte of the body was sent
    assert status == 413
    assert body == {"success": False, "data": None, "message": body["message"], "code": "invalid"}


def test_no_token_is_401_before_any_body(chat_server, small_limits):
    for token in (None, "not-a-token", issue_token("6a1f4d9e-0000-4000-8000-000000000000", ttl=-3600)):
        with connect(chat_server) as sock:
            sock.sendall(request_head(token=token, extra="Content-Length: 40000\r\n"))
            status, headers, body = read_response(sock)
        assert status == 401
        assert body["code"] == "unauthorized" and body["success"] is False
        assert headers["www-authenticate"].startswith("Bearer")


def test_streamed_body_is_cut_off_at_the_limit(chat_server, make_user, small_limits):
    """A chunked body has no Content-Length: the guard counts and answers 413 while the client is
    still sending, and the rest is never read."""
    user = make_user("Alice")
    with connect(chat_server) as sock:
        sock.sendall(request_head(token=issue_token(user.pk), extra="Transfer-Encoding: chunked\r\n"))
        part = b"x" * 8192
        sent = 0
        status = None
        # Send up to twice the limit in chunks without ever finishing the body.
        while sent < 2 * small_limits:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            except OSError:
                break
            sent += len(part)
            sock.settimeout(0.05)
            try:
                peek = sock.recv(1, socket.MSG_PEEK)
            except (TimeoutError, BlockingIOError):
                peek = b""
            finally:
                sock.settimeout(5)
            if peek:
                break
        status, _, body = read_response(sock)
    assert status == 413 and body["code"] == "invalid"
    assert small_limits < sent < 2 * small_limits  # answered before the body ended
    assert not Upload.objects.exists()


def test_a_real_upload_passes_the_guard(chat_server, make_user, small_limits, settings):
    user = make_user("Alice")
    response = httpx.post(
        chat_server.url + URL,
        headers={"Authorization": f"Bearer {issue_token(user.pk)}"},
        files={"file": ("voice.wav", files.wav(0.5), "audio/wav")},
        data={"messageType": "1"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    path = response.json()["data"]
    served = httpx.get(chat_server.url + path, timeout=10)
    assert served.status_code == 200 and served.headers["x-content-type-options"] == "nosniff"


def test_per_type_limit_through_the_live_server(chat_server, make_user, small_limits):
    """Within the request limit but over the audio limit: the view refuses it (413)."""
    user = make_user("Alice")
    response = httpx.post(
        chat_server.url + URL,
        headers={"Authorization": f"Bearer {issue_token(user.pk)}"},
        files={"file": ("voice.wav", files.wav(2.0), "audio/wav")},  # 32 kB > 20 kB
        data={"messageType": "1"},
        timeout=10,
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "invalid"


def test_other_routes_are_untouched(chat_server):
    started = time.monotonic()
    assert httpx.get(chat_server.url + "/healthz", timeout=10).status_code == 200
    assert time.monotonic() - started < 5


def test_other_requests_are_capped_at_the_form_limit(chat_server, make_user, settings):
    """A JSON endpoint never needs more than DATA_UPLOAD_MAX_MEMORY_SIZE; a larger body is refused
    before Django writes it to disk."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    settings.UPLOAD_MULTIPART_OVERHEAD_BYTES = 1_000
    token = issue_token(make_user("Alice").pk)
    with connect(chat_server) as sock:
        sock.sendall(
            b"POST /api/friendships HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n" % token.encode()
        )
        status, _, body = read_response(sock)
    assert status == 413 and body["code"] == "invalid"
    chunked = httpx.post(
        chat_server.url + "/api/friendships",
        content=(b"x" * 4096 for _ in range(10)),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert chunked.status_code == 413
    small = httpx.post(
        chat_server.url + "/api/friendships",
        json={"userId": "not-a-guid"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert small.status_code == 400 and small.json()["message"].startswith("userId:")
