"""A land cover as a query code: the hash centre of its classes, or the centre of its items.

A supervised run pulled each training class's codes towards a fixed hash centre, so the
code of "forest" is the centre of the run's forest class; a node above several classes
("1.1 urban fabric") is the bitwise majority of their centres (``majority_code``). A run
without centres (pairwise or unsupervised methods), or a concept none of its classes
falls under, takes the majority code of the indexed items labelled under the node
instead; that needs labels in the index.

A concept has no image or prompt, hence no embedding from the model. Re-ranking still
has a vector to go by where the index's re-ranking vectors live in code space
(``tanh_hash``): the mean of the ±1 centres; on the items path the mean of the items'
stored vectors (any source). Otherwise the search is in Hamming order alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from terrahash.app.errors import QueryError
from terrahash.app.text_reading import ConceptRef
from terrahash.codes import majority_code
from terrahash.index import Index
from terrahash.model import HashModel
from terrahash.taxonomy import ROOT, Taxonomy, default_taxonomy, label_path, normalize_label


@dataclass(frozen=True)
class Concept:
    """What a concept query searched: the node, the classes or labels its code came from."""

    #: The words as written.
    phrase: str
    #: The taxonomy node searched (``None``: an index label the taxonomy does not know).
    node: str | None
    #: The node's name, or the label.
    name: str
    #: The run's classes (``centres``) or the index's labels (``items``) under the node.
    labels: tuple[str, ...]
    #: ``centres`` (the run's class centres) or ``items`` (the indexed items' majority code).
    source: str
    #: Why the node searched is not the one named (no class under it here), if so.
    note: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"phrase": self.phrase, "node": self.node, "name": self.name,
                "labels": list(self.labels), "source": self.source, "note": self.note}


@dataclass(frozen=True)
class ConceptCode:
    """A concept's packed code (1, bits/8), its re-ranking vector (1, D) or ``None``, and what it is."""

    code: np.ndarray
    vector: np.ndarray | None
    concept: Concept


def _select(
    ref: ConceptRef, candidates: Sequence[str], taxonomy: Taxonomy
) -> tuple[str | None, list[str], str | None]:
    """(node searched, candidates under it, note): the labels named, else the nearest node with classes.

    A node with nothing under it climbs to its parent, up to CORINE level 1 (never the
    root): "broad-leaved forest" on UC Merced searches 3.1 Forests, its ``forest`` class.
    """
    if ref.label_key is not None:
        named = [c for c in candidates if normalize_label(c) == ref.label_key]
        if named or ref.node is None:
            return ref.node, named, None
    start = node = ref.node
    while node is not None and node != ROOT:
        under = [c for c in candidates if node in label_path(c)]
        if under:
            note = None
            if node != start or ref.label_key is not None:
                note = (f"nothing here is labelled {ref.phrase!r}; searched {node} "
                        f"{taxonomy.node(node).name}, the nearest land cover above it with classes")
            return node, under, note
        node = taxonomy.parent(node)
    return start, [], None


def _name(node: str | None, ref: ConceptRef, taxonomy: Taxonomy) -> str:
    return taxonomy.node(node).name if node is not None else ref.phrase


def _from_centres(
    ref: ConceptRef, model: HashModel, source: str | None, taxonomy: Taxonomy
) -> ConceptCode | None:
    centres = model.class_centres()
    if centres is None:
        return None
    classes, codes = centres
    node, chosen, note = _select(ref, classes, taxonomy)
    if not chosen:
        return None
    rows = [classes.index(c) for c in chosen]
    code = majority_code(codes[rows]).reshape(1, -1)
    vector = None
    if source == "tanh_hash":
        signs = np.unpackbits(codes[rows], axis=1).astype(np.float32) * 2.0 - 1.0
        vector = signs.mean(axis=0, keepdims=True)
    return ConceptCode(code, vector, Concept(ref.phrase, node, _name(node, ref, taxonomy), tuple(chosen),
                                             "centres", note))


def _from_items(ref: ConceptRef, index: Index, labels: Sequence[str], source: str | None,
                taxonomy: Taxonomy) -> ConceptCode:
    if not labels:
        raise QueryError(
            f"{index.where}: error: {ref.phrase!r} is a land cover, but this index stores no labels and "
            "its model no class centres, so nothing stands for it; query by image or id instead"
        )
    node, chosen, note = _select(ref, labels, taxonomy)
    if not chosen:
        held = ", ".join(sorted(labels)[:30])
        where = f" or under {node} {taxonomy.node(node).name}" if node is not None else ""
        raise QueryError(f"{index.where}: error: nothing in this index is labelled {ref.phrase!r}{where}; "
                         f"its labels: {held}")
    zero = np.zeros((1, index.bits // 8), dtype=np.uint8)
    ids = index.query(zero, k=max(1, len(index)), filters={"labels": chosen}).ids[0]
    code = majority_code(np.asarray(index.codes_of(ids), dtype=np.uint8)).reshape(1, -1)
    vector = None
    if source is not None:
        stored = index.embeddings_of(ids)
        if stored is not None and stored.any(axis=1).any():
            vector = stored[stored.any(axis=1)].mean(axis=0, keepdims=True)
    return ConceptCode(code, vector, Concept(ref.phrase, node, _name(node, ref, taxonomy), tuple(chosen),
                                             "items", note))


def concept_code(
    ref: ConceptRef,
    index: Index,
    model: HashModel | None,
    labels: Sequence[str],
    source: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> ConceptCode:
    """The code a land cover is searched by: the run's class centres, else the indexed items'.

    Args:
        ref: the concept read from the text (``read_text``).
        index: the index searched.
        model: its run (``None``: the index names none; the items' codes are used).
        labels: the index's labels (its catalog summary).
        source: the index's re-ranking vector source, or ``None`` for no re-ranking.

    Raises:
        QueryError: nothing in the run or the index falls under the concept.
    """
    taxonomy = taxonomy or default_taxonomy()
    if model is not None:
        found = _from_centres(ref, model, source, taxonomy)
        if found is not None:
            return found
    return _from_items(ref, index, labels, source, taxonomy)
