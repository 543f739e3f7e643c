"""Contact sheets: the query and its results as thumbnails captioned with distance and label."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from terrahash.app.searcher import Hit
from terrahash.data import load_rgb

THUMB = 128
CAPTION = 30


def contact_sheet(
    hits: Sequence[Hit],
    out: str | Path,
    query_image: str | Path | None = None,
    query_text: str | None = None,
    columns: int = 6,
) -> Path:
    """Write a PNG grid: the query first (image or text), then each hit in rank order."""
    cells = 1 + len(hits)
    rows = (cells + columns - 1) // columns
    sheet = Image.new("RGB", (columns * THUMB, rows * (THUMB + CAPTION)), "white")
    draw = ImageDraw.Draw(sheet)

    def place(i: int, image: Image.Image | None, caption: str, text: str | None = None) -> None:
        x, y = (i % columns) * THUMB, (i // columns) * (THUMB + CAPTION)
        if image is not None:
            sheet.paste(image.resize((THUMB, THUMB)), (x, y))
        else:
            draw.rectangle([x, y, x + THUMB - 1, y + THUMB - 1], fill=(235, 235, 235))
            draw.multiline_text((x + 4, y + 4), "\n".join(textwrap.wrap(text or "", 20)[:8]), fill="black")
        draw.multiline_text((x + 3, y + THUMB + 2), caption, fill="black")

    def thumb(path: str | Path | None) -> Image.Image | None:
        if path is None:
            return None
        try:
            return Image.fromarray(load_rgb(path, THUMB))
        except Exception:  # noqa: BLE001 - a missing thumbnail must not lose the sheet
            return None

    place(0, thumb(query_image), "query", query_text)
    for i, hit in enumerate(hits, start=1):
        caption = f"#{hit.rank} d={hit.distance}\n{(hit.label or '-')[:20]}"
        place(i, thumb(hit.path), caption, hit.id)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
