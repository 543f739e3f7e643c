"""The PostgreSQL backend: the catalog and the codes in one table, searched in SQL.

Modules: ``connection`` (URI, connection, ``index_exists``), ``migrations`` (DDL by schema
version) and ``schema`` (create/open), ``load`` (COPY upserts, insertion numbers),
``query`` (filter SQL, cube probe, ranking), ``cache`` (the FAISS code cache), ``summary``
(``info``) and ``store`` (``PostgresIndex``, the verbs). Needs ``terrahash[postgres]``.
"""

from terrahash.index.postgres.connection import index_exists, parse_location
from terrahash.index.postgres.store import PostgresIndex

__all__ = ["PostgresIndex", "index_exists", "parse_location"]
