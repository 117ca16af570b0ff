"""From maps to boxes: the single-threshold box rule.

Conventions (``docs/conventions.md``): a box is ``(x0, y0, x1, y1)`` in
half-open pixel edges, covering columns ``x0 .. x1-1`` and rows
``y0 .. y1-1``; no component gives the empty box ``(0, 0, 0, 0)``. IoU of
boxes lives in :mod:`infocam.iou`; the MaxBoxAccV2 sweep in :mod:`infocam.sweep`.

The rule, step by step (each step one function below; :func:`reference_boxes`
runs them in order):

1. :func:`maps_at_size`: float32, resized bicubic to ``size`` = (H, W) when
   given (:func:`infocam.maps.resize_maps`);
2. :func:`infocam.maps.normalize_maps`: min-max to [0, 1] per map (a
   constant or non-finite map becomes all zeros);
3. :func:`foreground_masks`: normalised value ``>= threshold`` AND ``> 0``;
4. :func:`largest_component_box`: among the 8-connected components, with
   ``largest="pixels"`` (default) the one with the most pixels, ties going to
   the component whose first pixel comes first in raster order; with
   ``largest="contour_area"`` the paper code's choice, the first of the
   ``cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)`` contours of largest
   polygon area (``cv2.contourArea``). The two disagree on thin shapes: a
   one-pixel-wide line has polygon area 0;
5. the chosen component's tight box.

:func:`boxes_from_maps` and :func:`boxes_at_thresholds` give the very boxes
of :func:`reference_boxes`, faster: the speed paths live in
:mod:`infocam._boxes_fast`, and ``tests/test_boxes.py`` checks each against
this reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

from infocam import _boxes_fast
from infocam.checks import check_choice, check_size, check_tensor, check_threshold
from infocam.maps import normalize_maps, resize_maps

__all__ = [
    "LARGEST",
    "all_component_boxes",
    "boxes_at_thresholds",
    "boxes_from_maps",
    "foreground_masks",
    "largest_component_box",
    "maps_at_size",
    "normalized_at_size",
    "reference_boxes",
]

LARGEST: tuple[str, ...] = ("pixels", "contour_area")

Box = tuple[int, int, int, int]
EMPTY_BOX: Box = (0, 0, 0, 0)


def _check_maps(maps: Tensor) -> Tensor:
    maps = check_tensor(maps, "maps", 3, "a 3-D tensor (B, h, w)")
    if maps.shape[1] == 0 or maps.shape[2] == 0:
        raise ValueError(f"maps must have non-empty maps; got shape {tuple(maps.shape)}")
    return maps


# ----------------------------------------------------------------------------
# The rule, one step per function
# ----------------------------------------------------------------------------


def maps_at_size(maps: Tensor, size: Sequence[int] | None = None) -> Tensor:
    """Step 1: the checked maps as float32, resized (bicubic) to ``size`` when given.

    Unlike :func:`infocam.maps.resize_maps` it validates ``maps`` and ``size``
    and leaves the maps at their own size when ``size`` is None.
    """
    size = check_size(size)
    x = _check_maps(maps).float()
    return x if size is None else resize_maps(x, size)


def normalized_at_size(maps: Tensor, size: Sequence[int] | None = None) -> Tensor:
    """Steps 1-2: :func:`maps_at_size`, then :func:`infocam.maps.normalize_maps`."""
    return normalize_maps(maps_at_size(maps, size))


def foreground_masks(normalized: Tensor, threshold: float = 0.2) -> np.ndarray:
    """Step 3: uint8 masks (B, H, W) on the CPU, 1 where ``value >= threshold`` and ``> 0``."""
    threshold = check_threshold(threshold)
    fg = (normalized >= threshold) & (normalized > 0)
    return fg.to(torch.uint8).cpu().numpy()


def largest_component_box(mask: np.ndarray, largest: str = "pixels") -> Box:
    """Steps 4-5 on one uint8 mask (H, W): the tight half-open box of its largest component."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    if check_choice(largest, "largest", LARGEST) == "contour_area":
        contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        if len(contours) == 0:
            return EMPTY_BOX
        c = max(contours, key=cv2.contourArea)  # the first of the largest, as the paper's code
        x, y, w, h = cv2.boundingRect(c)
        return (x, y, x + w, y + h)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return EMPTY_BOX
    areas = stats[1:, cv2.CC_STAT_AREA]
    winners = np.flatnonzero(areas == areas.max()) + 1
    # a tie goes to the first pixel in raster order (cv2's label order need not be that)
    first_pixel = [int(np.argmax(labels.ravel() == lab)) for lab in winners]
    label = int(winners[int(np.argmin(first_pixel))])
    x, y, w, h = (int(v) for v in stats[label, :4])
    return (x, y, x + w, y + h)


def reference_boxes(
    maps: Tensor,
    *,
    threshold: float = 0.2,
    size: Sequence[int] | None = None,
    largest: str = "pixels",
) -> Tensor:
    """The rule in plain steps: normalise -> threshold -> largest component -> box.

    Same arguments and the same boxes as :func:`boxes_from_maps`, which is
    faster; this one is what the tests hold the speed paths to.
    """
    masks = foreground_masks(normalized_at_size(maps, size), threshold)
    boxes = [largest_component_box(m, largest) for m in masks]
    out = np.array(boxes, dtype=np.int64).reshape(-1, 4)
    return torch.from_numpy(out).to(device=maps.device, dtype=torch.float32)


# ----------------------------------------------------------------------------
# The public entry points (fast)
# ----------------------------------------------------------------------------


def boxes_from_maps(
    maps: Tensor,
    *,
    threshold: float = 0.2,
    size: Sequence[int] | None = None,
    largest: str = "pixels",
) -> Tensor:
    """One box per map: the tight box of its largest foreground component.

    Args:
        maps: (B, h, w) maps, any float dtype and device (raw; normalised here).
        threshold: foreground is normalised value ``>= threshold`` (and > 0).
        size: (H, W) to resize to first (bicubic), e.g. the network input size.
        largest: ``"pixels"`` (most pixels; ties to the first in raster order)
            or ``"contour_area"`` (the paper code's largest ``cv2.contourArea``).

    Returns:
        (B, 4) float32 half-open boxes ``(x0, y0, x1, y1)`` on ``maps.device``,
        in pixels of ``size`` (or of the maps); ``(0, 0, 0, 0)`` when no pixel
        is foreground. Equal to :func:`reference_boxes`.
    """
    return boxes_at_thresholds(maps, (check_threshold(threshold),), size=size, largest=largest)[0]


def boxes_at_thresholds(
    maps: Tensor,
    thresholds: Sequence[float],
    *,
    size: Sequence[int] | None = None,
    largest: str = "pixels",
) -> Tensor:
    """The boxes of every map at every threshold, the maps resized once.

    Row ``k`` equals ``boxes_from_maps(maps, threshold=thresholds[k],
    size=size, largest=largest)``, box for box.

    Returns:
        (K, B, 4) float32 half-open boxes on ``maps.device``.
    """
    largest = check_choice(largest, "largest", LARGEST)
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, Sequence):
        raise ValueError(f"thresholds must be a sequence of numbers in [0, 1]; got {thresholds!r}")
    ts = [check_threshold(t) for t in thresholds]
    boxes = _boxes_fast.boxes_at_thresholds(maps_at_size(maps, size), ts, largest)
    return torch.from_numpy(boxes).to(device=maps.device, dtype=torch.float32)


def all_component_boxes(
    maps: Tensor, *, threshold: float = 0.2, size: Sequence[int] | None = None
) -> list[Tensor]:
    """The tight box of EVERY 8-connected foreground component, per map.

    ``maps`` is either (B, h, w) float maps (resized, normalised and
    thresholded as in :func:`boxes_from_maps`) or (B, H, W) bool / uint8
    masks (nonzero = foreground; ``threshold`` and ``size`` then unused).

    Returns:
        A list of B float32 tensors (K_i, 4) on ``maps.device``, half-open
        boxes in label order of ``cv2.connectedComponentsWithStats``; K_i = 0
        when there is no foreground.
    """
    maps = _check_maps(maps)
    if maps.dtype in (torch.bool, torch.uint8):
        masks = (maps != 0).to(torch.uint8).cpu().numpy()
    else:
        masks = foreground_masks(normalized_at_size(maps, size), threshold)
    out = []
    for mask in masks:
        n, _, stats, _ = cv2.connectedComponentsWithStats(np.ascontiguousarray(mask), connectivity=8)
        x, y, w, h = (stats[1:, k].astype(np.int64) for k in range(4))
        boxes = np.stack([x, y, x + w, y + h], axis=1) if n > 1 else np.zeros((0, 4), np.int64)
        out.append(torch.from_numpy(boxes).to(device=maps.device, dtype=torch.float32))
    return out
