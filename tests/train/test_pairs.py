"""Temporal positives and per-image normalisation: what unsupervised training reads for unlabelled archives.

Checked on tiles of the two real Sentinel-2 dates (Brandenburg, 2016-05-29 and 2016-06-08).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.sameplace import cut_tiles
from terrahash.data import default_data_dir
from terrahash.data.dataset import load_dataset
from terrahash.data.transforms import normalize
from terrahash.evaluate.overlap import overlap_fraction
from terrahash.train.pairs import MIN_PARTNER_OVERLAP, draw_partners, temporal_partners

RASTERS = default_data_dir() / "rasters" / "sentinel2_brandenburg"


@pytest.fixture(scope="module")
def tiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not RASTERS.is_dir():
        pytest.skip("shared Sentinel-2 rasters not found")
    return cut_tiles(RASTERS, tmp_path_factory.mktemp("pairs") / "tiles", 64)


def test_partners_are_other_dates_of_the_same_ground_within_the_training_part(tiles: Path) -> None:
    ds = load_dataset(tiles)
    train = list(range(0, len(ds), 2))  # every other tile: partners must come from these only
    partners = temporal_partners(ds, train)
    assert partners is not None and partners.shape[0] == len(ds)
    have = torch.nonzero(partners[:, 0] >= 0).flatten().tolist()
    assert len(have) > 300
    assert set(have) <= set(train)
    boxes = np.array([ds[i].record.bbox for i in range(len(ds))])
    for i in have[:200]:
        row = [int(j) for j in partners[i] if j >= 0]
        assert set(row) <= set(train)
        assert all(ds[j].record.datetime.date() != ds[i].record.datetime.date() for j in row)
        cover = overlap_fraction(boxes[i : i + 1], boxes[row])[0]
        assert np.all(cover >= MIN_PARTNER_OVERLAP)
        assert np.all(np.diff(cover) <= 1e-12)  # the most overlapping first
    # a brute-force check of one item: no qualifying partner was missed
    i = have[0]
    others = [j for j in train if ds[j].record.datetime.date() != ds[i].record.datetime.date()]
    cover = overlap_fraction(boxes[i : i + 1], boxes[others])[0]
    expected = {others[k] for k in np.flatnonzero(cover >= MIN_PARTNER_OVERLAP)}
    assert {int(j) for j in partners[i] if j >= 0} <= expected
    assert len({int(j) for j in partners[i] if j >= 0}) == min(len(expected), partners.shape[1])


def test_one_date_has_no_partners(tiles: Path) -> None:
    ds = load_dataset(tiles)
    first = ds[0].record.datetime.date()
    same_day = [i for i in range(len(ds)) if ds[i].record.datetime.date() == first]
    assert temporal_partners(ds, same_day) is None


def test_draw_partners_picks_a_listed_partner_or_the_item_itself() -> None:
    partners = torch.tensor([[5, 6, -1], [-1, -1, -1], [7, -1, -1]])
    idx = torch.tensor([0, 1, 2])
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(50):
        drawn = draw_partners(partners, idx, gen)
        assert drawn[0].item() in (5, 6) and drawn[1].item() == 1 and drawn[2].item() == 7
        seen.add(drawn[0].item())
    assert seen == {5, 6}


def test_per_image_normalisation_removes_a_gain_and_an_offset() -> None:
    rng = np.random.default_rng(0)
    base = torch.from_numpy(rng.integers(40, 90, size=(2, 3, 32, 32)).astype(np.float32))
    brighter = base * 2.5 + 20.0  # another stretch of the same ground (within 0-255)
    a = normalize(base, [0.5] * 3, [0.2] * 3, per_image=True)
    b = normalize(brighter, [0.5] * 3, [0.2] * 3, per_image=True)
    assert torch.allclose(a, b, atol=1e-4)
    stats = ([0.5] * 3, [0.2] * 3)
    assert not torch.allclose(normalize(base, *stats), normalize(brighter, *stats))
    flat = normalize(torch.full((1, 3, 8, 8), 7.0), [0.5] * 3, [0.2] * 3, per_image=True)
    assert torch.count_nonzero(flat) == 0  # a flat tile stays flat, no division by ~0


def test_unsupervised_run_records_pairs_and_normalisation(tiles: Path, tmp_path: Path) -> None:
    from terrahash.train.run import TrainOptions, train

    small = tmp_path / "tiles"
    small.mkdir()
    with open(tiles / "manifest.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    assert fields is not None
    # a 0.06-degree square in the middle of both dates' ground: about 200 tiles of two dates
    lat0 = float(np.median([float(r["lat"]) for r in rows]))
    lon0 = float(np.median([float(r["lon"]) for r in rows]))
    keep = [r for r in rows if abs(float(r["lat"]) - lat0) < 0.03 and abs(float(r["lon"]) - lon0) < 0.03]
    assert len({r["date"] for r in keep}) == 2
    with open(small / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(keep)
    for scene in {r["path"].split("/")[0] for r in keep}:
        (small / scene).symlink_to(tiles / scene)
    config = train(small, tmp_path / "run", TrainOptions(method="unsupervised", epochs=1, bits=16,
                                                        batch_size=128, backbone="default"))
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["normalization"]["per_image"] is True
    assert config["temporal_pairs"] > len(keep) // 4
    ablated = train(small, tmp_path / "run2", TrainOptions(method="unsupervised", epochs=1, bits=16,
                                                          batch_size=128, temporal_pairs=False,
                                                          input_norm="dataset"))
    assert ablated["temporal_pairs"] == 0 and ablated["normalization"]["per_image"] is False


def test_temporal_pairs_keep_their_geometry(tiny_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both dates are north up and share part of their ground: a pair's views are not turned or cropped."""
    from terrahash.train import trainer as trainer_module
    from tests.train.helpers import tiny_trainer

    trainer = tiny_trainer(tiny_data, "unsupervised")
    n = len(trainer.data.images)
    half = n // 2
    partners = torch.full((n, 1), -1, dtype=torch.long)
    partners[:half, 0] = torch.arange(half) + half  # first half: a partner; second half: none
    trainer.data.partners = partners
    seen: list[torch.Tensor] = []
    real_augment = trainer_module.augment

    def recording_augment(images: torch.Tensor, generator: torch.Generator, **kwargs: object) -> torch.Tensor:
        seen.append(kwargs["keep_geometry"])  # type: ignore[arg-type]
        return real_augment(images, generator, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(trainer_module, "augment", recording_augment)
    trainer.training_step(torch.arange(n))
    expected = torch.arange(n) < half
    assert len(seen) == 2 and all(torch.equal(mask, expected) for mask in seen)


def test_augment_keeps_the_geometry_of_masked_samples() -> None:
    from terrahash.data.transforms import augment

    images = torch.rand(16, 3, 16, 16)
    keep = torch.arange(16) < 8
    out = augment(images, torch.Generator().manual_seed(2), keep_geometry=keep)
    free = augment(images, torch.Generator().manual_seed(2))
    # kept samples: only a gain and a bias per sample (correlation 1 with the input)
    for i in range(16):
        r = torch.corrcoef(torch.stack([images[i].flatten(), out[i].flatten()]))[0, 1]
        assert (r > 0.9999) == bool(keep[i]), i
    # the other samples get exactly the draws they get without a mask
    assert torch.equal(out[8:], free[8:])
