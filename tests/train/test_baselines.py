"""The baselines follow their reference implementations.

DPSH and HashNet keep DeepHash-pytorch's buffer over the whole training set (``U``, ``Y``):
each step writes the batch's rows first, then scores the batch against every row. The
expected values below are the reference formulas written out in NumPy, not our code.
OrthoHash is kamwoh/orthohash's cosine-margin softmax (label smoothing for label sets).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from terrahash.model.ccls2t import HashOutputs
from terrahash.model.centers import build_centres
from terrahash.train.losses import HashLoss, LossInputs
from terrahash.train.losses.dpsh import DPSHLoss
from terrahash.train.losses.hashnet import HashNetLoss
from terrahash.train.losses.orthohash import OrthoHashLoss
from terrahash.train.run import TrainConfigError, TrainOptions, _make_loss
from tests.train.helpers import tiny_trainer

N_TRAIN, BITS, CLASSES = 10, 8, 3


def _inputs(u: torch.Tensor, labels: torch.Tensor, index: list[int], progress: float = 0.0) -> LossInputs:
    out = HashOutputs(
        emb_image=u, emb_fused=u, logits_image=u, logits_fused=u, logit_scale=torch.tensor(1.0)
    )
    return LossInputs(out=out, labels=labels, index=torch.tensor(index), n_train=N_TRAIN, progress=progress)


def _batch(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(n, BITS, generator=gen, dtype=torch.float64) * 2
    labels = (torch.rand(n, CLASSES, generator=gen) < 0.4).double()
    labels[0] = 0.0
    labels[0, 0] = 1.0  # at least one labelled item
    return u, labels


def _softplus(x: np.ndarray) -> np.ndarray:
    # The reference's stable log(1 + exp(x)).
    return np.log1p(np.exp(-np.abs(x))) + np.clip(x, 0, None)


def _dpsh_reference(u: np.ndarray, y: np.ndarray, big_u: np.ndarray, big_y: np.ndarray) -> float:
    s = (y @ big_y.T > 0).astype(float)
    inner = u @ big_u.T * 0.5
    likelihood = (_softplus(inner) - s * inner).mean()
    return float(likelihood + 0.1 * ((u - np.sign(u)) ** 2).mean())


def _hashnet_reference(h: np.ndarray, y: np.ndarray, big_u: np.ndarray, big_y: np.ndarray) -> float:
    s = (y @ big_y.T > 0).astype(float)
    dot = 0.1 * h @ big_u.T
    loss = _softplus(dot) - s * dot
    positive, negative = s > 0, s <= 0
    total = positive.sum() + negative.sum()
    loss[positive] *= total / positive.sum()
    loss[negative] *= total / negative.sum()
    return float(loss.sum() / total)


@pytest.mark.parametrize("method", ["dpsh", "hashnet"])
def test_buffer_rows_and_loss_follow_the_reference(method: str) -> None:
    loss: HashLoss = DPSHLoss() if method == "dpsh" else HashNetLoss()
    big_u, big_y = np.zeros((N_TRAIN, BITS)), np.zeros((N_TRAIN, CLASSES))
    progress = 0.5  # HashNet: reference epoch 75 -> scale sqrt(1 + 75 // 20) = 2
    for seed, rows in ((0, [2, 5, 7, 9]), (1, [0, 5, 6])):
        u, labels = _batch(seed, len(rows))
        before = loss.buffer.codes.clone()
        got = loss(_inputs(u, labels, rows, progress))["loss"]
        stored = u.numpy() if method == "dpsh" else np.tanh(2.0 * u.numpy())
        # The reference writes the batch's rows before it scores the batch against them all.
        big_u[rows], big_y[rows] = stored, labels.numpy()
        assert np.allclose(loss.buffer.codes[rows].numpy(), stored, rtol=0, atol=1e-12)  # tanh: last ulp
        assert torch.equal(loss.buffer.labels[rows], labels)
        others = [i for i in range(N_TRAIN) if i not in rows]
        if before.numel():
            assert torch.equal(loss.buffer.codes[others], before[others])
        assert np.allclose(loss.buffer.codes.numpy(), big_u, rtol=0, atol=1e-12)
        reference = _dpsh_reference if method == "dpsh" else _hashnet_reference
        expected = reference(stored, labels.numpy(), big_u, big_y)
        assert float(got) == pytest.approx(expected, rel=1e-9)


def test_buffer_gradient_flows_through_the_batch_only() -> None:
    """As in the reference: ``U`` holds detached copies, the batch's own ``u`` carries the gradient."""
    loss = DPSHLoss()
    u, labels = _batch(0, 4)
    u.requires_grad_(True)
    loss(_inputs(u, labels, [1, 2, 3, 4]))["loss"].backward()
    assert u.grad is not None and float(u.grad.abs().sum()) > 0
    assert not loss.buffer.codes.requires_grad


def test_hashnet_continuation_follows_the_reference_schedule() -> None:
    """``sqrt(1 + epoch // 20)`` over 150 reference epochs, mapped onto the training fraction."""
    loss = HashNetLoss()
    assert loss.scale(0.0) == 1.0
    assert loss.scale(19.9 / 150) == 1.0
    assert loss.scale(20 / 150) == pytest.approx(2**0.5)
    assert loss.scale(0.999) == pytest.approx(8**0.5)


def test_buffer_rejects_rows_outside_the_training_set() -> None:
    loss = DPSHLoss()
    u, labels = _batch(0, 2)
    with pytest.raises(ValueError, match="rows must be in 0..9"):
        loss(_inputs(u, labels, [3, N_TRAIN]))
    with pytest.raises(ValueError, match="needs each item's training-set row"):
        loss(LossInputs(out=_inputs(u, labels, [0, 1]).out, labels=labels))


@pytest.mark.parametrize("method", ["dpsh", "hashnet"])
def test_trainer_fills_training_rows_and_checkpoint_restores_them(method: str, tiny_data: Path) -> None:
    """Through the loop: dataset indices map to training-set rows; a checkpoint carries the buffer."""
    train_idx = torch.arange(1, 40, 2)  # 20 training items whose rows differ from their dataset indices
    trainer = tiny_trainer(tiny_data, method, train_idx, batch_size=8)
    seen: list[torch.Tensor] = []
    trainer.loss.register_forward_hook(lambda _m, args, _o: seen.append(args[0].out.logits_image.detach()))
    batch = torch.tensor([3, 11, 21, 39, 1, 5, 7, 9])
    trainer.training_step(batch)
    rows = (batch - 1) // 2
    stored = seen[0] if method == "dpsh" else torch.tanh(seen[0])  # HashNet's scale is 1 at the start
    buffer = trainer.loss.buffer
    assert buffer.codes.shape == (20, 32) and buffer.labels.shape == (20, 4)
    assert torch.allclose(buffer.codes[rows], stored)
    assert torch.equal(buffer.labels[rows], trainer.data.labels[batch].float())
    untouched = torch.ones(20, dtype=torch.bool)
    untouched[rows] = False
    assert not buffer.codes[untouched].any() and not buffer.labels[untouched].any()

    state = trainer.state_dict()
    fresh = tiny_trainer(tiny_data, method, train_idx, batch_size=8)
    assert fresh.loss.buffer.codes.numel() == 0
    fresh.load_state_dict(state)
    assert torch.equal(fresh.loss.buffer.codes, buffer.codes)
    assert torch.equal(fresh.loss.buffer.labels, buffer.labels)
    with pytest.raises(ValueError, match="rows must be"):  # an item outside the training set has no row
        trainer.training_step(torch.tensor([0, 2]))


def test_orthohash_is_the_reference_margin_softmax() -> None:
    centres = build_centres(["a", "b", "c"], BITS)
    loss = OrthoHashLoss(centres, scale=8.0, margin=0.2, quan=0.5)
    v, labels = _batch(3, 5)
    labels = labels.float()
    v = v.float()
    got = loss(_inputs(v, labels, [0, 1, 2, 3, 4]))
    c = centres.centres
    x = v.numpy()
    cos = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (c / np.linalg.norm(c, axis=1, keepdims=True)).T
    y = labels.numpy()
    known = y.sum(1) > 0
    logits = 8.0 * (cos - 0.2 * y)[known]
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    ce = -((y[known] / y[known].sum(1, keepdims=True)) * log_p).sum(1).mean()
    quan = (1 - (x * np.sign(x)).sum(1) / np.linalg.norm(x, axis=1) / np.sqrt(BITS)).mean()
    assert float(got["softmax"]) == pytest.approx(ce, rel=1e-5)
    assert float(got["quan"]) == pytest.approx(0.5 * quan, rel=1e-5)
    assert float(got["loss"]) == pytest.approx(ce + 0.5 * quan, rel=1e-5)


def test_loss_settings_reach_the_loss_and_bad_ones_are_named() -> None:
    opts = TrainOptions(method="orthohash", loss_settings={"scale": 4.0})
    assert opts.lr is not None and opts.lr > 0
    loss = _make_loss(OrthoHashLoss, opts, build_centres(["a", "b"], 16))
    assert loss.settings["scale"] == 4.0 and loss.settings["margin"] == 0.2
    with pytest.raises(TrainConfigError, match="temperature not accepted by 'dpsh'"):
        TrainOptions(method="dpsh", loss_settings={"temperature": 1.0}).validate()
    with pytest.raises(TrainConfigError, match="not accepted"):
        TrainOptions(method="ccls2t", loss_settings={"centres": 1.0}).validate()


def test_ccls2t_centre_weight_scales_only_its_bitwise_term() -> None:
    """``--loss-setting centre_weight=W`` (the knob bench/tune.py searches) weighs CSQ's BCE alone."""
    from terrahash.train.losses.ccls2t import CCLS2TLoss

    centres = build_centres(["a", "b", "c"], BITS)
    v, labels = _batch(4, 6)
    v, labels = v.float(), labels.float()
    targets = torch.from_numpy(np.sign(labels.numpy() @ centres.centres + 0.5)).float()
    inputs = _inputs(v, labels, list(range(6)))
    inputs.targets = targets
    totals = {w: float(CCLS2TLoss(centres, centre_weight=w)(inputs)["loss"]) for w in (0.0, 0.25, 1.0)}
    p = np.clip((np.tanh(v.numpy()) + 1) / 2, 1e-6, 1 - 1e-6)
    t = (targets.numpy() + 1) / 2
    bce = float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean())
    # image and fused logits are the same tensor here: the term counts twice
    assert totals[1.0] - totals[0.0] == pytest.approx(2 * bce, rel=1e-4)
    assert totals[0.25] - totals[0.0] == pytest.approx(0.5 * bce, rel=1e-4)
    assert CCLS2TLoss(centres, centre_weight=0.25).settings["centre_weight"] == 0.25
