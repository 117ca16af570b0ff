"""PC-softmax and PC-sigmoid: values by hand, gradients, priors, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from infocam.losses import (
    DEFAULT_EPS,
    PCSigmoidLoss,
    PCSoftmaxLoss,
    class_priors,
    label_priors,
    pc_sigmoid_bce,
    pc_softmax_cross_entropy,
    pc_softmax_probs,
)

E = math.e


def _t(x: object) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


# ---------------------------------------------------------------- priors


def test_class_priors_frequencies_and_clamp() -> None:
    pri = class_priors([0, 0, 1, 3], num_classes=4)
    assert pri.dtype == torch.float32
    assert pri.tolist() == pytest.approx([0.5, 0.25, DEFAULT_EPS, 0.25])
    assert pri[2] > 0  # unseen class is clamped, so log is finite
    assert torch.isfinite(pri.log()).all()


def test_class_priors_accepts_numpy_and_tensor() -> None:
    a = class_priors(np.array([2, 2, 2, 0]), 3, eps=0.01)
    b = class_priors(torch.tensor([2, 2, 2, 0]), 3, eps=0.01)
    assert torch.equal(a, b)
    # one class everywhere: 1.0 clamps to 1 - eps
    assert class_priors([1, 1], 2, eps=0.01).tolist() == pytest.approx([0.01, 0.99])
    assert a.tolist() == pytest.approx([0.25, 0.01, 0.75])


def test_label_priors_presence_frequency() -> None:
    mh = [[1, 0, 0], [1, 1, 0], [1, 0, 0]]
    pri = label_priors(mh, eps=1e-3)
    assert pri.tolist() == pytest.approx([1 - 1e-3, 1 / 3, 1e-3])
    assert torch.isfinite(pri.log()).all() and torch.isfinite(torch.log1p(-pri)).all()
    assert torch.equal(label_priors(torch.tensor(mh, dtype=torch.bool), eps=1e-3), pri)


@pytest.mark.parametrize(
    ("labels", "m"),
    [([], 3), ([[0, 1]], 3), ([0, 3], 3), ([-1, 0], 3), ([0.0, 1.0], 3), ([0, 1], 0)],
)
def test_class_priors_bad_input(labels: list, m: int) -> None:
    with pytest.raises(ValueError):
        class_priors(labels, m)


@pytest.mark.parametrize("mh", [np.zeros((0, 3)), [1, 0, 1], [[0.5, 1.0]], np.zeros((2, 0))])
def test_label_priors_bad_input(mh: object) -> None:
    with pytest.raises(ValueError):
        label_priors(mh)


def test_priors_bad_eps() -> None:
    with pytest.raises(ValueError):
        class_priors([0], 1, eps=0.0)
    with pytest.raises(ValueError):
        label_priors([[1]], eps=0.5)


# ---------------------------------------------------------------- PC-softmax


def test_pc_softmax_value_by_hand() -> None:
    logits = _t([[1.0, 0.0], [0.0, 2.0]])
    targets = torch.tensor([0, 1])
    pri = _t([0.25, 0.75])
    # -log q = -f_y + log(sum_c pi_c exp(f_c))
    l0 = -1.0 + math.log(0.25 * E + 0.75)
    l1 = -2.0 + math.log(0.25 + 0.75 * E**2)
    per = pc_softmax_cross_entropy(logits, targets, pri, reduction="none")
    assert per.tolist() == pytest.approx([l0, l1], abs=1e-12)
    mean = pc_softmax_cross_entropy(logits, targets, pri)
    assert mean.item() == pytest.approx((l0 + l1) / 2, abs=1e-12)
    total = pc_softmax_cross_entropy(logits, targets, pri, reduction="sum")
    assert total.item() == pytest.approx(l0 + l1, abs=1e-12)
    # l0 < 0: q can exceed 1 (it estimates p(y|x)/p(y)), so the loss can be negative
    assert l0 < 0


def test_pc_softmax_equals_shifted_ce_plus_log_prior() -> None:
    torch.manual_seed(0)
    logits = torch.randn(6, 4, dtype=torch.float64)
    targets = torch.tensor([0, 1, 2, 3, 3, 1])
    pri = _t([0.1, 0.2, 0.3, 0.4])
    ce_shift = F.cross_entropy(logits + pri.log(), targets, reduction="none")
    pc = pc_softmax_cross_entropy(logits, targets, pri, reduction="none")
    torch.testing.assert_close(pc, ce_shift + pri.log()[targets])


def test_pc_softmax_gradient_equals_logit_adjusted_ce() -> None:
    torch.manual_seed(1)
    pri = _t([0.1, 0.2, 0.3, 0.4])
    targets = torch.tensor([3, 0, 1, 0, 2])
    a = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    pc_softmax_cross_entropy(a, targets, pri).backward()
    F.cross_entropy(b + pri.log(), targets).backward()
    torch.testing.assert_close(a.grad, b.grad)
    # and by hand: (softmax(f + log pi) - onehot) / B
    expect = (torch.softmax(a.detach() + pri.log(), 1) - F.one_hot(targets, 4)) / 5
    torch.testing.assert_close(a.grad, expect)


def test_pc_softmax_uniform_priors_is_ce_minus_log_m() -> None:
    torch.manual_seed(2)
    logits = torch.randn(7, 5, dtype=torch.float64)
    targets = torch.tensor([0, 1, 2, 3, 4, 0, 1])
    pri = torch.full((5,), 0.2, dtype=torch.float64)
    pc = pc_softmax_cross_entropy(logits, targets, pri, reduction="none")
    ce = F.cross_entropy(logits, targets, reduction="none")
    torch.testing.assert_close(pc, ce - math.log(5))


def test_pc_softmax_probs_by_hand() -> None:
    logits = _t([[1.0, 0.0]])
    pri = _t([0.25, 0.75])
    q = pc_softmax_probs(logits, pri)
    z = 0.25 * E + 0.75
    assert q[0].tolist() == pytest.approx([E / z, 1 / z], abs=1e-12)
    assert (q[0, 0] > 1).item()  # not a probability
    torch.manual_seed(3)
    f = torch.randn(8, 3, dtype=torch.float64)
    p3 = _t([0.5, 0.3, 0.2])
    q = pc_softmax_probs(f, p3)
    torch.testing.assert_close((q * p3).sum(1), torch.ones(8, dtype=torch.float64))
    torch.testing.assert_close(q * p3, torch.softmax(f + p3.log(), 1))
    assert torch.equal(q.argmax(1), f.argmax(1))


def test_pc_softmax_half_logits_computed_in_float32() -> None:
    logits = torch.tensor([[1.0, 0.0]], dtype=torch.bfloat16)
    out = pc_softmax_cross_entropy(logits, torch.tensor([0]), torch.tensor([0.25, 0.75]))
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(-1.0 + math.log(0.25 * E + 0.75), abs=1e-6)


@pytest.mark.parametrize(
    ("logits", "targets", "priors", "reduction"),
    [
        (torch.zeros(2, 3), torch.tensor([0, 1]), torch.ones(2) / 2, "mean"),  # M mismatch
        (torch.zeros(2, 2), torch.tensor([0, 2]), torch.ones(2) / 2, "mean"),  # target range
        (torch.zeros(2, 2), torch.tensor([0.0, 1.0]), torch.ones(2) / 2, "mean"),  # float y
        (torch.zeros(2, 2), torch.tensor([0]), torch.ones(2) / 2, "mean"),  # B mismatch
        (torch.zeros(2), torch.tensor([0, 1]), torch.ones(2) / 2, "mean"),  # 1-D logits
        (torch.zeros(2, 2), torch.tensor([0, 1]), torch.tensor([0.0, 1.0]), "mean"),  # pi=0
        (torch.zeros(2, 2), torch.tensor([0, 1]), torch.tensor([0.5, 1.5]), "mean"),  # pi>1
        (torch.zeros(2, 2), torch.tensor([0, 1]), torch.ones(2) / 2, "avg"),
        (torch.zeros(2, 2, dtype=torch.long), torch.tensor([0, 1]), torch.ones(2) / 2, "mean"),
    ],
)
def test_pc_softmax_bad_input(
    logits: torch.Tensor, targets: torch.Tensor, priors: torch.Tensor, reduction: str
) -> None:
    with pytest.raises(ValueError):
        pc_softmax_cross_entropy(logits, targets, priors, reduction=reduction)


# ---------------------------------------------------------------- PC-sigmoid


def test_pc_sigmoid_value_by_hand() -> None:
    logits = _t([[0.0, 1.0]])
    targets = _t([[1.0, 0.0]])
    pri = _t([0.2, 0.5])
    # label 0: shift log(0.2/0.8) = -log 4; -log sigmoid(-log 4) = log(1 + 4)
    # label 1: shift 0; target 0: -log(1 - sigmoid(1)) = log(1 + e)
    expect = [math.log(5.0), math.log(1.0 + E)]
    per = pc_sigmoid_bce(logits, targets, pri, reduction="none")
    assert per.shape == (1, 2)
    assert per[0].tolist() == pytest.approx(expect, abs=1e-12)
    assert pc_sigmoid_bce(logits, targets, pri).item() == pytest.approx(sum(expect) / 2)
    assert pc_sigmoid_bce(logits, targets, pri, "sum").item() == pytest.approx(sum(expect))


def test_pc_sigmoid_half_prior_is_plain_bce_exactly() -> None:
    torch.manual_seed(4)
    logits = torch.randn(5, 10)
    targets = (torch.rand(5, 10) > 0.5).float()
    pri = torch.full((10,), 0.5)
    a = pc_sigmoid_bce(logits, targets, pri, reduction="none")
    b = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    assert torch.equal(a, b)


def test_pc_sigmoid_gradient_by_hand() -> None:
    torch.manual_seed(5)
    pri = _t([0.1, 0.7, 0.5])
    f = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = _t([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]])
    pc_sigmoid_bce(f, t, pri).backward()
    shift = torch.log(pri / (1 - pri))
    expect = (torch.sigmoid(f.detach() + shift) - t) / 12  # mean over B * M
    torch.testing.assert_close(f.grad, expect)


def test_pc_sigmoid_is_exact_two_class_pc_softmax_up_to_constant() -> None:
    f, pi = 0.8, 0.3
    for t in (1.0, 0.0):
        bce = pc_sigmoid_bce(_t([[f]]), _t([[t]]), _t([pi]), reduction="none").item()
        # two-class PC-softmax: present logit f (prior pi), absent logit 0 (prior 1 - pi)
        z = pi * math.exp(f) + (1 - pi)
        q = math.exp(f) / z if t == 1.0 else 1.0 / z
        const = math.log(pi) if t == 1.0 else math.log(1 - pi)
        assert bce + const == pytest.approx(-math.log(q), abs=1e-12)


def test_pc_sigmoid_bool_targets() -> None:
    logits = torch.zeros(1, 2)
    a = pc_sigmoid_bce(logits, torch.tensor([[True, False]]), torch.tensor([0.5, 0.5]))
    assert a.item() == pytest.approx(math.log(2.0))


@pytest.mark.parametrize(
    ("targets", "priors"),
    [
        (torch.tensor([[1.0, 0.0]]), torch.tensor([0.5, 1.0])),  # pi = 1
        (torch.tensor([[1.0, 0.0]]), torch.tensor([0.0, 0.5])),  # pi = 0
        (torch.tensor([[1.0, 0.5]]), torch.tensor([0.5, 0.5])),  # soft target
        (torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5])),  # shape
        (torch.tensor([[1.0, 0.0]]), torch.tensor([0.5, 0.5, 0.5])),  # M mismatch
    ],
)
def test_pc_sigmoid_bad_input(targets: torch.Tensor, priors: torch.Tensor) -> None:
    with pytest.raises(ValueError):
        pc_sigmoid_bce(torch.zeros(1, 2), targets, priors)


# ---------------------------------------------------------------- modules


def test_modules_register_priors_and_match_functional() -> None:
    pri = [0.25, 0.75]
    sm = PCSoftmaxLoss(pri)
    sg = PCSigmoidLoss(pri, reduction="sum")
    for mod in (sm, sg):
        assert "priors" in dict(mod.named_buffers())
        assert "priors" in mod.state_dict()
        assert mod.priors.tolist() == pytest.approx(pri)
    logits = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    y = torch.tensor([0, 1])
    torch.testing.assert_close(sm(logits, y), pc_softmax_cross_entropy(logits, y, sm.priors))
    mh = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    torch.testing.assert_close(sg(logits, mh), pc_sigmoid_bce(logits, mh, sg.priors, "sum"))
    sm64 = sm.to(torch.float64)
    assert sm64.priors.dtype == torch.float64
    assert "reduction='mean'" in repr(sm)


def test_modules_reject_bad_priors() -> None:
    with pytest.raises(ValueError):
        PCSigmoidLoss([0.5, 1.0])
    with pytest.raises(ValueError):
        PCSoftmaxLoss([[0.5, 0.5]])
    with pytest.raises(ValueError):
        PCSoftmaxLoss([0.5, 0.5], reduction="max")
    PCSoftmaxLoss([1.0])  # pi = 1 is allowed for softmax (single class)
