"""Hash centres: distinct Hadamard rows, majority-vote group centres, multi-label sign of mean."""

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


def test_group_centres_are_majorities_and_classes_stay_apart() -> None:
    groups = [0, 0, 0, 1, 1, 2, 2, 2]
    cs = build_centres([f"c{i}" for i in range(8)], 64, groups)
    assert cs.hierarchical and cs.group_codes().shape == (3, 64)
    dist = (cs.centres[:, None, :] != cs.centres[None, :, :]).sum(-1)
    assert dist[~np.eye(8, dtype=bool)].min() >= 32  # nesting costs no class separation
    for g in range(3):
        members = [c for c, grp in enumerate(groups) if grp == g]
        total = cs.centres[members].sum(0)
        decided = total != 0
        assert np.array_equal(cs.group_codes()[g][decided], np.sign(total[decided]))
    # every class is nearer its own group's centre than any class of another group is
    to_group = (cs.centres[:, None, :] != cs.group_codes()[None, :, :]).sum(-1)
    for g in range(3):
        own = [to_group[c, g] for c, grp in enumerate(groups) if grp == g]
        other = [to_group[c, g] for c, grp in enumerate(groups) if grp != g]
        assert max(own) < min(other), (g, own, other)


def test_group_centres_are_seeded() -> None:
    groups = [0, 0, 1, 1]
    a = build_centres(list("abcd"), 32, groups, seed=3).group_codes()
    b = build_centres(list("abcd"), 32, groups, seed=3).group_codes()
    assert np.array_equal(a, b)


def test_multilabel_target_is_sign_of_mean_with_zero_to_plus_one() -> None:
    cs = build_centres(["a", "b", "c"], 16)
    labels = torch.tensor([[1, 1, 0], [0, 0, 1]], dtype=torch.bool)
    t = cs.targets(labels)
    mean = (cs.centres[0] + cs.centres[1]) / 2
    assert np.array_equal(t[0].numpy(), np.where(mean >= 0, 1.0, -1.0))
    assert np.array_equal(t[1].numpy(), cs.centres[2])
