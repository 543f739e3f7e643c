"""Spatiotemporal text encoder: a small transformer over R2STFT prompt tokens and numbers.

The numeric features (position on the sphere, day of year, time of day, GSD, cloud,
sun) enter as one extra token built from values and their validity mask. A
reconstruction head predicts those numbers back from the pooled representation; with
the numeric token dropped at random during training this forces the encoder to read
dates and places from the words themselves (the paper's spatiotemporal reconstruction).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from terrahash.metadata.prompt import N_FEATURES


@dataclass(frozen=True)
class TextConfig:
    """Text transformer size (the default is about 0.45 M parameters)."""

    width: int = 128
    layers: int = 2
    heads: int = 4
    mlp_ratio: int = 2
    max_length: int = 80
    feature_dropout: float = 0.5


class SpatiotemporalTextEncoder(nn.Module):
    """Tokens (N, L) + features (N, F) + mask (N, F) -> representation (N, width)."""

    def __init__(self, cfg: TextConfig, vocab_size: int, pad_id: int = 0) -> None:
        super().__init__()
        self.cfg = cfg
        self.pad_id = pad_id
        self.token_embedding = nn.Embedding(vocab_size, cfg.width, padding_idx=pad_id)
        self.position_embedding = nn.Parameter(torch.randn(cfg.max_length + 1, cfg.width) * 0.02)
        self.feature_embedding = nn.Sequential(
            nn.Linear(2 * N_FEATURES, cfg.width), nn.GELU(), nn.Linear(cfg.width, cfg.width)
        )
        layer = nn.TransformerEncoderLayer(
            cfg.width,
            cfg.heads,
            cfg.width * cfg.mlp_ratio,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.width)
        self.reconstruction = nn.Linear(cfg.width, N_FEATURES)
        self.out_dim = cfg.width

    def forward(
        self,
        tokens: torch.Tensor,
        features: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Pooled ``[CLS]`` representation; ``generator`` set means training (feature dropout)."""
        mask = mask.float()
        if generator is not None and self.cfg.feature_dropout > 0:
            keep = torch.rand(mask.shape[0], 1, generator=generator) >= self.cfg.feature_dropout
            mask = mask * keep.float()
        feature_token = self.feature_embedding(torch.cat([features * mask, mask], dim=1))
        x = self.token_embedding(tokens)
        x = torch.cat([x, feature_token.unsqueeze(1)], dim=1)
        x = x + self.position_embedding[: x.shape[1]]
        padding = torch.cat([tokens == self.pad_id, torch.zeros_like(tokens[:, :1], dtype=torch.bool)], dim=1)
        x = self.transformer(x, src_key_padding_mask=padding)
        return self.norm(x[:, 0])

    def reconstruct(self, representation: torch.Tensor) -> torch.Tensor:
        """Predicted numeric features (N, F) from a representation."""
        return self.reconstruction(representation)
