"""bench/train.py --jobs: runs trained side by side end as they would one after another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.train import train_all
from tests.model.conftest import tiny_data  # noqa: F401 - the fixture


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_run_is_trained_and_reported_once(jobs: int, tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    runs = {m: tmp_path / m for m in ("ccls2t", "csq")}
    commands = {m: ["train", str(tiny_data), "--out", str(run), "--method", m, "--epochs", "1",
                    "--bits", "16", "--image-size", "32"] for m, run in runs.items()}
    done = dict(train_all(commands, runs, jobs))
    assert sorted(done) == ["ccls2t", "csq"] and all(s > 0 for s in done.values())
    for method, run in runs.items():
        assert json.loads((run / "config.json").read_text())["method"] == method
        assert (run.with_suffix(".log").is_file()) == (jobs > 1)


def test_a_failed_child_run_names_its_log(tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    runs = {"bad": tmp_path / "bad", "ok": tmp_path / "ok"}
    commands = {"bad": ["train", str(tiny_data), "--out", str(runs["bad"]), "--epochs", "0"],
                "ok": ["train", str(tiny_data), "--out", str(runs["ok"]), "--epochs", "1", "--bits", "16",
                       "--image-size", "32"]}
    with pytest.raises(SystemExit, match=r"bad: terrahash train failed \(exit 2\); see .*bad\.log"):
        list(train_all(commands, runs, 2))
    assert "--epochs: error: must be >= 1" in runs["bad"].with_suffix(".log").read_text()
