"""``terrahash train`` + ``terrahash evaluate`` end to end on 60 real UC Merced images."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from terrahash.cli import app
from terrahash.data import default_data_dir

UCM = default_data_dir() / "scenes" / "ucmerced"
CLASSES = ("agricultural", "beach", "buildings", "denseresidential", "forest", "mediumresidential")
CONTRACT_KEYS = {
    "map@all", "map@100", "map@20", "tie_aware_map@100", "p@10", "p@100", "ndcg@100",
    "queries", "database", "bits", "method", "zero_hit_queries", "unique_codes",
}


def _subset(folder: Path, per_class: int = 10) -> Path:
    """A manifest listing real UC Merced images by absolute path (nothing is copied)."""
    if not (UCM / "manifest.csv").is_file():
        pytest.skip(f"shared data not found at {UCM}")
    with open(UCM / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    chosen = [r for c in CLASSES for r in [r for r in rows if r["label"] == c][:per_class]]
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "label", "sensor", "gsd_m"])
        writer.writeheader()
        for r in chosen:
            writer.writerow({"path": str(UCM / r["path"]), "label": r["label"],
                             "sensor": r["sensor"], "gsd_m": r["gsd_m"]})
    return folder


def _invoke(*args: str):  # noqa: ANN202 - click Result
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = _subset(tmp_path_factory.mktemp("ucm60"))
    run = tmp_path_factory.mktemp("runs") / "ccls2t"
    # --text: the UC Merced items share one prompt, and the text-query tests need the branch.
    result = _invoke("train", data, "--out", run, "--epochs", "1", "--bits", "16", "--text")
    assert result.exit_code == 0, result.output
    return data, run


def _json(result) -> dict:  # noqa: ANN001 - click Result
    assert result.exit_code == 0, result.output
    def refuse(token: str) -> None:
        raise AssertionError(f"not strict JSON: {token}")
    return json.loads(result.stdout, parse_constant=refuse)


def test_evaluate_json_contract(trained: tuple[Path, Path]) -> None:
    data, run = trained
    report = _json(_invoke("evaluate", run, data, "--json", "--k", "5,20,100", "--seed", "3"))
    assert set(report) >= CONTRACT_KEYS | {"map@5", "protocol", "db_order_seed"}
    assert (report["queries"], report["database"]) == (12, 48)  # 20 % test split of 60
    assert report["bits"] == 16 and report["method"] == "ccls2t" and report["db_order_seed"] == 3
    assert report["zero_hit_queries"] == 0 and 1 <= report["unique_codes"] <= 48
    for key in ("map@all", "map@5", "map@20", "map@100", "tie_aware_map@100", "p@10", "ndcg@100"):
        assert 0.0 <= report[key] <= 1.0, key
    # 48 items < 100: map@100 is the whole ranking; p@100 is precision of all 48 = 8/48.
    assert report["map@100"] == pytest.approx(report["map@all"])
    assert report["p@100"] == pytest.approx(8 / 48)
    again = _json(_invoke("evaluate", run, data, "--json", "--k", "5,20,100", "--seed", "3"))
    assert again == report


def test_evaluate_table_text_queries_and_engines(trained: tuple[Path, Path]) -> None:
    data, run = trained
    result = _invoke("evaluate", run, data, "--query-kind", "text", "--engines")
    assert result.exit_code == 0, result.output
    assert "tie_aware_map@100" in result.stdout and "train split" in result.stdout
    assert "flat_ip" in result.stdout and "binary_flat" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", "20,x"], "--k: expected comma-separated integers"),
        (["--query-kind", "sketch"], "--query-kind 'sketch'"),
    ],
)
def test_evaluate_bad_options(trained: tuple[Path, Path], args: list[str], message: str) -> None:
    data, run = trained
    result = _invoke("evaluate", run, data, *args)
    assert result.exit_code == 2
    assert message in result.stderr and "error:" in result.stderr


def test_evaluate_bad_run_and_wrong_dataset(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, run = trained
    result = _invoke("evaluate", tmp_path / "missing", data)
    assert result.exit_code == 2 and "missing: error:" in result.stderr
    other = tmp_path / "other"
    other.mkdir()
    lines = (data / "manifest.csv").read_text().splitlines()
    (other / "manifest.csv").write_text("\n".join(lines[:1] + lines[30:]) + "\n")
    result = _invoke("evaluate", run, other)
    assert result.exit_code == 2
    assert "split items are not in this dataset" in result.stderr
