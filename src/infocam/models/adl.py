"""Attention-based dropout layer (ADL), Choe & Shim, CVPR 2019.

In training mode ADL multiplies a feature map by one of two spatial maps
derived from its own channel mean (the *self-attention*):

* the **importance map** ``sigmoid(attention)``, which rewards the most
  discriminative region, or
* the **drop mask** ``attention < gamma * max(attention)`` (per sample), which
  hides that region so the network has to look at the rest of the object.

One coin per forward pass (``torch.rand(1)`` on the default generator, so
``torch.manual_seed`` makes runs repeatable) picks the drop mask with
probability ``drop_rate`` and the importance map otherwise; the same choice
applies to the whole batch. In eval mode ADL is the identity. It has no
parameters and no buffers, so inserting it leaves a model's ``state_dict``
keys unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from infocam.errors import InputError

__all__ = ["ADL", "drop_mask", "importance_map", "self_attention"]


def _check_unit(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name} must be a number in [0, 1]; got {value!r}")
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InputError(f"{name} must be in [0, 1]; got {value!r}")
    return value


def self_attention(x: Tensor) -> Tensor:
    """The channel mean of ``x`` (B, C, h, w), shape (B, 1, h, w)."""
    return x.mean(dim=1, keepdim=True)


def importance_map(attention: Tensor) -> Tensor:
    """``sigmoid(attention)``, same shape as ``attention``."""
    return torch.sigmoid(attention)


def drop_mask(attention: Tensor, gamma: float) -> Tensor:
    """``1.0`` where ``attention < gamma * max(attention)`` of the same sample, else ``0.0``.

    ``attention`` is (B, 1, h, w); the maximum is taken per sample.
    """
    peak = attention.amax(dim=(1, 2, 3), keepdim=True)
    return (attention < gamma * peak).to(attention.dtype)


class ADL(nn.Module):
    """Attention-based dropout layer.

    Args:
        drop_rate: probability that a forward pass uses the drop mask
            (otherwise the importance map). The paper's value is 0.75.
        gamma: drop threshold as a fraction of the per-sample attention
            maximum: 0.8 for VGG, 0.9 for ResNet in the paper.

    Shape: input (B, C, h, w), output the same. Identity in eval mode (the
    input tensor itself is returned).
    """

    def __init__(self, drop_rate: float = 0.75, gamma: float = 0.9) -> None:
        super().__init__()
        self.drop_rate = _check_unit("drop_rate", drop_rate)
        self.gamma = _check_unit("gamma", gamma)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        attention = self_attention(x)
        # One coin for the whole batch, drawn on the default CPU generator.
        if torch.rand(1).item() < self.drop_rate:
            chosen = drop_mask(attention, self.gamma)
        else:
            chosen = importance_map(attention)
        return x * chosen

    def extra_repr(self) -> str:
        return f"drop_rate={self.drop_rate}, gamma={self.gamma}"
