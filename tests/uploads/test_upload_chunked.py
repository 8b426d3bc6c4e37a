"""Uploads without a Content-Length (Transfer-Encoding: chunked), as the streaming HTTP clients of
Android and iOS send them: the same answer as with a length, under the same limits (CONTRACT §6)."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from chat.tokens import issue_token
from tests.uploads import files
from tests.uploads.live import multipart, pieces, post
from uploads.models import Upload


def stored(path: str) -> bytes:
    with default_storage.open(path.removeprefix("/uploads/"), "rb") as fh:
        return fh.read()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_small_file_is_stored_the_same_either_way(chat_server, make_user, chunked):
    user = make_user("Alice")
    content = b"minutes of the meeting\n" * 100
    response = post(chat_server, multipart(content, "notes.txt", 3), user=user, chunked=chunked)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    path = body["data"]
    assert path.startswith("/uploads/chat-messages/files/") and path.endswith(".txt")
    assert stored(path) == content
    record = Upload.objects.get(path=path)
    assert (record.uploader_id, record.size, record.original_name) == (user.pk, len(content), "notes.txt")
    assert httpx.get(chat_server.url + path, timeout=10).content == content


def test_a_chunked_image_is_reencoded_like_any_other(chat_server, make_user):
    user = make_user("Alice")
    response = post(chat_server, multipart(files.large_png(2400, 1200), "wide.png", 2), user=user, chunked=True)
    assert response.status_code == 201, response.text
    image = Image.open(io.BytesIO(stored(response.json()["data"])))
    assert (image.format, image.size) == ("WEBP", (1920, 960))


def test_a_chunked_body_past_the_request_limit_is_413_and_stores_nothing(chat_server, make_user, small_limits):
    """The guard counts the chunks as they arrive; the client still reads the answer, because the rest
    of a refused body is read and discarded (up to UPLOAD_REFUSED_DRAIN_BYTES) before the connection closes."""
    user = make_user("Alice")
    body = multipart(b"\0" * (4 * small_limits), "big.bin", 3)
    response = post(chat_server, body, user=user, chunked=True)
    assert response.status_code == 413
    assert response.json() == {
        "success": False,
        "data": None,
        "message": "The request body is too large.",
        "code": "invalid",
    }
    assert not Upload.objects.exists()


def test_a_chunked_body_past_its_type_limit_is_413(chat_server, make_user, small_limits):
    """Within the request limit, above the audio limit: the view's own check, as with a Content-Length."""
    user = make_user("Alice")
    response = post(chat_server, multipart(files.wav(2.0), "voice.wav", 1), user=user, chunked=True)  # 32 kB
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "invalid" and "20000 bytes" in response.json()["message"]
    assert not Upload.objects.exists()


def test_a_chunked_body_without_a_token_is_401(chat_server, small_limits):
    response = post(chat_server, multipart(b"x" * 100_000, "a.txt", 3), chunked=True)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_a_chunked_json_body_reaches_the_rest_api_too(chat_server, make_user):
    """The guard gives every chunked request its length, not only uploads."""
    alice, bob = make_user("Alice"), make_user("Bob")
    response = httpx.post(
        chat_server.url + "/api/friendships",
        content=pieces(json.dumps({"userId": str(bob.pk)}).encode(), size=7),
        headers={"Authorization": f"Bearer {issue_token(alice.pk)}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["userId"] == str(bob.pk)
