"""`terrahash scan` on a static STAC catalog or ItemCollection whose assets are the shared rasters."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path

import pystac
import pytest
from typer.testing import CliRunner

from terrahash.cli import app
from terrahash.data.scan import scan_archive
from terrahash.errors import DatasetError
from tests.data._rasters import RASTERS

S2 = RASTERS / "sentinel2_brandenburg"
#: (file, id, date, cloud cover, labels) of the Items written over the real rasters.
SCENES = (
    ("ref_S2A_20160608T153121_T33UUU_sub.jp2", "s2-0608", dt.datetime(2016, 6, 8, 10, 31, 21), 4.5,
     ["forest", "agricultural"]),
    ("tgt_S2A_20160529T153631_T33UUU_sub.jp2", "s2-0529", dt.datetime(2016, 5, 29, 10, 36, 31), 31.0, []),
)


def make_item(name: str, item_id: str, when: dt.datetime, cloud: float, labels: list[str],
              href: str) -> pystac.Item:
    item = pystac.Item(
        item_id, {"type": "Polygon", "coordinates": [[[13.0, 52.3], [13.3, 52.3], [13.3, 52.5],
                                                      [13.0, 52.5], [13.0, 52.3]]]},
        [13.0, 52.3, 13.3, 52.5], when.replace(tzinfo=dt.UTC),
        {"platform": "sentinel-2a", "gsd": 10.0, "eo:cloud_cover": cloud},
    )
    if labels:
        item.properties["terrahash:labels"] = labels
    item.add_asset("thumbnail", pystac.Asset("thumb.png", roles=["thumbnail"], media_type="image/png"))
    item.add_asset("visual", pystac.Asset(href, roles=["visual"], media_type="image/jp2"))
    return item


def write_catalog(root: Path) -> Path:
    """A self-contained catalog: catalog.json, one folder per Item, assets relative to each."""
    catalog = pystac.Catalog("shared-s2", "The shared Sentinel-2 subsets")
    for name, item_id, when, cloud, labels in SCENES:
        href = os.path.relpath(S2 / name, root / item_id)
        catalog.add_item(make_item(name, item_id, when, cloud, labels, href))
    catalog.normalize_hrefs(str(root))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


def write_item_collection(path: Path, hrefs: list[str] | None = None) -> Path:
    items = [make_item(name, item_id, when, cloud, labels, href)
             for (name, item_id, when, cloud, labels), href in
             zip(SCENES, hrefs or [os.path.relpath(S2 / s[0], path.parent) for s in SCENES], strict=True)]
    path.write_text(json.dumps(pystac.ItemCollection(items).to_dict(transform_hrefs=False)))
    return path


@pytest.fixture(autouse=True)
def _rasters() -> None:
    if not (S2 / SCENES[0][0]).is_file():
        pytest.skip(f"shared rasters not found under {S2}")


@pytest.mark.parametrize("kind", ["catalog", "item_collection"])
def test_items_become_scenes_with_their_records(tmp_path: Path, kind: str) -> None:
    source = (write_catalog(tmp_path / "cat") if kind == "catalog"
              else write_item_collection(tmp_path / "items.json"))
    result = scan_archive(source)
    assert result.root == source and not result.unpaired_sidecars and not result.other
    scenes = {s.scene_id: s for s in result.scenes}
    assert sorted(scenes) == sorted(s[1] for s in SCENES)
    for name, item_id, when, cloud, labels in SCENES:
        scene = scenes[item_id]
        assert [b.path for b in scene.bands] == [(S2 / name).resolve()]
        rec = scene.record
        assert rec.datetime == when.replace(tzinfo=dt.UTC) and rec.platform == "sentinel-2a"
        assert rec.gsd_m == 10.0 and rec.cloud_cover == cloud and rec.format == "stac_item"
        assert rec.bbox == (13.0, 52.3, 13.3, 52.5)
        assert scene.labels == tuple(labels)
        expected_file = tmp_path / "cat" / item_id / f"{item_id}.json" if kind == "catalog" else source
        assert scene.sidecar == expected_file and rec.source == str(expected_file)


def test_cli_scans_a_catalog_into_labelled_tiles(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "cat")
    runner = CliRunner()
    result = runner.invoke(app, ["scan", str(catalog), "--json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [s["labels"] for s in payload["scenes"]] in (
        [["forest", "agricultural"], []], [[], ["forest", "agricultural"]])
    tiles = tmp_path / "tiles"
    result = runner.invoke(app, ["scan", str(catalog), "--tiles", str(tiles), "--tile-size", "256",
                                 "--levels", "4"])
    assert result.exit_code == 0, result.stderr
    with open(tiles / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_scene = {r["scene_id"]: r for r in rows}
    assert by_scene["s2-0608"]["label"] == "forest|agricultural" and by_scene["s2-0529"]["label"] == ""
    assert by_scene["s2-0608"]["date"].startswith("2016-06-08")
    # no cloud mask in these products: the tile's own cover is unknown, the scene's kept by name
    assert by_scene["s2-0529"]["cloud_cover"] == "" and by_scene["s2-0529"]["scene_cloud_cover"] == "31"


def test_remote_and_missing_assets_are_refused_naming_the_file(tmp_path: Path) -> None:
    local = os.path.relpath(S2 / SCENES[1][0], tmp_path)
    remote = write_item_collection(tmp_path / "remote.json", ["https://example.com/a.jp2", local])
    with pytest.raises(DatasetError, match=r"remote\.json: error: item 's2-0608' asset 'visual' is remote"):
        scan_archive(remote)
    missing = write_item_collection(tmp_path / "missing.json", ["gone.jp2", local])
    refused = r"missing\.json: error: item 's2-0608' asset 'visual': file .*gone\.jp2 not found"
    with pytest.raises(DatasetError, match=refused):
        scan_archive(missing)
    result = CliRunner().invoke(app, ["scan", str(missing)])
    assert result.exit_code == 2 and "not found" in result.stderr and "Traceback" not in result.output
    not_stac = tmp_path / "plain.json"
    not_stac.write_text('{"hello": 1}')
    with pytest.raises(DatasetError, match="not a folder, nor a STAC catalog"):
        scan_archive(not_stac)
