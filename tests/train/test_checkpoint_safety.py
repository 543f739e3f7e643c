"""Resuming never unpickles code: checkpoints load with ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from terrahash.model.checkpoint import read_checkpoint
from terrahash.model.errors import ModelError


def touch(path: str) -> None:
    """What a hostile checkpoint would run on load (here: only leave a mark)."""
    Path(path).touch()


class Payload:
    """An object that runs ``touch(marker)`` when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return touch, (str(self.marker),)


def test_checkpoint_with_a_pickled_object_is_refused_unrun(tmp_path: Path) -> None:
    marker, file = tmp_path / "ran", tmp_path / "checkpoint.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "state": Payload(marker)}, file)
    refused = "refusing to resume: .*Python objects .*test_checkpoint_safety.touch"
    with pytest.raises(ModelError, match=refused):
        read_checkpoint(file)
    assert not marker.exists()


def test_plain_checkpoint_and_broken_files(tmp_path: Path) -> None:
    file = tmp_path / "checkpoint.pt"
    torch.save({"model": {"w": torch.ones(3)}, "state": {"epoch": 2, "history": [{"loss": 0.5}]}}, file)
    state = read_checkpoint(file)
    assert state["state"]["epoch"] == 2 and state["model"]["w"].sum().item() == 3.0
    file.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot read this checkpoint"):
        read_checkpoint(file)
    torch.save([torch.zeros(1)], file)
    with pytest.raises(ModelError, match="expected a checkpoint dict, got list"):
        read_checkpoint(file)
