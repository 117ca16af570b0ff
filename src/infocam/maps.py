"""CAM, infoCAM and infoCAM+ as pure tensor functions.

Notation (``docs/conventions.md``): features ``F`` (B, K, h, w) from the last
convolutional block, the weight ``W`` (M, K) of the linear layer after global
average pooling, target classes ``y`` (B,). Every map is linear in ``F``::

    map(a, b) = sum_k v_k F_k(a, b)

with one *effective weight vector* ``v`` per image:

============  =================================================
method        v for target y
============  =================================================
``cam``       ``W[y]``
``infocam``   ``W[y] - (sum_c W[c] - W[y]) / (M - 1)``
``infocam+``  ``W[y] - W[y_min]``, ``y_min = argmin`` of the logits
============  =================================================

The region parameter R then sums the point map over an R x R window
(:func:`region_sum`). The bias never enters a map, and the sign is kept.
Cost is O(B K h w) for every method: no loop over classes.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from infocam.checks import check_choice, check_region, shape_or_type

__all__ = [
    "METHODS",
    "PADDINGS",
    "Method",
    "Padding",
    "cam_maps",
    "effective_weights",
    "normalize_maps",
    "region_sum",
    "resize_maps",
]

Method = Literal["cam", "infocam", "infocam+"]
Padding = Literal["same", "full"]

METHODS: tuple[str, ...] = ("cam", "infocam", "infocam+")
PADDINGS: tuple[str, ...] = ("same", "full")


def _check_method(method: str) -> str:
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    return method.lower()


def effective_weights(
    fc_weight: Tensor,
    targets: Tensor,
    method: str = "cam",
    least_likely: Tensor | None = None,
) -> Tensor:
    """One weight vector per image, shape (B, K): the whole method in one place.

    ``least_likely`` (B,) holds ``y_min`` for ``"infocam+"``.
    """
    method = _check_method(method)
    w_y = fc_weight[targets]  # (B, K)
    if method == "cam":
        return w_y
    if method == "infocam":
        m = fc_weight.shape[0]
        others_mean = (fc_weight.sum(dim=0, keepdim=True) - w_y) / (m - 1)
        return w_y - others_mean
    if least_likely is None:
        raise ValueError("least_likely is required for method 'infocam+'")
    return w_y - fc_weight[least_likely]


def region_sum(maps: Tensor, region: int, padding: str = "same") -> Tensor:
    """Sum each map over an R x R window (a box filter with stride 1).

    ``maps`` is (B, h, w). ``padding="same"`` keeps (h, w): the window at
    (i, j) covers rows ``i - R//2 .. i + (R-1)//2`` (and the same for
    columns), so for odd R it is centred and for even R the extra cell lies
    above / left. ``padding="full"`` reproduces the reference code's all-ones
    convolution with padding R-1: the output is (h+R-1, w+R-1) and output
    (i, j) covers rows ``i-R+1 .. i``. Cells outside the map count as zero.
    """
    region = check_region(region)
    padding = check_choice(padding, "padding", PADDINGS)
    if region == 1:
        return maps
    if padding == "same":
        before, after = region // 2, (region - 1) // 2
    else:
        before = after = region - 1
    x = F.pad(maps.unsqueeze(1), (before, after, before, after))
    # Integral image: exact for any R, any dtype, O(h w) per map.
    acc_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    c = x.to(acc_dtype).cumsum(-1).cumsum(-2)
    c = F.pad(c, (1, 0, 1, 0))
    r = region
    s = c[..., r:, r:] - c[..., :-r, r:] - c[..., r:, :-r] + c[..., :-r, :-r]
    return s.squeeze(1).to(maps.dtype)


def cam_maps(
    features: Tensor,
    fc_weight: Tensor,
    targets: Tensor | int,
    *,
    method: str = "cam",
    region: int = 1,
    logits: Tensor | None = None,
    padding: str = "same",
) -> Tensor:
    """Class activation maps for ``targets``: CAM, infoCAM or infoCAM+.

    Args:
        features: (B, K, h, w) output of the last convolutional block.
        fc_weight: (M, K) weight of the linear layer after global average pooling.
        targets: (B,) class indices (an ``int`` is used for every image).
        method: ``"cam"``, ``"infocam"`` or ``"infocam+"``.
        region: R >= 1, the side of the square window summed around each
            point (1 = no region).
        logits: (B, M) image-level logits; for ``"infocam+"`` the least likely
            class is their argmin. When omitted, the logits are recomputed as
            the pooled features times ``fc_weight`` (no bias).
        padding: ``"same"`` (output h x w, centred window) or ``"full"``
            (output h+R-1, the reference code's alignment).

    Returns:
        (B, h, w) maps (or (B, h+R-1, w+R-1) with ``padding="full"``) in the
        dtype of ``features``; differentiable; signs kept (no ReLU).
    """
    method = _check_method(method)
    region = check_region(region)
    padding = check_choice(padding, "padding", PADDINGS)
    if not isinstance(features, Tensor) or features.dim() != 4:
        raise ValueError(f"features must be a 4-D tensor (B, K, h, w); got {shape_or_type(features)}")
    if not features.is_floating_point():
        raise ValueError(f"features must be a floating-point tensor; got dtype {features.dtype}")
    b, k = features.shape[:2]
    if not isinstance(fc_weight, Tensor) or fc_weight.dim() != 2 or fc_weight.shape[1] != k:
        raise ValueError(f"fc_weight must be a 2-D tensor (M, K) with K={k} (the channels of features); got {shape_or_type(fc_weight)}")
    m = fc_weight.shape[0]
    if method == "infocam" and m < 2:
        raise ValueError(f"method 'infocam' needs at least 2 classes; fc_weight has M={m}")
    targets = _check_targets(targets, b, m, features.device)
    if logits is not None and (
        not isinstance(logits, Tensor) or logits.dim() != 2 or tuple(logits.shape) != (b, m)
    ):
        raise ValueError(f"logits must be a (B, M) = ({b}, {m}) tensor; got {shape_or_type(logits)}")

    weight = fc_weight.to(device=features.device, dtype=features.dtype)
    least_likely = None
    if method == "infocam+":
        if logits is None:
            logits = features.mean(dim=(2, 3)) @ weight.t()
        least_likely = logits.argmin(dim=1).to(features.device)
    v = effective_weights(weight, targets, method, least_likely)  # (B, K)
    point = torch.einsum("bk,bkhw->bhw", v, features)
    return region_sum(point, region, padding)


def _check_targets(targets: Tensor | int, batch: int, num_classes: int, device: torch.device) -> Tensor:
    if isinstance(targets, bool):
        raise ValueError(f"targets must be class indices; got {targets!r}")
    if isinstance(targets, int):
        targets = torch.full((batch,), targets, dtype=torch.long, device=device)
    if not isinstance(targets, Tensor):
        raise ValueError(f"targets must be a (B,) tensor of class indices or an int; got {type(targets).__name__}")
    if targets.dim() == 0:
        targets = targets.expand(batch)
    if targets.dim() != 1 or targets.shape[0] != batch:
        raise ValueError(f"targets must have shape (B,) = ({batch},); got {tuple(targets.shape)}")
    if targets.is_floating_point() or targets.dtype == torch.bool:
        raise ValueError(f"targets must be integer class indices; got dtype {targets.dtype}")
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= num_classes):
        raise ValueError(
            f"targets must lie in [0, {num_classes - 1}] (M={num_classes} classes); "
            f"got values from {int(targets.min())} to {int(targets.max())}"
        )
    return targets.to(device=device, dtype=torch.long)


def normalize_maps(maps: Tensor) -> Tensor:
    """Min-max normalise each map of (B, h, w) to [0, 1] in float32.

    A constant map, or one holding any NaN or infinity, becomes all zeros
    (it then yields no box; see ``docs/conventions.md``).
    """
    x = maps.float()
    flat = x.flatten(1)
    lo, hi = torch.aminmax(flat, dim=1, keepdim=True)  # NaN propagates into lo / hi
    span = hi - lo
    ok = torch.isfinite(lo) & torch.isfinite(hi) & (span > 0)
    denom = torch.where(ok, span, torch.ones_like(span))
    out = (flat - lo).div_(denom)
    # A finite map whose span overflows float32 (3e38 - -3e38 = inf) would give
    # inf / inf = NaN at its peak: such (rare) rows are redone at half scale,
    # which is exact.
    huge = torch.isinf(span) & torch.isfinite(lo) & torch.isfinite(hi)
    if bool(huge.any()):
        rows = huge[:, 0]
        half_lo, half = lo[rows] * 0.5, flat[rows] * 0.5
        out[rows] = (half - half_lo) / (hi[rows] * 0.5 - half_lo)
        ok = ok | huge
    if not bool(ok.all()):
        out.masked_fill_(~ok, 0.0)
    return out.view_as(x)


def resize_maps(maps: Tensor, size: tuple[int, int], mode: str = "bicubic") -> Tensor:
    """Resize (B, h, w) maps to ``size`` = (H, W) (bicubic, as the reference code).

    A map holding any NaN or infinity comes out all NaN: interpolation could
    otherwise step over the bad value (shrinking) and hand on a finite map,
    and such a map must give no box (:func:`normalize_maps`).
    """
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    align = False if mode in ("bilinear", "bicubic") else None
    x = maps.float().unsqueeze(1)
    out = F.interpolate(x, size=tuple(size), mode=mode, align_corners=align).squeeze(1)
    bad = ~torch.isfinite(x).flatten(1).all(dim=1)  # on the small input: cheap, no sync
    return out.masked_fill_(bad.view(-1, *([1] * (out.dim() - 1))), float("nan"))
