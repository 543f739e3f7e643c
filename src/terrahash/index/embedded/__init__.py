"""The embedded backend: an index in one folder (codes, SQLite catalog, RSHST tree, manifest).

Modules: ``storage`` (atomic manifest, generation folders), ``generation`` (one generation
opened and checked), ``catalog`` (SQLite) and ``columns`` (its columnar filter copy),
``writes`` (what an upsert or removal makes of a generation), ``planner`` (flat, tree and
filtered search plans) and ``store`` (``EmbeddedIndex``, the verbs).
"""

from terrahash.index.embedded.store import EmbeddedIndex

__all__ = ["EmbeddedIndex"]
