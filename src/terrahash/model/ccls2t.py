"""CCLS2T: multiscale image encoder + spatiotemporal text encoder, gated fusion, hash layer.

One hash layer serves three query kinds against one database: image alone, image plus
metadata (fused) and metadata alone (text). Sharing the layer (and the hash centres it is
trained towards) is what lets an image-only query land near the fused code that the
archive stored for the same scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from terrahash.model.text import SpatiotemporalTextEncoder, TextConfig
from terrahash.model.vision import MultiScaleVisionEncoder, VisionConfig

#: Code lengths the hash layer supports.
SUPPORTED_BITS = (16, 32, 64, 128)


@dataclass
class HashOutputs:
    """Everything one forward pass yields; text fields are ``None`` for image-only models."""

    emb_image: torch.Tensor
    emb_fused: torch.Tensor
    logits_image: torch.Tensor
    logits_fused: torch.Tensor
    logit_scale: torch.Tensor
    emb_text: torch.Tensor | None = None
    logits_text: torch.Tensor | None = None
    reconstruction: torch.Tensor | None = None


class GatedFusion(nn.Module):
    """``image + gate(image, text) * value(text)``; starts near the image embedding.

    A residual gate (bias -2, so about 12 % open at start) keeps fused codes close to
    image-only codes unless the metadata truly helps, which is what image queries
    against a fused database need.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gate = nn.Linear(2 * dim, dim)
        self.value = nn.Linear(dim, dim)
        nn.init.constant_(self.gate.bias, -2.0)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Fused embedding (N, dim)."""
        gate = torch.sigmoid(self.gate(torch.cat([image, text], dim=1)))
        return image + gate * self.value(text)


class FiLMFusion(nn.Module):
    """``image * (1 + scale(text)) + shift(text)``: the record re-weights the image's channels.

    Feature-wise linear modulation (FiLM, Perez et al. 2018) conditioned on the metadata
    embedding, whose prompt and numbers carry the sensor and the ground sampling distance.
    The same class looks different at 0.3 m and at 10 m, and a per-channel scale lets the
    record say which image features to trust, which an additive gate cannot. Zero-initialised,
    so training starts from the image embedding, as ``GatedFusion`` nearly does. Not the
    default: on the mixed-source study it scored below ``--no-text`` on validation for image
    queries in every seed (``bench/results/text_study.md``).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.film = nn.Linear(dim, 2 * dim)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Fused embedding (N, dim)."""
        scale, shift = self.film(text).chunk(2, dim=1)
        return image * (1 + scale) + shift


#: ``config["fusion"]`` -> the module that fuses image and metadata embeddings.
FUSIONS: dict[str, type[nn.Module]] = {"gated": GatedFusion, "film": FiLMFusion}


class CCLS2T(nn.Module):
    """The dual encoder with its hash layer; see ``encode_image``, ``encode_text``, ``hash_logits``."""

    def __init__(self, config: dict[str, Any], vocab_size: int, use_text: bool = True) -> None:
        super().__init__()
        bits = int(config["bits"])
        if bits not in SUPPORTED_BITS:
            raise ValueError(f"bits must be one of {SUPPORTED_BITS}, got {bits}")
        dim = int(config.get("embed_dim", 256))
        self.bits = bits
        self.use_text = use_text
        #: Training only: the fraction of items whose fused embedding leaves their metadata
        #: out (metadata dropout). An archive is queried by image alone against fused codes,
        #: and in a data centre some scenes come without usable metadata; withholding it at
        #: random trains the fused path to stay an image code that metadata refines.
        self.meta_dropout = float(config.get("meta_dropout", 0.0))
        self.visual = MultiScaleVisionEncoder(VisionConfig.from_dict(config["vision"]))
        self.image_proj = nn.Linear(self.visual.out_dim, dim)
        self.hash_layer = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, bits))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        if use_text:
            text_cfg = TextConfig(**config.get("text", {}))
            self.textual = SpatiotemporalTextEncoder(text_cfg, vocab_size)
            self.text_proj = nn.Linear(self.textual.out_dim, dim)
            fusion = str(config.get("fusion", "gated"))
            if fusion not in FUSIONS:
                raise ValueError(f"fusion must be one of {sorted(FUSIONS)}, got {fusion!r}")
            self.fusion = FUSIONS[fusion](dim)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised images (N, 3, H, W) -> image embeddings (N, D)."""
        return self.image_proj(self.visual(images))

    def encode_text_features(
        self,
        tokens: torch.Tensor,
        features: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(text embedding (N, D), text representation before projection)."""
        if not self.use_text:
            raise RuntimeError("this model was built without a text encoder")
        rep = self.textual(tokens, features, mask, generator)
        return self.text_proj(rep), rep

    def encode_text(self, tokens: torch.Tensor, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Prompt tokens + numeric features -> text embeddings (N, D)."""
        return self.encode_text_features(tokens, features, mask)[0]

    def fuse(self, emb_image: torch.Tensor, emb_text: torch.Tensor | None) -> torch.Tensor:
        """Fused embedding; the image embedding itself when there is no text branch."""
        if emb_text is None or not self.use_text:
            return emb_image
        return self.fusion(emb_image, emb_text)

    def hash_logits(self, emb: torch.Tensor) -> torch.Tensor:
        """Real-valued hash pre-activations (N, bits); ``tanh`` in training, sign at inference."""
        return self.hash_layer(emb)

    def hash_logits_frozen(self, emb: torch.Tensor) -> torch.Tensor:
        """``hash_logits`` with the hash layer's parameters detached (same values).

        Text codes must land in the hash space the images define; their losses may move
        the text encoder but not the layer the image codes depend on. Where metadata
        carries no class signal (one prompt for a whole archive) a trainable layer would
        otherwise be pulled towards every class centre at once.
        """
        norm, linear = self.hash_layer[0], self.hash_layer[1]
        assert isinstance(norm, nn.LayerNorm) and isinstance(linear, nn.Linear)
        x = F.layer_norm(emb, norm.normalized_shape, norm.weight.detach(), norm.bias.detach(), norm.eps)
        return F.linear(x, linear.weight.detach(), linear.bias.detach())

    @staticmethod
    def binarize(logits: torch.Tensor) -> torch.Tensor:
        """Bits as bool (N, bits): ``logit >= 0`` so an exact 0 always maps to bit 1."""
        return logits >= 0

    def forward(
        self,
        images: torch.Tensor,
        tokens: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> HashOutputs:
        """Training forward pass over all branches the model has."""
        emb_image = self.encode_image(images)
        emb_text = rep = None
        if self.use_text and tokens is not None and features is not None and mask is not None:
            emb_text, rep = self.encode_text_features(tokens, features, mask, generator)
        emb_fused = self.fuse(emb_image, emb_text)
        if generator is not None and emb_text is not None and self.meta_dropout > 0:
            withheld = torch.rand(emb_image.shape[0], 1, generator=generator) < self.meta_dropout
            emb_fused = torch.where(withheld.to(emb_image.device), emb_image, emb_fused)
        return HashOutputs(
            emb_image=emb_image,
            emb_fused=emb_fused,
            logits_image=self.hash_logits(emb_image),
            logits_fused=self.hash_logits(emb_fused),
            logit_scale=self.logit_scale.clamp(max=math.log(100.0)).exp(),
            emb_text=emb_text,
            logits_text=None if emb_text is None else self.hash_logits_frozen(emb_text),
            reconstruction=None if rep is None else self.textual.reconstruct(rep),
        )
