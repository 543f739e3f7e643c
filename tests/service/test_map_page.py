"""The map page in headless Chromium on a georeferenced index: basemap, coverage, footprints and
thumbnails of a search, "why this match" by keyboard, the shared URL; and a set without
coordinates, which the page says rather than showing an empty map.

``TERRAHASH_SCREENSHOT=docs/map-page.png`` also writes the page's screenshot there (the one
in ``docs/`` was made so).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from terrahash.data import default_data_dir, load_dataset
from terrahash.data.dataset import SceneItem
from tests.service.conftest import (
    CHROMIUM_ARGS,
    build_index,
    class_codes,
    ensure_chromium,
    serve,
    watched_page,
)

#: An eo-learn forest patch (Slovenia, Sentinel-2A, 2015) as the query item.
QUERY_ID = "TestEOPatch_2015-08-20_r000_c000"


@pytest.fixture(scope="module")
def located_items(items: list[SceneItem]) -> list[SceneItem]:
    """eo-learn points in Slovenia, BigEarthNet boxes across Europe, UC Merced without coordinates."""
    return items + list(load_dataset(default_data_dir() / "scenes" / "bigearthnet_s2_examples"))


@pytest.fixture(scope="module")
def map_server(tmp_path_factory: pytest.TempPathFactory, located_items: list[SceneItem]) -> Iterator[str]:
    index = build_index(tmp_path_factory.mktemp("map") / "index", located_items, class_codes(located_items))
    yield from serve(index)


@pytest.fixture(scope="module")
def unlocated_server(tmp_path_factory: pytest.TempPathFactory, items: list[SceneItem]) -> Iterator[str]:
    ucm = [it for it in items if it.record is None or it.record.center_lat is None]
    index = build_index(tmp_path_factory.mktemp("unlocated") / "index", ucm, class_codes(ucm))
    yield from serve(index)


def _browser(pw: Any) -> Any:
    return pw.chromium.launch(executable_path=ensure_chromium(), headless=True, args=CHROMIUM_ARGS)


def _result_ids(page: Any) -> list[str]:
    return [str(i) for i in page.eval_on_selector_all(".card", "cards => cards.map(c => c.dataset.id)")]


def test_map_page_flow(map_server: str, located_items: list[SceneItem], tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    located = sum(1 for it in located_items if it.record is not None and it.record.center_lat is not None)
    with sync_api.sync_playwright() as pw:
        browser = _browser(pw)
        page, errors, external = watched_page(browser, map_server, 1400, 900)
        page.goto(map_server)

        # basemap: the 177 Natural Earth countries are drawn; coverage: every located item,
        # one by one or in clusters whose counts add up
        page.wait_for_function("document.querySelectorAll('path.basemap-country').length >= 170")
        page.wait_for_selector(".coverage-cluster", state="attached")
        body = page.evaluate("fetch('coverage').then(r => r.json())")
        assert body["total"] == located and body["items"] == len(located_items)
        # zoomed out on Europe: the 45 Slovenian patches are one cluster, the sparse
        # BigEarthNet patches footprints of their own
        clusters = [int(t) for t in page.locator(".coverage-cluster").all_inner_texts()]
        assert 45 in clusters or 46 in clusters, clusters
        assert page.locator(".coverage-footprint").count() + sum(clusters) == located
        assert page.locator("#no-coords").is_hidden()

        # a search by an indexed item: footprints and thumbnails land on the map
        page.fill("#id-input", QUERY_ID)
        page.fill("#k-input", "12")
        page.click("#search-button")
        page.wait_for_function("document.getElementById('status').textContent.includes('12 results like')")
        first = _result_ids(page)
        assert len(first) == 12 and first[0] == QUERY_ID
        page.wait_for_selector(".result-thumb-marker img.result-thumb")
        page.wait_for_function("[...document.querySelectorAll('#map img.result-thumb')]"
                               ".every(i => i.complete && i.naturalWidth > 0)")
        on_map = page.locator("#map img.result-thumb").count()
        assert on_map == page.locator("path.result-footprint").count() > 0

        # "why this match" by keyboard: focus a result, Enter opens it, Escape closes it
        second = page.locator(".card").nth(1)
        second.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("#why:not([hidden]) .why-path")
        why = page.inner_text("#why")
        assert first[1] in why and QUERY_ID in why and "Hamming distance" in why
        assert page.locator(".why-path li.shared").count() >= 1
        assert "km between centres" in why or "no label" in why
        assert page.evaluate("document.activeElement.id") == "why-close"
        page.keyboard.press("Escape")
        assert page.locator("#why").is_hidden()
        assert page.evaluate("document.activeElement.dataset.id") == first[1]

        # the query is in the URL: a reload gives the same results
        assert f"id={QUERY_ID}" in page.url and "k=12" in page.url
        shared = page.url
        # the screenshot's state: "why" for the second result, zoomed out to see the country
        # outlines and the archive's coverage around the results
        page.locator(".card .why").nth(1).click()
        page.wait_for_selector("#why:not([hidden]) .why-meta")
        for _ in range(9):
            with page.expect_response(lambda r: "/coverage" in r.url):
                page.click(".leaflet-control-zoom-out")
        page.wait_for_timeout(400)
        shot = tmp_path / "map-page.png"
        page.screenshot(path=str(shot))
        page2, errors2, external2 = watched_page(browser, map_server, 1400, 900)
        page2.goto(shared)
        page2.wait_for_function("document.getElementById('status').textContent.includes('12 results like')")
        assert _result_ids(page2) == first
        assert page2.input_value("#id-input") == QUERY_ID
        browser.close()
    assert shot.stat().st_size > 20_000
    if os.environ.get("TERRAHASH_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["TERRAHASH_SCREENSHOT"])
    assert not errors + errors2, errors + errors2
    assert not external + external2, external + external2


def test_page_without_coordinates_says_so(unlocated_server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = _browser(pw)
        page, errors, external = watched_page(browser, unlocated_server)
        page.goto(unlocated_server)
        page.wait_for_selector("#no-coords:not([hidden])")
        assert page.locator("#map").is_hidden()
        assert "No coordinates" in page.inner_text("#no-coords")
        page.fill("#id-input", "agricultural00")
        page.fill("#k-input", "5")
        page.click("#search-button")
        page.wait_for_function("document.getElementById('status').textContent.includes('5 results like')")
        assert page.locator(".card").count() == 5
        assert page.locator(".card >> text=no coordinates").count() == 5
        browser.close()
    assert not errors, errors
    assert not external, external
