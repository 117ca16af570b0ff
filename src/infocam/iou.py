"""Box IoU in the two conventions infocam meets: half-open and inclusive.

* **Half-open** (infocam's own boxes, ``docs/conventions.md``): a box
  ``(x0, y0, x1, y1)`` covers columns ``x0 .. x1-1`` and rows ``y0 .. y1-1``;
  area ``(x1 - x0) * (y1 - y0)``. :func:`box_iou`, :func:`box_iou_pairwise`
  and :func:`box_hits` use it (GT-known Loc, Top-1 / Top-5 Loc).
* **Inclusive** (wsolevaluation's ``calculate_multiple_iou``, used by the
  MaxBoxAccV2 sweep of :mod:`infocam.sweep`): ``(x0, y0, x1, y1)`` covers
  columns ``x0 .. x1``; area ``(x1 - x0 + 1) * (y1 - y0 + 1)``. A half-open box
  ``(x0, y0, x1, y1)`` is the inclusive box ``(x0, y0, x1 - 1, y1 - 1)``, and
  both functions then give the same IoU.

Both clamp each overlap at 0 (disjoint boxes score 0) and score 0 where the
union is not positive, so no NaN ever appears.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from infocam.checks import shape_or_type

__all__ = ["box_hits", "box_iou", "box_iou_pairwise", "inclusive_iou"]


def _check_boxes(boxes: Tensor, name: str) -> Tensor:
    if not isinstance(boxes, Tensor) or boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must be a (N, 4) tensor of boxes (x0, y0, x1, y1); got {shape_or_type(boxes)}")
    return boxes


def _iou_dtype(a: Tensor, b: Tensor) -> torch.dtype:
    dtype = torch.promote_types(a.dtype, b.dtype)
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def _area(boxes: Tensor) -> Tensor:
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def _ratio(inter: Tensor, union: Tensor) -> Tensor:
    ok = union > 0
    return torch.where(ok, inter / torch.where(ok, union, torch.ones_like(union)), torch.zeros_like(inter))


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of every pair, half-open boxes: (N, 4) x (M, 4) -> (N, M).

    Both overlaps are clamped at 0 (disjoint boxes score 0); a zero-area box
    (or an inverted one) scores 0 against everything, and no NaN ever
    appears. Computed in float32 (float64 if an input is float64), on
    ``a.device``. Symmetric; 1 for a positive-area box against itself.
    """
    a, b = _check_boxes(a, "a"), _check_boxes(b, "b")
    dtype = _iou_dtype(a, b)
    a = a.to(dtype)
    b = b.to(device=a.device, dtype=dtype)
    w = (torch.minimum(a[:, None, 2], b[None, :, 2]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    h = (torch.minimum(a[:, None, 3], b[None, :, 3]) - torch.maximum(a[:, None, 1], b[None, :, 1])).clamp(min=0)
    inter = w * h
    return _ratio(inter, _area(a)[:, None] + _area(b)[None, :] - inter)


def box_iou_pairwise(a: Tensor, b: Tensor) -> Tensor:
    """IoU of matching rows: (N, 4) x (N, 4) -> (N,); same rules as :func:`box_iou`."""
    a, b = _check_boxes(a, "a"), _check_boxes(b, "b")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must have the same number of boxes; got {a.shape[0]} and {b.shape[0]}")
    dtype = _iou_dtype(a, b)
    a = a.to(dtype)
    b = b.to(device=a.device, dtype=dtype)
    w = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    h = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = w * h
    return _ratio(inter, _area(a) + _area(b) - inter)


def box_hits(boxes: Tensor, gts: Sequence[Tensor], iou: float) -> Tensor:
    """(B,) bool: does ``boxes[i]`` reach IoU >= ``iou`` with some row of ``gts[i]``?

    ``boxes`` is (B, 4), ``gts`` B tensors (N_i, 4) (N_i = 0: never a hit);
    all half-open. One vectorised :func:`box_iou_pairwise` over every
    (box, own GT box) pair of the batch, in float64, on the CPU.
    """
    boxes = _check_boxes(boxes, "boxes")
    if len(gts) != boxes.shape[0]:
        raise ValueError(f"gts must hold one (N, 4) tensor per box ({boxes.shape[0]}); got {len(gts)}")
    for i, g in enumerate(gts):
        _check_boxes(g, f"gts[{i}]")
    counts = torch.tensor([g.shape[0] for g in gts], dtype=torch.long)
    hit = torch.zeros(len(gts), dtype=torch.bool)
    if int(counts.sum()) == 0:
        return hit
    owner = torch.repeat_interleave(torch.arange(len(gts)), counts)
    try:
        pairs = torch.cat(list(gts))
    except RuntimeError:  # on different devices
        pairs = torch.cat([g.detach().cpu() for g in gts])
    pairs = pairs.detach().cpu().double()
    reached = box_iou_pairwise(boxes.detach().cpu().double()[owner], pairs) >= iou
    return hit.index_put_((owner[reached],), torch.tensor(True))


def inclusive_iou(box_a: np.ndarray, box_b: np.ndarray) -> np.ndarray:
    """wsolevaluation's ``calculate_multiple_iou``: (N, 4) x (M, 4) -> (N, M) float64.

    Inclusive pixel boxes ``(x0, y0, x1, y1)``; overlaps clamped at 0; a
    non-positive union scores 0.
    """
    a = np.asarray(box_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(box_b, dtype=np.float64).reshape(-1, 4)
    min_x = np.maximum(a[:, None, 0], b[None, :, 0])
    min_y = np.maximum(a[:, None, 1], b[None, :, 1])
    max_x = np.minimum(a[:, None, 2], b[None, :, 2])
    max_y = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.maximum(0, max_x - min_x + 1) * np.maximum(0, max_y - min_y + 1)
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    denom = area_a[:, None] + area_b[None, :] - inter
    bad = denom <= 0
    out: np.ndarray = inter / np.where(bad, 1.0, denom)
    out[bad] = 0.0
    return out
