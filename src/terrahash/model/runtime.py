"""A trained run ready to encode: images, image + metadata, or metadata/prompts -> packed codes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from terrahash.codes import pack_bits
from terrahash.data.dataset import SceneDataset
from terrahash.data.transforms import ImageLike, image_column, normalize, to_uint8_tensor
from terrahash.metadata.prompt import N_FEATURES, render_prompt
from terrahash.metadata.record import SceneRecord
from terrahash.model.centers import run_centres
from terrahash.model.checkpoint import load_run
from terrahash.model.errors import ModelError
from terrahash.model.tokenizer import PromptTokenizer
from terrahash.model.vision import fold_batchnorm

#: The three query kinds, all searching one database of codes.
QUERY_KINDS = ("image", "fused", "text")
#: Real-valued vectors a search can re-rank its Hamming shortlist by: ``pre_hash``, the
#: embedding the hash layer reads; ``tanh_hash``, tanh of the hash layer's outputs (the
#: code's own soft version: its signs are the bits).
VECTOR_SOURCES = ("pre_hash", "tanh_hash")


def text_inputs(
    tokenizer: PromptTokenizer, items: Sequence[SceneRecord | str]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """Tokens, features, mask and texts for records (rendered by R2STFT) or raw prompts."""
    texts: list[str] = []
    feats = np.zeros((len(items), N_FEATURES), dtype=np.float32)
    mask = np.zeros((len(items), N_FEATURES), dtype=bool)
    for i, item in enumerate(items):
        if isinstance(item, SceneRecord):
            rendered = render_prompt(item)
            texts.append(rendered.text)
            feats[i], mask[i] = rendered.features, rendered.mask
        elif isinstance(item, str):
            texts.append(item)
        else:
            raise TypeError(f"item {i}: expected a SceneRecord or a prompt string, got {type(item).__name__}")
    return tokenizer(texts), torch.from_numpy(feats), torch.from_numpy(mask), texts


class HashModel:
    """A loaded run. ``encode_*`` return packed codes; ``embed_images`` real embeddings."""

    def __init__(self, run_dir: str | Path, batch_size: int = 256) -> None:
        self.run_dir = Path(run_dir)
        self.model, self.tokenizer, self.config = load_run(self.run_dir)
        # Inference only from here: BatchNorm folded into the convolutions, and NHWC, the
        # layout oneDNN's CPU convolutions are fastest on (together about 1.7x here).
        fold_batchnorm(self.model.visual)
        self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.bits: int = int(self.config["bits"])
        self.image_size: int = int(self.config["image_size"])
        self.mean = self.config["normalization"]["mean"]
        self.std = self.config["normalization"]["std"]
        self.per_image = bool(self.config["normalization"].get("per_image", False))
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"HashModel({str(self.run_dir)!r}, method={self.config['method']!r}, bits={self.bits})"

    def class_centres(self) -> tuple[list[str], np.ndarray] | None:
        """The training classes and their hash centres as packed codes (C, bits/8).

        What a class looks like in this model's code space: a concept query searches
        from here. ``None`` for runs trained without centres (pairwise or unsupervised).
        """
        centres = run_centres(self.config)
        return None if centres is None else (centres.classes, pack_bits(centres.centres > 0))

    @property
    def query_kinds(self) -> tuple[str, ...]:
        """Kinds this model can encode (image-only models have no ``text`` kind)."""
        return QUERY_KINDS if self.model.use_text else ("image", "fused")

    def _require_text(self) -> None:
        if not self.model.use_text:
            raise ModelError(
                f"{self.run_dir / 'config.json'}: error: method {self.config['method']!r} was "
                "trained without a text encoder; text queries need a ccls2t run without --no-text"
            )

    @torch.inference_mode()
    def _embed(
        self, pixels: torch.Tensor, records: Sequence[SceneRecord | None] | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(image, fused, text) embeddings for a uint8 batch.

        ``fused`` is the image embedding where an item has no record; ``text`` is ``None``
        unless every item has a record (it is then reused for text queries, so the text
        encoder runs once per batch).
        """
        images = normalize(pixels, self.mean, self.std, self.per_image)
        images = images.contiguous(memory_format=torch.channels_last)
        emb_image = self.model.encode_image(images)
        emb_fused, emb_text = emb_image, None
        if records is not None and self.model.use_text:
            known = [i for i, r in enumerate(records) if r is not None]
            if known:
                tokens, feats, mask, _ = text_inputs(self.tokenizer, [records[i] for i in known])  # type: ignore[misc]
                text = self.model.encode_text(tokens, feats, mask)
                emb_fused = emb_image.clone()
                emb_fused[known] = self.model.fuse(emb_image[known], text)
                if len(known) == len(records):
                    emb_text = text
        return emb_image, emb_fused, emb_text

    def _codes(self, emb: torch.Tensor) -> np.ndarray:
        """Packed codes (n, bits/8) of embeddings: the hash layer's signs, packed."""
        return pack_bits(self.model.binarize(self.model.hash_logits(emb)).numpy())

    def _batches(self, n: int) -> list[slice]:
        return [slice(i, min(i + self.batch_size, n)) for i in range(0, n, self.batch_size)]

    def _check_records(
        self, images: Sequence[ImageLike], records: Sequence[SceneRecord | None] | None
    ) -> None:
        if records is not None and len(records) != len(images):
            raise ValueError(f"got {len(images)} images but {len(records)} records")

    def embed_images(self, images: Sequence[ImageLike]) -> np.ndarray:
        """Real-valued image embeddings (n, D) float32, the pre-hash features."""
        out = [
            self._embed(to_uint8_tensor(images[s], self.image_size), None)[0]
            for s in self._batches(len(images))
        ]
        return torch.cat(out).numpy().astype(np.float32) if out else np.zeros((0, 0), np.float32)

    @torch.inference_mode()
    def rerank_vectors(self, emb: torch.Tensor | np.ndarray, source: str) -> np.ndarray:
        """Re-ranking vectors (n, D) float32 of embeddings (n, embed_dim); see ``VECTOR_SOURCES``."""
        emb = torch.as_tensor(emb)
        if source == "pre_hash":
            return emb.numpy().astype(np.float32)
        if source == "tanh_hash":
            return torch.tanh(self.model.hash_logits(emb)).numpy().astype(np.float32)
        raise ValueError(f"unknown re-ranking vector source {source!r}; expected one of {VECTOR_SOURCES}")

    @torch.inference_mode()
    def _encode_images(
        self, images: Sequence[ImageLike], records: Sequence[SceneRecord | None] | None, source: str | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Packed codes and, with a ``source``, re-ranking vectors of images in one pass."""
        self._check_records(images, records)
        codes, vectors = [], []
        for s in self._batches(len(images)):
            pixels = to_uint8_tensor(images[s], self.image_size)
            emb_image, emb_fused, _ = self._embed(pixels, None if records is None else records[s])
            emb = emb_image if records is None else emb_fused
            codes.append(self._codes(emb))
            if source is not None:
                vectors.append(self.rerank_vectors(emb, source))
        if not codes:
            return np.zeros((0, self.bits // 8), np.uint8), np.zeros((0, 0), np.float32) if source else None
        return np.concatenate(codes), np.concatenate(vectors) if source is not None else None

    def encode_images(
        self, images: Sequence[ImageLike], records: Sequence[SceneRecord | None] | None = None
    ) -> np.ndarray:
        """Packed codes (n, bits/8): fused where a record is given, image-only otherwise."""
        return self._encode_images(images, records, None)[0]

    def encode_images_and_vectors(
        self, images: Sequence[ImageLike], records: Sequence[SceneRecord | None] | None = None,
        source: str = "pre_hash",
    ) -> tuple[np.ndarray, np.ndarray]:
        """(codes as ``encode_images``, re-ranking vectors (n, D) float32 of ``source``), one pass."""
        codes, vectors = self._encode_images(images, records, source)
        assert vectors is not None
        return codes, vectors

    @torch.inference_mode()
    def embed_text(self, records_or_prompts: Sequence[SceneRecord | str]) -> np.ndarray:
        """Real-valued text embeddings (n, D) float32."""
        self._require_text()
        out = []
        for s in self._batches(len(records_or_prompts)):
            tokens, feats, mask, _ = text_inputs(self.tokenizer, records_or_prompts[s])
            out.append(self.model.encode_text(tokens, feats, mask))
        return torch.cat(out).numpy().astype(np.float32)

    @torch.inference_mode()
    def encode_text(self, records_or_prompts: Sequence[SceneRecord | str] | SceneRecord | str) -> np.ndarray:
        """Packed codes (n, bits/8) from metadata records or prompt strings alone."""
        if isinstance(records_or_prompts, SceneRecord | str):
            records_or_prompts = [records_or_prompts]
        return self._codes(torch.from_numpy(self.embed_text(records_or_prompts)))

    @torch.inference_mode()
    def encode_text_and_vectors(
        self, records_or_prompts: Sequence[SceneRecord | str], source: str = "pre_hash"
    ) -> tuple[np.ndarray, np.ndarray]:
        """(codes as ``encode_text``, re-ranking vectors (n, D) float32 of ``source``), one pass."""
        emb = torch.from_numpy(self.embed_text(records_or_prompts))
        return self._codes(emb), self.rerank_vectors(emb, source)

    @torch.inference_mode()
    def encode_dataset(
        self,
        dataset: SceneDataset,
        kinds: Sequence[str] = QUERY_KINDS,
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Codes and embeddings for every item: ``ids``, ``labels``, ``codes_<kind>``, ``emb_<kind>``.

        Kinds the model cannot produce (``text`` for image-only methods) are left out;
        ``kinds`` in the result lists what was encoded. ``progress(n)`` is called per batch.
        """
        unknown = [k for k in kinds if k not in QUERY_KINDS]
        if unknown:
            raise ValueError(f"unknown query kinds {unknown}; expected {QUERY_KINDS}")
        kinds = [k for k in kinds if k in self.query_kinds]
        size = batch_size or self.batch_size
        column = image_column(dataset, self.image_size)
        parts: dict[str, list[torch.Tensor]] = {k: [] for k in kinds}
        for start in range(0, len(dataset), size):
            idx = range(start, min(start + size, len(dataset)))
            pixels = to_uint8_tensor(
                [dataset.load_image(i, self.image_size, column) for i in idx], self.image_size
            )
            records = [dataset[i].record for i in idx]
            wants_text = "fused" in kinds or "text" in kinds
            emb_image, emb_fused, emb_text = self._embed(pixels, records if wants_text else None)
            batch = {"image": emb_image, "fused": emb_fused}
            if emb_text is not None:  # every item has a record, so text is there when asked for
                batch["text"] = emb_text
            for kind in kinds:
                parts[kind].append(batch[kind])
            if progress is not None:
                progress(len(idx))
        result: dict[str, np.ndarray] = {
            "ids": np.array([it.id for it in dataset], dtype=str),
            "labels": np.array(["|".join(it.labels) for it in dataset], dtype=str),
            "kinds": np.array(kinds, dtype=str),
        }
        for kind in kinds:
            emb = (
                torch.cat(parts[kind]) if parts[kind] else torch.zeros(0, self.model.image_proj.out_features)
            )
            result[f"emb_{kind}"] = emb.numpy().astype(np.float32)
            result[f"codes_{kind}"] = self._codes(emb)
        return result


def load_model(run_dir: str | Path) -> HashModel:
    """Load a run folder written by ``terrahash train``; ``ModelError`` names the bad file."""
    return HashModel(run_dir)
