"""A refused upload is answered so that the client can read the answer (uploads/guard.py).

The guard answers 401/413/429 before it reads the body. Had it closed the connection then, the client
would still be sending: the kernel resets such a connection, the reset throws the answer away, and the
client sees EPIPE/ECONNRESET instead of the status. So the rest of the body is read and discarded, up
to UPLOAD_REFUSED_DRAIN_BYTES and UPLOAD_REFUSED_DRAIN_SECONDS. `fetch`, which gives up at the
first write error, is proven in tests/e2e/upload-fetch.test.mjs; here: httpx (it sends its whole body
before it reads), the bounds of the drain, and a clean close."""

from __future__ import annotations

import time

import httpx
import pytest

from chat.tokens import issue_token
from tests.uploads.live import multipart, post
from tests.uploads.test_upload_guard import connect, read_response, request_head
from uploads.models import Upload

BIG = 60 * 1024 * 1024


def envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"success": False, "data": None, "message": body["message"], "code": code}
    return body


@pytest.mark.timeout(60)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("token", [None, "not-a-token"], ids=["no-token", "bad-token"])
def test_a_60_mb_body_without_a_valid_token_gets_a_readable_401(chat_server, token, chunked):
    response = post(chat_server, multipart(b"\0" * BIG, "big.bin", 3), token=token, chunked=chunked)
    envelope(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_60_mb_body_over_the_limit_gets_a_readable_413(chat_server, make_user, small_limits, chunked):
    """With a Content-Length the guard answers before reading; chunked, once the count passes the limit."""
    user = make_user("Alice")
    response = post(chat_server, multipart(b"\0" * BIG, "big.bin", 3), user=user, chunked=chunked)
    assert envelope(response, 413, "invalid")["message"] == "The request body is too large."
    assert not Upload.objects.exists()


def test_the_drain_stops_at_its_byte_bound(chat_server, settings):
    """Nobody can make us read and discard without end: past UPLOAD_REFUSED_DRAIN_BYTES the connection
    closes, however much the client still sends."""
    settings.UPLOAD_REFUSED_DRAIN_BYTES = 1024 * 1024
    settings.UPLOAD_REFUSED_DRAIN_SECONDS = 30
    with connect(chat_server) as sock:
        sock.sendall(request_head(token=None, extra=f"Content-Length: {4 * 1024**3}\r\n"))
        status, _, body = read_response(sock)
        assert status == 401 and body["code"] == "unauthorized"
        sent = 0
        block = b"\0" * 65536
        with pytest.raises(OSError):  # the server closes: EPIPE or ECONNRESET
            while sent < 1024**3:
                sock.sendall(block)
                sent += len(block)
    # The bound, plus what the kernel buffers of both ends hold on the loopback.
    assert sent < 64 * 1024 * 1024, sent


def test_the_drain_stops_at_its_time_bound(chat_server, settings):
    """A client that trickles its body holds a refused request for UPLOAD_REFUSED_DRAIN_SECONDS at most."""
    settings.UPLOAD_REFUSED_DRAIN_SECONDS = 0.5
    with connect(chat_server) as sock:
        sock.sendall(request_head(token=None, extra="Content-Length: 100000\r\n"))
        status, _, _ = read_response(sock)
        assert status == 401
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 5:
            try:
                sock.sendall(b"x")
                sock.settimeout(0.05)
                if sock.recv(1) == b"":
                    closed = True
                    break
            except (TimeoutError, BlockingIOError):
                continue
            except OSError:
                closed = True
                break
        assert closed
        assert time.monotonic() - started < 3


def test_a_client_that_closes_after_reading_ends_the_drain(chat_server, make_user, small_limits):
    """The usual end: the client reads the answer and hangs up; the server keeps nothing open."""
    with connect(chat_server) as sock:
        sock.sendall(request_head(token=issue_token(make_user("Alice").pk), extra="Content-Length: 9000000\r\n"))
        status, headers, _ = read_response(sock)
    assert status == 413 and headers["connection"] == "close"
    assert httpx.get(chat_server.url + "/healthz", timeout=5).status_code == 200


def test_a_body_sent_in_full_is_drained_and_the_connection_closed_cleanly(chat_server):
    """A small refused body is read to its end, so the close is a clean FIN, not a reset."""
    with connect(chat_server) as sock:
        body = b"\0" * 200_000
        sock.sendall(request_head(token=None, extra=f"Content-Length: {len(body)}\r\n") + body)
        status, _, _ = read_response(sock)
        sock.settimeout(5)
        assert status == 401
        assert sock.recv(1) == b""  # EOF, no ECONNRESET


def test_an_accepted_upload_still_keeps_the_connection(chat_server, make_user):
    """Only refusals close the connection; a successful upload answers as before."""
    user = make_user("Alice")
    with httpx.Client(base_url=chat_server.url, timeout=10) as client:
        for _ in range(2):
            response = client.post(
                "/api/chat/uploadFile",
                headers={"Authorization": f"Bearer {issue_token(user.pk)}"},
                files={"file": ("a.txt", b"hello", "text/plain")},
                data={"messageType": "3"},
            )
            assert response.status_code == 201, response.text
    assert Upload.objects.count() == 2
