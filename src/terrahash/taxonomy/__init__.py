"""The semantic taxonomy: every dataset's labels in one CORINE-backed land-cover tree.

Cross-dataset retrieval needs one notion of "same kind of place": UC Merced's
``denseresidential`` and AID's ``DenseResidential`` are different strings for the same
CORINE class. The shipped ``taxonomy.yaml`` hangs each dataset class as a leaf
``"<vocabulary>:<label>"`` under the most specific CORINE Land Cover node (levels 1-3) that
fits it, so relevance can be graded by how deep two labels' paths agree (``lca_depth``)
and synonyms resolve to one canonical node (``map_label`` / ``common_label``).

Depths: ``root`` is 0, CORINE level 1 is 1, level 3 is 3, a dataset leaf is one below
the node it hangs from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from terrahash.errors import TerraHashError

ROOT = "root"
_CLC_ID = re.compile(r"^[1-5](\.[1-9]){0,2}$")


class TaxonomyError(TerraHashError, LookupError):
    """A taxonomy file is inconsistent, or a label / node id is not in it."""


@dataclass(frozen=True)
class Node:
    """One node of the tree: the root, a CORINE class, or a dataset class (leaf)."""

    id: str
    name: str
    parent: str | None
    #: ``root``, ``corine`` or ``label``.
    kind: str
    #: For dataset leaves: the vocabulary and the label as the dataset spells it.
    vocabulary: str | None = None
    label: str | None = None


def normalize_label(label: str) -> str:
    """Spelling-insensitive key: ``Dense_Residential`` and ``denseresidential`` agree."""
    return re.sub(r"[^a-z0-9]", "", label.casefold())


class Taxonomy:
    """A land-cover tree with label lookup; build it with ``load_taxonomy``."""

    def __init__(self, data: dict[str, Any], source: str = "<taxonomy>") -> None:
        self.source = source
        self.version = data.get("version")
        self.name = str(data.get("name", ""))
        if self.version is None:
            raise TaxonomyError(f"{source}: error: taxonomy has no 'version:'")
        self._nodes: dict[str, Node] = {ROOT: Node(ROOT, "Land cover", None, "root")}
        self._children: dict[str, list[str]] = {ROOT: []}
        for node_id, name in (data.get("nodes") or {}).items():
            self._add_corine(str(node_id), str(name))
        #: vocabulary -> {label: leaf id}
        self._vocab: dict[str, dict[str, str]] = {}
        #: dataset folder name -> vocabularies it uses, in file order
        self._dataset_vocabs: dict[str, list[str]] = {}
        for vocab, spec in (data.get("vocabularies") or {}).items():
            self._add_vocabulary(str(vocab), spec or {})
        self._normalized = self._build_normalized_index()
        #: node id -> words that name it in a text query, besides its CORINE name
        self._synonyms: dict[str, list[str]] = {}
        self._synonym_owner: dict[str, str] = {}
        for node_id, words in (data.get("synonyms") or {}).items():
            self._add_synonyms(str(node_id), words)

    # -- construction --------------------------------------------------------------------
    def _add(self, node: Node) -> None:
        if node.id in self._nodes:
            raise TaxonomyError(f"{self.source}: error: node {node.id!r} is defined twice")
        if node.parent not in self._nodes:
            raise TaxonomyError(
                f"{self.source}: error: node {node.id!r} has parent {node.parent!r}, which is "
                "not defined before it"
            )
        self._nodes[node.id] = node
        self._children[node.id] = []
        self._children[node.parent].append(node.id)

    def _add_corine(self, node_id: str, name: str) -> None:
        if not _CLC_ID.match(node_id):
            raise TaxonomyError(
                f"{self.source}: error: node id {node_id!r} is not a CORINE code like '1.2.4'"
            )
        parent = node_id.rsplit(".", 1)[0] if "." in node_id else ROOT
        self._add(Node(node_id, name, parent, "corine"))

    def _add_vocabulary(self, vocab: str, spec: dict[str, Any]) -> None:
        if ":" in vocab:
            raise TaxonomyError(f"{self.source}: error: vocabulary name {vocab!r} contains ':'")
        labels = spec.get("labels") or {}
        if not labels:
            raise TaxonomyError(f"{self.source}: error: vocabulary {vocab!r} has no labels")
        self._vocab[vocab] = {}
        for label, target in labels.items():
            target = str(target)
            if target not in self._nodes or self._nodes[target].kind == "label":
                raise TaxonomyError(
                    f"{self.source}: error: {vocab} label {label!r} maps to {target!r}, "
                    "which is not a CORINE node id (or 'root')"
                )
            leaf = f"{vocab}:{label}"
            self._add(Node(leaf, str(label), target, "label", vocab, str(label)))
            self._vocab[vocab][str(label)] = leaf
        for dataset in spec.get("datasets") or [vocab]:
            self._dataset_vocabs.setdefault(str(dataset), []).append(vocab)

    def _add_synonyms(self, node_id: str, words: object) -> None:
        if node_id not in self._nodes or self._nodes[node_id].kind != "corine":
            raise TaxonomyError(
                f"{self.source}: error: synonyms given for {node_id!r}, which is not a CORINE node id"
            )
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise TaxonomyError(f"{self.source}: error: synonyms of {node_id!r} must be a list of words")
        for word in words:
            other = self._synonym_owner.setdefault(normalize_label(word), node_id)
            if other != node_id:
                raise TaxonomyError(
                    f"{self.source}: error: synonym {word!r} is given for both {other!r} and {node_id!r}"
                )
        self._synonyms[node_id] = [w.strip() for w in words]

    def _build_normalized_index(self) -> dict[str, str | None]:
        """normalised label -> canonical node, or ``None`` where spellings disagree."""
        index: dict[str, str | None] = {}
        for leaves in self._vocab.values():
            for label, leaf in leaves.items():
                key, target = normalize_label(label), self._nodes[leaf].parent
                if key in index and index[key] != target:
                    index[key] = None
                else:
                    index.setdefault(key, target)
        return index

    # -- tree ----------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        """The node with this id (``"1.2.4"``, ``"aid:Airport"``, ``"root"``)."""
        try:
            return self._nodes[node_id]
        except KeyError:
            raise TaxonomyError(f"unknown taxonomy node {node_id!r}") from None

    def parent(self, node_id: str) -> str | None:
        """Id of the parent node (``None`` for the root)."""
        return self.node(node_id).parent

    def children(self, node_id: str) -> list[str]:
        """Ids of the direct children, in file order."""
        self.node(node_id)
        return list(self._children[node_id])

    def leaves(self) -> list[str]:
        """Ids of every node without children (dataset classes, plus unused CORINE classes)."""
        return [n for n, kids in self._children.items() if not kids]

    def nodes(self) -> list[str]:
        """Every node id, parents before children."""
        return list(self._nodes)

    def synonyms(self, node_id: str) -> list[str]:
        """Words a text query may name a CORINE node by, besides its name (``forest`` -> 3.1)."""
        self.node(node_id)
        return list(self._synonyms.get(node_id, []))

    def vocabularies(self) -> list[str]:
        """Names of the label vocabularies (``ucmerced``, ``aid``, ``bigearthnet43`` ...)."""
        return list(self._vocab)

    def labels(self, vocabulary_or_dataset: str) -> list[str]:
        """Labels of one vocabulary, or of every vocabulary a dataset folder uses."""
        vocabs = self._vocabs_for(vocabulary_or_dataset)
        return [label for v in vocabs for label in self._vocab[v]]

    def _vocabs_for(self, dataset: str) -> list[str]:
        if dataset in self._vocab:
            return [dataset]
        if dataset in self._dataset_vocabs:
            return self._dataset_vocabs[dataset]
        known = ", ".join(sorted({*self._vocab, *self._dataset_vocabs}))
        raise TaxonomyError(f"unknown dataset or vocabulary {dataset!r}; known: {known}")

    # -- label resolution ----------------------------------------------------------------
    def resolve(self, label: str, dataset: str | None = None, strict: bool = True) -> str | None:
        """The node a label stands for: its dataset leaf, or a node id given directly.

        Lookup order: a node id (``"1.2.4"``, ``"aid:Airport"``); the exact label in the
        dataset's vocabularies (or in all of them, in file order, when ``dataset`` is
        ``None``); then a spelling-insensitive match that all vocabularies agree on (which
        resolves to the shared CORINE node, since no single leaf is meant).

        Raises:
            TaxonomyError: unknown label (only when ``strict``), or unknown ``dataset``.
        """
        if label in self._nodes:
            return label
        vocabs = self._vocabs_for(dataset) if dataset is not None else list(self._vocab)
        hits = [self._vocab[v][label] for v in vocabs if label in self._vocab[v]]
        if hits:
            targets = {self._nodes[h].parent for h in hits}
            if len(targets) > 1:
                where = ", ".join(hits)
                raise TaxonomyError(f"label {label!r} is ambiguous ({where}); pass dataset= to choose")
            return hits[0]
        fuzzy = self._normalized.get(normalize_label(label))
        if fuzzy is not None:
            return fuzzy
        if not strict:
            return None
        scope = f" of dataset {dataset!r}" if dataset else ""
        raise TaxonomyError(
            f"unknown label {label!r}{scope}; add it to a vocabulary in {self.source} "
            "(or call with strict=False to fall back to a code-clustered hierarchy)"
        )

    def map_label(self, label: str, dataset: str | None = None, strict: bool = True) -> str | None:
        """Canonical CORINE node id of a (dataset, label): where synonyms meet.

        ``map_label("denseresidential", "ucmerced") == map_label("DenseResidential") == "1.1.1"``.
        Returns ``None`` for an unknown label when ``strict`` is false.
        """
        node_id = self.resolve(label, dataset, strict)
        return None if node_id is None else self._canonical(node_id)

    def _canonical(self, node_id: str) -> str:
        node = self._nodes[node_id]
        return node.parent if node.kind == "label" and node.parent is not None else node_id

    def _resolve_strict(self, label: str, dataset: str | None) -> str:
        node_id = self.resolve(label, dataset, strict=True)
        if node_id is None:  # unreachable: strict lookup raises instead
            raise TaxonomyError(f"unknown label {label!r}")
        return node_id

    def common_label(self, label: str, dataset: str | None = None) -> str:
        """The finest node a label shares with other sets' synonyms (= ``map_label``)."""
        return self._canonical(self._resolve_strict(label, dataset))

    def path(self, label: str, dataset: str | None = None) -> list[str]:
        """Node ids from the root down to the label's node (its leaf, or the node given)."""
        chain: list[str] = []
        current: str | None = self._resolve_strict(label, dataset)
        while current is not None:
            chain.append(current)
            current = self._nodes[current].parent
        return chain[::-1]

    def depth(self, label: str, dataset: str | None = None) -> int:
        """Depth of the label's node (root 0, CORINE level L at L, leaves one deeper)."""
        return len(self.path(label, dataset)) - 1

    def lca_depth(
        self,
        a: str,
        b: str,
        *,
        dataset_a: str | None = None,
        dataset_b: str | None = None,
    ) -> int:
        """Depth of the deepest node on both labels' paths: a graded relevance gain.

        Same class -> its leaf depth (4 under a level-3 node); synonyms across sets ->
        the depth of their shared CORINE node; unrelated land covers -> 0.
        """
        depth = 0
        for x, y in zip(self.path(a, dataset_a), self.path(b, dataset_b), strict=False):
            if x != y:
                break
            depth += 1
        return depth - 1

    def coarse(self, label: str, level: int = 1, dataset: str | None = None) -> str:
        """The CORINE ancestor at ``level`` (1-3) of a label's canonical node.

        A label mapped above that level (AID ``Mountain`` -> ``"3"``) returns its own node;
        one mapped to the root returns ``"root"``.
        """
        if level < 0:
            raise ValueError(f"level must be >= 0, got {level}")
        path = self.path(self.common_label(label, dataset))
        return path[min(level, len(path) - 1)]

    def map_labels(self, labels: Iterable[str], dataset: str | None = None) -> list[str]:
        """``map_label`` over several labels (strict)."""
        return [self.common_label(label, dataset) for label in labels]

    def __len__(self) -> int:
        return len(self._nodes)

    def __repr__(self) -> str:
        return f"Taxonomy({self.name!r}, version={self.version!r}, nodes={len(self)})"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (PyYAML keeps the last one silently)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load a taxonomy YAML file (default: the one shipped with TerraHash).

    Raises:
        TaxonomyError: naming the file and the problem (missing file, bad YAML,
            duplicate keys, unknown node ids).
    """
    if path is None:
        ref = resources.files("terrahash.taxonomy").joinpath("taxonomy.yaml")
        text, source = ref.read_text(encoding="utf-8"), "terrahash/taxonomy/taxonomy.yaml"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise TaxonomyError(f"{source}: error: cannot read taxonomy ({exc.strerror})") from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{source}: error: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise TaxonomyError(f"{source}: error: expected a mapping with nodes and vocabularies")
    return Taxonomy(data, source)


@cache
def default_taxonomy() -> Taxonomy:
    """The shipped taxonomy, loaded once."""
    return load_taxonomy()


def map_label(label: str, dataset: str | None = None, strict: bool = True) -> str | None:
    """``default_taxonomy().map_label``: canonical CORINE node of a (dataset, label)."""
    return default_taxonomy().map_label(label, dataset, strict)


def common_label(label: str, dataset: str | None = None) -> str:
    """Finest shared node of a label in the shipped taxonomy (cross-set relevance key)."""
    return default_taxonomy().common_label(label, dataset)


def label_path(label: str, dataset: str | None = None) -> list[str]:
    """Node ids root -> leaf for ``label`` in the shipped taxonomy; ``[label]`` when unknown.

    The RSHST tree hangs items by this path, so classes of different datasets meet at their
    common CORINE ancestors while an unknown label still gets a node of its own.
    """
    taxonomy = default_taxonomy()
    try:
        node = taxonomy.resolve(label, dataset, strict=False)  # the dataset leaf: synonyms stay apart
    except LookupError:  # an unknown dataset name, or a label ambiguous across sets
        return [label]
    return taxonomy.path(node) if node else [label]
