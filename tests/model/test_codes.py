"""Codes: shapes and packing for every query kind and bit length, save/load, corrupt runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import terrahash
from terrahash.codes import pack_bits
from terrahash.data import load_dataset
from terrahash.model import ModelError, create_model, load_model
from terrahash.model.ccls2t import CCLS2T
from terrahash.model.checkpoint import save_run
from terrahash.model.tokenizer import PromptTokenizer


def _fresh_run(tiny_run: Path, tmp: Path, bits: int) -> Path:
    """A run folder with ``tiny_run``'s config at another bit length (untrained weights)."""
    config = json.loads((tiny_run / "config.json").read_text())
    config["bits"] = config["model"]["bits"] = bits
    torch.manual_seed(0)
    model, _ = create_model(dict(config["model"]), PromptTokenizer.from_dict(config["tokenizer"]))
    save_run(tmp, model.eval(), config)
    return tmp


@pytest.mark.parametrize("bits", [16, 32, 64, 128])
def test_every_kind_gives_packed_codes(bits: int, tiny_run: Path, tiny_data: Path, tmp_path: Path) -> None:
    run = tiny_run if bits == 32 else _fresh_run(tiny_run, tmp_path, bits)
    model = terrahash.load_model(run)
    ds = load_dataset(tiny_data)
    images = [ds.load_image(i) for i in range(5)]
    records = [it.record for it in list(ds)[:5]]
    for codes in (
        model.encode_images(images),
        model.encode_images([str(ds[i].path) for i in range(5)]),
        model.encode_images(images, records=records),
        model.encode_text(records),
        model.encode_text(["Image from sentinel-2a msi, acquired june 13 2017"] * 5),
    ):
        assert codes.dtype == np.uint8 and codes.shape == (5, bits // 8)
    assert model.embed_images(images).dtype == np.float32
    out = model.encode_dataset(ds, batch_size=16)
    for kind in ("image", "fused", "text"):
        assert out[f"codes_{kind}"].shape == (len(ds), bits // 8)
        assert out[f"emb_{kind}"].shape[0] == len(ds)
    assert np.array_equal(out["codes_image"][:5], model.encode_images(images))


def test_binarize_maps_zero_to_bit_one() -> None:
    bits = CCLS2T.binarize(torch.tensor([[0.0, -0.0, -1e-9, 2.0, -3.0, 0.0, 0.0, 0.0]]))
    assert pack_bits(bits.numpy()).tolist() == [[0b11010111]]


def test_fused_codes_fall_back_to_image_codes_without_record(tiny_run: Path, tiny_data: Path) -> None:
    model = load_model(tiny_run)
    ds = load_dataset(tiny_data)
    images = [ds.load_image(i) for i in range(3)]
    mixed = model.encode_images(images, records=[None, ds[1].record, None])
    alone = model.encode_images(images)
    assert np.array_equal(mixed[[0, 2]], alone[[0, 2]])


def test_save_then_load_gives_identical_codes(tiny_run: Path, tiny_data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    ds = load_dataset(tiny_data)
    a = load_model(tiny_run).encode_dataset(ds)
    b = load_model(copy).encode_dataset(ds)
    for key in ("codes_image", "codes_fused", "codes_text", "emb_image"):
        assert np.array_equal(a[key], b[key])


def test_truncated_weights_name_the_file(tiny_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    weights = run / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelError, match=r"model\.safetensors: error: corrupt"):
        load_model(run)


def test_edited_bits_are_refused(tiny_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = json.loads((run / "config.json").read_text())
    config["bits"] = config["model"]["bits"] = 64
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"model\.safetensors: error: weights do not match config\.json"):
        load_model(run)
    config["bits"] = 48
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"config\.json: error: bits 48"):
        load_model(run)
    (run / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"config\.json: error: not valid JSON"):
        load_model(run)


def test_text_queries_refused_for_image_only_model(tiny_run: Path, tmp_path: Path) -> None:
    config = json.loads((tiny_run / "config.json").read_text())
    config["use_text"], config["method"] = False, "csq"
    model, _ = create_model(
        dict(config["model"]), PromptTokenizer.from_dict(config["tokenizer"]), use_text=False
    )
    save_run(tmp_path, model, config)
    loaded = load_model(tmp_path)
    assert loaded.query_kinds == ("image", "fused")
    with pytest.raises(ModelError, match="without a text encoder"):
        loaded.encode_text(["image"])
