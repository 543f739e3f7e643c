"""R2STFT: one fixed, versioned template turning any record into text plus numbers.

CCLS2T's text branch needs text that looks the same whatever the vendor format was, so
every record is rendered by this single template. Clauses whose fields are unknown are
left out (never printed as "None"). The same function returns the numeric
spatiotemporal features the text encoder embeds, with a mask for missing values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from terrahash.metadata.record import SceneRecord

#: Bump when the wording or the feature layout changes; models record the version they saw.
TEMPLATE_VERSION = 1

#: The template, clause by clause (documented once, rendered by ``render_prompt``):
#: "{level} image from {platform} {instrument}, acquired {month} {day} {year}[ at {hh:mm} UTC]
#: in {season}[ {daypart}], centred at {lat} {N|S} {lon} {E|W}, ground sampling {gsd} m,
#: cloud cover {cloud} percent, sun elevation {sun} degrees."
TEMPLATE = (
    "{level}image{platform}{instrument}{when}{where}{gsd}{cloud}{sun}."
)

#: Names of the numeric features, in order (``features[i]`` is ``FEATURE_NAMES[i]``).
FEATURE_NAMES = (
    "sphere_x", "sphere_y", "sphere_z",
    "doy_sin", "doy_cos",
    "tod_sin", "tod_cos",
    "log10_gsd",
    "cloud_fraction",
    "sun_elevation_norm",
)
N_FEATURES = len(FEATURE_NAMES)

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")


@dataclass(frozen=True)
class R2STFT:
    """A rendered record: prompt text, numeric features and their validity mask."""

    text: str
    features: np.ndarray  # float32 (N_FEATURES,), zeros where masked
    mask: np.ndarray  # bool (N_FEATURES,), True where the value is known
    version: int = TEMPLATE_VERSION


def _time_known(record: SceneRecord) -> bool:
    return record.datetime is not None and record.extra.get("datetime_precision") != "day"


def season(when: datetime, lat: float | None) -> str:
    """Meteorological season, flipped in the southern hemisphere."""
    names = ("winter", "spring", "summer", "autumn")
    index = (when.month % 12) // 3
    if lat is not None and lat < 0:
        index = (index + 2) % 4
    return names[index]


def local_solar_hour(when: datetime, lon: float | None) -> float:
    """Hour of day at the scene (UTC shifted by longitude/15), or UTC when lon is unknown."""
    hour = when.hour + when.minute / 60.0 + when.second / 3600.0
    if lon is not None:
        hour = (hour + lon / 15.0) % 24.0
    return hour


def _daypart(hour: float) -> str:
    if hour < 5 or hour >= 21:
        return "night"
    if hour < 12:
        return "morning"
    if hour < 17:
        return "afternoon"
    return "evening"


def _num(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def render_text(record: SceneRecord) -> str:
    """The prompt text alone (see ``TEMPLATE``)."""
    lat, lon = record.center_lat, record.center_lon
    parts = {
        "level": f"{record.processing_level.lower()} " if record.processing_level else "",
        "platform": f" from {record.platform}" if record.platform else "",
        "instrument": f" {record.instrument.lower()}" if record.instrument else "",
        "when": "", "where": "", "gsd": "", "cloud": "", "sun": "",
    }
    if record.platform is None and record.instrument:
        parts["instrument"] = f" from {record.instrument.lower()}"
    if record.datetime is not None:
        dt = record.datetime
        when = f", acquired {_MONTHS[dt.month - 1]} {dt.day} {dt.year}"
        if _time_known(record):
            when += f" at {dt:%H:%M} utc"
        when += f" in {season(dt, lat)}"
        if _time_known(record) and lon is not None:
            when += f" {_daypart(local_solar_hour(dt, lon))}"
        parts["when"] = when
    if lat is not None and lon is not None:
        parts["where"] = (
            f", centred at {_num(abs(lat), 1)} {'n' if lat >= 0 else 's'}"
            f" {_num(abs(lon), 1)} {'e' if lon >= 0 else 'w'}"
        )
    if record.gsd_m is not None:
        gsd = record.gsd_m
        parts["gsd"] = f", ground sampling {_num(gsd, 2 if gsd < 10 else 0)} m"
    if record.cloud_cover is not None:
        parts["cloud"] = f", cloud cover {round(record.cloud_cover)} percent"
    if record.sun_elevation is not None:
        parts["sun"] = f", sun elevation {round(record.sun_elevation)} degrees"
    text = TEMPLATE.format(**parts)
    return text[0].upper() + text[1:] if text else text


def render_features(record: SceneRecord) -> tuple[np.ndarray, np.ndarray]:
    """Numeric spatiotemporal features and their mask (see ``FEATURE_NAMES``)."""
    feats = np.zeros(N_FEATURES, dtype=np.float32)
    mask = np.zeros(N_FEATURES, dtype=bool)
    lat, lon = record.center_lat, record.center_lon
    if lat is not None and lon is not None:
        phi, lam = math.radians(lat), math.radians(lon)
        feats[0:3] = (math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi))
        mask[0:3] = True
    if record.datetime is not None:
        dt = record.datetime
        doy = dt.timetuple().tm_yday - 1 + (dt.hour / 24.0 if _time_known(record) else 0.5)
        angle = 2 * math.pi * doy / 365.25
        feats[3:5] = (math.sin(angle), math.cos(angle))
        mask[3:5] = True
        if _time_known(record):
            angle = 2 * math.pi * local_solar_hour(dt, lon) / 24.0
            feats[5:7] = (math.sin(angle), math.cos(angle))
            mask[5:7] = True
    if record.gsd_m is not None:
        feats[7] = math.log10(record.gsd_m)
        mask[7] = True
    if record.cloud_cover is not None:
        feats[8] = record.cloud_cover / 100.0
        mask[8] = True
    if record.sun_elevation is not None:
        feats[9] = record.sun_elevation / 90.0
        mask[9] = True
    return feats, mask


def render_prompt(record: SceneRecord) -> R2STFT:
    """Prompt text plus numeric features: the same record always yields the same output."""
    features, mask = render_features(record)
    return R2STFT(text=render_text(record), features=features, mask=mask)
