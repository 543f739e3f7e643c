"""Pretrained vision backbones: the one shipped in the package, or any ``terrahash pretrain`` output.

A backbone is a folder with ``backbone.safetensors`` and its model card ``card.json``. The
card names the architecture, the input normalisation and the SHA-256 of the weights, which
is checked on every load: a backbone that is not the one its card describes is refused.
Weights only ever come from local files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from terrahash.data.dataset import TEST_FRACTION
from terrahash.model.errors import ModelError

BACKBONE_FILE = "backbone.safetensors"
CARD_FILE = "card.json"
CARD_MARKDOWN = "CARD.md"
#: ``--backbone`` values that are not paths.
DEFAULT, NONE = "default", "none"


@dataclass(frozen=True)
class Backbone:
    """Loaded backbone weights (float32) and the card that describes them."""

    source: str
    state: dict[str, torch.Tensor]
    card: dict[str, Any]

    @property
    def vision(self) -> dict[str, Any]:
        """The ``vision`` block of a model config that these weights fit."""
        return dict(self.card["vision"])

    @property
    def normalization(self) -> dict[str, list[float]]:
        return dict(self.card["normalization"])

    def pretrained_split_of(self, name: str, n_items: int) -> tuple[int, float] | None:
        """(split seed, test fraction) under which this backbone pretrained on the train part of
        a labelled set named ``name`` with ``n_items`` items in all; ``None`` if it did not.

        A set is recognised by its folder name and size, as the card records them: runs on
        that set must test on the test part the pretraining held out, or they test on images
        the backbone has seen with their labels.
        """
        data = self.card.get("data") or {}
        split = data.get("split") or {}
        for src in data.get("sources") or ():
            if (src.get("kind") == "labelled" and Path(str(src.get("path"))).name == name
                    and sum(int(src.get(k, 0)) for k in ("items", "held_out_test_items",
                                                         "held_out_validation_items")) == n_items):
                return int(split.get("seed", 0)), float(split.get("test_fraction", TEST_FRACTION))
        return None

    def provenance(self) -> dict[str, Any]:
        """What a run's config.json records about the backbone it started from."""
        return {"source": self.source, "name": self.card.get("name"),
                "sha256": self.card["weights"]["sha256"], "image_size": self.card.get("image_size")}


def shipped_backbone_dir() -> Path:
    """Where the package keeps its default backbone."""
    return Path(str(resources.files("terrahash.model").joinpath("weights")))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_backbone(spec: str) -> Path | None:
    """``default`` -> the shipped folder, ``none`` -> None, else the folder (or file) given."""
    if spec == NONE:
        return None
    folder = shipped_backbone_dir() if spec == DEFAULT else Path(spec)
    if folder.is_file():
        folder = folder.parent
    if not (folder / CARD_FILE).is_file() or not (folder / BACKBONE_FILE).is_file():
        what = "the shipped default backbone" if spec == DEFAULT else f"backbone {spec}"
        raise ModelError(
            f"{folder}: error: {what} needs {BACKBONE_FILE} and {CARD_FILE} "
            "(write one with `terrahash pretrain`, or pass --backbone none)"
        )
    return folder


def load_backbone(spec: str) -> Backbone | None:
    """The backbone named by ``spec`` (``default``, ``none`` or a folder), checksum verified."""
    folder = resolve_backbone(spec)
    if folder is None:
        return None
    card_path = folder / CARD_FILE
    try:
        card = json.loads(card_path.read_text())
        expected = card["weights"]["sha256"]
        card["vision"], card["normalization"]  # noqa: B018 - required keys
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{card_path}: error: not a TerraHash backbone card ({exc})") from exc
    weights = folder / BACKBONE_FILE
    found = sha256_file(weights)
    if found != expected:
        raise ModelError(
            f"{weights}: error: SHA-256 {found[:16]}... is not the {expected[:16]}... its card "
            "describes; the file is damaged or does not belong to this card"
        )
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
    return Backbone(str(folder), state, card)


def apply_backbone(visual: nn.Module, backbone: Backbone) -> None:
    """Load ``backbone`` into a vision encoder of the same architecture (every tensor, exactly)."""
    own = visual.state_dict()
    state = backbone.state
    if not any(k.startswith("pool.") for k in own):  # a single-scale model keeps the shared ResNet
        state = {k: v for k, v in state.items() if not k.startswith("pool.")}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}" if unexpected
                  else f"shape of {wrong[:3]}")
        raise ModelError(f"{backbone.source}: error: the backbone does not fit this model ({detail})")
    visual.load_state_dict(state)
