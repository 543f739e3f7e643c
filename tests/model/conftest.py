"""Tiny real datasets (UC Merced images listed by absolute path) and a trained tiny run."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from terrahash.data import default_data_dir

UCM = default_data_dir() / "scenes" / "ucmerced"
CLASSES = ("agricultural", "beach", "forest", "harbor")


def make_subset(folder: Path, per_class: int = 10, classes: tuple[str, ...] = CLASSES) -> Path:
    """Write ``folder/manifest.csv`` listing ``per_class`` UC Merced images of each class."""
    if not (UCM / "manifest.csv").is_file():
        pytest.skip(f"shared data not found at {UCM}")
    with open(UCM / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    chosen = [r for c in classes for r in [r for r in rows if r["label"] == c][:per_class]]
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "path_128", "label", "sensor", "gsd_m"])
        writer.writeheader()
        for r in chosen:
            writer.writerow(
                {
                    "path": str(UCM / r["path"]),
                    "path_128": str(UCM / r["path_128"]),
                    "label": r["label"],
                    "sensor": r["sensor"],
                    "gsd_m": r["gsd_m"],
                }
            )
    return folder


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 UC Merced images, 4 classes."""
    return make_subset(tmp_path_factory.mktemp("ucm_tiny"))


@pytest.fixture(scope="session")
def tiny_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-epoch CCLS2T run on ``tiny_data`` at 32 bits, text branch forced on.

    Its 40 items share one prompt, so training would drop the branch by itself; the tests
    built on this run exercise the text path.
    """
    from terrahash.train.run import TrainOptions, train

    run = tmp_path_factory.mktemp("run")
    train(tiny_data, run, TrainOptions(epochs=2, bits=32, batch_size=16, image_size=64, use_text=True))
    return run
