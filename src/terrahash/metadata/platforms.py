"""Platform names to STAC ids: lowercase, hyphenated (``LANDSAT_8`` -> ``landsat-8``).

Vendors spell one satellite many ways (``GF2``, ``GAOFEN-2``, ``WV02``, ``PHR 1A``,
``Канопус-В №5``). Readers pass whatever the file says; this module is the one place
that turns it into the name STAC catalogues use.
"""

from __future__ import annotations

import re

#: Family prefixes (already normalised to lowercase, no separators) -> STAC family name.
_FAMILIES: dict[str, str] = {
    "landsat": "landsat",
    "sentinel": "sentinel",
    "s": "sentinel",  # S2A, S2B
    "gf": "gf",
    "gaofen": "gf",
    "zy": "zy",
    "ziyuan": "zy",
    "cbers": "cbers",
    "amazonia": "amazonia",
    "spot": "spot",
    "phr": "pleiades",
    "pleiades": "pleiades",
    "pneo": "pleiades-neo",
    "pleiadesneo": "pleiades-neo",
    "per": "perusat",
    "perusat": "perusat",
    "wv": "worldview",
    "worldview": "worldview",
    "ge": "geoeye",
    "geoeye": "geoeye",
    "qb": "quickbird",
    "quickbird": "quickbird",
    "kompsat": "kompsat",
    "cas": "cas500",
    "cas500": "cas500",
    "vrss": "vrss",
    "deimos": "deimos",
    "de": "deimos",
    "alsat": "alsat",
    "ukdmc": "uk-dmc",
    "cartosat": "cartosat",
    "resourcesat": "resourcesat",
    "irsr": "resourcesat",
    "irsp": "irs-p",
    "hj": "hj",
    "cb": "cbers",
    "kanopusv": "kanopus-v",
    "meteorm": "meteor-m",
    "resursp": "resurs-p",
    "rsp": "resurs-p",
    "geosat": "geosat",
    "rapideye": "rapideye",
    "skysat": "skysat",
    "superview": "superview",
    "jilin": "jilin",
    "blackskyglobal": "blacksky-global",
}

#: Whole-name aliases, checked before the family rule.
_ALIASES: dict[str, str] = {
    "planetscope": "planetscope",
    "planet": "planetscope",
    "dove": "planetscope",
    "ps2": "planetscope",
    "ps2sd": "planetscope",
    "psbsd": "planetscope",
    "terra": "terra",
    "aqua": "aqua",
    "alos": "alos",
    "alos1": "alos",
    "alos2": "alos-2",
    "alos3": "alos-3",
    "ikonos": "ikonos",
    "ik02": "ikonos",
    "ik2": "ikonos",
    "bka": "bka",
    "vision1": "vision-1",
    "s14": "vision-1",
    "s1-4": "vision-1",
    "newsat": "newsat",
    "sentinel2a": "sentinel-2a",
    "sentinel2b": "sentinel-2b",
    "sentinel2c": "sentinel-2c",
    "ukdmc2": "uk-dmc-2",
    "irsr2": "resourcesat-2",
    "irsr2a": "resourcesat-2a",
    "resourcesat2": "resourcesat-2",
    "resourcesat2a": "resourcesat-2a",
    "de2": "deimos-2",
    "deimos2": "deimos-2",
    "globalx": "blacksky-global",
    "cas5001": "cas500-1",
    "cas5002": "cas500-2",
    # CRESDA spells ZiYuan satellites as series + unit (ZY3-01, ZY302, ZY1-02C).
    "zy301": "zy-3-01",
    "zy302": "zy-3-02",
    "zy303": "zy-3-03",
    "zy31": "zy-3-01",  # ZY3-1 / ZY3-2 spellings of the same units
    "zy32": "zy-3-02",
    "zy33": "zy-3-03",
    "zy102c": "zy-1-02c",
    "zy102d": "zy-1-02d",
    "zy102e": "zy-1-02e",
    "irsp6": "resourcesat-1",
    # Planet SkySat ids: SS01/SS02 are SkySat-1/-2, SSC1... the SkySat-C series.
    "ss01": "skysat-1",
    "ss02": "skysat-2",
    **{f"ssc{n}": f"skysat-c{n}" for n in range(1, 22)},
    # ... and the ids themselves, so that normalising a normalised name changes nothing.
    **{f"skysatc{n}": f"skysat-c{n}" for n in range(1, 22)},
}

#: Cyrillic names used by Roscosmos passports (free text), matched on prefix.
_CYRILLIC: list[tuple[str, str]] = [
    ("канопус-в ик", "kanopus-v-ik"),
    ("канопус-в", "kanopus-v"),
    ("ресурс-п", "resurs-p"),
    ("метеор-м", "meteor-m"),
    ("аист-2д", "aist-2d"),
]


def normalize_platform(raw: str | None, number: str | int | None = None) -> str | None:
    """STAC platform id for a vendor spelling; ``number`` is a separate index (``MISSION_INDEX``).

    Returns ``None`` for empty input. Unknown names are still lowercased and hyphenated,
    so a new satellite gets a sensible id instead of being dropped.
    """
    if raw is None:
        return None
    text = str(raw).strip().strip('"').strip()
    if number is not None and str(number).strip():
        text = f"{text} {str(number).strip()}"
    if not text:
        return None
    low = text.lower()
    for prefix, family in _CYRILLIC:
        if low.startswith(prefix):
            rest = low[len(prefix):]
            numbers = re.findall(r"\d+", rest)
            return f"{family}-{numbers[0]}" if numbers else family
    compact = re.sub(r"[\s_\-.№#]+", "", low)
    if compact in _ALIASES:
        return _ALIASES[compact]
    # leading zeros and the number kept apart ([1-9]... or a lone 0): "0*\d+" backtracks
    # quadratically over a long run of zeros
    match = re.fullmatch(r"([a-z]+?)0*([1-9]\d*|0)([a-z]?)", compact)
    if match:
        family, digits, suffix = match.groups()
        if family in _FAMILIES:
            name = _FAMILIES[family]
            return f"{name}-{digits}{suffix}"
        return f"{family}-{digits}{suffix}"  # digits has no leading zero: no int() of 5000 digits
    if compact in _FAMILIES:
        return _FAMILIES[compact]
    return re.sub(r"[\s_]+", "-", low).strip("-")



def platform_words() -> tuple[str, ...]:
    """Words a person may write for a platform family without its unit (``sentinel``, ``gaofen``).

    Text queries read these (and a number after them: ``sentinel 2``, ``landsat-8``) as a
    platform; ``normalize_platform`` then gives the STAC id. Two-letter vendor codes (``s``,
    ``ge``, ``de``) are left out: in free text they are ordinary words.
    """
    spellings = {key for key in _FAMILIES if len(key) >= 4}
    whole = {v for v in _ALIASES.values() if not any(ch.isdigit() for ch in v)}
    return tuple(sorted(set(_FAMILIES.values()) | spellings | whole))
