"""Uploading to the live server with a real HTTP client: multipart bodies built by hand, so that a test
decides whether they go with a Content-Length or chunked (as Android's and iOS's streaming clients send)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from chat.tokens import issue_token

URL = "/api/chat/uploadFile"
BOUNDARY = "liveuploadboundary"


def multipart(content: bytes, name: str, message_type: int) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="messageType"\r\n\r\n{message_type}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def pieces(body: bytes, size: int = 8192) -> Iterator[bytes]:
    """`body` as an iterator: httpx then sends it chunked, without a Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def post(server, body, *, token: str | None = None, user=None, chunked: bool = False, timeout: float = 30):
    """POST `body` (bytes) to uploadFile, with a Content-Length or, `chunked`, without one."""
    if token is None and user is not None:
        token = issue_token(user.pk)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    content = pieces(body) if chunked else body
    return httpx.post(server.url + URL, content=content, headers=headers, timeout=timeout)
