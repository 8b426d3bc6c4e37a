"""GET /uploads/<name>: served from the storage, never run in our origin (CONTRACT §6)."""

from __future__ import annotations

import pytest

from tests.api.helpers import error
from tests.uploads import files
from tests.uploads.helpers import uploaded

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api, make_user):
    return api(make_user("Alice"))


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_image_is_served_as_webp_without_sniffing(client, api):
    path = uploaded(client, files.png(), "a.png", 2)
    response = api().get(path)  # no token: the random name is the capability
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "attachment" not in response.get("Content-Disposition", "")
    assert body(response)[:4] == b"RIFF"


@pytest.mark.parametrize("name", ["evil.html", "evil.svg", "evil.htm"])
def test_type_3_is_always_an_attachment(client, api, name):
    content = b"<html><script>alert(document.cookie)</script></html>"
    path = uploaded(client, content, name, 3)
    response = api().get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert name in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert body(response) == content


def test_video_answers_byte_ranges(client, api):
    content = files.mp4() + bytes(range(256)) * 4
    path = uploaded(client, content, "clip.mp4", 4)
    response = api().get(path, HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-19/{len(content)}"
    assert response["Content-Type"] == "video/mp4"
    assert body(response) == content[10:20]
    tail = api().get(path, HTTP_RANGE="bytes=-5")
    assert tail.status_code == 206 and body(tail) == content[-5:]
    assert api().get(path, HTTP_RANGE=f"bytes={len(content)}-").status_code == 416
    whole = api().get(path)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes" and body(whole) == content


def test_ranges_with_huge_numbers_are_answered_not_a_500(client, api):
    """Python's int() refuses strings past 4,300 digits; such a Range is as unsatisfiable (or, as a
    suffix, as whole) as any number beyond the file's size."""
    content = files.mp4() + bytes(range(256))
    path = uploaded(client, content, "clip.mp4", 4)
    for digits in ("9" * 30, "9" * 5000):
        beyond = api().get(path, HTTP_RANGE=f"bytes={digits}-")
        assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(content)}"
        suffix = api().get(path, HTTP_RANGE=f"bytes=-{digits}")
        assert suffix.status_code == 206 and body(suffix) == content
        open_end = api().get(path, HTTP_RANGE=f"bytes=3-{digits}")
        assert open_end.status_code == 206 and body(open_end) == content[3:]
    padded = api().get(path, HTTP_RANGE="bytes=" + "0" * 40 + "10-" + "0" * 40 + "19")
    assert padded.status_code == 206 and body(padded) == content[10:20]


@pytest.mark.parametrize(
    "path",
    [
        "/uploads/chat-messages/images/doesnotexist0000.webp",
        "/uploads/../chat_project/settings.py",
        "/uploads/chat-messages/images/../../db.sqlite3",
        "/uploads/chat-messages/images/%2e%2e%2f%2e%2e%2fdb.sqlite3",
        "/uploads/chat-messages/other/abcdefgh12345678.txt",
        "/uploads/",
    ],
)
def test_unknown_and_traversing_paths_are_404(api, path):
    response = api().get(path)
    assert response.status_code == 404


def test_files_written_outside_uploads_are_not_served(api, media_root):
    (media_root / "chat-messages" / "files").mkdir(parents=True)
    (media_root / "chat-messages" / "files" / "abcdefgh12345678.txt").write_text("not recorded")
    error(api().get("/uploads/chat-messages/files/abcdefgh12345678.txt"), 404, "not_found")


def test_only_get_and_head(client, api):
    path = uploaded(client, b"x", "a.txt", 3)
    assert api().head(path).status_code == 200
    assert api().post(path).status_code == 405


def test_s3_is_asked_for_the_range_not_the_whole_object(client, api, monkeypatch):
    """django-storages' S3 files download the whole object before the first read; the view asks S3
    for the byte range instead, so a video is streamed, never buffered."""
    import io

    from uploads import views

    content = files.mp4() + bytes(range(256)) * 8
    path = uploaded(client, content, "clip.mp4", 4)
    asked = []

    class FakeS3:
        class bucket:
            @staticmethod
            def Object(key):
                class Obj:
                    @staticmethod
                    def get(Range):
                        asked.append((key, Range))
                        first, last = (int(v) for v in Range.removeprefix("bytes=").split("-"))
                        return {"Body": io.BytesIO(content[first : last + 1])}

                return Obj

        @staticmethod
        def _normalize_name(name):
            return f"media/{name}"

        @staticmethod
        def open(name, mode="rb"):
            raise AssertionError("the whole object was opened")

    monkeypatch.setattr(views, "default_storage", FakeS3)
    response = api().get(path, HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206 and body(response) == content[100:200]
    assert body(api().get(path)) == content
    key = "media/" + path.removeprefix("/uploads/")
    assert asked == [(key, "bytes=100-199"), (key, f"bytes=0-{len(content) - 1}")]
