"""Re-ranking through the one search path: an indexed image searched by its own file comes back
first even where dozens of items tie with it at Hamming distance 0, and ``rerank=False`` is the
Hamming stage alone.

The index is built by ``build_index`` (codes and vectors from one pass) with a tiny model
trained for one epoch on 60 real UC Merced images at 16 bits, so codes collapse onto few
values and the ties are real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from terrahash.app import ItemNotFoundError, Query, Searcher
from terrahash.app.build import VECTOR_SOURCE, build_index
from terrahash.data import load_dataset
from terrahash.index import Index
from terrahash.metadata import SceneRecord
from tests.model.conftest import make_subset

CLASSES = ("agricultural", "beach", "buildings", "forest", "harbor", "river")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from terrahash.train.run import TrainOptions, train

    root = tmp_path_factory.mktemp("rerank")
    data = make_subset(root / "data", per_class=10, classes=CLASSES)
    # From scratch, one epoch: a weak model whose codes tie in large groups, the case
    # re-ranking exists for (the pretrained backbone already separates these images).
    train(data, root / "run", TrainOptions(epochs=1, bits=16, batch_size=16, image_size=64, backbone="none"))
    build_index(root / "run", data, root / "index").close()
    return data, root / "index"


def test_index_stores_the_chosen_vectors(built: tuple[Path, Path]) -> None:
    _, index_dir = built
    with Index.open(index_dir) as index:
        assert index.manifest["embedding_source"] == VECTOR_SOURCE
        info = index.info()["embeddings"]
        assert info["rerank"] and info["items"] == len(index) == 60 and info["bytes_per_item"] <= 256


def test_own_file_comes_back_first_among_ties(built: tuple[Path, Path]) -> None:
    data, index_dir = built
    ties, hamming_first = [], 0
    with Searcher.open(index_dir) as searcher:
        for item in load_dataset(data):
            reranked = searcher.search(Query(image=item.path), k=60)
            assert reranked.ids[0] == item.id, f"{item.id}: {reranked.ids[:5]}"
            assert reranked.hits[0].score is not None and reranked.hits[0].score > 0.999
            scores = [s for s in reranked.scores if s is not None]
            assert scores == sorted(scores, reverse=True)
            ties.append(reranked.distances.count(reranked.distances[0]))
            hamming = searcher.search(Query(image=item.path), k=60, rerank=False)
            assert set(hamming.ids) == set(reranked.ids) and hamming.scores == [None] * 60
            assert sorted(hamming.distances) == hamming.distances
            hamming_first += hamming.ids[0] == item.id
    assert max(ties) >= 24, f"the model made no large tie group ({max(ties)}); the test shows nothing"
    assert hamming_first < 60  # tie order alone does not put every image first


def test_id_query_uses_the_stored_vector(built: tuple[Path, Path]) -> None:
    _, index_dir = built
    with Searcher.open(index_dir) as searcher:
        item_id = "harbor03"
        by_id = searcher.search(Query(id=item_id), k=10)
        assert by_id.ids[0] == item_id and by_id.hits[0].score == 1.0  # its own vector, exactly
        stored = searcher.index.embeddings_of([item_id])
        assert stored is not None and np.abs(stored).max() == 1.0  # dequantised: largest component 1
        assert not searcher.model_loaded  # id queries need no model, re-ranked or not


def test_search_many_equals_one_by_one(built: tuple[Path, Path]) -> None:
    """A server's micro-batch (images, an image with metadata, ids; re-ranked or not) gives each
    query exactly what a lone search gives it."""
    data, index_dir = built
    items = list(load_dataset(data))[::5]
    record = SceneRecord(id="q", platform="sentinel-2a", gsd_m=10.0)
    queries = ([Query(image=item.path) for item in items] + [Query(id=items[1].id), Query(id=items[7].id)]
               + [Query(image=items[2].path, metadata=record)])
    with Searcher.open(index_dir) as searcher:
        for rerank in (True, False):
            together = searcher.search_many(queries, k=15, rerank=rerank)
            for query, batched in zip(queries, together, strict=True):
                alone = searcher.search(query, k=15, rerank=rerank)
                assert batched.query is query and batched.scanned == alone.scanned == 60
                assert batched.ids == alone.ids and batched.distances == alone.distances
                assert batched.scores == alone.scores and batched.hits == alone.hits
        with pytest.raises(ItemNotFoundError, match="nope"):
            searcher.search_many([queries[0], Query(id="nope")], k=5)
