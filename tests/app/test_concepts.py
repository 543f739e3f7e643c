"""Concept queries: land-cover words in a text query resolve to a taxonomy node and are searched
by its hash centre; platform and date words become filters.

The end-to-end tests train the default model (``TrainOptions()``: CCLS2T, 64 bits, 64 px, the
shipped backbone) on a small UC Merced subset once per session and index it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from terrahash.app import Query, QueryError, Searcher
from terrahash.app.concepts import concept_code
from terrahash.app.text_reading import read_text, text_filters
from terrahash.index import Filters, Index
from terrahash.taxonomy import TaxonomyError, label_path, load_taxonomy
from tests.model.conftest import make_subset

UCM_CLASSES = ("agricultural", "airplane", "beach", "buildings", "denseresidential", "forest",
               "mediumresidential", "runway")
INDEX_PLATFORMS = ("sentinel-2a", "sentinel-2b", "landsat-8", "naip")


# -- reading text ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "node", "label_key"),
    [
        ("forest", "3.1", None),
        ("Forests", "3.1", None),  # the CORINE name, plural as CLC writes it
        ("woodland", "3.1", None),  # a synonym
        ("lakes", "5.1.2", None),
        ("Broad-leaved forest", "3.1.1", None),
        ("311", "3.1.1", None),  # CORINE codes, bare (3 digits) or with CLC / dots
        ("CLC 311", "3.1.1", None),
        ("clc-3.1.2", "3.1.2", None),
        ("corine 51", "5.1", None),
        ("dense residential", "1.1.1", "denseresidential"),  # dataset labels, any spelling
        ("Dense_Residential", "1.1.1", "denseresidential"),
        ("tennis courts", "1.4.2", "tenniscourt"),
        ("beaches", "3.3.1", "beach"),
        ("Land principally occupied by agriculture, with significant areas of natural vegetation",
         "2.4.3", None),
    ],
)
def test_land_cover_words_resolve_to_a_node(text: str, node: str, label_key: str | None) -> None:
    concept = read_text(text).concept
    assert concept is not None
    assert (concept.node, concept.label_key) == (node, label_key)


def test_a_label_only_the_index_knows_is_a_concept_too() -> None:
    concept = read_text("solar farms in 2020", labels=["solar_farm"]).concept
    assert concept is not None and concept.label_key == "solarfarm" and concept.node is None


def test_sensor_words_become_the_index_platforms() -> None:
    both = ("sentinel-2a", "sentinel-2b")
    assert read_text("forest sentinel-2", platforms=INDEX_PLATFORMS).platforms == both
    assert read_text("forest Sentinel 2A", platforms=INDEX_PLATFORMS).platforms == ("sentinel-2a",)
    assert read_text("landsat 8 river", platforms=INDEX_PLATFORMS).platforms == ("landsat-8",)
    assert read_text("naip forest", platforms=INDEX_PLATFORMS).platforms == ("naip",)
    # a platform the index does not hold is still a filter (it then matches nothing)
    assert read_text("WorldView-3 forest", platforms=INDEX_PLATFORMS).platforms == ("worldview-3",)


def test_years_seasons_and_months_become_date_intervals() -> None:
    undated = (None, None)
    assert read_text("forest 2021").intervals(undated) == [(dt.date(2021, 1, 1), dt.date(2021, 12, 31))]
    assert read_text("forest june 2020").intervals(undated) == [(dt.date(2020, 6, 1), dt.date(2020, 6, 30))]
    # meteorological winter 2021: the one whose January is in 2021
    winter = [(dt.date(2020, 12, 1), dt.date(2021, 2, 28))]
    assert read_text("winter 2021 forest").intervals(undated) == winter
    # a season without a year: that season in every year of the index's dates
    dated = (dt.datetime(2019, 3, 1, tzinfo=dt.UTC), dt.datetime(2020, 10, 1, tzinfo=dt.UTC))
    summers = read_text("forest in summer").intervals(dated)
    assert summers[:2] == [(dt.date(2019, 6, 1), dt.date(2019, 8, 31)),
                           (dt.date(2020, 6, 1), dt.date(2020, 8, 31))]
    assert read_text("forest in summer").intervals(undated) == []  # no dated item: nothing matches


def test_text_filters_narrow_the_given_filters() -> None:
    reading = read_text("forest sentinel-2 august 2021", platforms=INDEX_PLATFORMS)
    base = Filters(start=dt.datetime(2021, 8, 20, tzinfo=dt.UTC), platforms=("sentinel-2a", "landsat-8"))
    (only,) = text_filters(base, reading, ["2015-01-01T00:00:00+00:00", "2022-01-01T00:00:00+00:00"])
    assert only.platforms == ("sentinel-2a",)
    assert only.start == dt.datetime(2021, 8, 20, tzinfo=dt.UTC)
    assert only.end is not None and only.end.date() == dt.date(2021, 8, 31)
    with pytest.raises(QueryError, match="nothing can match both"):
        text_filters(Filters(platforms=("landsat-8",)), read_text("forest sentinel-2a"), [None, None])


def test_text_nothing_understood_is_refused_with_examples() -> None:
    with pytest.raises(QueryError, match="names no land cover") as info:
        read_text("xyzzy plugh")
    assert "not understood: xyzzy plugh" in str(info.value) and "'CLC 311'" in str(info.value)
    with pytest.raises(QueryError, match="2 land covers"):
        read_text("forest next to a river")
    # platform or date words alone go to the text encoder as a prompt
    assert read_text("sentinel-2a august 2015").concept is None


def test_synonyms_in_the_taxonomy_file_are_checked(tmp_path: Path) -> None:
    head = "version: 1\nnodes:\n  '3': Forest\n  '3.1': Forests\n"
    cases = {"synonyms:\n  '9': [x]\n": "not a CORINE node id",
             "synonyms:\n  '3': [woods]\n  '3.1': [Woods]\n": "given for both",
             "synonyms:\n  '3': woods\n": "must be a list"}
    for body, message in cases.items():
        path = tmp_path / "t.yaml"
        path.write_text(head + body)
        with pytest.raises(TaxonomyError, match=message):
            load_taxonomy(path)
    assert "forest" in load_taxonomy().synonyms("3.1")


# -- searching UC Merced -----------------------------------------------------------------------
@pytest.fixture(scope="session")
def ucm_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model trained on 8 UC Merced classes (10 images each), and their index."""
    from terrahash.app import build_index
    from terrahash.train.run import TrainOptions, train

    base = tmp_path_factory.mktemp("concepts")
    data = make_subset(base / "data", per_class=10, classes=UCM_CLASSES)
    train(data, base / "run", TrainOptions(epochs=12))
    build_index(base / "run", data, base / "index").close()
    return base / "index"


def _under(node: str, labels: list[str | None]) -> int:
    return sum(label is not None and node in label_path(label) for label in labels)


@pytest.mark.parametrize(
    ("text", "node", "majority_label"),
    [
        ("forest", "3.1", "forest"),
        ("dense residential", "1.1.1", "denseresidential"),
        ("CLC 124", "1.2.4", None),  # Airports: UC Merced's airplane and runway
        ("311", "3.1", "forest"),  # Broad-leaved forest: UC Merced's forest (3.1) is the nearest class
    ],
)
def test_concept_top10_carries_the_label(
    ucm_index: Path, text: str, node: str, majority_label: str | None
) -> None:
    with Searcher.open(ucm_index) as searcher:
        outcome = searcher.search(Query(text=text), k=10)
    assert outcome.concept is not None and outcome.concept.node == node
    assert outcome.concept.source == "centres"
    labels = [h.label for h in outcome.hits]
    assert len(labels) == 10
    assert _under(node, labels) > 5, labels
    if majority_label is not None:
        assert Counter(labels)[majority_label] > 5, labels


def test_items_path_without_centres(ucm_index: Path) -> None:
    """An unsupervised run (or none) searches by the majority code of the items under the node."""
    with Index.open(ucm_index) as index:
        labels = list(index.info()["catalog"]["labels"])
        ref = read_text("forest").concept
        assert ref is not None
        found = concept_code(ref, index, None, labels)
        assert found.concept.source == "items" and found.concept.labels == ("forest",)
        ids, _ = index.search(found.code, k=10)
        hits = [row.label for row in index.get(ids[0]) if row is not None]
    assert Counter(hits)["forest"] > 5, hits
    empty = Index.create(ucm_index.parent / "unlabelled", bits=64)
    empty.add(["a"], np.zeros((1, 8), np.uint8))
    with pytest.raises(QueryError, match="stores no labels"):
        concept_code(ref, empty, None, [])
    empty.close()


def test_every_front_end_reads_text_the_same(ucm_index: Path) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from terrahash.cli import app
    from terrahash.service import create_app

    with Searcher.open(ucm_index) as searcher:
        python_ids = searcher.search(Query(text="dense residential area"), k=10).ids
    argv = ["search", str(ucm_index), "--text", "dense residential area", "-k", "10", "--json"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.stderr
    assert [h["id"] for h in json.loads(result.stdout)["results"]] == python_ids
    assert "searched as 1.1.1 Continuous urban fabric" in result.stderr
    client = TestClient(create_app(ucm_index), raise_server_exceptions=False)
    response = client.post("/search", json={"text": "dense residential area", "k": 10})
    assert response.status_code == 200, response.text
    assert [f["id"] for f in response.json()["features"]] == python_ids
    assert response.json()["terrahash:query"]["concept"]["labels"] == ["denseresidential"]
    bad = client.post("/search", json={"text": "xyzzy"})
    assert bad.status_code == 400 and "names no land cover" in bad.json()["detail"]


def test_the_demo_text_query_is_a_land_cover_of_uc_merced() -> None:
    """`make demo` searches its UC Merced index by text; that index's model has no text
    encoder, so the query must read as a land cover (a prompt-like query failed the demo)."""
    from terrahash.app.text_reading import read_text
    from terrahash.demo import TEXT_QUERY

    reading = read_text(TEXT_QUERY, ["denseresidential", "forest", "harbor"])
    assert reading.concept is not None and not reading.ignored
