"""The web page in headless Chromium: upload an image, see thumbnails, filter by date."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from terrahash.data import default_data_dir

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
QUERY = default_data_dir() / "scenes" / "eolearn_slovenia" / "TestEOPatch_2015-08-20_r000_c000.png"


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


@pytest.fixture(scope="module")
def server(model_index_dir: Path) -> Iterator[str]:
    import uvicorn

    from terrahash.service import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(model_index_dir), host="127.0.0.1", port=port,
                            log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)


def test_page_search_and_date_filter(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = ensure_chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        external: list[str] = []
        page.on("request", lambda req: None if req.url.startswith(server) or req.url.startswith(
            ("blob:", "data:")) else external.append(req.url))
        page.goto(server)
        page.wait_for_function("document.getElementById('index-info').textContent.includes('45 items')")
        assert page.locator(".leaflet-container").count() == 1

        page.set_input_files("#image-input", str(QUERY))
        page.fill("#k-input", "12")
        page.click("#search-button")
        page.wait_for_selector(".card img")
        cards = page.locator(".card")
        assert cards.count() == 12
        page.wait_for_function(
            "[...document.querySelectorAll('.card img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        assert page.locator(".leaflet-interactive").count() >= 12  # footprints drawn
        assert "12 results by image" in page.inner_text("#status")

        dates = [page.inner_text(f".card:nth-child({i + 1}) .meta:nth-of-type(4)")
                 for i in range(cards.count())]
        # Cut at the latest date shown, so the filter must change what the page shows
        # whatever the model ranks first (5 dates x 9 places in this set).
        cut = max(dates)
        if min(dates) < cut:
            page.fill("#date-start", cut)
        else:
            page.fill("#date-end", (date.fromisoformat(cut) - timedelta(days=1)).isoformat())
        page.click("#search-button")
        page.wait_for_function("document.getElementById('status').textContent.includes('by image')"
                               " && !document.getElementById('search-button').disabled")
        page.wait_for_timeout(200)
        filtered = [page.inner_text(f".card:nth-child({i + 1}) .meta:nth-of-type(4)")
                    for i in range(page.locator(".card").count())]
        assert filtered, "the date filter left no results"
        if min(dates) < cut:
            assert all(d >= cut for d in filtered), (cut, filtered)
        else:
            assert all(d < cut for d in filtered), (cut, filtered)
        assert filtered != dates

        page.locator(".card").first.click()
        assert page.locator(".card.selected").count() == 1
        page.locator(".card .more").first.click()
        page.wait_for_function("document.getElementById('status').textContent.includes('like ')")
        page.screenshot(path=str(tmp_path / "terrahash-page.png"), full_page=True)
        browser.close()
    assert (tmp_path / "terrahash-page.png").stat().st_size > 10_000
    assert not errors, errors
    assert not external, external
