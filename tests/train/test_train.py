"""Training runs: files written, determinism, resume, CLI train + encode, bad options."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from terrahash.cli import app, main
from terrahash.data import load_dataset
from terrahash.model import load_model
from terrahash.train.run import TrainConfigError, TrainOptions, train
from terrahash.train.trainer import Callback, Trainer


def test_run_folder_is_complete(tiny_run: Path) -> None:
    for name in ("model.safetensors", "config.json", "metrics.csv", "loss_curve.png"):
        assert (tiny_run / name).is_file(), name
    config = json.loads((tiny_run / "config.json").read_text())
    split = config["split"]
    assert len(split["train_ids"]) == 32 and len(split["test_ids"]) == 8
    assert set(split["val_ids"]) <= set(split["train_ids"])
    assert not set(split["train_ids"]) & set(split["test_ids"])
    assert config["tokenizer"]["vocabulary"][:3] == ["[PAD]", "[UNK]", "[CLS]"]
    # Everything that shapes the objective is recorded, so a run can be repeated.
    assert config["loss_settings"] == {"scale": 4.0, "margin": 0.2, "centre_weight": 1.0}
    assert config["loss_weights"]["softmax"] == 0.5
    with open(tiny_run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert float(rows[0]["images_per_s"]) > 0 and "hamming_image_fused" in rows[-1]


def test_same_seed_same_codes_and_resume_is_exact(
    tiny_run: Path, tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = load_dataset(tiny_data)
    reference = load_model(tiny_run).encode_dataset(ds)
    opts = TrainOptions(epochs=2, bits=32, batch_size=16, image_size=64, use_text=True)
    train(tiny_data, tmp_path / "again", opts)
    again = load_model(tmp_path / "again").encode_dataset(ds)
    assert np.array_equal(reference["codes_fused"], again["codes_fused"])
    assert np.array_equal(reference["emb_text"], again["emb_text"])

    from terrahash.train import run as run_module

    real = run_module.MetricsWriter.on_epoch_end

    def stop(self: Callback, trainer: Trainer, row: dict[str, object]) -> None:
        real(self, trainer, row)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module.MetricsWriter, "on_epoch_end", stop)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_data, tmp_path / "cut", opts)
    monkeypatch.setattr(run_module.MetricsWriter, "on_epoch_end", real)
    assert not (tmp_path / "cut" / "model.safetensors").exists()
    train(tiny_data, tmp_path / "cut", TrainOptions(**{**opts.__dict__, "resume": True}))
    resumed = load_model(tmp_path / "cut").encode_dataset(ds)
    assert np.array_equal(reference["codes_image"], resumed["codes_image"])


def test_cli_train_then_encode(tiny_data: Path, tmp_path: Path) -> None:
    run, codes = tmp_path / "run", tmp_path / "codes.npz"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "train",
            str(tiny_data),
            "--out",
            str(run),
            "--epochs",
            "1",
            "--bits",
            "16",
            "--image-size",
            "32",
            "--single-scale",
            "--text",
        ],
    )
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["use_text"] and config["text_branch"] == "on (--text)"
    assert config["model"]["vision"]["scales"] == 1 and config["bits"] == 16
    result = runner.invoke(app, ["encode", str(run), str(tiny_data), "--out", str(codes), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary["agreement_hamming"]) == {"image-fused", "image-text", "fused-text"}
    npz = np.load(codes)
    assert npz["codes_image"].shape == (40, 2) and npz["codes_text"].dtype == np.uint8
    assert npz["emb_fused"].dtype == np.float32
    assert set(npz["split"]) == {"train", "val", "test"}
    assert npz["labels"][0] == "agricultural"


def test_cli_baseline_has_no_text_kind(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "train",
                str(tiny_data),
                "--out",
                str(tmp_path / "r"),
                "--epochs",
                "1",
                "--bits",
                "16",
                "--method",
                "dpsh",
                "--image-size",
                "32",
            ]
        )
    assert exit_info.value.code == 0
    npz_path = tmp_path / "c.npz"
    with pytest.raises(SystemExit):
        main(["encode", str(tmp_path / "r"), str(tiny_data), "--out", str(npz_path)])
    npz = np.load(npz_path)
    assert list(npz["kinds"]) == ["image", "fused"] and "codes_text" not in npz


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bits", "48"], "--bits: error: 48 is not one of 16, 32, 64, 128"),
        (["--method", "nope"], "--method: error: unknown method 'nope'"),
        (["--backbone-lr-scale", "0"], "--backbone-lr-scale: error: must be in (0, 10], got 0.0"),
        (["--lr", "-0.1"], "--lr: error: must be in [0, 1], got -0.1"),
        (["--meta-dropout", "1"], "--meta-dropout: error: must be in [0, 1), got 1.0"),
        (["--fusion", "sum"], "--fusion: error: must be one of gated, film, got 'sum'"),
        (["--loss-setting", "scale"], "--loss-setting: error: expected NAME=NUMBER (e.g. temperature=0.15), "
                                      "got 'scale'"),
        (["--loss-setting", "scale=big"], "got 'scale=big'"),
        (["--loss-setting", "temperature=0.1"], "loss settings: error: temperature not accepted by 'ccls2t'"),
    ],
)
def test_cli_bad_options_exit_2(args: list[str], message: str, tiny_data: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(tiny_data), "--out", str(tmp_path / "r"), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_cli_lr_overrides_the_method_default(tiny_data: Path, tmp_path: Path) -> None:
    from terrahash.train.defaults import method_defaults

    assert method_defaults("csq")["lr"] != 5e-4  # else the test could not tell the two apart
    args = ["train", str(tiny_data), "--method", "csq", "--epochs", "1", "--bits", "16", "--image-size", "32"]
    cases = (("given", ["--lr", "5e-4"], 5e-4), ("default", [], method_defaults("csq")["lr"]))
    for out, extra, want in cases:
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / out), *extra])
        assert result.exit_code == 0, result.output
        config = json.loads((tmp_path / out / "config.json").read_text())
        assert config["train"]["lr"] == pytest.approx(want)


def test_cli_encode_reports_corrupt_run(tmp_path: Path, tiny_data: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("[]")
    result = CliRunner().invoke(app, ["encode", str(tmp_path / "run"), str(tiny_data), "--out", "x.npz"])
    assert result.exit_code == 2
    assert "config.json: error: expected a JSON object" in result.stderr


def test_trunk_learning_rate_is_scaled_and_the_rest_is_not(tiny_data: Path) -> None:
    from terrahash.train.trainer import BACKBONE_PREFIX
    from tests.train.helpers import tiny_trainer

    trainer = tiny_trainer(tiny_data, "csq", lr=1e-3, backbone_lr_scale=0.25)
    rate = {id(p): group["initial_lr"] for group in trainer.optimizer.param_groups for p in group["params"]}
    named = dict(trainer.model.named_parameters())
    trunk = {name for name in named if name.startswith(BACKBONE_PREFIX)}
    assert trunk and len(trunk) < len(named)
    assert sorted({rate[id(named[n])] for n in trunk}) == pytest.approx([2.5e-4])
    assert sorted({rate[id(p)] for n, p in named.items() if n not in trunk}) == pytest.approx([1e-3])


def test_pretrained_backbone_gets_the_validated_trunk_scale() -> None:
    from terrahash.train.defaults import PRETRAINED_TRUNK_LR_SCALE

    assert TrainOptions(backbone="none").backbone_lr_scale == 1.0
    assert TrainOptions(backbone="default").backbone_lr_scale == PRETRAINED_TRUNK_LR_SCALE
    assert TrainOptions(backbone="default", backbone_lr_scale=0.5).backbone_lr_scale == 0.5


def test_the_training_seed_leaves_the_split_alone(tiny_data: Path) -> None:
    """Seeds vary the training; the split (test and validation parts) follows --split-seed."""
    from terrahash.train.run import _split

    dataset = load_dataset(tiny_data)
    standard = _split(dataset, TrainOptions(seed=0))
    assert _split(dataset, TrainOptions(seed=3)) == standard
    other = _split(dataset, TrainOptions(split_seed=1))
    assert other[2] != standard[2] and other[1] != standard[1]
    with pytest.raises(TrainConfigError, match="--split-seed: error: must be >= 0"):
        TrainOptions(split_seed=-1).validate()


def test_text_branch_is_dropped_when_every_prompt_is_the_same(tiny_data: Path, tmp_path: Path) -> None:
    """UC Merced items share one prompt: by default no text branch, and the config says why."""
    opts = TrainOptions(epochs=1, bits=16, batch_size=16, image_size=32)
    config = train(tiny_data, tmp_path / "auto", opts)
    assert config["use_text"] is False
    assert config["text_branch"].startswith("off: all 28 training items share one prompt")
    assert load_model(tmp_path / "auto").query_kinds == ("image", "fused")


@pytest.fixture
def two_sensor_data(tiny_data: Path, tmp_path: Path) -> Path:
    """The tiny set with every other item's sensor changed: two distinct prompts."""
    with open(tiny_data / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows):
        row["sensor"] = "Sentinel-2A" if i % 2 else row["sensor"]
    data = tmp_path / "mixed"
    data.mkdir()
    with open(data / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return data


def test_text_branch_stays_on_when_prompts_differ(two_sensor_data: Path, tmp_path: Path) -> None:
    """Items whose metadata differ (here: two sensors) keep the branch by default."""
    data = two_sensor_data
    config = train(data, tmp_path / "run", TrainOptions(epochs=1, bits=16, batch_size=16, image_size=32))
    assert config["use_text"] is True
    assert config["text_branch"] == "on: 2 distinct prompts among 28 training items"
    forced_off = train(data, tmp_path / "off", TrainOptions(epochs=1, bits=16, batch_size=16, image_size=32,
                                                            use_text=False))
    assert forced_off["use_text"] is False and forced_off["text_branch"] == "off (--no-text)"


def test_cli_loss_setting_reaches_the_loss_over_the_method_default(tiny_data: Path, tmp_path: Path) -> None:
    args = ["train", str(tiny_data), "--out", str(tmp_path / "r"), "--method", "unsupervised",
            "--epochs", "1", "--bits", "16", "--image-size", "32", "--loss-setting", "temperature=0.25",
            "--loss-setting", "embed_weight=0.5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    settings = json.loads((tmp_path / "r" / "config.json").read_text())["loss_settings"]
    assert settings["temperature"] == 0.25 and settings["embed_weight"] == 0.5
    assert settings["itc_weight"] == 0.3  # the ones not given keep the objective's own


def test_meta_dropout_withholds_metadata_from_some_fused_embeddings_in_training_only() -> None:
    """A withheld item's fused embedding is its image embedding; inference never withholds."""
    import torch

    from terrahash.model.factory import create_model, get_model_config

    config = {**get_model_config("ccls2t-small"), "bits": 32, "meta_dropout": 0.5}
    config["text"] = {**config.get("text", {}), "feature_dropout": 0.0}  # the only random part: meta_dropout
    torch.manual_seed(0)
    model, tokenizer = create_model(config, use_text=True)
    model.eval()
    n = 32
    images = torch.randn(n, 3, 32, 32)
    tokens = tokenizer([f"an image taken in {m} by sentinel-2a" for m in ("june", "july") * (n // 2)])
    features, mask = torch.randn(n, 10), torch.ones(n, 10)
    with torch.no_grad():
        trained = model(images, tokens, features, mask, torch.Generator().manual_seed(0))
        inferred = model(images, tokens, features, mask)
    withheld = (trained.emb_fused == trained.emb_image).all(dim=1)
    assert 0 < int(withheld.sum()) < n  # about half; the seed fixes which
    assert not (inferred.emb_fused == inferred.emb_image).all(dim=1).any()
    # the rest are the fused embeddings inference makes (two forward passes: equal up to rounding)
    torch.testing.assert_close(trained.emb_fused[~withheld], inferred.emb_fused[~withheld], rtol=0, atol=1e-5)


@pytest.mark.parametrize("option", [["--meta-dropout", "0.5"], ["--fusion", "film"]])
def test_text_branch_options_without_a_text_branch_are_refused(
    option: list[str], tiny_data: Path, tmp_path: Path
) -> None:
    args = ["train", str(tiny_data), "--out", str(tmp_path / "r"), "--epochs", "1", "--bits", "16",
            "--image-size", "32", *option]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    said = f"{option[0]}: error: this run has no text branch (off: all 28 training items share one prompt"
    assert said in result.stderr
    assert not (tmp_path / "r" / "model.safetensors").exists()


def test_film_fusion_starts_at_the_image_embedding_and_then_scales_channels_by_metadata() -> None:
    """Zero-initialised FiLM: fused == image at first; once trained, the record rescales channels."""
    import torch

    from terrahash.model.ccls2t import FiLMFusion

    torch.manual_seed(0)
    fusion = FiLMFusion(8)
    image, text = torch.randn(4, 8), torch.randn(4, 8)
    assert torch.equal(fusion(image, text), image)
    torch.nn.init.normal_(fusion.film.weight)  # as if trained
    fused = fusion(image, text)
    scale, shift = fusion.film(text).chunk(2, dim=1)
    torch.testing.assert_close(fused, image * (1 + scale) + shift)
    assert not torch.allclose(fused, image)
    # multiplicative: an image channel at 0 is only shifted; other channels also scale
    zeroed = image.clone()
    zeroed[:, 0] = 0
    torch.testing.assert_close(fusion(zeroed, text)[:, 0], shift[:, 0])


def test_cli_trains_and_reloads_a_film_fusion_model(two_sensor_data: Path, tmp_path: Path) -> None:
    args = ["train", str(two_sensor_data), "--out", str(tmp_path / "r"), "--epochs", "1", "--bits", "16",
            "--image-size", "32", "--fusion", "film"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["use_text"] is True and config["train"]["fusion"] == "film"
    model = load_model(tmp_path / "r")
    assert type(model.model.fusion).__name__ == "FiLMFusion"
    assert model.query_kinds == ("image", "fused", "text")

