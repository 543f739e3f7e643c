"""The one image decoder: dataset files and uploaded bytes -> RGB ``uint8`` pixels.

Files (``load_rgb``) and uploads (``service.uploads.decode_image``) go through this module so
that an image gives the same pixels whichever way it arrives: 16-bit and float rasters are
stretched by one rule, and errors name the file or upload. The pixel limit is checked per call
from the header, before any pixel is decoded, instead of through Pillow's process-wide
``Image.MAX_IMAGE_PIXELS`` (which would change every other decode in the process).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from terrahash.data.stretch import robust_limits, to_uint8
from terrahash.errors import ImageError, ImageTooLargeError


def decode_image(
    source: bytes | str | os.PathLike[str],
    size: int | None = None,
    *,
    name: str | None = None,
    max_pixels: int | None = None,
    formats: Sequence[str] | None = None,
) -> np.ndarray:
    """Decode an image file or its bytes to RGB ``uint8`` (H, W, 3).

    Args:
        source: a path, or the file's bytes (an upload).
        size: resize to ``size`` x ``size`` (bilinear) when given.
        name: how errors name the image (default: the path, or ``"image"`` for bytes).
        max_pixels: refuse images with more pixels, judged from the header alone.
        formats: Pillow format names to try (``["PNG"]``); default: every format Pillow reads.

    Raises:
        ImageError: the file is missing, empty or not a readable image.
        ImageTooLargeError: the image is over ``max_pixels`` (or Pillow's own bomb limit).
    """

    stream: io.BytesIO | str | os.PathLike[str]
    if isinstance(source, bytes):
        label, stream = name or "image", io.BytesIO(source)
        if not source:
            raise ImageError(label, "image file is empty")
    else:
        label, stream = name or os.fspath(source), source
    try:
        # Image.open reads the header only: the size is checked before any pixel is decoded.
        with Image.open(stream, formats=list(formats) if formats else None) as img:
            width, height = img.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageTooLargeError(
                    label, f"image is {width}x{height} pixels, more than the {max_pixels} allowed"
                )
            rgb = np.array(_to_rgb(img), dtype=np.uint8)
            return rgb if size is None else resize_rgb(rgb, size)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(label, f"refused as a decompression bomb ({exc})") from exc
    except FileNotFoundError as exc:
        raise ImageError(label, "image file not found") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(label, "not a readable image (unknown format or corrupt header)") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's errors for corrupt pixel data
        raise ImageError(label, f"not a readable image ({exc})") from exc


def resize_rgb(rgb: np.ndarray, size: int) -> np.ndarray:
    """``rgb`` (H, W, 3) ``uint8`` resized to ``size`` x ``size`` (bilinear), as every image the model sees.

    Files, uploads and in-memory arrays all pass through here, so an archive image searched
    by its own pixels meets the model exactly as it was indexed.
    """
    if rgb.shape[:2] == (size, size):
        return rgb
    return np.array(Image.fromarray(rgb).resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB; 16-bit and float rasters (GeoTIFF, 16-bit PNG) get the tiles' stretch first."""
    if img.mode in ("I", "F") or img.mode.startswith("I;"):
        arr = np.asarray(img, dtype=np.float32)
        arr = np.where(np.isfinite(arr), arr, np.nan)
        finite = arr[np.isfinite(arr)]
        limits = robust_limits(finite) if finite.size else (0.0, 1.0)
        img = Image.fromarray(to_uint8(arr[None], [limits])[..., 0])
    return img.convert("RGB")
