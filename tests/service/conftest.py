"""Service fixtures: indexes of real UC Merced and eo-learn items, with and without a model;
a live server and Chromium for the page's browser tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from terrahash.data import default_data_dir, load_dataset
from terrahash.data.dataset import SceneItem

BITS = 64
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def ensure_chromium() -> str:
    """Chromium's path, installing Debian's package when running as root in CI."""
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    if os.geteuid() == 0 and os.environ.get("CI") and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False,
                       capture_output=True, timeout=900)
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} not installed and cannot be installed here "
                    "(needs root + CI=1 for apt-get install chromium)")
    return CHROMIUM


def watched_page(
    browser: Any, base_url: str, width: int = 1280, height: int = 800
) -> tuple[Any, list[str], list[str]]:
    """A new Playwright page plus the lists it fills: script errors, and requests that leave
    ``base_url`` (the page must need nothing from outside)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    external: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: None if req.url.startswith((base_url, "blob:", "data:"))
            else external.append(req.url))
    return page, errors, external


def serve(index_dir: Path) -> Iterator[str]:
    """Run the service on ``index_dir`` on a free local port; yields its base URL."""
    import uvicorn

    from terrahash.service import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(index_dir), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)


def scene_items() -> list[SceneItem]:
    """All 45 eo-learn patches (dated, located Sentinel-2A) + 2 UC Merced images per class."""
    data = default_data_dir() / "scenes"
    if not (data / "ucmerced" / "manifest.csv").is_file():
        pytest.skip(f"real data not found under {data} (set TERRAHASH_DATA)")
    eolearn = list(load_dataset(data / "eolearn_slovenia"))
    ucm = load_dataset(data / "ucmerced")
    per_class: dict[str, int] = {}
    picked = []
    for item in ucm:
        if per_class.get(item.label or "", 0) < 2:
            per_class[item.label or ""] = per_class.get(item.label or "", 0) + 1
            picked.append(item)
    return eolearn + picked


def class_codes(items: list[SceneItem], seed: int = 0) -> np.ndarray:
    """Codes near a random centre per label (4 flipped bits), so neighbours share a class."""
    rng = np.random.default_rng(seed)
    labels = sorted({it.label or "" for it in items})
    centres = {lab: rng.integers(0, 2, BITS, dtype=np.uint8) for lab in labels}
    bits = np.stack([centres[it.label or ""] for it in items])
    for row in bits:
        row[rng.choice(BITS, 4, replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def build_index(path: Path, items: list[SceneItem], codes: np.ndarray, **meta: object) -> Path:
    """Create an index at ``path`` through the public index API."""
    from terrahash.index import Index

    index = Index.create(path, bits=BITS, **meta)
    index.add([it.id for it in items], codes, records=[it.record for it in items],
              labels=[list(it.labels) for it in items], paths=[str(it.path) for it in items])
    index.close()
    return path


@pytest.fixture(scope="session")
def items() -> list[SceneItem]:
    return scene_items()


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory: pytest.TempPathFactory, items: list[SceneItem]) -> Path:
    """An index with hand-made class codes and no model run (id queries only)."""
    return build_index(tmp_path_factory.mktemp("svc") / "index", items, class_codes(items))


@pytest.fixture(scope="session")
def model_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """End to end through the CLI: 1-epoch `terrahash train` on the 45 eo-learn patches, then
    `terrahash index build` (fused image + record codes, the manifest names the run)."""
    from terrahash.cli import main

    root = tmp_path_factory.mktemp("svc_model")
    data = default_data_dir() / "scenes" / "eolearn_slovenia"
    for argv in (
        ["train", str(data), "--out", str(root / "run"), "--epochs", "1", "--bits", str(BITS),
         "--image-size", "32", "--seed", "0"],
        ["index", "build", str(root / "run"), str(data), "--out", str(root / "index")],
    ):
        try:
            main(argv)
        except SystemExit as exc:
            if exc.code:
                raise RuntimeError(f"terrahash {' '.join(argv)} exited {exc.code}") from exc
    return root / "index"
