"""A tiny trained run and index over a 60-image UC Merced subset, shared by the CLI tests.

The subset manifest points at the real images (never copied) and adds metadata columns
(platform, place, date, cloud) so every filter has something to select.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from terrahash.cli import app
from terrahash.data import default_data_dir

PLATFORMS = ("sentinel-2a", "landsat-8")


def ucmerced() -> Path:
    root = default_data_dir() / "scenes" / "ucmerced"
    if not (root / "manifest.csv").is_file():
        pytest.skip(f"UC Merced not found under {root}")
    return root


def write_subset(out: Path, per_class: int, offset: int, classes: int = 6) -> Path:
    """A manifest over ``per_class`` images of the first ``classes`` classes."""
    root = ucmerced()
    with open(root / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_label: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_label[row["label"]].append(row)
    chosen = [r for lab in sorted(by_label)[:classes] for r in by_label[lab][offset : offset + per_class]]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "gsd_m", "platform", "lat", "lon", "date", "cloud_cover"])
        for i, row in enumerate(chosen):
            writer.writerow(
                [
                    str((root / row["path"]).resolve()),
                    row["label"],
                    0.3 if i % 3 else 1.0,
                    PLATFORMS[i % 2],
                    10 + i % 30,
                    20 + i % 40,
                    f"2021-{1 + i % 12:02d}-15",
                    (7 * i) % 100,
                ]
            )
    return out


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("cli")
    data = write_subset(base / "subset", per_class=10, offset=0)
    run = base / "run"
    code, out, err = invoke("train", data, "--out", run, "--epochs", "1", "--bits", "64")
    assert code == 0, err
    index = base / "index"
    code, out, err = invoke("index", "build", run, data, "--out", index)
    assert code == 0, err
    return {"base": base, "data": data, "run": run, "index": index}
