"""What a text query says: a land cover, and the sensor, year, season or month it asks for.

The prompt tokenizer knows template and platform words only, so a class name sent to the
text encoder means nothing. A text query is read here first: land-cover words (a CORINE
name, code or synonym from the taxonomy, or a dataset label such as ``dense residential``)
become a concept searched by its hash centre (``concepts``); platform, year, season and
month words become filters. Text that names no land cover keeps going to the text encoder
as a prompt, as before; text in which nothing is understood is refused with examples.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache

from terrahash.app.errors import QueryError
from terrahash.index import Filters
from terrahash.metadata.platforms import normalize_platform, platform_words
from terrahash.taxonomy import ROOT, Taxonomy, default_taxonomy, normalize_label

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
#: Meteorological seasons of the northern hemisphere as (year offset, month): winter 2021
#: is December 2020 to February 2021, the winter whose January is in 2021.
SEASONS: dict[str, tuple[tuple[int, int], ...]] = {
    "winter": ((-1, 12), (0, 1), (0, 2)),
    "spring": ((0, 3), (0, 4), (0, 5)),
    "summer": ((0, 6), (0, 7), (0, 8)),
    "autumn": ((0, 9), (0, 10), (0, 11)),
    "fall": ((0, 9), (0, 10), (0, 11)),
}
#: Words that carry no meaning of their own in a search ("forest *in* summer").
STOPWORDS = frozenset((
    "a", "an", "the", "of", "in", "on", "at", "from", "by", "with", "and", "or", "for", "to",
    "during", "taken", "acquired", "near", "over", "show", "showing", "find", "me", "some", "any",
    "all", "image", "images", "scene", "scenes", "photo", "photos", "picture", "pictures", "tile",
    "tiles", "area", "areas", "imagery", "satellite", "aerial", "clc", "corine", "code", "class",
    "land", "cover",
))
EXAMPLES = ("forest", "dense residential", "CLC 311", "water bodies", "river sentinel-2 summer 2021")
#: Longest land-cover phrase, in words (BigEarthNet's "Land principally occupied by ...").
_MAX_WORDS = 12
_WORD = re.compile(r"[^\W\d_]+|\d+")
_YEARS = range(1950, 2101)
_MONTH_WORDS = {**{m[:3]: n for n, m in enumerate(MONTHS, 1)}, "sept": 9,
                **{m: n for n, m in enumerate(MONTHS, 1)}}
_MAX_INTERVALS = 400


@dataclass(frozen=True)
class ConceptRef:
    """A land cover named in a text: a taxonomy node, or dataset labels by one spelling."""

    #: The words as written (``dense residential``).
    phrase: str
    #: The CORINE node named, or the node the named labels hang from; ``None`` for a label
    #: of the index that the taxonomy does not know.
    node: str | None
    #: ``normalize_label`` of the labels named (``denseresidential``); ``None`` for a node.
    label_key: str | None = None


@dataclass(frozen=True)
class TextReading:
    """A text query taken apart; ``concept`` set means it is searched as a land cover."""

    text: str
    concept: ConceptRef | None
    #: STAC platform ids (of the index, where it has matching ones) asked for.
    platforms: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    #: Month cells as (year offset, month) from month and season words.
    months: tuple[tuple[int, int], ...] = ()
    #: Words not understood (stop words aside); they are left out of the search.
    ignored: tuple[str, ...] = ()

    @property
    def dated(self) -> bool:
        """Whether the text names a year, season or month."""
        return bool(self.years or self.months)

    def intervals(
        self, time_range: tuple[dt.datetime | None, dt.datetime | None]
    ) -> list[tuple[dt.date, dt.date]]:
        """The date intervals the text asks for (whole months), merged where they touch.

        A year alone is the whole year; a season or month with a year that part of it; a
        season or month without a year that part of every year of ``time_range`` (the
        index's dates: none when it has no dated item, so nothing matches).
        """
        years = list(self.years)
        if not years:
            first, last = time_range
            if first is None or last is None:
                return []
            years = list(range(first.year, last.year + 2))  # +1: December of a wrapped winter
        cells = self.months or tuple((0, m) for m in range(1, 13))
        serial = sorted({(y + off) * 12 + m - 1 for y in years for off, m in cells})
        runs: list[list[int]] = []
        for s in serial:
            if runs and s == runs[-1][1] + 1:
                runs[-1][1] = s
            else:
                runs.append([s, s])
        if len(runs) > _MAX_INTERVALS:
            raise QueryError(f"error: the text query {self.text!r} asks for {len(runs)} separate date "
                             f"intervals (at most {_MAX_INTERVALS}); name a year or use --start/--end")
        return [(dt.date(a // 12, a % 12 + 1, 1), _month_end(b // 12, b % 12 + 1)) for a, b in runs]

    def describe(self) -> str:
        """One line saying how the text was read (printed by the CLI)."""
        parts = []
        if self.concept is not None:
            parts.append(f"land cover {self.concept.phrase!r}")
        if self.platforms:
            parts.append("platform " + " or ".join(self.platforms))
        if self.years:
            parts.append("year " + ", ".join(map(str, self.years)))
        if self.months:
            parts.append("months " + ", ".join(MONTHS[m - 1] for _, m in sorted(set(self.months), key=_cell)))
        if self.ignored:
            parts.append("ignored: " + " ".join(self.ignored))
        return "; ".join(parts)


def text_filters(base: Filters, reading: TextReading, time_range: Sequence[str | None]) -> list[Filters]:
    """``base`` narrowed by the text's platforms and dates: one ``Filters`` per date interval.

    ``time_range`` is the index's (ISO strings, as its catalog summary gives it). An empty
    list means no item can match (the dates asked for lie outside ``base``'s).

    Raises:
        QueryError: the text's platforms and the platform filter have none in common.
    """
    platforms = base.platforms
    if reading.platforms:
        asked = reading.platforms
        platforms = tuple(p for p in base.platforms if p in asked) if base.platforms else asked
        if not platforms:
            raise QueryError(f"error: the text asks for platform {' or '.join(asked)}, the platform "
                             f"filter for {' or '.join(base.platforms or ())}: nothing can match both")
    narrowed = replace(base, platforms=platforms)
    if not reading.dated:
        return [narrowed]
    first, last = (dt.datetime.fromisoformat(t) if t else None for t in (list(time_range) + [None, None])[:2])
    parts = []
    for day0, day1 in reading.intervals((first, last)):
        start = dt.datetime.combine(day0, dt.time.min, tzinfo=dt.UTC)
        end = dt.datetime.combine(day1, dt.time.max, tzinfo=dt.UTC)
        start, end = max(start, base.start or start), min(end, base.end or end)
        if start <= end:
            parts.append(replace(narrowed, start=start, end=end))
    return parts


def _cell(cell: tuple[int, int]) -> int:
    return cell[0] * 12 + cell[1]


def _month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


@cache
def _taxonomy_phrases(taxonomy: Taxonomy) -> dict[str, ConceptRef]:
    """normalised phrase -> concept: CORINE names, synonyms and codes first, then dataset labels."""
    table: dict[str, ConceptRef] = {}
    for node_id in taxonomy.nodes():
        node = taxonomy.node(node_id)
        if node.kind != "corine":
            continue
        digits = node_id.replace(".", "")
        keys = [node.name, *taxonomy.synonyms(node_id), f"clc{digits}", f"corine{digits}"]
        keys += [digits] if len(digits) == 3 else []  # a bare "21" is more often a day than a code
        for key in keys:
            table.setdefault(normalize_label(key), ConceptRef(key, node_id))
    parents: dict[str, set[str]] = {}
    for vocab in taxonomy.vocabularies():
        for label in taxonomy.labels(vocab):
            leaf = taxonomy.resolve(label, vocab)
            parent = taxonomy.parent(leaf) if leaf is not None else None
            parents.setdefault(normalize_label(label), set()).add(parent or ROOT)
    for key, nodes in parents.items():
        shared = nodes.pop() if len(nodes) == 1 else None
        table.setdefault(key, ConceptRef(key, None if shared == ROOT else shared, key))
    return table


def _variants(key: str) -> list[str]:
    """A phrase and its singulars (``beaches`` -> ``beach``, ``forests`` -> ``forest``)."""
    out = [key]
    if key.endswith("ies"):
        out.append(key[:-3] + "y")
    if key.endswith("es"):
        out.append(key[:-2])
    if key.endswith("s"):
        out.append(key[:-1])
    return out


@cache
def _platform_pattern(extra: tuple[str, ...]) -> re.Pattern[str]:
    """Platform words (and the index's platform ids), with an optional unit: ``sentinel-2a``."""
    names = sorted({*platform_words(), *extra}, key=len, reverse=True)
    alternation = "|".join(re.escape(n).replace(r"\-", r"[\s_-]?") for n in names if n)
    return re.compile(rf"(?<![^\W_])(?:{alternation})(?:[\s_-]?\d{{1,3}}(?:[a-z](?![^\W_]))?)?(?![^\W_])")


def _expand_platform(platform: str, indexed: Sequence[str]) -> list[str]:
    """The index's platforms a written one covers: ``sentinel-2`` -> ``sentinel-2a``, ``sentinel-2b``."""
    hits = [p for p in indexed
            if p == platform or (p.startswith(platform) and re.fullmatch(r"[a-z]|-.+", p[len(platform):]))]
    return hits or [platform]


def read_text(
    text: str,
    labels: Iterable[str] = (),
    platforms: Iterable[str] = (),
    taxonomy: Taxonomy | None = None,
) -> TextReading:
    """Take a text query apart: at most one land cover, platforms, years, seasons and months.

    Args:
        text: the query as typed.
        labels: the index's labels, so a class no vocabulary knows is understood too.
        platforms: the index's platform ids, so ``sentinel-2`` finds ``sentinel-2a``.
        taxonomy: the tree to read land-cover words by (default: the shipped one).

    Raises:
        QueryError: two different land covers, or nothing understood (with examples).
    """
    taxonomy = taxonomy or default_taxonomy()
    indexed_platforms = tuple(sorted(p for p in platforms if p and p != "(none)"))
    table = dict(_taxonomy_phrases(taxonomy))
    for label in labels:
        table.setdefault(normalize_label(label), ConceptRef(label, None, normalize_label(label)))
    lowered = text.casefold()
    found_platforms: list[str] = []
    pattern = _platform_pattern(indexed_platforms)
    for match in pattern.finditer(lowered):
        written = normalize_platform(match.group(0)) or match.group(0)
        for platform in _expand_platform(written, indexed_platforms):
            if platform not in found_platforms:
                found_platforms.append(platform)
    words = _WORD.findall(pattern.sub(" ", lowered))
    concepts: list[ConceptRef] = []
    years: list[int] = []
    months: list[tuple[int, int]] = []
    ignored: list[str] = []
    i = 0
    while i < len(words):
        hit = _longest_phrase(words, i, table)
        if hit is not None:
            ref, i = hit
            concepts.append(ref)
            continue
        word = words[i]
        i += 1
        if word.isdigit() and int(word) in _YEARS and len(word) == 4:
            years.append(int(word))
        elif word in _MONTH_WORDS:
            months.append((0, _MONTH_WORDS[word]))
        elif word in SEASONS:
            months.extend(SEASONS[word])
        elif word not in STOPWORDS:
            ignored.append(word)
    distinct = {(c.node, c.label_key) for c in concepts}
    if len(distinct) > 1:
        named = ", ".join(repr(c.phrase) for c in concepts)
        raise QueryError(f"error: the text query {text!r} names {len(distinct)} land covers ({named}); "
                         "search one at a time")
    reading = TextReading(text, concepts[0] if concepts else None, tuple(found_platforms),
                          tuple(sorted(set(years))), tuple(dict.fromkeys(months)), tuple(ignored))
    if reading.concept is None and not reading.platforms and not reading.dated:
        unknown = f" (not understood: {' '.join(ignored)})" if ignored else ""
        raise QueryError(
            f"error: the text query {text!r} names no land cover, platform, year, season or month"
            f"{unknown}; try e.g. " + ", ".join(repr(e) for e in EXAMPLES)
            + " (the README's 'What text can express' lists every word)"
        )
    return reading


def _longest_phrase(
    words: Sequence[str], start: int, table: dict[str, ConceptRef]
) -> tuple[ConceptRef, int] | None:
    """The longest run of words from ``start`` that names a land cover, and where it ends."""
    for end in range(min(len(words), start + _MAX_WORDS), start, -1):
        key = normalize_label("".join(words[start:end]))
        if words[start] in STOPWORDS and end == start + 1:
            return None
        for variant in _variants(key):
            if variant in table:
                ref = table[variant]
                return ConceptRef(" ".join(words[start:end]), ref.node, ref.label_key), end
    return None
