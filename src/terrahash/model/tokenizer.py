"""The prompt tokenizer: a closed word-level vocabulary built from the R2STFT template.

Prompts are machine-rendered by one template, so a few hundred word pieces cover them:
template words, month/season/day-part words, platform and instrument names, single
letters, digits one per token (numbers stay compositional) and punctuation. The
vocabulary is saved into each run's ``config.json`` so a model and its tokenizer never
drift apart, and no download is ever needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import torch

PAD, UNK, CLS = "[PAD]", "[UNK]", "[CLS]"
SPECIALS = (PAD, UNK, CLS)

_TOKEN = re.compile(r"[a-z]+|\d|[^\sa-z\d]")

_TEMPLATE_WORDS = (
    "image from acquired at utc in centred n s e w ground sampling m cloud cover percent sun "
    "elevation degrees winter spring summer autumn night morning afternoon evening "
    "january february march april may june july august september october november december "
    "l0 l1 l1a l1b l1c l1g l1gt l1t l1tp l2 l2a l2sp l2sr l3 l4 ortho level orthoimagery "
    "aerial imagery google earth usgs national map urban area per dataset paper "
    "msi oli tirs etm tm mss pms wfi pan ms mux irmss awfi liss awifs modis aster avnir prism "
    "hrg hrs naomi nad gis sar csar wv spot vhr psscene psb sd dove ps rgb nir multispectral "
    "panchromatic hyperspectral camera sensor optical radar"
)

_PLATFORM_WORDS = (
    "landsat sentinel gf gaofen zy ziyuan cbers amazonia spot pleiades neo perusat worldview "
    "geoeye quickbird kompsat cas vrss deimos alsat uk dmc cartosat resourcesat irs p hj "
    "kanopus v ik resurs geosat rapideye skysat superview jilin planetscope terra aqua alos "
    "ikonos bka vision newsat blacksky global meteor aist d naip"
)


def tokenize_words(text: str) -> list[str]:
    """Lowercase word pieces: letter runs, single digits, single punctuation marks."""
    return _TOKEN.findall(text.lower())


def default_vocabulary() -> list[str]:
    """Specials, then template and platform words, letters, digits and punctuation."""
    words: list[str] = list(SPECIALS)
    seen = set(words)
    pieces: Iterable[str] = [
        *_TEMPLATE_WORDS.split(),
        *_PLATFORM_WORDS.split(),
        *"abcdefghijklmnopqrstuvwxyz",
        *"0123456789",
        *",.:;-()/_+%",
    ]
    for word in pieces:
        for piece in tokenize_words(word) if not word.isalpha() else [word]:
            if piece not in seen:
                seen.add(piece)
                words.append(piece)
    return words


class PromptTokenizer:
    """Maps prompt text to fixed-length id tensors; unknown pieces become ``[UNK]``."""

    def __init__(self, vocabulary: Sequence[str] | None = None, max_length: int = 48) -> None:
        self.vocabulary = list(vocabulary) if vocabulary is not None else default_vocabulary()
        if self.vocabulary[: len(SPECIALS)] != list(SPECIALS):
            raise ValueError(f"vocabulary must start with {SPECIALS}")
        self.index = {word: i for i, word in enumerate(self.vocabulary)}
        self.max_length = max_length

    @property
    def pad_id(self) -> int:
        """Id of the padding token (0)."""
        return self.index[PAD]

    def __len__(self) -> int:
        return len(self.vocabulary)

    def encode(self, text: str) -> list[int]:
        """``[CLS]`` + word-piece ids, truncated to ``max_length`` (no padding)."""
        unk = self.index[UNK]
        ids = [self.index[CLS], *(self.index.get(p, unk) for p in tokenize_words(text))]
        return ids[: self.max_length]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids back to space-joined pieces (specials other than ``[UNK]`` dropped)."""
        words = [self.vocabulary[i] for i in ids]
        return " ".join(w for w in words if w not in (PAD, CLS))

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        """Batch of texts -> ``int64`` ids (N, max_length), padded with ``[PAD]``."""
        out = torch.full((len(texts), self.max_length), self.pad_id, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = self.encode(text)
            out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON form stored in a run's ``config.json``."""
        return {"vocabulary": self.vocabulary, "max_length": self.max_length}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptTokenizer:
        """Inverse of ``to_dict``."""
        return cls(data["vocabulary"], int(data["max_length"]))
