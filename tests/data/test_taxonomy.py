"""The shipped land-cover taxonomy: every shared label maps, the tree is sound, synonyms meet."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from terrahash.data import default_data_dir
from terrahash.data.dataset import split_labels
from terrahash.taxonomy import (
    ROOT,
    Taxonomy,
    TaxonomyError,
    common_label,
    load_taxonomy,
    map_label,
)

SCENES = default_data_dir() / "scenes"
DATASETS = [
    "ucmerced",
    "aid",
    "bigearthnet_s2_examples",
    "bigearthnet_configilm",
    "eolearn_slovenia",
]


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return load_taxonomy()


def _manifest_labels(name: str) -> set[str]:
    """Every label string a set's manifest holds: the label column and labels kept in ``extra``."""
    labels: set[str] = set()
    with open(SCENES / name / "manifest.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            labels.update(split_labels(row["label"]))
            extra = json.loads(row["extra"]) if row.get("extra") else {}
            labels.update(extra.get("labels_43class", []))
            labels.update(extra.get("lulc_hist", {}))
    return labels


@pytest.mark.parametrize("name", DATASETS)
def test_every_label_of_every_shared_set_maps(tax: Taxonomy, name: str) -> None:
    labels = _manifest_labels(name)
    assert labels
    for label in labels:
        node = tax.map_label(label, dataset=name)
        assert node is not None
        assert tax.node(node).kind in ("corine", "root"), (label, node)
        leaf = tax.resolve(label, dataset=name)
        assert tax.node(leaf).label == label  # exact spelling, no fuzzy fallback for shipped sets


def test_label_counts_per_vocabulary(tax: Taxonomy) -> None:
    assert len(tax.labels("ucmerced")) == 21
    assert len(tax.labels("aid")) == 30
    assert len(tax.labels("bigearthnet43")) == 43
    assert len(tax.labels("bigearthnet19")) == 19
    assert set(tax.labels("ucmerced")) == _manifest_labels("ucmerced")
    assert set(tax.labels("aid")) == _manifest_labels("aid")


def test_corine_backbone_has_5_15_44_classes(tax: Taxonomy) -> None:
    corine = [n for n in tax.nodes() if tax.node(n).kind == "corine"]
    by_level = {lvl: [n for n in corine if n.count(".") == lvl - 1] for lvl in (1, 2, 3)}
    assert [len(by_level[lvl]) for lvl in (1, 2, 3)] == [5, 15, 44]
    assert tax.children(ROOT)[:5] == ["1", "2", "3", "4", "5"]
    assert tax.node("1.2.4").name == "Airports"
    assert tax.node("4").name == "Wetlands"


def test_tree_is_acyclic_and_consistent(tax: Taxonomy) -> None:
    for node_id in tax.nodes():
        seen = {node_id}
        current = tax.parent(node_id)
        while current is not None:
            assert current not in seen, f"cycle through {node_id}"
            seen.add(current)
            current = tax.parent(current)
        assert ROOT in seen
        for child in tax.children(node_id):
            assert tax.parent(child) == node_id
        assert tax.path(node_id)[-1] == node_id
        assert tax.depth(node_id) == len(tax.path(node_id)) - 1
    for leaf in tax.leaves():
        assert tax.children(leaf) == []
    # dataset classes are always leaves; CORINE nodes never hang below a dataset class
    assert all(tax.node(n).kind == "label" for n in tax.nodes() if ":" in n)
    assert all(tax.node(tax.parent(n)).kind != "label" for n in tax.nodes() if n != ROOT)


@pytest.mark.parametrize(
    ("a", "da", "b", "db", "node"),
    [
        ("denseresidential", "ucmerced", "DenseResidential", "aid", "1.1.1"),
        ("buildings", "ucmerced", "DenseResidential", "aid", "1.1.1"),
        ("harbor", "ucmerced", "Port", "aid", "1.2.3"),
        ("airplane", "ucmerced", "Airport", "aid", "1.2.4"),
        ("runway", "ucmerced", "Airport", "aid", "1.2.4"),
        ("beach", "ucmerced", "Beach", "aid", "3.3.1"),
        ("forest", "ucmerced", "Forest", "aid", "3.1"),
        ("river", "ucmerced", "River", "aid", "5.1.1"),
        ("parkinglot", "ucmerced", "Parking", "aid", "1.2.2"),
        ("storagetanks", "ucmerced", "StorageTanks", "aid", "1.2.1"),
        ("sparseresidential", "ucmerced", "SparseResidential", "aid", "1.1.2"),
        ("Meadow", "aid", "grassland", "eolearn_slovenia", "2.3.1"),
        ("Pastures", "bigearthnet_s2_examples", "Meadow", "aid", "2.3.1"),
        ("Airports", "bigearthnet_s2_examples", "airplane", "ucmerced", "1.2.4"),
    ],
)
def test_synonyms_across_sets_land_together(
    tax: Taxonomy, a: str, da: str, b: str, db: str, node: str
) -> None:
    assert tax.map_label(a, da) == tax.map_label(b, db) == node
    assert tax.lca_depth(a, b, dataset_a=da, dataset_b=db) == tax.depth(node)
    assert common_label(a, da) == common_label(b) == node


def test_lca_depth_grades_relevance(tax: Taxonomy) -> None:
    # same class: the leaf itself
    assert tax.lca_depth("denseresidential", "denseresidential") == 4
    # same level-2 CORINE class (urban fabric), different level 3
    assert tax.lca_depth("denseresidential", "mediumresidential") == 2
    # both artificial surfaces only
    assert tax.lca_depth("denseresidential", "Airport") == 1
    # urban vs forest: nothing below the root
    assert tax.lca_depth("denseresidential", "Forest") == 0
    # BigEarthNet: forest kinds meet at 3.1, 19-class 'Urban fabric' contains 1.1.1
    assert tax.lca_depth("Coniferous forest", "Mixed forest") == 2
    assert tax.lca_depth("Urban fabric", "DenseResidential") == 2
    # symmetric
    assert tax.lca_depth("Forest", "beach") == tax.lca_depth("beach", "Forest") == 1
    # 'no data' shares nothing with any land cover
    assert tax.lca_depth("no data", "forest", dataset_b="eolearn_slovenia") == 0


def test_merged_bigearthnet19_classes_map_to_the_finest_container(tax: Taxonomy) -> None:
    assert tax.map_label("Natural grassland and sparsely vegetated areas") == "3"
    assert tax.map_label("Moors, heathland and sclerophyllous vegetation") == "3.2"
    assert tax.map_label("Inland waters") == "5.1"
    assert tax.map_label("Marine waters") == "5.2"
    assert tax.map_label("Transitional woodland, shrub") == tax.map_label("Transitional woodland/shrub")


def test_path_depth_parent_children(tax: Taxonomy) -> None:
    assert tax.path("airplane") == [ROOT, "1", "1.2", "1.2.4", "ucmerced:airplane"]
    assert tax.depth("airplane") == 4
    assert tax.path("Airport", "aid")[-1] == "aid:Airport"
    assert tax.parent("aid:Airport") == "1.2.4"
    assert tax.parent("1.2.4") == "1.2"
    assert tax.parent(ROOT) is None
    assert "ucmerced:airplane" in tax.children("1.2.4")
    assert tax.children("1.2") == ["1.2.1", "1.2.2", "1.2.3", "1.2.4"]
    assert "aid:Airport" in tax.leaves() and "1.2.4" not in tax.leaves()


def test_coarse_levels(tax: Taxonomy) -> None:
    assert tax.coarse("harbor") == "1"
    assert tax.coarse("harbor", level=2) == "1.2"
    assert tax.coarse("harbor", level=3) == "1.2.3"
    assert tax.coarse("Mountain", level=3) == "3"  # mapped above level 3: its own node
    assert tax.coarse("no data", dataset="eolearn_slovenia") == ROOT


def test_unknown_labels(tax: Taxonomy) -> None:
    with pytest.raises(TaxonomyError, match="unknown label 'Spaceport'"):
        tax.map_label("Spaceport")
    assert tax.map_label("Spaceport", strict=False) is None
    assert map_label("Spaceport", strict=False) is None
    with pytest.raises(TaxonomyError, match="unknown dataset or vocabulary 'nosuchset'"):
        tax.map_label("forest", dataset="nosuchset")
    # case/spelling variants of hidden sets resolve only where every vocabulary agrees
    assert tax.map_label("Dense_Residential") == "1.1.1"
    assert tax.map_label("STORAGE TANKS") == "1.2.1"


def test_ambiguous_label_needs_a_dataset(tax: Taxonomy) -> None:
    with pytest.raises(TaxonomyError, match="ambiguous"):
        tax.map_label("wetland")  # eo-learn inland wetland vs RESISC45 wetland (any)
    assert tax.map_label("wetland", "eolearn_slovenia") == "4.1"
    assert tax.map_label("wetland", "nwpu_resisc45") == "4"


def test_version_and_default_loader(tax: Taxonomy) -> None:
    assert tax.version == 1
    assert load_taxonomy(Path(__file__).parents[2] / "src/terrahash/taxonomy/taxonomy.yaml").version == 1


def test_bad_taxonomy_files_name_the_problem(tmp_path: Path) -> None:
    cases = {
        "dup.yaml": ("version: 1\nnodes:\n  '1': A\n  '1': B\n", "duplicate key"),
        "noversion.yaml": ("nodes:\n  '1': A\n", "no 'version:'"),
        "badid.yaml": ("version: 1\nnodes:\n  '1.x': A\n", "not a CORINE code"),
        "orphan.yaml": ("version: 1\nnodes:\n  '1.1': A\n", "not defined before it"),
        "badmap.yaml": (
            "version: 1\nnodes:\n  '1': A\nvocabularies:\n  v:\n    labels:\n      x: '9.9'\n",
            "maps to '9.9'",
        ),
        "notyaml.yaml": ("version: [1\n", "not valid YAML"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(TaxonomyError, match=message) as info:
            load_taxonomy(path)
        assert str(path) in str(info.value)
    with pytest.raises(TaxonomyError, match="cannot read taxonomy"):
        load_taxonomy(tmp_path / "missing.yaml")
