"""`terrahash pretrain` on a few dozen real images: the loss falls, runs resume, cards hold.

Also the shipped default backbone: it loads, its checksum is the one its card states, and
`terrahash train` starts from it (or from nothing with ``--backbone none``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from terrahash.cli import main
from terrahash.data import load_dataset
from terrahash.data.sources import load_source
from terrahash.model.backbones import (
    BACKBONE_FILE,
    CARD_FILE,
    load_backbone,
    sha256_file,
    shipped_backbone_dir,
)
from terrahash.model.errors import ModelError
from terrahash.train.pretrain import CHECKPOINT, PretrainError, PretrainOptions, pretrain
from tests.model.conftest import UCM, make_subset

CLASSES = ("agricultural", "beach", "forest", "harbor")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A labelled subset (32 images) and an unlabelled folder of 8 other real images."""
    if not (UCM / "manifest.csv").is_file():
        pytest.skip(f"UC Merced not found under {UCM}")
    base = tmp_path_factory.mktemp("pretrain")
    labelled = make_subset(base / "labelled", per_class=8, classes=CLASSES)
    loose = base / "loose"
    loose.mkdir()
    for path in sorted((UCM / "64" / "river").glob("*.jpg"))[:8]:
        shutil.copy(path, loose / path.name)
    return [labelled, loose]


OPTS = dict(epochs=4, batch_size=16, lr=3e-3, image_size=32, tile_size=32, dtype="float32")


def test_pretraining_reduces_loss_and_writes_a_true_card(sources: list[Path], tmp_path: Path) -> None:
    card = pretrain(sources, tmp_path / "bb", PretrainOptions(**OPTS))  # type: ignore[arg-type]
    losses = [row["loss"] for row in _history(tmp_path / "bb")]
    assert losses[-1] < losses[0]
    labelled, loose = card["data"]["sources"]
    assert labelled["kind"] == "labelled" and labelled["held_out_test_items"] == 8
    # the validation part terrahash train selects models on is left out too (one per class here)
    assert labelled["items"] == 20 and labelled["held_out_validation_items"] == 4
    assert card["data"]["split"]["val_fraction"] == 0.1
    assert loose["kind"] == "images" and loose["items"] == 8
    assert card["weights"]["sha256"] == sha256_file(tmp_path / "bb" / BACKBONE_FILE)
    assert (tmp_path / "bb" / "CARD.md").read_text().count(card["weights"]["sha256"]) == 1
    backbone = load_backbone(str(tmp_path / "bb"))
    assert backbone is not None and backbone.card["training"]["epochs"] == 4


def test_pretraining_resumes_where_it_stopped(sources: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "bb"
    pretrain(sources, out, PretrainOptions(**{**OPTS, "epochs": 2}))  # type: ignore[arg-type]
    first = _history(out)
    state = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=True)
    assert state["epoch"] == 2
    card = pretrain(sources, out, PretrainOptions(**{**OPTS, "epochs": 3, "resume": True}))  # type: ignore[arg-type]
    resumed = _history(out)
    assert card["training"]["epochs"] == 3 and len(resumed) == 3
    assert resumed[:2] == first  # the first two epochs were not run again
    with pytest.raises(PretrainError, match="trained on other data or another split"):
        pretrain(sources, out, PretrainOptions(**{**OPTS, "epochs": 4, "resume": True,  # type: ignore[arg-type]
                                                  "val_fraction": 0.0}))


def test_a_damaged_backbone_is_refused(sources: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "bb"
    pretrain(sources[:1], out, PretrainOptions(**{**OPTS, "epochs": 1}))  # type: ignore[arg-type]
    with open(out / BACKBONE_FILE, "r+b") as fh:
        fh.seek(-4, 2)
        fh.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelError, match="SHA-256"):
        load_backbone(str(out))


def test_shipped_backbone_matches_its_card() -> None:
    folder = shipped_backbone_dir()
    card = json.loads((folder / CARD_FILE).read_text())
    assert sha256_file(folder / BACKBONE_FILE) == card["weights"]["sha256"]
    assert (folder / BACKBONE_FILE).stat().st_size <= 50_000_000
    assert card["data"]["test_items_held_out"] > 0  # labelled sets contributed their train part only
    backbone = load_backbone("default")
    assert backbone is not None and backbone.card["name"] == card["name"]


@pytest.mark.parametrize("choice", ["default", "none"])
def test_train_starts_from_the_backbone_or_from_nothing(sources: list[Path], tmp_path: Path,
                                                        choice: str) -> None:
    run = tmp_path / f"run-{choice}"
    with pytest.raises(SystemExit) as done:
        main(["train", str(sources[0]), "--out", str(run), "--epochs", "1", "--backbone", choice])
    assert done.value.code in (0, None)
    config = json.loads((run / "config.json").read_text())
    if choice == "none":
        assert config["backbone"] is None
    else:
        assert config["backbone"]["sha256"] == load_backbone("default").card["weights"]["sha256"]  # type: ignore[union-attr]


def test_a_split_that_tests_on_pretraining_images_is_refused(
    sources: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backbone pretrained on a set's train part holds the set to the split it held out."""
    backbone = tmp_path / "bb"
    pretrain(sources[:1], backbone, PretrainOptions(**{**OPTS, "epochs": 1}))  # type: ignore[arg-type]
    args = ["train", str(sources[0]), "--epochs", "1", "--backbone", str(backbone)]
    with pytest.raises(SystemExit) as refused:
        main([*args, "--out", str(tmp_path / "leak"), "--split-seed", "1"])
    assert refused.value.code == 2 and not (tmp_path / "leak" / "config.json").exists()
    assert "pretrained on the train part of 'labelled' under split seed 0" in " ".join(
        capsys.readouterr().err.split())
    with pytest.raises(SystemExit) as done:
        main([*args, "--out", str(tmp_path / "ok"), "--seed", "1"])
    assert done.value.code in (0, None)
    held_out = load_dataset(sources[0]).split(0, 0.2)[1]
    config = json.loads((tmp_path / "ok" / "config.json").read_text())
    assert sorted(config["split"]["test_ids"]) == sorted(load_dataset(sources[0])[i].id for i in held_out)
    seen = set(load_source(sources[0], 32).used)  # what the pretraining trained on
    assert not seen & set(config["split"]["test_ids"]) and not seen & set(config["split"]["val_ids"])


def _history(out: Path) -> list[dict[str, float]]:
    state = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=True)
    keys = state["history_keys"]
    return [dict(zip(keys, row, strict=True)) for row in state["history"].tolist()]
