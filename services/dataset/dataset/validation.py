"""Validation of one sample file by its content (never by its extension alone).

Each check returns what the service records about the file (image size, duration…) or raises
:class:`Rejected` naming the broken rule, so an import reports ``{file, rule, msg}`` and goes on.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import soundfile
from PIL import Image, UnidentifiedImageError

from dataset.config import Settings
from shared.naming import check_file_name, check_label_name

__all__ = ["ImageInfo", "Rejected", "check_audio", "check_image", "check_label", "check_name", "decode_text"]

_IMAGE_FORMATS = {"JPEG", "PNG", "BMP"}
# Pillow refuses absurd pixel counts as a decompression bomb; 5 MB files never need more.
Image.MAX_IMAGE_PIXELS = 100_000_000


class Rejected(Exception):
    """A file that breaks a rule; ``rule`` is a short stable identifier, ``field`` the part of the file at fault."""

    def __init__(self, rule: str, msg: str, *, field: str | None = None) -> None:
        super().__init__(msg)
        self.rule, self.msg, self.field = rule, msg, field


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    depth: int


def _check_size(data: bytes, limit: int, what: str) -> None:
    if not data:
        raise Rejected("empty_file", "the file is empty")
    if len(data) > limit:
        raise Rejected("file_too_large", f"{what} has {len(data)} bytes; at most {limit} are allowed")


def check_image(data: bytes, settings: Settings) -> ImageInfo:
    """A JPG/PNG/BMP that decodes completely (a truncated or renamed file is rejected)."""
    _check_size(data, settings.image_max_bytes, "the image")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            bands = len(image.getbands())
            return_value = ImageInfo(image.width, image.height, min(3, bands))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Rejected("image_decode", f"not a readable JPG/PNG/BMP image: {exc}") from exc
    if fmt not in _IMAGE_FORMATS:
        raise Rejected("image_format", f"image format {fmt} is not one of JPG, PNG, BMP")
    return return_value


def check_audio(data: bytes, settings: Settings) -> float:
    """A 16-bit WAV (any sub-format) longer than the minimum duration; returns the duration in seconds."""
    _check_size(data, settings.audio_max_bytes, "the WAV file")
    try:
        info = soundfile.info(io.BytesIO(data))
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise Rejected("audio_format", f"not a readable WAV file: {exc}") from exc
    if info.format != "WAV":
        raise Rejected("audio_format", f"audio format {info.format} is not WAV")
    if "16" not in info.subtype:
        raise Rejected("audio_bit_depth", f"WAV sub-format {info.subtype} is not 16-bit")
    duration = info.frames / info.samplerate if info.samplerate else 0.0
    if duration <= settings.audio_min_seconds:
        raise Rejected(
            "audio_duration",
            f"the sound lasts {duration:.2f} s; it must be longer than {settings.audio_min_seconds:g} s",
        )
    return duration


def decode_text(data: bytes, limit: int, *, allow_empty: bool = False) -> str:
    """UTF-8 text (a BOM is dropped); other encodings are rejected."""
    if not data and allow_empty:
        return ""
    _check_size(data, limit, "the text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Rejected("text_encoding", f"the file is not UTF-8 text (byte {exc.start})") from exc


def check_name(path: str, *, forbid_chinese: bool = False) -> None:
    problem = check_file_name(path, forbid_chinese=forbid_chinese)
    if problem is not None:
        raise Rejected(*problem)


def check_label(name: str, *, allow_chinese: bool = False) -> str:
    name = name.strip()
    problem = check_label_name(name, allow_chinese=allow_chinese)
    if problem is not None:
        raise Rejected(*problem)
    return name
