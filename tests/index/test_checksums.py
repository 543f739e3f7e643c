"""A damaged data file is caught on open by the checksums the manifest records at write time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from terrahash.index import CorruptIndexError, Index
from tests.index.helpers import random_codes

FIXTURES = Path(__file__).parents[1] / "fixtures"
N, BITS = 200, 64


@pytest.fixture()
def index_dir(tmp_path: Path) -> Path:
    root = tmp_path / "index"
    embeddings = np.random.default_rng(3).standard_normal((N, 16)).astype(np.float32)
    with Index.create(root, bits=BITS) as index:
        index.add([f"s{i:03d}" for i in range(N)], random_codes(N, BITS, seed=1),
                  labels=[["forest"]] * N, embeddings=embeddings)
    return root


def _generation(root: Path) -> Path:
    return root / json.loads((root / "manifest.json").read_text())["generation"]


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_manifest_records_every_file_of_its_generation(index_dir: Path) -> None:
    manifest = json.loads((index_dir / "manifest.json").read_text())
    gen = _generation(index_dir)
    recorded = manifest["checksums"]
    assert recorded["generation"] == gen.name
    assert set(recorded["files"]) == {p.name for p in gen.iterdir()}
    assert recorded["files"]["codes.npy"]["bytes"] == (gen / "codes.npy").stat().st_size
    assert len(recorded["files"]["codes.npy"]["sha256"]) == 64


@pytest.mark.parametrize("name", ["codes.npy", "seqs.npy", "embeddings.npy"])
def test_flipped_byte_is_detected_on_open(index_dir: Path, name: str) -> None:
    path = _generation(index_dir) / name
    _flip_byte(path, path.stat().st_size - 5)  # in the data, past the header: still a valid .npy
    assert np.load(path).shape[0] == N
    with pytest.raises(CorruptIndexError, match=rf"^{path}: error: checksum mismatch .* damaged"):
        Index.open(index_dir)


def test_truncated_file_is_detected_by_its_size(index_dir: Path) -> None:
    path = _generation(index_dir) / "catalog.sqlite"
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size - 4096)
    with pytest.raises(CorruptIndexError, match=rf"^{path}: error: holds \d+ bytes, but \d+ were written"):
        Index.open(index_dir)


def test_missing_file_is_named(index_dir: Path) -> None:
    (_generation(index_dir) / "tree.npz").unlink()
    with pytest.raises(CorruptIndexError, match=r"error: tree.npz is missing from g\d+"):
        Index.open(index_dir)


def test_index_without_checksums_opens_and_gains_them_on_write(tmp_path: Path) -> None:
    root = tmp_path / "previous"
    shutil.copytree(FIXTURES / "index-previous", root)  # written before checksums existed
    with Index.open(root) as index:
        assert "checksums" not in index.manifest and len(index) == 40
        index.add(["new0"], np.full((1, 8), 255, dtype=np.uint8))
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["checksums"]["generation"] == manifest["generation"]
    Index.open(root).close()


def test_record_of_another_generation_is_not_checked(index_dir: Path) -> None:
    """A writer that predates checksums carries the old record into its next manifest: that
    record names the previous generation, so it must not fail the new one."""
    manifest = json.loads((index_dir / "manifest.json").read_text())
    manifest["checksums"]["generation"] = "g000001"
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    _flip_byte(_generation(index_dir) / "codes.npy", -5)
    with Index.open(index_dir) as index:
        assert len(index) == N


def test_cli_names_the_damaged_file(index_dir: Path) -> None:
    from typer.testing import CliRunner

    from terrahash.cli import app

    path = _generation(index_dir) / "codes.npy"
    _flip_byte(path, path.stat().st_size - 1)
    result = CliRunner().invoke(app, ["index", "info", str(index_dir)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "checksum mismatch" in result.output and "codes.npy" in result.output
