"""From maps to boxes, and box IoU.

Conventions (``docs/conventions.md``): a box is ``(x0, y0, x1, y1)`` in
half-open pixel edges, covering columns ``x0 .. x1-1`` and rows
``y0 .. y1-1``; area ``(x1 - x0) * (y1 - y0)``; no component gives the empty
box ``(0, 0, 0, 0)``, which scores IoU 0 against everything.

Map -> box (:func:`boxes_from_maps`):

1. resize the (B, h, w) maps to ``size`` = (H, W), bicubic
   (:func:`infocam.maps.resize_maps`), when ``size`` is given;
2. min-max normalise each map to [0, 1] (:func:`infocam.maps.normalize_maps`;
   a constant or non-finite map becomes all zeros);
3. foreground = normalised value ``>= threshold`` AND ``> 0``;
4. 8-connected components; ``largest="pixels"`` (default) keeps the one with
   the most pixels, ties going to the component whose first pixel comes
   first in raster order; ``largest="contour_area"`` reproduces the paper's
   code: among the contours of ``cv2.findContours(RETR_TREE,
   CHAIN_APPROX_SIMPLE)``, the first one of largest polygon area
   (``cv2.contourArea``), whose ``boundingRect`` gives the box. The two
   disagree on thin shapes: a one-pixel-wide line has polygon area 0;
5. the component's tight box.

The threshold sweep of MaxBoxAccV2 lives in :mod:`infocam.sweep`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

from infocam.maps import normalize_maps, resize_maps

LARGEST: tuple[str, ...] = ("pixels", "contour_area")


# ----------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------


def _check_maps(maps: Tensor, name: str = "maps") -> Tensor:
    if not isinstance(maps, Tensor) or maps.dim() != 3:
        shape = tuple(maps.shape) if isinstance(maps, Tensor) else type(maps).__name__
        raise ValueError(f"{name} must be a 3-D tensor (B, h, w); got {shape}")
    if maps.shape[1] == 0 or maps.shape[2] == 0:
        raise ValueError(f"{name} must have non-empty maps; got shape {tuple(maps.shape)}")
    return maps


def check_threshold(threshold: float) -> float:
    """Validate a map threshold in [0, 1]."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ValueError(f"threshold must be a number in [0, 1]; got {threshold!r}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1]; got {threshold!r}")
    return float(threshold)


def check_size(size: Sequence[int] | None) -> tuple[int, int] | None:
    """Validate an (H, W) pair of positive ints (or None)."""
    if size is None:
        return None
    ok = isinstance(size, (tuple, list)) and len(size) == 2
    ok = ok and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size)
    if not ok:
        raise ValueError(f"size must be a pair (H, W) of positive ints; got {size!r}")
    return int(size[0]), int(size[1])


def check_largest(largest: str) -> str:
    """Validate the largest-component rule."""
    if largest not in LARGEST:
        raise ValueError(f"largest must be one of {LARGEST}; got {largest!r}")
    return largest


def _check_boxes(boxes: Tensor, name: str) -> Tensor:
    if not isinstance(boxes, Tensor) or boxes.dim() != 2 or boxes.shape[1] != 4:
        shape = tuple(boxes.shape) if isinstance(boxes, Tensor) else type(boxes).__name__
        raise ValueError(f"{name} must be a (N, 4) tensor of boxes (x0, y0, x1, y1); got {shape}")
    return boxes


# ----------------------------------------------------------------------------
# Map -> foreground masks -> boxes
# ----------------------------------------------------------------------------


def resized_maps(maps: Tensor, size: Sequence[int] | None = None) -> Tensor:
    """Step 1: check the maps, float32, resized (bicubic) when ``size`` is given."""
    maps = _check_maps(maps)
    size = check_size(size)
    x = maps.float()
    return x if size is None else resize_maps(x, size)


def normalized_maps(maps: Tensor, size: Sequence[int] | None = None) -> Tensor:
    """Steps 1-2: resize (bicubic, when ``size`` is given) and min-max normalise, float32."""
    return normalize_maps(resized_maps(maps, size))


def _picker(largest: str):
    """The single-box rule: the largest component by pixels, or by contour area."""
    return _largest_by_pixels if check_largest(largest) == "pixels" else _largest_by_contour_area


def foreground_masks(normalized: Tensor, threshold: float = 0.2) -> np.ndarray:
    """Step 3: uint8 masks (B, H, W) on the CPU, 1 where ``value >= threshold`` and ``> 0``."""
    threshold = check_threshold(threshold)
    fg = (normalized >= threshold) & (normalized > 0)
    return fg.to(torch.uint8).cpu().numpy()


def _largest_by_pixels(mask: np.ndarray) -> tuple[int, int, int, int]:
    # Fast path: RETR_CCOMP lists one top-level contour per 8-connected
    # component (islands inside holes included), so a single top-level
    # contour means a single component, whose box is that contour's box.
    # Most CAM masks have one component; the labelling below is ~10x slower.
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return (0, 0, 0, 0)
    following, preceding, _, parent = hierarchy[0, 0].tolist()
    if following < 0 and preceding < 0 and parent < 0:  # cheap: contour 0 is the only top-level one
        outer = [0]
    else:
        outer = np.flatnonzero(hierarchy[0, :, 3] < 0)
    if len(outer) == 1:
        x, y, w, h = cv2.boundingRect(contours[int(outer[0])])
        return (x, y, x + w, y + h)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return (0, 0, 0, 0)
    areas = stats[1:, cv2.CC_STAT_AREA]
    winners = np.flatnonzero(areas == areas.max()) + 1
    if winners.size > 1:  # tie: first pixel in raster order (cv2's label order need not be)
        flat = labels.ravel()
        first = [int(np.argmax(flat == lab)) for lab in winners]
        label = int(winners[int(np.argmin(first))])
    else:
        label = int(winners[0])
    x, y, w, h = stats[label, :4]
    return (int(x), int(y), int(x + w), int(y + h))


def _largest_by_contour_area(mask: np.ndarray) -> tuple[int, int, int, int]:
    contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(contours) == 0:
        return (0, 0, 0, 0)
    c = max(contours, key=cv2.contourArea)  # first of the largest, as the paper's code
    x, y, w, h = cv2.boundingRect(c)
    return (x, y, x + w, y + h)


def boxes_from_masks(masks: np.ndarray, largest: str = "pixels") -> np.ndarray:
    """Steps 4-5 on uint8 masks (B, H, W): one half-open box per mask, (B, 4) int64."""
    pick = _picker(largest)
    b, h, w = masks.shape
    if pick is _largest_by_pixels and h * w <= _TILED_MAX_PIXELS:
        tall = np.zeros((b, h + 1, w), np.uint8)
        tall[:, :h] = masks != 0
        return _largest_tiled(tall)
    out = np.zeros((b, 4), dtype=np.int64)
    for i in range(b):
        out[i] = pick(np.ascontiguousarray(masks[i], dtype=np.uint8))
    return out


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
        is foreground.
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
    pick = _picker(largest)
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, Sequence):
        raise ValueError(f"thresholds must be a sequence of numbers in [0, 1]; got {thresholds!r}")
    ts = [check_threshold(t) for t in thresholds]
    x = resized_maps(maps, size)
    b, h, w = x.shape
    if x.device.type != "cpu":
        # On an accelerator: normalise and threshold there; only the uint8
        # masks (a quarter of the float maps' bytes) cross to the CPU.
        norm = normalize_maps(x)
        out = [boxes_from_masks(foreground_masks(norm, t), largest) for t in ts]
    elif pick is _largest_by_pixels and h * w <= _TILED_MAX_PIXELS:
        out = _small_map_boxes(x.detach().numpy(), ts)
    else:
        out = _per_map_boxes(x.detach().numpy(), ts, pick)
    boxes = np.stack(out) if out else np.zeros((0, b, 4), np.int64)
    return torch.from_numpy(boxes).to(device=maps.device, dtype=torch.float32)


#: Maps of at most this many pixels (64 x 64) are labelled many at a time,
#: stacked in one tall image (:func:`_largest_tiled`); larger maps one at a
#: time, where a mask with one component needs no labelling at all.
_TILED_MAX_PIXELS = 64 * 64
#: Pixels per tall image: bounds the int32 label image (16 MiB).
_TILE_CHUNK_PIXELS = 1 << 22


def _per_map_boxes(arr: np.ndarray, ts: Sequence[float], pick) -> list[np.ndarray]:
    """One float32 map at a time, while it is hot in the cache: its masks at every threshold and their boxes."""
    out = [np.zeros((arr.shape[0], 4), np.int64) for _ in ts]
    t32 = [np.float32(t) for t in ts]
    for i, m in enumerate(arr):
        lo, hi = m.min(), m.max()
        for k, threshold in enumerate(ts):
            mask = _foreground_of(m, lo, hi, threshold, t32[k])
            if mask is not None:
                out[k][i] = pick(mask)
    return out


def _small_map_boxes(arr: np.ndarray, ts: Sequence[float]) -> list[np.ndarray]:
    """Small float32 maps (B, h, w): every mask with one vectorised comparison, boxes by :func:`_largest_tiled`."""
    b, h, w = arr.shape
    flat = arr.reshape(b, h * w)
    lo, hi = flat.min(axis=1), flat.max(axis=1)  # float32; NaN propagates into them
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)  # else normalize_maps gives all zeros
    per_chunk = max(1, _TILE_CHUNK_PIXELS // ((h + 1) * w))
    out = []
    for threshold in ts:
        t = np.float32(threshold)
        cut, fast = _cutoffs(lo, hi, threshold)  # fast implies valid
        slow = np.flatnonzero(valid & ~fast)  # threshold 0 or a span that overflows: normalised one by one
        boxes = np.zeros((b, 4), np.int64)
        for s in range(0, b, per_chunk):
            e = min(b, s + per_chunk)
            tall = np.zeros((e - s, h + 1, w), np.uint8)  # the last row of each tile stays 0
            with np.errstate(invalid="ignore"):
                np.greater_equal(arr[s:e], cut[s:e, None, None], out=tall[:, :h].view(bool))
            tall[~fast[s:e]] = 0
            for i in slow[(slow >= s) & (slow < e)]:
                tall[i - s, :h] = _foreground_of(arr[i], lo[i], hi[i], threshold, t)
            boxes[s:e] = _largest_tiled(tall)
        out.append(boxes)
    return out


def _largest_tiled(tall: np.ndarray) -> np.ndarray:
    """(n, 4) int64 boxes: the largest 8-connected component of each mask of ``tall``.

    ``tall`` is (n, h + 1, w) uint8: n masks of h rows, each followed by a
    row of zeros, so that one labelling of the (n * (h + 1), w) image never
    joins two masks (8-neighbours are at most one row apart). A component
    belongs to the mask its top row lies in. The winner has the most
    pixels; a tie goes to the component whose first pixel comes first in
    raster order: the smaller top row, then the smaller first column in it.
    """
    n, rows, w = tall.shape
    out = np.zeros((n, 4), np.int64)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        tall.reshape(n * rows, w), connectivity=8, ltype=cv2.CV_32S
    )
    if count <= 1:
        return out
    x, y, bw, bh, area = (stats[1:, k].astype(np.int64) for k in range(5))
    tile = y // rows
    order = np.lexsort((y, -area, tile))  # by mask, the most pixels first, then the top row
    key = np.stack([tile[order], area[order], y[order]])
    starts = np.flatnonzero(np.r_[True, key[0, 1:] != key[0, :-1]])
    win = order[starts]
    same_as_next = np.r_[(key[:, 1:] == key[:, :-1]).all(axis=0), False]
    for j in np.flatnonzero(same_as_next[starts]):  # a tie on pixels and top row: rare
        s = starts[j]
        e = s + 1
        while same_as_next[e]:
            e += 1
        group = order[s : e + 1]
        row = labels[y[group[0]]]
        first_col = [int(np.argmax(row == lab + 1)) for lab in group]
        win[j] = group[int(np.argmin(first_col))]
    t = tile[win]
    top = y[win] - t * rows
    out[t] = np.stack([x[win], top, x[win] + bw[win], top + bh[win]], axis=1)
    return out


_HALF_MAX = 1.7e38  # below half of float32's largest value (3.4028e38)
_HALF = np.float32(0.5)
_F32 = struct.Struct("<f")
_I32 = struct.Struct("<i")


def _normalised(m: np.ndarray, lo: np.float32, hi: np.float32) -> np.ndarray:
    """One finite map with ``lo < hi``, min-max normalised with the float32 operations of normalize_maps."""
    if float(lo) >= -_HALF_MAX and float(hi) <= _HALF_MAX:  # the common case: hi - lo cannot overflow
        span = hi - lo
    else:
        with np.errstate(over="ignore"):
            span = hi - lo
    if math.isinf(float(span)):  # a finite map wider than float32: halved first, as normalize_maps
        half_lo = lo * _HALF
        return (m * _HALF - half_lo) / (hi * _HALF - half_lo)
    norm = np.subtract(m, lo)
    return np.divide(norm, span, out=norm)


def _cutoff(lo: np.float32, hi: np.float32, threshold: float, t: np.float32) -> float | None:
    """The smallest float32 ``c`` whose normalised value is ``>= t``, when it is easy to find.

    ``(c - lo) / (hi - lo)`` in float32 is monotone in ``c`` (each float32
    operation is), so the foreground of a map is exactly ``map >= c``: one
    comparison per pixel instead of a subtraction, a division and a
    comparison. The float64 estimate ``lo + threshold * (hi - lo)``, rounded
    to float32, is ``c`` or the float32 value just below it in nearly every
    map; two exact float32 checks tell. Returns None otherwise (a cut near
    0, where float32 values are far denser than the normalised values; a
    span that overflows; ``t <= 0``, where foreground also needs ``> 0``).
    The result is a Python float holding a float32 value: NumPy compares a
    float32 array with it in float32, exactly.
    """
    flo, fhi = float(lo), float(hi)
    c = _F32.unpack(_F32.pack(flo + threshold * (fhi - flo)))[0]  # float64 -> nearest float32
    if not (t > 0 and c != 0 and flo < c < fhi and flo >= -_HALF_MAX and fhi <= _HALF_MAX):
        return None
    span = hi - lo
    i = _I32.unpack(_F32.pack(c))[0]
    step = 1 if i > 0 else -1  # the next float32 value up, in c's bit patterns
    if (c - lo) / span >= t:
        below = _F32.unpack(_I32.pack(i - step))[0]
        return c if not (below - lo) / span >= t else None
    above = _F32.unpack(_I32.pack(i + step))[0]
    return above if (above - lo) / span >= t else None


def _cutoffs(lo: np.ndarray, hi: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_cutoff` for many maps at once, and never giving up where a cutoff exists.

    ``lo`` and ``hi`` are float32 arrays (each map's min and max). Returns
    (cut, ok): where ``ok``, ``map >= cut`` is exactly the map's foreground;
    elsewhere the map is constant or non-finite, ``threshold <= 0`` (the
    foreground then also needs ``> 0``) or its span overflows float32: the
    slow path. The float64 estimate and its float32 neighbours settle most
    maps, as in :func:`_cutoff`; where the cut lies further away (a map
    whose min is far from 0 next to its span: ``c - lo`` is then coarser
    than ``c``, and many float32 values of ``c`` share one normalised
    value) a bisection over the float32 values between ``lo`` and ``hi``
    finds it: the normalised value is monotone in ``c``.
    """
    t = np.float32(threshold)
    with np.errstate(all="ignore"):
        eligible = (t > 0) & np.isfinite(lo) & np.isfinite(hi) & (lo < hi) & (lo >= -_HALF_MAX) & (hi <= _HALF_MAX)
        c = (lo.astype(np.float64) + threshold * (hi.astype(np.float64) - lo)).astype(np.float32)
        span = hi - lo
        at_c = (c - lo) / span >= t
        below = np.nextafter(c, np.float32(-np.inf))
        above = np.nextafter(c, np.float32(np.inf))
        near = eligible & (lo < c) & (c < hi)
        near &= np.where(at_c, ~((below - lo) / span >= t), (above - lo) / span >= t)
        cut = np.where(at_c, c, above)
        far = np.flatnonzero(eligible & ~near)
        if far.size:
            cut[far] = _bisect_cutoffs(lo[far], hi[far], t)
    return cut, eligible


def _f32_keys(x: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys in the same order (-0.0 and +0.0 both 0)."""
    i = x.view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def _f32_of_keys(k: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_f32_keys` (key 0 -> +0.0)."""
    return np.where(k < 0, (-k) | 0x80000000, k).astype(np.uint32).view(np.float32)


def _bisect_cutoffs(lo: np.ndarray, hi: np.ndarray, t: np.float32) -> np.ndarray:
    """The smallest float32 ``c`` in ``(lo, hi]`` with ``(c - lo) / (hi - lo) >= t`` in float32, per map.

    Needs finite ``lo < hi`` whose span does not overflow and ``0 < t <= 1``:
    then the test fails at ``lo`` (0 < t) and holds at ``hi`` (1 >= t), and
    halving the interval of float32 keys takes at most 32 steps.
    """
    span = hi - lo
    a, b = _f32_keys(lo), _f32_keys(hi)  # the test fails at a, holds at b
    while True:
        gap = b - a
        if not (gap > 1).any():
            return _f32_of_keys(b)
        mid = a + gap // 2
        passes = (_f32_of_keys(mid) - lo) / span >= t
        b = np.where(passes, mid, b)
        a = np.where(passes, a, mid)


def _foreground(m: np.ndarray, threshold: float, t: np.float32) -> np.ndarray | None:
    """The uint8 mask of one float32 map, exactly as ``foreground_masks(normalize_maps(.))``; None if empty.

    ``t`` is ``threshold`` as float32 (as torch and NumPy compare with a Python float).
    """
    return _foreground_of(m, m.min(), m.max(), threshold, t)


def _foreground_of(m: np.ndarray, lo: np.float32, hi: np.float32, threshold: float, t: np.float32) -> np.ndarray | None:
    """:func:`_foreground` given the map's float32 min ``lo`` and max ``hi`` (NaN if it holds one)."""
    flo, fhi = float(lo), float(hi)
    if not (math.isfinite(flo) and math.isfinite(fhi)) or fhi <= flo:
        return None  # constant or non-finite: normalize_maps makes it all zeros
    # (where the estimate misses by more than one float32 step, normalising
    # this one map costs about what a bisection in scalar steps would)
    c = _cutoff(lo, hi, threshold, t)
    if c is not None:
        return (m >= c).view(np.uint8)
    norm = _normalised(m, lo, hi)
    mask = norm >= t
    if not t > 0:  # with a positive float32 threshold, >= t already means > 0
        mask &= norm > 0
    return mask.view(np.uint8)


def largest_contour_box(
    maps: Tensor, *, threshold: float = 0.2, size: Sequence[int] | None = None
) -> Tensor:
    """:func:`boxes_from_maps` with ``largest="contour_area"`` (the paper code's choice)."""
    return boxes_from_maps(maps, threshold=threshold, size=size, largest="contour_area")


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
        masks = foreground_masks(normalized_maps(maps, size), threshold)
    out = []
    for mask in masks:
        n, _, stats, _ = cv2.connectedComponentsWithStats(np.ascontiguousarray(mask), connectivity=8)
        x, y, w, h = (stats[1:, k].astype(np.int64) for k in range(4))
        boxes = np.stack([x, y, x + w, y + h], axis=1) if n > 1 else np.zeros((0, 4), np.int64)
        out.append(torch.from_numpy(boxes).to(device=maps.device, dtype=torch.float32))
    return out


# ----------------------------------------------------------------------------
# IoU
# ----------------------------------------------------------------------------


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
        if not isinstance(g, Tensor) or g.dim() != 2 or g.shape[1] != 4:
            shape = tuple(g.shape) if isinstance(g, Tensor) else type(g).__name__
            raise ValueError(f"gts[{i}] must be a (N, 4) tensor of boxes; got {shape}")
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
