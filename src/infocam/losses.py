"""Prior-corrected losses: PC-softmax and PC-sigmoid (``docs/conventions.md``).

PC-softmax (Qin et al. 2019) replaces the softmax by

    q(y|x) = exp(f_y) / sum_c pi_c exp(f_c),

where ``pi`` are the training label frequencies. Its loss is the exact
negative log:

    -log q(y|x) = -f_y + logsumexp_c(f_c + log pi_c)
                = cross_entropy(f + log pi, y) + log pi_y.

It is often stated as "cross-entropy on logits shifted by log pi"; the two
differ by the constant ``log pi_y``, which does not depend on the logits, so
both have the same gradient. We return the exact ``-log q``: its negated
mean estimates the mutual information I(X; Y) (q approximates
p(y|x) / p(y)), and it can be negative. With uniform priors it is plain
cross-entropy minus ``log M``.

PC-sigmoid is the two-class case per label (present with prior pi_j, absent
with 1 - pi_j): binary cross-entropy on ``f_j + log(pi_j / (1 - pi_j))``.
Here we take the shifted BCE as the loss, so pi_j = 0.5 gives
plain BCE exactly; the exact two-class PC-softmax loss would add the
constant ``t log pi_j + (1 - t) log(1 - pi_j)``, again with zero gradient.

Inference for both uses the raw logits: ``argmax f`` for PC-softmax and
``f_j > 0`` (``sigmoid(f_j) > 0.5``) for PC-sigmoid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infocam.checks import check_choice, shape_or_type

__all__ = [
    "PCSigmoidLoss",
    "PCSoftmaxLoss",
    "class_priors",
    "label_priors",
    "pc_sigmoid_bce",
    "pc_softmax_cross_entropy",
    "pc_softmax_probs",
]

DEFAULT_EPS = 1e-6
_REDUCTIONS = ("mean", "sum", "none")

ArrayLike = Tensor | np.ndarray | Sequence[int] | Sequence[Sequence[float]]


def _as_tensor(x: ArrayLike, name: str) -> Tensor:
    """Turn a tensor, array or nested sequence into a CPU-or-same tensor."""
    if isinstance(x, Tensor):
        return x
    try:
        return torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: cannot read as an array ({err})") from err


def _clamp_priors(freq: Tensor, eps: float) -> Tensor:
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must lie in (0, 0.5), got {eps}")
    return freq.clamp(eps, 1.0 - eps)


def class_priors(labels: ArrayLike, num_classes: int, eps: float = DEFAULT_EPS) -> Tensor:
    """Class frequencies of single-label data, clamped into ``[eps, 1 - eps]``.

    Args:
        labels: integer class indices, shape (N,), N >= 1.
        num_classes: M, the number of classes; every label must be in [0, M).
        eps: clamp, so that ``log pi`` is finite for an unseen class.

    Returns:
        float32 tensor (M,): ``count_c / N``, clamped. After clamping the sum
        can differ from 1 by at most ``M * eps``.
    """
    y = _as_tensor(labels, "labels")
    if y.ndim != 1:
        raise ValueError(f"labels must have shape (N,), got {tuple(y.shape)}")
    if y.numel() == 0:
        raise ValueError("labels is empty: no data to estimate class priors from")
    if y.dtype.is_floating_point or y.dtype == torch.bool or y.is_complex():
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), found values in [{lo}, {hi}]")
    counts = torch.bincount(y.long().cpu(), minlength=num_classes).to(torch.float64)
    return _clamp_priors(counts / y.numel(), eps).to(torch.float32)


def label_priors(multi_hot: ArrayLike, eps: float = DEFAULT_EPS) -> Tensor:
    """Per-label presence frequencies of multi-label data, clamped.

    Args:
        multi_hot: (N, M) of 0/1 (bool, int or float), N >= 1, M >= 1.
        eps: clamp into ``[eps, 1 - eps]`` so that both ``log pi`` and
            ``log(1 - pi)`` are finite (a label present or absent everywhere).

    Returns:
        float32 tensor (M,): the fraction of rows where label j is 1, clamped.
    """
    t = _as_tensor(multi_hot, "multi_hot")
    if t.ndim != 2 or t.shape[1] == 0:
        raise ValueError(f"multi_hot must have shape (N, M) with M >= 1, got {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError("multi_hot is empty: no data to estimate label priors from")
    t = t.to(torch.float64)
    if not bool(((t == 0) | (t == 1)).all()):
        raise ValueError("multi_hot must contain only 0 and 1")
    return _clamp_priors(t.mean(dim=0), eps).to(torch.float32)


def _check_reduction(reduction: str) -> None:
    check_choice(reduction, "reduction", _REDUCTIONS)


def _check_priors(priors: ArrayLike, *, binary: bool) -> Tensor:
    """Validate (M,) priors: every value in (0, 1] (softmax) or (0, 1) (sigmoid)."""
    pri = _as_tensor(priors, "priors")
    if pri.ndim != 1 or pri.numel() == 0:
        raise ValueError(f"priors must have shape (M,) with M >= 1, got {tuple(pri.shape)}")
    if not pri.dtype.is_floating_point:
        pri = pri.to(torch.float32)
    upper_ok = (pri < 1) if binary else (pri <= 1)
    if not bool(((pri > 0) & upper_ok).all()):
        bound = "(0, 1)" if binary else "(0, 1]"
        raise ValueError(f"priors must lie in {bound}; class_priors/label_priors clamp them")
    return pri


def _check_logits_priors(logits: Tensor, priors: ArrayLike, *, binary: bool) -> Tensor:
    """Validate (B, M) logits against (M,) priors.

    Returns the priors on the logits' device, in at least float32 (so that
    ``1 - eps`` stays below 1 and the shifted logits are float32 under AMP).
    """
    if not isinstance(logits, Tensor) or not logits.dtype.is_floating_point:
        raise ValueError("logits must be a floating-point tensor")
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (B, M), got {tuple(logits.shape)}")
    pri = _check_priors(priors, binary=binary)
    if pri.shape[0] != logits.shape[1]:
        raise ValueError(
            f"priors must have shape ({logits.shape[1]},) to match logits, got {tuple(pri.shape)}"
        )
    dtype = torch.promote_types(logits.dtype, torch.float32)
    return pri.to(device=logits.device, dtype=dtype)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def pc_softmax_cross_entropy(
    logits: Tensor, targets: Tensor, priors: Tensor, reduction: str = "mean"
) -> Tensor:
    """PC-softmax loss ``-log q(y|x) = -f_y + logsumexp_c(f_c + log pi_c)``.

    This equals ``F.cross_entropy(f + log pi, y) + log pi_y``: the constant
    ``log pi_y`` has zero gradient with respect to the logits, so training
    with it is training with logit-adjusted cross-entropy. Uniform priors
    (pi_c = 1/M) give plain cross-entropy minus ``log M``.

    Args:
        logits: (B, M) raw scores f.
        targets: (B,) integer class indices in [0, M).
        priors: (M,) class priors in (0, 1] (see :func:`class_priors`).
        reduction: ``"mean"`` (over B), ``"sum"`` or ``"none"`` (shape (B,)).
    """
    _check_reduction(reduction)
    pri = _check_logits_priors(logits, priors, binary=False)
    if not isinstance(targets, Tensor) or targets.dtype.is_floating_point:
        raise ValueError("targets must be an integer tensor of class indices")
    if targets.shape != (logits.shape[0],):
        raise ValueError(
            f"targets must have shape ({logits.shape[0]},) to match logits, "
            f"got {tuple(targets.shape)}"
        )
    y = targets.to(device=logits.device, dtype=torch.long)
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= logits.shape[1]):
        raise ValueError(f"targets must lie in [0, {logits.shape[1]})")
    f_y = logits.gather(1, y[:, None]).squeeze(1)
    loss = torch.logsumexp(logits + pri.log(), dim=1) - f_y
    return _reduce(loss, reduction)


def pc_softmax_probs(logits: Tensor, priors: Tensor) -> Tensor:
    """PC-softmax values ``q_y = exp(f_y) / sum_c pi_c exp(f_c)``, shape (B, M).

    These are not probabilities: they estimate p(y|x) / p(y), so
    ``sum_c pi_c q_c = 1`` (not ``sum_c q_c``), and ``pi * q`` equals
    ``softmax(f + log pi)``, the posterior estimate. Their argmax is the
    argmax of the raw logits, which is the PC-softmax prediction.
    """
    pri = _check_logits_priors(logits, priors, binary=False)
    return torch.exp(logits - torch.logsumexp(logits + pri.log(), dim=1, keepdim=True))


def pc_sigmoid_bce(
    logits: Tensor, targets: Tensor, priors: Tensor, reduction: str = "mean"
) -> Tensor:
    """PC-sigmoid loss: BCE-with-logits on ``f_j + log(pi_j / (1 - pi_j))``.

    Per label, the two-class PC-softmax with prior pi_j for "present". The
    exact ``-log q`` of that two-class case is this value plus
    ``t log pi_j + (1 - t) log(1 - pi_j)``, a constant with zero gradient;
    we return the shifted BCE (as ``docs/conventions.md`` states it), so ``pi = 0.5`` is plain
    BCE. Inference: label j is present when ``f_j > 0``.

    Args:
        logits: (B, M) raw scores f.
        targets: (B, M) of 0/1 (any numeric dtype or bool).
        priors: (M,) label priors in (0, 1) (see :func:`label_priors`).
        reduction: ``"mean"`` (over all B * M entries, like
            ``BCEWithLogitsLoss``), ``"sum"`` or ``"none"`` (shape (B, M)).
    """
    _check_reduction(reduction)
    pri = _check_logits_priors(logits, priors, binary=True)
    if not isinstance(targets, Tensor) or targets.shape != logits.shape:
        raise ValueError(f"targets must be a tensor of shape {tuple(logits.shape)}, got {shape_or_type(targets)}")
    t = targets.to(device=logits.device, dtype=logits.dtype)
    if not bool(((t == 0) | (t == 1)).all()):
        raise ValueError("targets must contain only 0 and 1")
    shift = pri.log() - torch.log1p(-pri)
    return F.binary_cross_entropy_with_logits(logits + shift, t, reduction=reduction)


class _PriorLoss(nn.Module):
    """A loss module holding checked priors as a buffer (moves with ``.to(device)``, saved in state dicts)."""

    priors: Tensor
    _binary: bool  # sigmoid priors lie in (0, 1), softmax priors in (0, 1]
    _count_name: str  # what M counts, for repr

    def __init__(self, priors: ArrayLike, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        pri = _check_priors(_as_tensor(priors, "priors").to(torch.float32), binary=self._binary)
        self.reduction = reduction
        self.register_buffer("priors", pri.clone())

    def extra_repr(self) -> str:
        return f"{self._count_name}={self.priors.numel()}, reduction={self.reduction!r}"


class PCSoftmaxLoss(_PriorLoss):
    """:func:`pc_softmax_cross_entropy` as a module; ``priors`` is a buffer."""

    _binary = False
    _count_name = "num_classes"

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Loss of (B, M) logits against (B,) class indices."""
        return pc_softmax_cross_entropy(logits, targets, self.priors, self.reduction)


class PCSigmoidLoss(_PriorLoss):
    """:func:`pc_sigmoid_bce` as a module; ``priors`` is a buffer."""

    _binary = True
    _count_name = "num_labels"

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Loss of (B, M) logits against (B, M) 0/1 targets."""
        return pc_sigmoid_bce(logits, targets, self.priors, self.reduction)
