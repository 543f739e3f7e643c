"""The web page in headless Chromium: upload an image, see thumbnails, filter by date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from terrahash.data import default_data_dir
from tests.service.conftest import CHROMIUM_ARGS, ensure_chromium, serve, watched_page

QUERY = default_data_dir() / "scenes" / "eolearn_slovenia" / "TestEOPatch_2015-08-20_r000_c000.png"


@pytest.fixture(scope="module")
def server(model_index_dir: Path) -> Iterator[str]:
    yield from serve(model_index_dir)


def test_page_search_and_date_filter(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = ensure_chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        page, errors, external = watched_page(browser, server)
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
