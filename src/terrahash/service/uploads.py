"""Untrusted uploads -> pixels and records: known image types only, bounded size, safe XML.

Everything a client sends is checked here before the model sees it. Image types are chosen
by magic bytes (never by the file name or the client's content type) and only that type's
Pillow decoder runs, through the same decoder as dataset files (``terrahash.data.images``)
with a per-upload pixel limit; metadata goes through the same safe parser as the CLI
(``terrahash.metadata.read_metadata``), which refuses XML entities and DTDs.
"""

from __future__ import annotations

import re

import numpy as np

from terrahash.data.images import decode_image as decode_pixels
from terrahash.errors import ImageError, ImageTooLargeError, TerraHashError
from terrahash.metadata import SceneRecord, read_metadata

#: Largest decoded image accepted, in pixels (a 8192 x 8192 scene); larger is refused with 413.
MAX_IMAGE_PIXELS = 8192 * 8192

#: Magic bytes of the image types the service decodes (anything else is refused with 400).
_MAGIC: tuple[tuple[str, bytes, int], ...] = (
    ("png", b"\x89PNG\r\n\x1a\n", 0),
    ("jpeg", b"\xff\xd8\xff", 0),
    ("tiff", b"II*\x00", 0),
    ("tiff", b"MM\x00*", 0),
    ("webp", b"WEBP", 8),
)
_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "webp": "WEBP"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(TerraHashError):
    """An uploaded file is unusable; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def sniff_image_type(data: bytes) -> str | None:
    """``png``, ``jpeg``, ``tiff`` or ``webp`` from the magic bytes, else ``None``."""
    for name, magic, offset in _MAGIC:
        if data[offset : offset + len(magic)] == magic and (name != "webp" or data[:4] == b"RIFF"):
            return name
    return None


def decode_image(data: bytes, filename: str = "image") -> np.ndarray:
    """Decode an uploaded image to RGB ``uint8`` (H, W, 3).

    Raises:
        UploadError: 400 for an empty, unknown or undecodable file; 413 for an image over
            ``MAX_IMAGE_PIXELS`` (including decompression bombs, refused before decoding).
    """
    name = display_name(filename)
    if not data:
        raise UploadError(f"{name}: the image file is empty")
    kind = sniff_image_type(data)
    if kind is None:
        raise UploadError(f"{name}: not a PNG, JPEG, TIFF or WebP image (checked by content)")
    try:
        return decode_pixels(data, name=name, max_pixels=MAX_IMAGE_PIXELS, formats=[_PIL_FORMATS[kind]])
    except ImageError as exc:
        raise UploadError(str(exc), status=413 if isinstance(exc, ImageTooLargeError) else 400) from exc


def parse_metadata(data: bytes, filename: str = "metadata") -> SceneRecord:
    """The first scene record of an uploaded metadata file (any format the readers accept).

    Raises:
        UploadError: 400 naming the file and the problem (unknown format, XXE, bad values).
    """
    name = display_name(filename)
    if not data:
        raise UploadError(f"{name}: the metadata file is empty")
    try:
        records = read_metadata(name, data)
    except TerraHashError as exc:
        raise UploadError(str(exc)) from exc
    return records[0]


def display_name(filename: str | None) -> str:
    """A client file name reduced to a safe label for messages (never used as a path)."""
    base = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    return _SAFE_NAME.sub("_", base)[:100] or "upload"
