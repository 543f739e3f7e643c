"""The budget rule of bench/resolution.py: validation noise, the one-standard-error choice, reuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.resolution import _same_training, choose, validation_noise


def _row(size: int, epochs: int, val: float | None, seconds: float, noise: float | None,
         within: bool = True) -> dict[str, object]:
    return {"image_size": size, "epochs": epochs, "val_map@100": val, "train_seconds": seconds,
            "val_noise": noise, "within_budget": within}


def test_validation_noise_is_the_sd_of_the_last_scored_epochs(tmp_path: Path) -> None:
    lines = ["epoch,loss,val_map@100", "1,3.0,", "2,2.0,0.10"]
    lines += [f"{e},1.0,{v}" for e, v in zip(range(3, 8), (0.80, 0.82, 0.80, 0.82, 0.80), strict=True)]
    (tmp_path / "metrics.csv").write_text("\n".join(lines) + "\n")
    # the last 5 scored epochs only: 0.80/0.82 alternating, sample sd 0.01095
    assert validation_noise(tmp_path, last=5) == pytest.approx(0.010954, abs=1e-6)
    (tmp_path / "metrics.csv").write_text("epoch,val_map@100\n1,0.5\n2,0.6\n")
    assert validation_noise(tmp_path) is None  # too few scores to measure a spread


def test_choose_takes_the_fastest_pair_within_the_best_pairs_noise() -> None:
    rows = [_row(64, 25, 0.858, 163, 0.035), _row(64, 50, 0.9138, 304, 0.007),
            _row(64, 80, 0.9155, 484, 0.0048), _row(128, 8, 0.72, 204, 0.06)]
    assert choose(rows) is rows[1]  # 0.9138 >= 0.9155 - 0.0048, and faster than 80 epochs
    rows[1]["val_map@100"] = 0.905  # now further below the best than its noise
    assert choose(rows) is rows[2]


def test_choose_ignores_pairs_over_budget_or_unscored() -> None:
    rows = [_row(64, 25, 0.80, 160, 0.01), _row(224, 30, 0.95, 2000, 0.01, within=False),
            _row(128, 1, None, 30, None)]
    assert choose(rows) is rows[0]
    assert choose([_row(224, 30, 0.95, 2000, 0.01, within=False)]) is None


def test_reuse_matches_commands_that_differ_only_in_their_out_folder() -> None:
    a = "terrahash train data --out /tmp/a --image-size 64 --epochs 50"
    assert _same_training(a, "terrahash train data --out bench/runs/x --image-size 64 --epochs 50")
    assert not _same_training(a, "terrahash train data --out /tmp/a --image-size 64 --epochs 80")
    assert not _same_training(a, "terrahash train other --out /tmp/a --image-size 64 --epochs 50")


def test_a_reused_run_reports_the_wall_time_of_its_training(tmp_path: Path) -> None:
    """``train_run`` keeps the wall time in config.json: fresh and reused rows state the same kind of time."""
    from bench.common import RunSpec, Variant, train_run
    from tests.model.conftest import make_subset

    data = make_subset(tmp_path / "data")
    spec = RunSpec(data, tmp_path / "run", Variant("csq", "csq"), bits=16, epochs=1, image_size=32,
                   extra={"backbone": "none"})
    fresh = train_run(spec)
    weights = tmp_path / "run" / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    reused = train_run(spec, reuse=True)
    assert weights.stat().st_mtime_ns == stamp  # not trained again
    assert reused["train_seconds_wall"] == fresh["train_seconds_wall"] >= reused["train_seconds"]


def test_a_run_older_than_an_option_is_reused_at_that_options_default(tmp_path: Path) -> None:
    """A config.json written before ``meta_dropout`` existed trained without it: reuse it for 0,
    train anew for another value. One written before ``split_seed`` split under its ``seed``."""
    import json

    from bench.common import RunSpec, Variant, train_run
    from tests.model.conftest import make_subset

    data = make_subset(tmp_path / "data")
    spec = RunSpec(data, tmp_path / "run", Variant("ccls2t", "ccls2t", use_text=True), bits=16, epochs=1,
                   image_size=32, extra={"backbone": "none"})
    train_run(spec)
    config_file = tmp_path / "run" / "config.json"
    config = json.loads(config_file.read_text())
    del config["train"]["meta_dropout"], config["train"]["split_seed"]
    config_file.write_text(json.dumps(config))
    stamp = (tmp_path / "run" / "model.safetensors").stat().st_mtime_ns
    train_run(spec, reuse=True)
    assert (tmp_path / "run" / "model.safetensors").stat().st_mtime_ns == stamp
    config["train"]["seed"] = 1  # as if trained with --seed 1 before the option: split seed 1
    config_file.write_text(json.dumps(config))
    seeded = RunSpec(data, tmp_path / "run", Variant("ccls2t", "ccls2t", use_text=True), bits=16, epochs=1,
                     image_size=32, seed=1, extra={"backbone": "none"})
    assert train_run(seeded, reuse=True)["train"]["split_seed"] == 0
    assert (tmp_path / "run" / "model.safetensors").stat().st_mtime_ns != stamp  # trained again
    stamp = (tmp_path / "run" / "model.safetensors").stat().st_mtime_ns
    other = RunSpec(data, tmp_path / "run", Variant("ccls2t", "ccls2t", use_text=True, meta_dropout=0.5),
                    bits=16, epochs=1, image_size=32, extra={"backbone": "none"})
    assert "--meta-dropout 0.5" in other.command()
    assert train_run(other, reuse=True)["train"]["meta_dropout"] == 0.5


def test_a_run_from_another_backbone_is_trained_again(tmp_path: Path) -> None:
    """``--backbone default`` names whatever the checkout ships: a run kept from an earlier
    backbone has the same options but is not a measurement of today's weights."""
    import json

    from bench.common import RunSpec, Variant, backbone_sha256, train_run, trained_from
    from tests.model.conftest import make_subset

    data = make_subset(tmp_path / "data")
    spec = RunSpec(data, tmp_path / "run", Variant("csq", "csq"), bits=16, epochs=1, image_size=32,
                   extra={"backbone": "none"})
    config = train_run(spec)
    assert trained_from(config, "none") and not trained_from(config, "default")
    assert backbone_sha256("none") is None and len(str(backbone_sha256("default"))) == 64
    config_file = tmp_path / "run" / "config.json"
    saved = json.loads(config_file.read_text())
    saved["backbone"] = {"name": "earlier", "sha256": "0" * 64}
    config_file.write_text(json.dumps(saved))
    stamp = (tmp_path / "run" / "model.safetensors").stat().st_mtime_ns
    assert train_run(spec, reuse=True)["backbone"] is None  # trained again, from no backbone
    assert (tmp_path / "run" / "model.safetensors").stat().st_mtime_ns != stamp
    assert not trained_from({"backbone": {"sha256": "0" * 64}}, "no/such/folder")
