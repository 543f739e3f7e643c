"""Where an index lives: a folder (embedded backend) or a PostgreSQL URI; the one place that tells.

The CLI, the Python API and the service all resolve a location here, so a URI that one of
them accepts is accepted by all (including the ``postgresql:/host/db`` that ``pathlib.Path``
makes of ``postgresql://host/db``).
"""

from __future__ import annotations

import os

from terrahash.index.errors import HashIndexError

#: URI schemes of the PostgreSQL backend (libpq accepts both).
POSTGRES_SCHEMES = ("postgresql:", "postgres:")
#: The backends ``resolve_location`` knows.
BACKENDS = ("embedded", "postgres")


def is_postgres_uri(location: str | os.PathLike[str]) -> bool:
    """True for ``postgresql://...``, ``postgres://...`` and the ``postgresql:/...`` path form."""
    return os.fspath(location).startswith(tuple(scheme + "/" for scheme in POSTGRES_SCHEMES))


def postgres_url(location: str | os.PathLike[str]) -> str:
    """The location as a ``scheme://`` URL (undoes ``pathlib``'s folding of ``//`` into ``/``)."""
    text = os.fspath(location)
    for scheme in POSTGRES_SCHEMES:
        if text.startswith(scheme + "/") and not text.startswith(scheme + "//"):
            return scheme + "//" + text[len(scheme) + 1 :]
    return text


def resolve_location(out: str | None, backend: str = "embedded", dsn: str | None = None) -> str:
    """Where ``index build`` writes: the folder ``out``, or the URI ``dsn`` (or ``out``) for postgres.

    Raises:
        HashIndexError: an unknown backend, a postgres backend without a PostgreSQL URI, or an
            embedded one without a folder; the message names the option at fault.
    """
    if backend not in BACKENDS:
        raise HashIndexError(f"--backend: error: {backend!r} is not embedded or postgres")
    if backend == "postgres":
        target = dsn or out
        if not target or not is_postgres_uri(target):
            raise HashIndexError("--dsn: error: --backend postgres needs --dsn postgresql://USER@HOST/DB")
        return target
    if out is None:
        raise HashIndexError("--out: error: give the index folder to write (or --backend postgres --dsn ...)")
    return out
