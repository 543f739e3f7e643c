"""The dataset loader on every shared scene set, and on broken manifests."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from terrahash.data import SceneDataset, default_data_dir, load_dataset
from terrahash.data.dataset import split_labels
from terrahash.errors import DatasetError

SCENES = default_data_dir() / "scenes"
UTC = dt.UTC


@pytest.fixture(scope="module")
def sets() -> dict[str, SceneDataset]:
    names = [
        "ucmerced",
        "aid",
        "bigearthnet_s2_examples",
        "bigearthnet_configilm",
        "eolearn_slovenia",
    ]
    return {name: load_dataset(SCENES / name) for name in names}


@pytest.mark.parametrize(
    ("name", "count", "n_classes", "multilabel"),
    [
        ("ucmerced", 2100, 21, False),
        ("aid", 10000, 30, False),
        ("bigearthnet_s2_examples", 6, 10, True),
        ("bigearthnet_configilm", 54, 15, True),
        ("eolearn_slovenia", 45, 2, False),
    ],
)
def test_every_shared_set_loads_with_its_counts(
    sets: dict[str, SceneDataset], name: str, count: int, n_classes: int, multilabel: bool
) -> None:
    ds = sets[name]
    assert len(ds) == count
    assert len(ds.classes) == n_classes
    assert ds.multilabel is multilabel
    assert all(item.path.is_file() for item in list(ds)[:50])
    assert len({item.id for item in ds}) == count


def test_class_sizes_match_the_provenance(sets: dict[str, SceneDataset]) -> None:
    ucm = sets["ucmerced"].label_matrix().sum(axis=0)
    assert set(ucm.tolist()) == {100}
    aid = dict(zip(sets["aid"].classes, sets["aid"].label_matrix().sum(axis=0).tolist(), strict=True))
    assert aid["Airport"] == 360 and aid["Viaduct"] == 420 and aid["Center"] == 260


def test_corine_commas_are_not_separators(sets: dict[str, SceneDataset]) -> None:
    first = sets["bigearthnet_s2_examples"][0]
    assert first.labels == (
        "Non-irrigated arable land",
        "Land principally occupied by agriculture, with significant areas of natural vegetation",
    )
    ben19 = {item.id: item for item in sets["bigearthnet_configilm"]}
    last = ben19["BENv1_S2B_MSIL2A_20180525T94030_55_30"]
    assert last.labels == (
        "Land principally occupied by agriculture, with significant areas of natural vegetation",
        "Coniferous forest",
        "Mixed forest",
        "Transitional woodland, shrub",
    )
    assert split_labels(" a | b ;c ") == ("a", "b", "c")
    assert split_labels("") == ()


def test_records_carry_the_manifest_values(sets: dict[str, SceneDataset]) -> None:
    # Values read by hand from the manifests (see the rows quoted in each comment).
    ben = {item.id: item for item in sets["bigearthnet_s2_examples"]}
    # 64/S2B_MSIL2A_20180204T94161_57_38.jpg ... 62.67602,30.300995,"30.289896,62.670368,30.312090,
    # 62.681672",2018-02-04 09:41:56,32635, ... "Sentinel-2B MSI (L2A, sen2cor)",10
    rec = ben["S2B_MSIL2A_20180204T94161_57_38"].record
    assert rec.datetime == dt.datetime(2018, 2, 4, 9, 41, 56, tzinfo=UTC)
    assert (rec.center_lat, rec.center_lon) == (62.67602, 30.300995)
    assert rec.bbox == (30.289896, 62.670368, 30.31209, 62.681672)
    assert rec.epsg == 32635 and rec.gsd_m == 10.0 and rec.platform == "sentinel-2b"
    assert rec.id == "S2B_MSIL2A_20180204T94161_57_38"
    assert ben["S2B_MSIL2A_20180204T94161_57_38"].alternates["path_native"].is_file()

    eo = {item.id: item for item in sets["eolearn_slovenia"]}
    # TestEOPatch_2015-09-09_r064_c064.png ... 2015-09-09T10:00:17Z, 45.867819,14.561699,EPSG:32633,
    # ... "cloud_fraction_CLM": 0.0
    clear = eo["TestEOPatch_2015-09-09_r064_c064"].record
    assert clear.datetime == dt.datetime(2015, 9, 9, 10, 0, 17, tzinfo=UTC)
    assert (clear.center_lat, clear.center_lon) == (45.867819, 14.561699)
    assert clear.cloud_cover == 0.0 and clear.epsg == 32633 and clear.platform == "sentinel-2a"
    assert clear.extra["lulc_hist"]["forest"] == 821
    # TestEOPatch_2015-08-20_r000_c000.png: cloud_fraction_CLM 1.0 -> 100 %
    assert eo["TestEOPatch_2015-08-20_r000_c000"].record.cloud_cover == 100.0

    cfg = {item.id: item for item in sets["bigearthnet_configilm"]}
    # BENv1_..._20180525T94030_55_30: 2018-05-25T09:40:30Z, Sentinel-2B, no coordinates
    rec = cfg["BENv1_S2B_MSIL2A_20180525T94030_55_30"].record
    assert rec.datetime == dt.datetime(2018, 5, 25, 9, 40, 30, tzinfo=UTC)
    assert rec.platform == "sentinel-2b" and rec.center_lat is None and rec.footprint is None

    ucm = sets["ucmerced"][0]
    assert ucm.record.gsd_m == 0.3048 and ucm.record.datetime is None
    assert ucm.alternates["path_128"].name == "agricultural00.jpg"


def test_images_load_at_their_sizes(sets: dict[str, SceneDataset]) -> None:
    ucm = sets["ucmerced"]
    assert ucm.load_image(0).shape == (64, 64, 3)
    assert ucm.load_image(0, column="path_128").shape == (128, 128, 3)
    assert ucm.load_image(0, size=32).dtype == np.uint8
    assert sets["bigearthnet_configilm"].load_image(0).shape == (120, 120, 3)
    assert sets["eolearn_slovenia"].load_image(0).shape == (32, 32, 3)


@pytest.mark.parametrize("name", ["ucmerced", "aid", "bigearthnet_configilm"])
def test_split_is_deterministic_and_stratified(sets: dict[str, SceneDataset], name: str) -> None:
    ds = sets[name]
    train, test = ds.split(seed=7)
    assert (train, test) == ds.split(seed=7)
    assert (train, test) != ds.split(seed=8)
    assert not set(train) & set(test) and len(train) + len(test) == len(ds)
    primary = [item.label for item in ds]
    for label in set(primary):
        members = [i for i, lab in enumerate(primary) if lab == label]
        in_test = sum(1 for i in members if i in set(test))
        if len(members) >= 2:
            assert 1 <= in_test <= len(members) - 1
            assert abs(in_test - 0.2 * len(members)) <= 1.0
    with pytest.raises(ValueError, match="test_fraction"):
        ds.split(test_fraction=1.5)


def _mini_set(tmp_path: Path, header: str, rows: list[str]) -> Path:
    root = tmp_path / "mini"
    root.mkdir(parents=True)
    src = SCENES / "ucmerced" / "64" / "beach" / "beach00.jpg"
    shutil.copy(src, root / "a.jpg")
    (root / "manifest.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return root


def test_missing_image_column_names_the_manifest(tmp_path: Path) -> None:
    root = _mini_set(tmp_path, "picture,label", ["a.jpg,beach"])
    with pytest.raises(DatasetError, match="no image column") as info:
        load_dataset(root)
    assert str(root / "manifest.csv") in str(info.value)


def test_bad_date_names_file_and_line(tmp_path: Path) -> None:
    root = _mini_set(tmp_path, "path,label,date", ["a.jpg,beach,2020-01-01", "a.jpg,beach,31/31/2020"])
    with pytest.raises(DatasetError, match=r"manifest\.csv:3: error: cannot parse date '31/31/2020'"):
        load_dataset(root)


def test_bad_bbox_and_short_rows(tmp_path: Path) -> None:
    root = _mini_set(tmp_path, "path,label,bbox_wgs84", ['a.jpg,beach,"1,2,3"'])
    with pytest.raises(DatasetError, match=r"manifest\.csv:2: error: bbox '1,2,3'"):
        load_dataset(root)
    short = _mini_set(tmp_path / "s", "path,label,date", ["a.jpg"])
    ds = load_dataset(short)
    assert ds[0].labels == () and ds[0].record.datetime is None


def test_missing_image_file_fails_when_loading(tmp_path: Path) -> None:
    root = _mini_set(tmp_path, "path,label", ["a.jpg,beach", "gone.jpg,beach"])
    ds = load_dataset(root)
    assert ds.load_image(0).shape[2] == 3
    with pytest.raises(DatasetError, match="gone.jpg: error: image file not found"):
        ds.load_image(1)


def test_no_manifest(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no manifest.csv"):
        load_dataset(tmp_path)


def test_unlabelled_archive_loads(tmp_path: Path) -> None:
    root = _mini_set(tmp_path, "path,label,lat,lon", ["a.jpg,,-25.1,-54.5"])
    ds = load_dataset(root)
    assert ds[0].labels == () and ds.classes == [] and not ds.multilabel
    assert (ds[0].record.center_lat, ds[0].record.center_lon) == (-25.1, -54.5)
    train, test = ds.split(seed=0)
    assert train == [0] and test == []
