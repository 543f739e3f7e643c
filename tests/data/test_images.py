"""The one image decoder: a file and its bytes give the same pixels, errors name the image."""

from __future__ import annotations

import io
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from terrahash.data import decode_image, load_rgb
from terrahash.data.stretch import STRETCH_PERCENTILES, robust_limits, to_uint8
from terrahash.errors import DatasetError, ImageError, ImageTooLargeError


def _save(path: Path, image: Image.Image, **options: object) -> bytes:
    image.save(path, **options)
    return path.read_bytes()


@pytest.fixture()
def png16(tmp_path: Path) -> tuple[Path, bytes, np.ndarray]:
    """A 16-bit greyscale PNG (values up to 40000) and its pixel values."""
    values = np.linspace(0, 40000, 32 * 24, dtype=np.uint16).reshape(24, 32)
    image = Image.fromarray(values)
    path = tmp_path / "grey16.png"
    return path, _save(path, image), values


@pytest.fixture()
def jpeg8(tmp_path: Path) -> tuple[Path, bytes]:
    rng = np.random.default_rng(0)
    path = tmp_path / "colour.jpg"
    return path, _save(path, Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)), quality=90)


def test_16bit_png_same_from_path_and_bytes(png16: tuple[Path, bytes, np.ndarray]) -> None:
    path, data, values = png16
    assert Image.open(path).mode.startswith("I")  # really decoded as a high-bit-depth mode
    from_path, from_bytes = decode_image(path), decode_image(data, name="grey16.png")
    assert from_path.shape == (24, 32, 3) and from_path.dtype == np.uint8
    np.testing.assert_array_equal(from_path, from_bytes)
    np.testing.assert_array_equal(from_path, load_rgb(path))
    # the tiles' 2-98 % stretch: not truncated to the low byte, grey in all channels
    lo, hi = np.percentile(values.astype(np.float32), STRETCH_PERCENTILES)
    expected = np.clip((values - lo) / (hi - lo) * 254 + 1, 1, 255)
    assert np.abs(from_path[..., 0].astype(int) - expected.astype(np.uint8)).max() <= 1
    assert (from_path[..., 0] == from_path[..., 2]).all() and from_path.max() == 255


def test_16bit_upload_keeps_the_ground_contrast_under_a_cloud(tmp_path: Path) -> None:
    """A bright cloud over a fifth of a 16-bit scene does not squeeze the ground (as tiles)."""
    rng = np.random.default_rng(0)
    values = rng.integers(800, 1200, size=(50, 50)).astype(np.uint16)
    values[:10] = 7400  # the cloud: as bright as the cloudy Sentinel-2 date's top percentiles
    path = tmp_path / "cloudy16.png"
    Image.fromarray(values).save(path)
    ground = decode_image(path)[10:, :, 0].astype(int)
    assert np.ptp(ground) > 200  # a plain 2-98 % stretch leaves it about 15 grey levels
    np.testing.assert_array_equal(decode_image(path)[..., 0], to_uint8(values[None].astype(np.float32),
                                  [robust_limits(values.astype(np.float32).ravel())])[..., 0])


def test_8bit_jpeg_same_from_path_and_bytes(jpeg8: tuple[Path, bytes]) -> None:
    path, data = jpeg8
    np.testing.assert_array_equal(decode_image(path), decode_image(data))
    np.testing.assert_array_equal(decode_image(path), np.asarray(Image.open(path).convert("RGB")))
    resized = decode_image(data, 16)
    assert resized.shape == (16, 16, 3)
    np.testing.assert_array_equal(resized, load_rgb(path, 16))


def test_corrupt_file_names_the_file(tmp_path: Path, jpeg8: tuple[Path, bytes]) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(ImageError, match=r"broken\.png: error: not a readable image"):
        decode_image(bad)
    with pytest.raises(DatasetError, match=r"broken\.png: error: not a readable image"):
        load_rgb(bad)  # callers that catch DatasetError keep working
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(jpeg8[1][: len(jpeg8[1]) // 2])
    with pytest.raises(ImageError, match=r"cut\.jpg: error: not a readable image"):
        decode_image(truncated)
    with pytest.raises(ImageError, match=r"upload\.jpg: error: not a readable image"):
        decode_image(truncated.read_bytes(), name="upload.jpg")
    with pytest.raises(ImageError, match=r"gone\.png: error: image file not found"):
        decode_image(tmp_path / "gone.png")
    with pytest.raises(ImageError, match=r"^image: error: image file is empty"):
        decode_image(b"")


def test_format_restriction(jpeg8: tuple[Path, bytes]) -> None:
    with pytest.raises(ImageError, match="not a readable image"):
        decode_image(jpeg8[1], formats=["PNG"])
    assert decode_image(jpeg8[1], formats=["JPEG"]).shape == (20, 30, 3)


def test_pixel_limit_is_per_call(jpeg8: tuple[Path, bytes]) -> None:
    limit_before = Image.MAX_IMAGE_PIXELS
    too_many = r"colour\.jpg: error: image is 30x20 pixels, more than the 599 allowed"
    with pytest.raises(ImageTooLargeError, match=too_many):
        decode_image(jpeg8[0], max_pixels=599)
    assert decode_image(jpeg8[0], max_pixels=600).shape == (20, 30, 3)
    assert limit_before == Image.MAX_IMAGE_PIXELS  # nothing process-wide was changed


def test_decompression_bomb_header_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("1", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = (100_000).to_bytes(4, "big") * 2  # IHDR width and height: 10^10 pixels
    data[29:33] = zlib.crc32(data[12:29]).to_bytes(4, "big")  # the IHDR chunk's CRC
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ImageTooLargeError, match="bomb.png"):
            decode_image(bytes(data), name="bomb.png")


def test_importing_terrahash_changes_no_process_wide_pillow_setting() -> None:
    """Pillow's pixel limit and the warning filters are the host program's, not ours."""
    import subprocess
    import sys

    code = (
        "import warnings; from PIL import Image\n"
        "limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)\n"
        "import terrahash.cli, terrahash.service.app, terrahash.data.images\n"
        "assert Image.MAX_IMAGE_PIXELS == limit, Image.MAX_IMAGE_PIXELS\n"
        "added = [f for f in warnings.filters if f not in filters]\n"
        "assert not [f for f in added if f[2] is not None and 'DecompressionBomb' in f[2].__name__], added\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
