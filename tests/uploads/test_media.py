"""The pure functions of uploads/media.py: names and container sniffing."""

from __future__ import annotations

import io

import pytest

from tests.uploads import files
from uploads import media


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("photo.JPG", "photo.JPG"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("bad\x00na\x1fme.txt", "badname.txt"),
        (".hidden", "hidden"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_original_name(raw, clean):
    assert media.clean_original_name(raw) == clean


def test_long_names_keep_their_extension():
    name = media.clean_original_name("a" * 1000 + ".pdf")
    assert len(name) == 255 and name.endswith(".pdf")


@pytest.mark.parametrize(
    ("name", "ext"), [("a.MP4", "mp4"), ("a.tar.gz", "gz"), ("noext", ""), ("a.", ""), ("a.we!rd", "")]
)
def test_extension_of(name, ext):
    assert media.extension_of(name) == ext


@pytest.mark.parametrize(
    ("content", "family"),
    [
        (files.wav(), "wav"),
        (files.mp3(), "mp3"),
        (files.mp3()[20:], "mp3"),  # frames without the ID3 tag
        (files.mp4(), "isobmff"),
        (b"OggS\x00\x02" + b"\x00" * 30, "ogg"),
        (b"fLaC\x00\x00\x00\x22" + b"\x00" * 30, "flac"),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 30, "ebml"),
        (b"FLV\x01\x05" + b"\x00" * 30, "flv"),
        (b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 30, "avi"),
        (bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + b"\x00" * 30, "asf"),
        (b"\xff\xf1\x50\x80" + b"\x00" * 30, "adts"),
        (b"<html>", None),
        (b"", None),
        (files.png(), None),
    ],
)
def test_sniff_container(content, family):
    assert media.sniff_container(io.BytesIO(content)) == family
