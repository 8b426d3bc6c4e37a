"""A large video goes through upload and download without being held in memory (CONTRACT §6)."""

from __future__ import annotations

import tracemalloc

import httpx
import pytest

from chat.tokens import issue_token
from tests.uploads import files

SIZE = 24 * 1024 * 1024
CHUNK = 256 * 1024


def multipart_video(boundary: str):
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="messageType"\r\n\r\n4\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    start = files.mp4()
    body_length = len(head) + SIZE + len(tail)

    def chunks():
        yield head + start
        sent = len(start)
        block = b"\0" * CHUNK
        while sent < SIZE:
            part = block[: min(CHUNK, SIZE - sent)]
            sent += len(part)
            yield part
        yield tail

    return body_length, chunks()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_large_video_is_streamed_both_ways(chat_server, make_user, settings, chunked):
    """Also without a Content-Length (chunked, as phones stream): the body is spooled to disk as it arrives."""
    user = make_user("Alice")
    boundary = "memtestboundary"
    length, body = multipart_video(boundary)
    headers = {
        "Authorization": f"Bearer {issue_token(user.pk)}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    if not chunked:
        headers["Content-Length"] = str(length)
    tracemalloc.start()
    try:
        response = httpx.post(chat_server.url + "/api/chat/uploadFile", content=body, headers=headers, timeout=30)
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert response.status_code == 201, response.text
        received = 0
        with httpx.stream("GET", chat_server.url + response.json()["data"], timeout=30) as download:
            assert download.status_code == 200
            for chunk in download.iter_bytes():
                received += len(chunk)
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == SIZE
    # Server and client share this process: all of it together stays far below the file's size.
    assert upload_peak < SIZE / 4, upload_peak
    assert download_peak < SIZE / 4, download_peak
