"""Loading a torchvision-layout ResNet state dict (saved by the test itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from terrahash.model import ModelError
from terrahash.model.vision import (
    RESNET_PRESETS,
    ResNet,
    VisionConfig,
    detect_resnet_preset,
    load_backbone_state,
)


@pytest.mark.parametrize("preset", ["resnet18", "resnet50"])
def test_torchvision_layout_loads_exactly(preset: str) -> None:
    torch.manual_seed(1)
    source = ResNet(VisionConfig.from_dict(RESNET_PRESETS[preset]))
    state = dict(source.state_dict())
    width = 512 * (4 if preset == "resnet50" else 1)
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, width), torch.zeros(1000)
    assert detect_resnet_preset(state, "x.pth") == preset
    target = ResNet(VisionConfig.from_dict(RESNET_PRESETS[preset]))
    load_backbone_state(target, state, "x.pth")
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_wrong_state_dict_names_the_file() -> None:
    target = ResNet(VisionConfig.from_dict(RESNET_PRESETS["resnet18"]))
    state = dict(target.state_dict())
    state["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    with pytest.raises(ModelError, match=r"w\.pth: error: conv1\.weight has shape"):
        load_backbone_state(target, state, "w.pth")
    with pytest.raises(ModelError, match=r"w\.pth: error: not a torchvision"):
        detect_resnet_preset({"foo": torch.zeros(1)}, "w.pth")


def test_train_with_backbone_weights(tiny_data: Path, tmp_path: Path) -> None:
    from terrahash.train.run import TrainOptions, train

    torch.manual_seed(2)
    weights = ResNet(VisionConfig.from_dict(RESNET_PRESETS["resnet18"])).state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save(weights, path)
    opts = TrainOptions(epochs=1, bits=16, batch_size=16, image_size=32, backbone_weights=str(path), lr=0.0)
    config = train(tiny_data, tmp_path / "run", opts)
    assert config["model"]["vision"]["layers"] == [2, 2, 2, 2]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["train"]["backbone_weights"] == str(path)
    from safetensors.torch import load_file

    state = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert torch.equal(state["visual.backbone.layer4.1.conv2.weight"], weights["layer4.1.conv2.weight"])
