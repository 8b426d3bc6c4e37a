"""Uploads per user are limited by CHAT_RATE_LIMIT_UPLOADS (CONTRACT §11): 429 `rate_limited` in the REST
envelope, answered by the guard before the body is read, so a refused upload is never spooled,
processed or stored."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from chat.tokens import issue_token
from tests.uploads.live import multipart, post
from tests.uploads.test_upload_guard import connect, read_response, request_head
from uploads.models import Upload


def stored_files() -> list[str]:
    if not default_storage.exists("chat-messages/files"):
        return []
    return default_storage.listdir("chat-messages/files")[1]


@pytest.fixture
def two_a_minute(settings):
    settings.CHAT_RATE_LIMIT_UPLOADS = "2/1min"


def test_the_third_upload_in_a_minute_is_429_and_stores_nothing(chat_server, make_user, two_a_minute):
    alice, bob = make_user("Alice"), make_user("Bob")
    for n in range(2):
        assert post(chat_server, multipart(b"doc %d" % n, "a.txt", 3), user=alice).status_code == 201
    refused = post(chat_server, multipart(b"doc 3", "a.txt", 3), user=alice)
    assert refused.status_code == 429
    body = refused.json()
    assert body == {"success": False, "data": None, "message": body["message"], "code": "rate_limited"}
    assert "uploads" in body["message"]
    assert Upload.objects.filter(uploader=alice).count() == 2
    assert len(stored_files()) == 2
    # The budget is per user.
    assert post(chat_server, multipart(b"bob's", "b.txt", 3), user=bob).status_code == 201


def test_a_rate_limited_upload_is_refused_before_its_body_is_read(chat_server, make_user, two_a_minute):
    alice = make_user("Alice")
    for _ in range(2):
        assert post(chat_server, multipart(b"doc", "a.txt", 3), user=alice).status_code == 201
    with connect(chat_server) as sock:
        # Not one byte of the 40 MB body is sent: the answer comes anyway.
        sock.sendall(request_head(token=issue_token(alice.pk), extra=f"Content-Length: {40 * 1024 * 1024}\r\n"))
        status, _, body = read_response(sock)
    assert status == 429 and body["code"] == "rate_limited"


def test_refusals_before_the_budget_do_not_spend_it(chat_server, make_user, two_a_minute):
    """A body declared too large is refused first and costs nothing; so is a bad token."""
    alice = make_user("Alice")
    with connect(chat_server) as sock:
        sock.sendall(request_head(token=issue_token(alice.pk), extra=f"Content-Length: {900 * 1024 * 1024}\r\n"))
        assert read_response(sock)[0] == 413
    for _ in range(2):
        assert post(chat_server, multipart(b"doc", "a.txt", 3), user=alice).status_code == 201


def test_zero_turns_it_off(chat_server, make_user, settings):
    settings.CHAT_RATE_LIMIT_UPLOADS = "0"
    alice = make_user("Alice")
    for _ in range(5):
        assert post(chat_server, multipart(b"doc", "a.txt", 3), user=alice).status_code == 201
