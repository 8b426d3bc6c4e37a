"""POST /api/chat/uploadFile through the REST client: every file type and every refusal (CONTRACT §6)."""

from __future__ import annotations

import io
import os

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from chat.errors import PayloadTooLarge
from tests.api.helpers import error, ok
from tests.uploads import files
from tests.uploads.helpers import URL, upload
from uploads.models import Upload
from uploads.views import LimitedTemporaryFileUploadHandler

pytestmark = pytest.mark.django_db


def stored(path: str) -> bytes:
    assert path.startswith("/uploads/")
    with default_storage.open(path.removeprefix("/uploads/"), "rb") as fh:
        return fh.read()


@pytest.fixture
def alice(make_user):
    return make_user("Alice")


@pytest.fixture
def client(api, alice):
    return api(alice)


def test_large_png_becomes_a_webp_within_1920(client, alice):
    path = ok(upload(client, files.large_png(4000, 3000), "big.png", 2, "image/png"), 201)
    assert path.startswith("/uploads/chat-messages/images/") and path.endswith(".webp")
    image = Image.open(io.BytesIO(stored(path)))
    assert image.format == "WEBP"
    assert image.size == (1920, 1440)
    record = Upload.objects.get(path=path)
    assert (record.uploader, record.message_type, record.content_type) == (alice, 2, "image/webp")
    assert record.size == len(stored(path))
    assert record.original_name == "big.png"


def test_jpeg_is_turned_upright_and_loses_exif_and_gps(client):
    source = files.jpeg(400, 200, orientation=6, gps=True)
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(0x8825)  # the source does carry GPS
    data = stored(ok(upload(client, source, "photo.JPG", 2, "image/jpeg"), 201))
    image = Image.open(io.BytesIO(data))
    # Orientation 6 = rotate 90° clockwise to view: the 400x200 photo stands up, red on top.
    assert image.size == (200, 400)
    rgb = image.convert("RGB")
    assert rgb.getpixel((100, 50))[0] > 150 and rgb.getpixel((100, 350))[2] > 150
    assert not image.getexif()
    assert "exif" not in image.info and "icc_profile" not in image.info and "xmp" not in image.info
    assert b"Exif" not in data and b"TestPhone" not in data and b"GPS" not in data


def test_iphone_heic_photo_becomes_a_webp(client):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (20, 200, 20)).save(buffer, format="HEIF")
    data = stored(ok(upload(client, buffer.getvalue(), "IMG_0001.HEIC", 2, "image/heic"), 201))
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == ("WEBP", (640, 480))
    assert image.convert("RGB").getpixel((10, 10))[1] > 150


def test_animated_gif_keeps_one_frame(client):
    data = stored(ok(upload(client, files.animated_gif(120), "anim.gif", 2, "image/gif"), 201))
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    assert getattr(image, "n_frames", 1) == 1


def test_jpeg_with_a_zip_appended_is_reencoded_without_it(client):
    data = stored(ok(upload(client, files.jpeg() + files.zip_bytes(), "polyglot.jpg", 2), 201))
    assert b"PK\x03\x04" not in data and b"payload.html" not in data


def test_decompression_bomb_header_is_refused(client):
    message = error(upload(client, files.png_claiming(50_000, 50_000), "bomb.png", 2), 400, "invalid")
    assert message.startswith("file:") and "pixels" in message
    assert not Upload.objects.exists()


def test_image_over_the_pixel_setting_is_refused(client, settings):
    settings.UPLOAD_IMAGE_MAX_PIXELS = 1000
    error(upload(client, files.png(40, 40), "small.png", 2), 400, "invalid")


def test_truncated_jpeg_is_refused(client):
    whole = files.noisy_jpeg()
    message = error(upload(client, whole[: len(whole) // 2], "cut.jpg", 2), 400, "invalid")
    assert message.startswith("file:")


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"just some text, not an image\n" * 10, "notes.png"),
        (files.png(), "picture.jpg"),  # content and extension disagree
        (files.png(), "picture.svg"),
        (files.png(), "picture"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "x.svg"),
    ],
)
def test_what_is_not_a_matching_image_is_refused(client, content, name):
    assert error(upload(client, content, name, 2), 400, "invalid").startswith("file:")


@pytest.mark.parametrize(
    ("content", "name", "message_type", "content_type"),
    [
        (files.wav(), "voice.wav", 1, "audio/wav"),
        (files.mp3(), "song.MP3", 1, "audio/mpeg"),
        (files.mp4(), "clip.mp4", 4, "video/mp4"),
        (files.mp4(), "clip.mov", 4, "video/quicktime"),
        (files.mp4(), "voice.m4a", 1, "audio/mp4"),
    ],
)
def test_audio_and_video_keep_their_bytes(client, content, name, message_type, content_type):
    path = ok(upload(client, content, name, message_type), 201)
    folder = "audios" if message_type == 1 else "videos"
    assert path.startswith(f"/uploads/chat-messages/{folder}/")
    assert path.endswith("." + name.rsplit(".", 1)[1].lower())
    assert stored(path) == content
    assert Upload.objects.get(path=path).content_type == content_type


@pytest.mark.parametrize(
    ("content", "name", "message_type"),
    [
        (files.wav(), "voice.mp3", 1),  # WAV named MP3
        (files.mp3(), "song.wav", 1),
        (files.mp4(), "clip.mp3", 1),  # a video sent as audio
        (files.mp4(), "clip.avi", 4),  # MP4 named AVI
        (files.mp4(), "clip.webm", 4),
        (files.wav(), "clip.mp4", 4),
        (files.mp4(), "clip.exe", 4),  # not in the spec's list
        (files.wav(), "voice", 1),
        (b"<html><script>alert(1)</script></html>", "page.mp4", 4),
    ],
)
def test_audio_and_video_with_the_wrong_extension_are_refused(client, content, name, message_type):
    assert error(upload(client, content, name, message_type), 400, "invalid").startswith("file:")
    assert not Upload.objects.exists()


def test_type_3_takes_any_file(client):
    html = b"<html><script>alert(document.cookie)</script></html>"
    path = ok(upload(client, html, "page.html", 3, "text/html"), 201)
    assert path.startswith("/uploads/chat-messages/files/") and path.endswith(".html")
    assert stored(path) == html
    record = Upload.objects.get(path=path)
    assert record.message_type == 3 and record.original_name == "page.html"


def test_names_are_random_and_never_the_clients(client):
    paths = {ok(upload(client, b"same", "same.txt", 3), 201) for _ in range(3)}
    assert len(paths) == 3
    for path in paths:
        stem = path.rsplit("/", 1)[1].split(".")[0]
        assert "same" not in stem and len(stem) >= 32


@pytest.mark.parametrize(
    "name",
    [
        "../../../etc/passwd.txt",
        "..\\..\\windows\\win.ini",
        "/absolute/path/report.pdf",
        "bad\x00name.txt",
        "a" * 1000 + ".txt",
        "x" * 300,
        "....",
        "résumé ✓.pdf",
    ],
)
def test_hostile_names_never_reach_the_storage_path(client, media_root, name):
    response = upload(client, b"content", name, 3)
    if response.status_code == 400:  # a name Django itself refuses
        error(response, 400, "invalid")
        return
    path = ok(response, 201)
    assert path.startswith("/uploads/chat-messages/files/")
    assert ".." not in path and "\x00" not in path and "\\" not in path and len(path) < 120
    record = Upload.objects.get(path=path)
    assert "/" not in record.original_name and "\x00" not in record.original_name
    assert len(record.original_name) <= 255
    # Nothing was written outside the media root.
    assert (media_root / record.storage_name).is_file()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"messageType": 2}, "file"),
        ({"messageType": 0, "file": SimpleUploadedFile("a.txt", b"x")}, "messageType"),
        ({"messageType": 5, "file": SimpleUploadedFile("a.txt", b"x")}, "messageType"),
        ({"messageType": "image", "file": SimpleUploadedFile("a.txt", b"x")}, "messageType"),
        ({"file": SimpleUploadedFile("a.txt", b"x")}, "messageType"),
        ({"messageType": 3, "file": SimpleUploadedFile("a.txt", b"")}, "file"),
    ],
)
def test_bad_fields_are_named(client, data, field):
    assert error(client.post(URL, data, format="multipart"), 400, "invalid").startswith(f"{field}:")


def test_json_body_is_refused(client):
    error(client.post(URL, {"messageType": 2}, format="json"), 415, "invalid")


def test_without_a_token_is_401(api):
    error(upload(api(), files.png(), "a.png", 2), 401, "unauthorized")
    response = api().post(URL, {}, HTTP_AUTHORIZATION="Bearer not-a-jwt")
    error(response, 401, "unauthorized")
    assert not Upload.objects.exists()


@pytest.mark.parametrize(("message_type", "setting"), [(1, "AUDIO"), (2, "IMAGE"), (3, "FILE"), (4, "VIDEO")])
def test_each_type_has_its_size_limit(client, settings, message_type, setting):
    settings.UPLOAD_MAX_AUDIO_BYTES = settings.UPLOAD_MAX_IMAGE_BYTES = 100_000
    settings.UPLOAD_MAX_FILE_BYTES = settings.UPLOAD_MAX_VIDEO_BYTES = 100_000
    setattr(settings, f"UPLOAD_MAX_{setting}_BYTES", 1000)
    content = {1: files.wav(0.2), 2: files.noisy_jpeg(200, 200), 3: b"x" * 5000, 4: files.mp4() + b"\0" * 5000}
    name = {1: "a.wav", 2: "a.jpg", 3: "a.bin", 4: "a.mp4"}[message_type]
    assert len(content[message_type]) > 1000
    message = error(upload(client, content[message_type], name, message_type), 413, "invalid")
    assert message.startswith("file:")
    assert not Upload.objects.exists()


def test_body_over_every_limit_is_refused_while_streaming(client, settings):
    """A body declared larger than the largest limit is refused before it is parsed (the view's
    Content-Length check answers here; behind uvicorn the guard answers even earlier)."""
    settings.UPLOAD_MAX_AUDIO_BYTES = settings.UPLOAD_MAX_IMAGE_BYTES = 1000
    settings.UPLOAD_MAX_FILE_BYTES = settings.UPLOAD_MAX_VIDEO_BYTES = 1000
    settings.UPLOAD_MULTIPART_OVERHEAD_BYTES = 0
    response = client.post(
        URL,
        {
            "file": SimpleUploadedFile("a.bin", b"x" * 900),
            "other": SimpleUploadedFile("b.bin", b"y" * 900),
            "messageType": 3,
        },
        format="multipart",
    )
    error(response, 413, "invalid")


def test_upload_handler_stops_writing_past_the_limit():
    """The view's upload handler counts what it writes, for a body whose Content-Length did not give
    it away. No request in these tests reaches that point (the guard and the view refuse first), so
    it is driven directly: past the limit the temporary file is closed and removed."""
    handler = LimitedTemporaryFileUploadHandler(None, limit=10)
    handler.new_file("file", "a.bin", "application/octet-stream", None)
    handler.receive_data_chunk(b"x" * 8, 0)
    temporary = handler.file.temporary_file_path()
    with pytest.raises(PayloadTooLarge):
        handler.receive_data_chunk(b"x" * 8, 8)
    assert handler.file.closed and not os.path.exists(temporary)


def test_media_path_is_accepted_only_for_its_type(client, alice):
    from uploads.selectors import upload_sendable

    path = ok(upload(client, files.wav(), "v.wav", 1), 201)
    assert upload_sendable(sender_id=alice.pk, path=path, message_type=1) is not None
    assert upload_sendable(sender_id=alice.pk, path=path, message_type=4) is None
    assert upload_sendable(sender_id=alice.pk, path="/uploads/chat-messages/audios/forged.wav", message_type=1) is None


def test_colour_profile_is_applied_then_dropped(client):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 240)).save(source, "JPEG", icc_profile=icc)
    assert Image.open(io.BytesIO(source.getvalue())).info.get("icc_profile")
    data = stored(ok(upload(client, source.getvalue(), "p3.jpg", 2), 201))
    image = Image.open(io.BytesIO(data))
    assert "icc_profile" not in image.info and image.size == (300, 200)
    r, g, b = image.convert("RGB").getpixel((150, 100))
    assert abs(r - 10) < 12 and abs(g - 120) < 12 and abs(b - 240) < 12
