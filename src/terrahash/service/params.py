"""Search parameters as HTTP clients spell them (STAC API style) -> ``k`` + ``Filters``.

The same function serves the query string of ``GET /search``, the form fields of a multipart
``POST /search`` and the keys of a JSON ``POST /search``. Values are parsed by the index's own
filter parser (``terrahash.index.filters``), so ``datetime=../2020-01-31`` here means what
``--end 2020-01-31`` means in the CLI and ``{"end": "2020-01-31"}`` in Python: the whole day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from terrahash.errors import TerraHashError
from terrahash.index import Filters
from terrahash.index.filters import normalize_filters, parse_interval

#: Largest ``k`` a client may ask for.
MAX_K = 1000
DEFAULT_K = 20
#: Ids are what the index's catalog stores: no path syntax, no control characters.
ID_PATTERN = re.compile(r"^(?!.*\.\.)(?![/.])[A-Za-z0-9_.:@+=,/-]{1,256}$")


class ParamError(TerraHashError):
    """A search parameter is malformed; the message names the parameter and the value."""


@dataclass(frozen=True)
class SearchParams:
    """Everything but the query itself: ``k``, ``exact``, ``nprobe``, ``rerank`` and the filters."""

    k: int = DEFAULT_K
    exact: bool = True
    nprobe: int | None = None
    filters: Filters = field(default_factory=Filters)
    #: Re-rank the Hamming shortlist by the query's vector (``Searcher.search``'s ``rerank``).
    rerank: bool = True


def parse_params(
    *,
    k: int | None = None,
    exact: bool | None = None,
    nprobe: int | None = None,
    bbox: str | Iterable[float] | None = None,
    datetime: str | None = None,
    platform: Iterable[str] | str | None = None,
    gsd_min: float | None = None,
    gsd_max: float | None = None,
    cloud_max: float | None = None,
    label: Iterable[str] | str | None = None,
    rerank: bool | None = None,
) -> SearchParams:
    """Validate raw parameter values into ``SearchParams``.

    Raises:
        ParamError: ``k`` or ``nprobe`` out of range.
        FilterError: a filter value that cannot be used (names the parameter and value).
    """
    k = DEFAULT_K if k is None else k
    if not 1 <= k <= MAX_K:
        raise ParamError(f"k: must be between 1 and {MAX_K}, got {k}")
    if nprobe is not None and nprobe < 1:
        raise ParamError(f"nprobe: must be at least 1, got {nprobe}")
    start, end = parse_interval(datetime) if datetime else (None, None)
    filters = normalize_filters({
        "bbox": bbox if bbox not in (None, "") else None, "start": start, "end": end,
        "platforms": _split_list(platform) or None, "gsd_min": gsd_min, "gsd_max": gsd_max,
        "cloud_max": cloud_max, "labels": _split_list(label) or None,
    })
    return SearchParams(k=k, exact=True if exact is None else exact, nprobe=nprobe, filters=filters,
                        rerank=True if rerank is None else rerank)


def _split_list(values: Iterable[str] | str | None) -> list[str]:
    """Repeatable and comma-separated values flattened: ``a,b`` + ``c`` -> ``[a, b, c]``."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for v in values for part in str(v).split(",") if part.strip()]


def check_id(item_id: str) -> str:
    """``item_id`` if it is a well-formed catalog id, else ``ParamError`` (never a path)."""
    if not ID_PATTERN.match(item_id):
        raise ParamError(f"id: {item_id[:80]!r} is not a valid item id")
    return item_id
