"""RSHST: a hierarchical semantic tree over packed codes, searched best-first by Hamming bounds.

Nodes follow the label taxonomy where items have known labels; items without one (and label
nodes too large to scan as a unit) are split by recursive Hamming k-modes. Every node keeps a
centre code and the Hamming radius of its whole subtree, so ``max(0, d(q, centre) - radius)``
is a lower bound on the distance of anything below it. Exact search stops only when no
unvisited node can beat (or tie with) the current k-th result, so it returns the flat scan's
answer, tie order included; approximate search also stops after ``nprobe`` scanned buckets.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from terrahash.codes import as_words, hamming, majority_code
from terrahash.index.cluster import kmodes, nearest_centre
from terrahash.index.codes import topk_stable

ROOT, LABEL, CLUSTER = 0, 1, 2
_KIND_NAMES = {ROOT: "root", LABEL: "label", CLUSTER: "cluster"}
#: Buckets visited by approximate search when the caller gives no ``nprobe``.
DEFAULT_NPROBE = 16
LabelPath = Callable[[str], Sequence[str]]


def default_leaf_size(n: int) -> int:
    """Bucket size (~sqrt(n)/4): small enough that buckets stay within one learned cluster
    (so radii are tight and bounds prune), large enough that per-bucket overhead stays low."""
    return max(32, int(math.sqrt(max(n, 1)) / 4))


@dataclass
class _Draft:
    """A node while the tree is being assembled (before flattening into arrays)."""

    kind: int
    name: str
    rows: list[np.ndarray] = field(default_factory=list)
    children: list[_Draft] = field(default_factory=list)

    def own(self) -> np.ndarray:
        return np.concatenate(self.rows) if self.rows else np.empty(0, np.int64)

    def size(self) -> int:
        return sum(len(r) for r in self.rows) + sum(c.size() for c in self.children)


@dataclass
class TreeParams:
    """Build knobs, stored with the tree so a rebuild reproduces it."""

    leaf_size: int = 0
    min_size: int = 0
    branching: int = 16
    seed: int = 0


class SemanticTree:
    """The RSHST structure over rows ``0..n-1`` of a code array it does not own."""

    def __init__(
        self,
        bits: int,
        centres: np.ndarray,
        radii: np.ndarray,
        parents: np.ndarray,
        kinds: np.ndarray,
        names: list[str],
        members: list[np.ndarray],
        params: TreeParams,
    ) -> None:
        self.bits = bits
        self.centres = np.ascontiguousarray(centres, dtype=np.uint8)
        self.radii = radii.astype(np.int32)
        self.parents = parents.astype(np.int64)
        self.kinds = kinds.astype(np.int8)
        self.names = names
        self.members = members
        self.params = params
        self._centre_words = as_words(self.centres)
        self.children: list[list[int]] = [[] for _ in names]
        for node, parent in enumerate(self.parents[1:], start=1):
            self.children[int(parent)].append(node)
        self._label_child = {
            (int(self.parents[i]), names[i]): i for i in range(1, len(names)) if kinds[i] == LABEL
        }

    # -- construction -------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        codes: np.ndarray,
        labels: Sequence[str | None] | None = None,
        label_path: LabelPath | None = None,
        params: TreeParams | None = None,
    ) -> SemanticTree:
        """Build over all rows of ``codes`` (packed uint8, (n, B)).

        Args:
            codes: the database codes; row i is item position i.
            labels: primary label per row (``None``: unlabelled, placed by clustering).
            label_path: label -> node names root->leaf (the taxonomy); default ``[label]``.
            params: leaf/merge sizes; zero means "choose from n".
        """
        n = codes.shape[0]
        params = params or TreeParams()
        if params.leaf_size <= 0:
            params.leaf_size = default_leaf_size(n)
        if params.min_size <= 0:
            params.min_size = max(4, params.leaf_size // 4)
        rng = np.random.default_rng(params.seed)
        root = _Draft(ROOT, "root")
        by_label: dict[str, list[int]] = {}
        unlabelled: list[int] = []
        for row, label in enumerate(labels if labels is not None else [None] * n):
            (by_label.setdefault(label, []) if label else unlabelled).append(row)
        if unlabelled:
            root.rows.append(np.asarray(unlabelled, dtype=np.int64))
        for label in sorted(by_label):
            path = list(label_path(label)) if label_path is not None else [label]
            node = root
            for name in path or [label]:
                node = next((c for c in node.children if c.name == name), None) or _add(node, name)
            node.rows.append(np.asarray(by_label[label], dtype=np.int64))
        _merge_sparse(root, params.min_size)
        _split_large(root, codes, params, rng)
        return cls._flatten(root, codes, params)

    @classmethod
    def _flatten(cls, root: _Draft, codes: np.ndarray, params: TreeParams) -> SemanticTree:
        drafts: list[_Draft] = []
        parents: list[int] = []
        queue = [(root, -1)]
        while queue:
            draft, parent = queue.pop(0)
            index = len(drafts)
            drafts.append(draft)
            parents.append(parent)
            queue.extend((child, index) for child in draft.children)
        members = [np.sort(d.own()) for d in drafts]
        kids: list[list[int]] = [[] for _ in drafts]
        for index, parent in enumerate(parents[1:], start=1):
            kids[parent].append(index)
        subtree: list[np.ndarray] = [np.empty(0, np.int64)] * len(drafts)
        for index in range(len(drafts) - 1, -1, -1):  # children come after their parent
            subtree[index] = np.concatenate([members[index]] + [subtree[c] for c in kids[index]])
        nbytes = codes.shape[1]
        centres = np.zeros((len(drafts), nbytes), dtype=np.uint8)
        radii = np.zeros(len(drafts), dtype=np.int32)
        words = as_words(codes)
        for index, rows in enumerate(subtree):
            if rows.size == 0:
                continue
            sample = rows if rows.size <= 65536 else rows[:: rows.size // 65536 + 1]
            centres[index] = majority_code(codes[np.sort(sample)])
            centre = as_words(centres[index : index + 1])[0]
            radii[index] = int(hamming(words[rows], centre).max())
        kinds = np.asarray([d.kind for d in drafts], dtype=np.int8)
        return cls(
            nbytes * 8,
            centres,
            radii,
            np.asarray(parents),
            kinds,
            [d.name for d in drafts],
            members,
            params,
        )

    # -- search -------------------------------------------------------------------------
    def search_one(
        self,
        words: np.ndarray,
        query: np.ndarray,
        k: int,
        exact: bool = True,
        nprobe: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Best-first search for one query (uint64/uint8 word view, like ``words``).

        Returns:
            ``(distances, rows, scanned)``: up to ``k`` results sorted by (distance, row), and
            the number of codes whose distance was computed.
        """
        budget = math.inf if exact else (nprobe or DEFAULT_NPROBE)
        bounds = np.maximum(hamming(self._centre_words, query) - self.radii, 0).tolist()
        heap: list[tuple[int, int]] = [(bounds[0], 0)]
        best_d = np.empty(0, np.int32)
        best_r = np.empty(0, np.int64)
        scanned = buckets = 0
        while heap and buckets < budget:
            bound, node = heapq.heappop(heap)
            if best_d.size == k and bound > best_d[-1]:
                break
            rows = self.members[node]
            if rows.size:
                dist = hamming(words[rows], query)
                scanned += rows.size
                buckets += 1
                best_d, best_r = topk_stable(
                    np.concatenate([best_d, dist]), np.concatenate([best_r, rows]), k
                )
            for child in self.children[node]:
                heapq.heappush(heap, (max(bound, bounds[child]), child))
        return best_d, best_r, scanned

    # -- updates ------------------------------------------------------------------------
    def insert(
        self,
        codes: np.ndarray,
        rows: np.ndarray,
        labels: Sequence[str | None],
        label_path: LabelPath | None = None,
    ) -> None:
        """Route new rows to their label's node, then down the nearest cluster children."""
        grouped: dict[int, list[int]] = {}
        for i, label in enumerate(labels):
            node = self._label_node(label, label_path)
            code = codes[i : i + 1]
            while clusters := [c for c in self.children[node] if self.kinds[c] == CLUSTER]:
                node = clusters[int(nearest_centre(code, self.centres[clusters])[0])]
            grouped.setdefault(node, []).append(i)
            query = as_words(np.ascontiguousarray(code))[0]
            anc = node
            while anc >= 0:  # widen radii so bounds stay valid
                d = int(hamming(as_words(self.centres[anc : anc + 1]), query)[0])
                self.radii[anc] = max(int(self.radii[anc]), d)
                anc = int(self.parents[anc])
        for node, idx in grouped.items():
            self.members[node] = np.sort(np.concatenate([self.members[node], rows[idx]]))

    def _label_node(self, label: str | None, label_path: LabelPath | None) -> int:
        node = 0
        if not label:
            return node
        for name in label_path(label) if label_path is not None else [label]:
            child = self._label_child.get((node, name))
            if child is None:
                break
            node = child
        return node

    def remap(self, mapping: np.ndarray) -> None:
        """Renumber rows after removals (``mapping[old] = new`` or -1 for removed rows).

        Radii are left as they are: an upper bound stays an upper bound when members leave.
        """
        for node, rows in enumerate(self.members):
            new = mapping[rows]
            self.members[node] = new[new >= 0]

    # -- introspection and storage ------------------------------------------------------
    @property
    def size(self) -> int:
        return int(sum(m.size for m in self.members))

    def stats(self) -> dict[str, int]:
        """Node counts for ``index info``."""
        depth = np.zeros(len(self.names), dtype=np.int64)
        for node in range(1, len(self.names)):
            depth[node] = depth[self.parents[node]] + 1
        return {
            "nodes": len(self.names),
            "label_nodes": int(np.sum(self.kinds == LABEL)),
            "cluster_nodes": int(np.sum(self.kinds == CLUSTER)),
            "buckets": int(sum(1 for m in self.members if m.size)),
            "depth": int(depth.max()) if depth.size else 0,
            "leaf_size": self.params.leaf_size,
        }

    def save(self, path: Path) -> None:
        """Write to ``path`` (an ``.npz``)."""
        offsets = np.cumsum([0] + [m.size for m in self.members]).astype(np.int64)
        rows = np.concatenate(self.members) if self.members else np.empty(0, np.int64)
        meta = {"bits": self.bits, "names": self.names, "params": self.params.__dict__}
        with open(path, "wb") as fh:
            np.savez(
                fh,
                centres=self.centres,
                radii=self.radii,
                parents=self.parents,
                kinds=self.kinds,
                offsets=offsets,
                rows=rows,
                meta=np.array(json.dumps(meta)),
            )

    @classmethod
    def load(cls, path: Path) -> SemanticTree:
        """Inverse of ``save``."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            offsets, rows = z["offsets"], z["rows"]
            members = [rows[offsets[i] : offsets[i + 1]].copy() for i in range(offsets.size - 1)]
            return cls(
                int(meta["bits"]),
                z["centres"],
                z["radii"],
                z["parents"],
                z["kinds"],
                list(meta["names"]),
                members,
                TreeParams(**meta["params"]),
            )

    def describe(self, node: int = 0) -> str:
        """One line per node (kind, name, radius, members); for debugging and ``index info``."""
        return f"{_KIND_NAMES[int(self.kinds[node])]}:{self.names[node]} r={self.radii[node]}"


def _add(parent: _Draft, name: str) -> _Draft:
    child = _Draft(LABEL, name)
    parent.children.append(child)
    return child


def _merge_sparse(node: _Draft, min_size: int) -> None:
    """Fold label nodes with fewer than ``min_size`` items (subtree) into their parent."""
    kept: list[_Draft] = []
    for child in node.children:
        _merge_sparse(child, min_size)
        if child.size() < min_size:
            node.rows.extend(child.rows)
            node.rows.extend(r for g in child.children for r in _all_rows(g))
        else:
            kept.append(child)
    node.children = kept


def _all_rows(node: _Draft) -> list[np.ndarray]:
    return node.rows + [r for c in node.children for r in _all_rows(c)]


def _split_large(node: _Draft, codes: np.ndarray, params: TreeParams, rng: np.random.Generator) -> None:
    """Replace a node's own rows by a two-stage k-modes hierarchy while it holds too many.

    Buckets come from one flat k-modes with about ``rows / leaf_size`` centres (as an IVF
    coarse quantiser would); buckets are then grouped by clustering their centres, so upper
    nodes hold nearby buckets and their radii stay small.
    """
    for child in list(node.children):
        _split_large(child, codes, params, rng)
    rows = node.own()
    if rows.size <= params.leaf_size:
        return
    assign, centres = kmodes(codes[rows], math.ceil(rows.size / params.leaf_size), rng)
    if centres.shape[0] < 2:
        return
    order = np.argsort(assign, kind="stable")
    bounds = np.searchsorted(assign[order], np.arange(centres.shape[0] + 1))
    leaves = [
        _Draft(CLUSTER, "", rows=[rows[order[bounds[g] : bounds[g + 1]]]]) for g in range(centres.shape[0])
    ]
    node.rows = []
    node.children.extend(_group(leaves, centres, params.branching, rng))


def _group(
    drafts: list[_Draft], centres: np.ndarray, branching: int, rng: np.random.Generator
) -> list[_Draft]:
    """Nest ``drafts`` under cluster nodes until at most ``branching`` remain at the top."""
    if len(drafts) <= branching:
        for i, d in enumerate(drafts):
            d.name = d.name or f"c{i}"
        return drafts
    assign, top = kmodes(centres, math.ceil(len(drafts) / branching), rng)
    if top.shape[0] < 2:
        return drafts
    parents = []
    for g in range(top.shape[0]):
        members = [d for d, a in zip(drafts, assign, strict=True) if a == g]
        for i, d in enumerate(members):
            d.name = d.name or f"c{i}"
        parents.append(_Draft(CLUSTER, "", children=members))
    return _group(parents, top, branching, rng)
