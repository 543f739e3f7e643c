"""`terrahash index ...` and `terrahash search ...` end to end on real images."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import terrahash
from tests.search.conftest import invoke, write_subset

MTL = "metadata/landsat_mtl/LC08_L1GT_119160_20240208_20240208_02_RT_MTL.txt"


def search_json(index: Path, *args: str) -> dict:
    code, out, err = invoke("search", index, "--json", *args)
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == {"results", "scanned", "took_ms"}
    for hit in payload["results"]:
        assert set(hit) == {"id", "path", "distance", "score", "label", "record"}
    return payload


def test_index_info(built: dict[str, Path]) -> None:
    code, out, err = invoke("index", "info", built["index"], "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["count"] == 60 and info["bits"] == 64 and info["code_kind"] == "fused"
    assert len(info["model"]["fingerprint"]) == 16 and info["template_version"] == 1
    assert info["catalog"]["platforms"] == {"sentinel-2a": 30, "landsat-8": 30}
    code, out, _ = invoke("index", "info", built["index"])
    assert code == 0 and "fingerprint" in out


def test_search_by_image_finds_itself_among_its_class(built: dict[str, Path]) -> None:
    index = terrahash.Index.open(built["index"])
    item = index.get(["agricultural03"])[0]
    payload = search_json(built["index"], "--image", item.path, "-k", "10")
    assert len(payload["results"]) == 10 and payload["scanned"] == 60
    scores = [h["score"] for h in payload["results"]]  # re-ranked by default
    assert scores == sorted(scores, reverse=True)
    hamming = search_json(built["index"], "--image", item.path, "-k", "10", "--no-rerank")
    dists = [h["distance"] for h in hamming["results"]]
    assert dists == sorted(dists) and {h["score"] for h in hamming["results"]} == {None}
    code, out, _ = invoke("search", built["index"], "--image", item.path, "-k", "5")
    assert code == 0 and "rank" in out and "distance" in out and "score" in out and "platform" in out


def test_search_by_image_and_meta_text_meta_and_id(built: dict[str, Path]) -> None:
    from terrahash.data import default_data_dir

    index = terrahash.Index.open(built["index"])
    image = index.get(["buildings04"])[0].path
    mtl = default_data_dir() / MTL
    plain = search_json(built["index"], "--image", image, "-k", "60")
    fused = search_json(built["index"], "--image", image, "--meta", str(mtl), "-k", "60")
    assert {h["id"] for h in fused["results"]} == {h["id"] for h in plain["results"]}
    assert len(search_json(built["index"], "--text", "dense forest in summer", "-k", "7")["results"]) == 7
    assert len(search_json(built["index"], "--meta", str(mtl), "-k", "4")["results"]) == 4
    by_id = search_json(built["index"], "--id", "buildings04", "-k", "60")["results"]
    # a one-epoch model gives some items equal codes: ties rank by insertion order
    assert by_id[0]["distance"] == 0
    assert "buildings04" in [h["id"] for h in by_id if h["distance"] == 0]


@pytest.mark.parametrize(
    ("args", "check"),
    [
        (
            ["--bbox", "25,12,40,25"],
            lambda r: 25 - 1e-9 <= r["center_lon"] <= 40 and 12 <= r["center_lat"] <= 25,
        ),
        (
            ["--start", "2021-03-01", "--end", "2021-05-31"],
            lambda r: "2021-03" <= r["datetime"][:7] <= "2021-05",
        ),
        (["--platform", "Landsat-8"], lambda r: r["platform"] == "landsat-8"),
        (["--gsd-min", "0.5"], lambda r: r["gsd_m"] >= 0.5),
        (["--gsd-max", "0.5"], lambda r: r["gsd_m"] <= 0.5),
        (["--cloud-max", "20"], lambda r: r["cloud_cover"] <= 20),
        (["--label", "airplane", "--label", "beach"], None),
    ],
)
def test_each_filter(built: dict[str, Path], args: list[str], check) -> None:  # noqa: ANN001
    payload = search_json(built["index"], "--text", "beach", "-k", "60", *args)
    assert 0 < len(payload["results"]) < 60 and payload["scanned"] == len(payload["results"])
    for hit in payload["results"]:
        assert check(hit["record"]) if check else hit["label"] in ("airplane", "beach")


def test_approx_and_contact_sheet(built: dict[str, Path], tmp_path: Path) -> None:
    sheet = tmp_path / "results.png"
    exact = search_json(built["index"], "--id", "beach02", "-k", "8")
    approx = search_json(built["index"], "--id", "beach02", "-k", "8", "--approx", "--nprobe", "100")
    assert [h["id"] for h in approx["results"]] == [h["id"] for h in exact["results"]]
    code, _, err = invoke("search", built["index"], "--id", "beach02", "-k", "8", "--show", sheet)
    assert code == 0, err
    from PIL import Image

    with Image.open(sheet) as img:
        assert img.size[0] >= 6 * 128 and np.asarray(img).std() > 10


def test_index_add_and_errors(built: dict[str, Path], tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(built["index"], index_dir)
    extra = write_subset(tmp_path / "extra", per_class=2, offset=20)
    code, out, err = invoke("index", "add", index_dir, extra)
    assert code == 0, err
    assert len(terrahash.Index.open(index_dir)) == 72
    code, _, err = invoke("search", tmp_path / "nowhere", "--text", "x")
    assert code == 2 and "error" in err
    code, _, err = invoke("search", index_dir)
    assert code == 2 and "give a query" in err
    code, _, err = invoke("search", index_dir, "--text", "x", "--bbox", "1,2,3")
    assert code == 2 and "W,S,E,N" in err
    other = tmp_path / "other-run"
    shutil.copytree(built["run"], other)
    (other / "config.json").write_text((other / "config.json").read_text() + "\n")
    code, _, err = invoke("search", index_dir, "--text", "x", "--model", other)
    assert code == 2 and "not the model this index was built with" in err
    wide = terrahash.Index.create(tmp_path / "wide", bits=128, model={"run_dir": str(built["run"])})
    wide.close()
    code, _, err = invoke("search", tmp_path / "wide", "--text", "x")
    assert code == 2 and "makes 64-bit codes, the index holds 128-bit codes" in err
