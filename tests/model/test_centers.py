"""Hash centres: distinct Hadamard rows, nested group prefixes, multi-label sign of mean."""

from __future__ import annotations

import numpy as np
import torch

from terrahash.model.centers import build_centres, hadamard


def test_hadamard_rows_are_orthogonal() -> None:
    h = hadamard(64)
    assert np.array_equal(h @ h.T, 64 * np.eye(64))


def test_flat_centres_are_half_the_code_apart() -> None:
    cs = build_centres([f"c{i}" for i in range(21)], 64)
    dist = (cs.centres[:, None, :] != cs.centres[None, :, :]).sum(-1)
    off = dist[~np.eye(21, dtype=bool)]
    assert off.min() >= 32 and not cs.hierarchical


def test_nested_centres_share_their_group_prefix() -> None:
    groups = [0, 0, 0, 1, 1, 2, 2, 2]
    cs = build_centres([f"c{i}" for i in range(8)], 64, groups)
    assert cs.hierarchical and cs.prefix_bits == 16
    p = cs.prefix_bits
    assert np.array_equal(cs.centres[0, :p], cs.centres[2, :p])
    assert not np.array_equal(cs.centres[0, :p], cs.centres[3, :p])
    dist = (cs.centres[:, None, :] != cs.centres[None, :, :]).sum(-1)
    within = dist[0, 1:3].mean()
    across = dist[0, 3:].mean()
    assert within < across


def test_multilabel_target_is_sign_of_mean_with_zero_to_plus_one() -> None:
    cs = build_centres(["a", "b", "c"], 16)
    labels = torch.tensor([[1, 1, 0], [0, 0, 1]], dtype=torch.bool)
    t = cs.targets(labels)
    mean = (cs.centres[0] + cs.centres[1]) / 2
    assert np.array_equal(t[0].numpy(), np.where(mean >= 0, 1.0, -1.0))
    assert np.array_equal(t[1].numpy(), cs.centres[2])
