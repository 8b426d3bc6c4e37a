"""Pure functions over uploaded bytes: image re-encoding and audio/video sniffing (CONTRACT §6).

Nothing here touches the database or the storage; the service decides what to do with the answers.
Every refusal is a `MediaRejected` with a sentence for the person who sent the file.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

AUDIO, IMAGE, FILE, VIDEO = 1, 2, 3, 4

# Folder under chat-messages/ for each messageType, as the spec's paths show.
FOLDERS = {AUDIO: "audios", IMAGE: "images", FILE: "files", VIDEO: "videos"}

# The formats a phone or a browser sends. Everything else Pillow could decode (PSD, TGA, ICO, EPS
# through Ghostscript, ...) is never tried: fewer decoders, fewer parser bugs reachable from the internet.
# HEIF is iPhones' HEIC photos, decoded by pillow-heif (a requirement).
IMAGE_EXTENSIONS = {
    "jpg": {"JPEG", "MPO"},
    "jpeg": {"JPEG", "MPO"},
    "jfif": {"JPEG", "MPO"},
    "png": {"PNG"},
    "webp": {"WEBP"},
    "gif": {"GIF"},
    "heic": {"HEIF"},
    "heif": {"HEIF"},
}
IMAGE_DECODERS = ["JPEG", "PNG", "WEBP", "GIF", "HEIF"]
pillow_heif.register_heif_opener()

# The spec's lists, each with the containers its content may sniff as.
AUDIO_EXTENSIONS = {
    "mp3": {"mp3"},
    "wav": {"wav"},
    "ogg": {"ogg"},
    "m4a": {"isobmff"},
    "aac": {"adts", "isobmff"},
    "flac": {"flac"},
    "wma": {"asf"},
}
VIDEO_EXTENSIONS = {
    "mp4": {"isobmff"},
    "mov": {"isobmff"},
    "avi": {"avi"},
    "wmv": {"asf"},
    "flv": {"flv"},
    "webm": {"ebml"},
    "mkv": {"ebml"},
}
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wma": "audio/x-ms-wma",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "avi": "video/x-msvideo",
    "wmv": "video/x-ms-wmv",
    "flv": "video/x-flv",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "webp": "image/webp",
}

MAX_SIDE = 1920
WEBP_QUALITY = 80


class MediaRejected(ValueError):
    """The file is not what its type or extension says, or cannot be processed safely."""


# --- names ----------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_original_name(name: str | None, *, max_length: int = 255) -> str:
    """The client's file name, kept for the record only: no directories, no control characters."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = _CONTROL.sub("", name).replace("\\", "/")
    name = name.rsplit("/", 1)[-1].strip().lstrip(".")
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[: max_length - len(ext) - 1] + (f".{ext}" if ext else "")
    return name


def extension_of(name: str) -> str:
    """The lower-case extension of a cleaned name, or "" when it has none we can use."""
    _, dot, ext = name.rpartition(".")
    ext = ext.lower()
    if not dot or not re.fullmatch(r"[a-z0-9]{1,10}", ext):
        return ""
    return ext


# --- images ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageResult:
    data: bytes
    width: int
    height: int
    source_format: str


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert a photo with an embedded colour profile (Display P3 on iPhones) to sRGB.

    The profile is dropped with the rest of the metadata, so without this the colours would shift.
    """
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image


def reencode_image(
    fp: BinaryIO, *, extension: str, max_pixels: int, max_side: int = MAX_SIDE, quality: int = WEBP_QUALITY
) -> ImageResult:
    """Decode a phone's image and re-encode it as a WebP without metadata.

    - Only the decoders of IMAGE_DECODERS run, and the sniffed format must agree with the extension.
    - The pixel count is read from the header and refused above `max_pixels` before any decoding.
    - EXIF orientation is applied, so the result is upright without its EXIF.
    - The result fits within `max_side` x `max_side`, aspect kept; animations keep their first frame.
    - EXIF (GPS included), XMP and ICC are not written; the pixels are converted to sRGB first.
    """
    allowed = IMAGE_EXTENSIONS.get(extension)
    if allowed is None:
        raise MediaRejected(f"file: images must be one of {', '.join(sorted(IMAGE_EXTENSIONS))}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(fp, formats=IMAGE_DECODERS)
    except Image.DecompressionBombError as exc:
        raise MediaRejected("file: the image has too many pixels.") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MediaRejected(f"file: this is not an image we can read ({', '.join(IMAGE_DECODERS)}).") from exc
    with image:
        if image.format not in allowed:
            raise MediaRejected(f"file: the content is {image.format}, which does not match the .{extension} name.")
        width, height = image.size
        if width < 1 or height < 1 or width * height > max_pixels:
            raise MediaRejected("file: the image has too many pixels.")
        try:
            if image.format in ("JPEG", "MPO"):
                # DCT scaling: a 48-megapixel photo decodes at a quarter of the size, far faster.
                image.draft("RGB", (max_side, max_side))
            image.seek(0)
            image.load()
            upright = ImageOps.exif_transpose(image)
            if upright.mode not in ("RGB", "RGBA"):
                has_alpha = upright.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in upright.info
                if upright.mode.startswith("I") or upright.mode == "F":
                    upright = upright.convert("I").point(lambda v: v / 256).convert("L")
                upright = upright.convert("RGBA" if has_alpha else "RGB")
            upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
            upright = _to_srgb(upright, image.info.get("icc_profile"))
            # A fresh image carries pixels only: nothing of the source's info dict can leak into the file.
            clean = Image.new(upright.mode, upright.size)
            clean.paste(upright)
            out = io.BytesIO()
            clean.save(out, "WEBP", quality=quality, method=4, exif=b"", xmp="", icc_profile=None)
        except Image.DecompressionBombError as exc:
            raise MediaRejected("file: the image has too many pixels.") from exc
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            # Truncated or corrupt data: Pillow only notices while decoding.
            raise MediaRejected("file: the image is damaged or incomplete.") from exc
        source_format = image.format
    return ImageResult(data=out.getvalue(), width=clean.width, height=clean.height, source_format=source_format)


# --- audio and video ------------------------------------------------------------------------------

SNIFF_BYTES = 64


def _id3_length(head: bytes) -> int:
    """Length of a leading ID3v2 tag (header, body and optional footer)."""
    size = 0
    for b in head[6:10]:
        size = (size << 7) | (b & 0x7F)
    footer = 10 if head[5] & 0x10 else 0
    return 10 + size + footer


def _container_at(head: bytes) -> str | None:
    if len(head) < 4:
        return None
    if head[4:8] == b"ftyp":
        return "isobmff"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "ebml"
    if head[:3] == b"FLV":
        return "flv"
    if head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        return "asf"
    if head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return "adts"  # AAC in ADTS frames: sync word, layer 00
    if head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] >> 1) & 0x03 and (head[2] >> 4) != 0x0F:
        return "mp3"  # MPEG audio frame: sync word, a layer, a valid bitrate index
    return None


def sniff_container(fp: BinaryIO) -> str | None:
    """The container family of an audio or video file from its first bytes, or None."""
    fp.seek(0)
    head = fp.read(SNIFF_BYTES)
    if head[:3] == b"ID3" and len(head) >= 10:
        # ID3 tags precede MP3 (and sometimes AAC) frames; look behind the tag.
        fp.seek(_id3_length(head))
        found = _container_at(fp.read(SNIFF_BYTES))
        fp.seek(0)
        return found or "mp3"
    fp.seek(0)
    return _container_at(head)


def check_audio_video(fp: BinaryIO, *, extension: str, message_type: int) -> str:
    """Refuse an audio or video file whose extension is not in the spec's list or disagrees with its
    content; return its content type."""
    table = AUDIO_EXTENSIONS if message_type == AUDIO else VIDEO_EXTENSIONS
    kind = "audio" if message_type == AUDIO else "video"
    families = table.get(extension)
    if families is None:
        raise MediaRejected(f"file: {kind} must be one of {', '.join(table)}.")
    found = sniff_container(fp)
    if found not in families:
        raise MediaRejected(f"file: the content is not {extension} {kind}.")
    return CONTENT_TYPES[extension]


def sniff_mime(path: str | os.PathLike) -> str:
    """A best guess of any file's type, for the record only (type 3 files are never served as it)."""
    import puremagic

    try:
        return puremagic.from_file(str(path), mime=True) or ""
    except (puremagic.PureError, OSError, ValueError):
        return ""
