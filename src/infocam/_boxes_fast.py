"""The speed paths behind :func:`infocam.boxes.boxes_at_thresholds`.

They give exactly the boxes of :func:`infocam.boxes.reference_boxes`
(``tests/test_boxes.py`` runs every box test on each path and compares each
with the reference). Three ideas:

* **One comparison per pixel instead of normalising** (:func:`cutoffs`).
  Every float32 step of min-max normalisation is monotone, so a map's
  foreground ``(m - lo) / (hi - lo) >= t`` is exactly ``m >= c`` for the
  smallest float32 ``c`` that passes. ``c`` is nearly always the float64
  estimate ``lo + t * (hi - lo)`` rounded to float32, or its neighbour above;
  where neither is, a bisection over the float32 values between ``lo`` and
  ``hi`` finds it. Maps whose span overflows float32 are normalised as usual.
* **Small maps labelled many at a time** (:func:`largest_tiled`): masks of at
  most 64 x 64 pixels are stacked into one tall image, each followed by a row
  of zeros, and one ``cv2.connectedComponentsWithStats`` call labels them all.
* **One component needs no labelling** (:func:`largest_by_pixels`): on a
  larger mask, a single top-level ``RETR_CCOMP`` contour means a single
  8-connected component, whose box is that contour's box.

On an accelerator the maps are normalised and thresholded there and only the
uint8 masks cross to the CPU.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

from infocam import boxes as _reference
from infocam.maps import normalize_maps

__all__ = ["boxes_at_thresholds", "boxes_of_masks", "cutoffs", "largest_by_pixels", "largest_tiled"]

#: Maps of at most this many pixels (64 x 64) are labelled many at a time,
#: stacked in one tall image (:func:`largest_tiled`); larger maps one at a
#: time, where a mask with one component needs no labelling at all.
TILED_MAX_PIXELS = 64 * 64
#: Pixels per tall image: bounds the int32 label image (16 MiB).
TILE_CHUNK_PIXELS = 1 << 22

_HALF_MAX = 1.7e38  # below half of float32's largest value (3.4028e38): spans up to it cannot overflow


def boxes_at_thresholds(x: Tensor, ts: Sequence[float], largest: str) -> np.ndarray:
    """(K, B, 4) int64 boxes of checked float32 maps ``x`` (B, H, W) at checked thresholds ``ts``."""
    b, h, w = x.shape
    if not ts:
        return np.zeros((0, b, 4), np.int64)
    if x.device.type != "cpu":
        norm = normalize_maps(x)
        return np.stack([boxes_of_masks(_reference.foreground_masks(norm, t), largest) for t in ts])
    arr = x.detach().numpy()
    if largest == "pixels" and h * w <= TILED_MAX_PIXELS:
        return np.stack(_small_map_boxes(arr, ts))
    return np.stack(_per_map_boxes(arr, ts, largest))


def boxes_of_masks(masks: np.ndarray, largest: str) -> np.ndarray:
    """Steps 4-5 on uint8 masks (B, H, W): one half-open box per mask, (B, 4) int64."""
    b, h, w = masks.shape
    if largest == "pixels" and h * w <= TILED_MAX_PIXELS:
        tall = np.zeros((b, h + 1, w), np.uint8)
        tall[:, :h] = masks != 0
        return largest_tiled(tall)
    pick = _single_box_rule(largest)
    out = np.zeros((b, 4), dtype=np.int64)
    for i in range(b):
        out[i] = pick(np.ascontiguousarray(masks[i], dtype=np.uint8))
    return out


def _single_box_rule(largest: str) -> Callable[[np.ndarray], tuple[int, int, int, int]]:
    """The box of one uint8 mask: the shortcut for ``"pixels"``, else the reference rule."""
    if largest == "pixels":
        return largest_by_pixels
    return functools.partial(_reference.largest_component_box, largest=largest)


# ----------------------------------------------------------------------------
# Foreground by one comparison
# ----------------------------------------------------------------------------


def _min_max(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-map float32 min and max of (B, H, W), and which maps normalise to more than zeros."""
    flat = arr.reshape(arr.shape[0], -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)  # NaN propagates into them
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)  # else normalize_maps gives all zeros
    return lo, hi, valid


def _normalized_masks(arr: np.ndarray, threshold: float) -> np.ndarray:
    """The reference steps 2-3 on float32 maps (n, H, W): uint8 masks."""
    return _reference.foreground_masks(normalize_maps(torch.from_numpy(arr)), threshold)


def _passes(c: np.ndarray, lo: np.ndarray, span: np.ndarray, t: np.float32) -> np.ndarray:
    """The foreground rule at float32 values ``c``: normalised ``>= t`` and ``> 0``."""
    q = (c - lo) / span
    passes: np.ndarray = (q >= t) & (q > 0)
    return passes


def cutoffs(lo: np.ndarray, hi: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The smallest float32 ``c`` per map whose normalised value is foreground.

    ``lo`` and ``hi`` are float32 arrays (each map's min and max). Returns
    (cut, ok): where ``ok``, ``map >= cut`` is exactly the map's foreground
    (:func:`infocam.boxes.foreground_masks` of the normalised map). Elsewhere
    the map is constant or non-finite (no foreground at all) or its span
    overflows float32 (normalised at half scale: no cutoff is sought).

    ``(c - lo) / (hi - lo)`` in float32 is monotone in ``c``. The float64
    estimate ``lo + threshold * (hi - lo)`` rounded to float32 is ``c`` or
    the float32 value just below it in nearly every map; two exact float32
    checks tell. Where the cut lies further away (a min far from 0 next to
    its span: ``c - lo`` is then coarser than ``c``, and many float32 values
    share one normalised value) :func:`_bisect_cutoffs` finds it.
    """
    t = np.float32(threshold)
    with np.errstate(all="ignore"):
        ok = np.isfinite(lo) & np.isfinite(hi) & (lo < hi) & (lo >= -_HALF_MAX) & (hi <= _HALF_MAX)
        c = (lo.astype(np.float64) + threshold * (hi.astype(np.float64) - lo)).astype(np.float32)
        span = hi - lo
        at_c = _passes(c, lo, span, t)
        below = np.nextafter(c, np.float32(-np.inf))
        above = np.nextafter(c, np.float32(np.inf))
        near = ok & (lo <= c) & (c <= hi)
        near &= np.where(at_c, ~_passes(below, lo, span, t), _passes(above, lo, span, t))
        cut = np.where(at_c, c, above)
        far = np.flatnonzero(ok & ~near)
        if far.size:
            cut[far] = _bisect_cutoffs(lo[far], hi[far], t)
    return cut, ok


def _f32_keys(x: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys in the same order (-0.0 and +0.0 both 0)."""
    i = x.view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def _f32_of_keys(k: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_f32_keys` (key 0 -> +0.0)."""
    return np.where(k < 0, (-k) | 0x80000000, k).astype(np.uint32).view(np.float32)


def _bisect_cutoffs(lo: np.ndarray, hi: np.ndarray, t: np.float32) -> np.ndarray:
    """The smallest float32 ``c`` in ``(lo, hi]`` that :func:`_passes`, per map.

    Needs finite ``lo < hi`` whose span does not overflow and ``0 <= t <= 1``:
    then the test fails at ``lo`` (normalised 0) and holds at ``hi``
    (normalised 1), and halving the interval of float32 keys takes at most
    32 steps.
    """
    span = hi - lo
    a, b = _f32_keys(lo), _f32_keys(hi)  # the test fails at a, holds at b
    while True:
        gap = b - a
        if not (gap > 1).any():
            return _f32_of_keys(b)
        mid = a + gap // 2
        passes = _passes(_f32_of_keys(mid), lo, span, t)
        b = np.where(passes, mid, b)
        a = np.where(passes, a, mid)


# ----------------------------------------------------------------------------
# Larger maps: one at a time
# ----------------------------------------------------------------------------


def _per_map_boxes(arr: np.ndarray, ts: Sequence[float], largest: str) -> list[np.ndarray]:
    """One float32 map at a time, while it is hot in the cache: its masks at every threshold and their boxes."""
    b = arr.shape[0]
    lo, hi, valid = _min_max(arr)
    cuts = [cutoffs(lo, hi, t) for t in ts]
    pick = _single_box_rule(largest)
    out = [np.zeros((b, 4), np.int64) for _ in ts]
    for i in np.flatnonzero(valid):
        m = arr[i]
        for k, (cut, ok) in enumerate(cuts):
            if ok[i]:
                mask = (m >= cut[i]).view(np.uint8)
            else:  # a span that overflows float32
                mask = _normalized_masks(arr[i : i + 1], ts[k])[0]
            out[k][i] = pick(mask)
    return out


def largest_by_pixels(mask: np.ndarray) -> tuple[int, int, int, int]:
    """:func:`infocam.boxes.largest_component_box` with ``largest="pixels"``, skipping labelling when it can.

    ``RETR_CCOMP`` lists one top-level contour per 8-connected component
    (islands inside holes included), so a single top-level contour means a
    single component, whose box is that contour's box. Most CAM masks have
    one component; labelling is about 10x slower.
    """
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return _reference.EMPTY_BOX
    following, preceding, _, parent = hierarchy[0, 0].tolist()
    if following < 0 and preceding < 0 and parent < 0:  # cheap: contour 0 is the only top-level one
        outer: Sequence[int] = [0]
    else:
        outer = np.flatnonzero(hierarchy[0, :, 3] < 0).tolist()
    if len(outer) == 1:
        x, y, w, h = cv2.boundingRect(contours[int(outer[0])])
        return (x, y, x + w, y + h)
    return _reference.largest_component_box(mask, "pixels")


# ----------------------------------------------------------------------------
# Small maps: many at a time
# ----------------------------------------------------------------------------


def _small_map_boxes(arr: np.ndarray, ts: Sequence[float]) -> list[np.ndarray]:
    """Small float32 maps (B, h, w): every mask with one vectorised comparison, boxes by :func:`largest_tiled`."""
    b, h, w = arr.shape
    lo, hi, valid = _min_max(arr)
    per_chunk = max(1, TILE_CHUNK_PIXELS // ((h + 1) * w))
    out = []
    for threshold in ts:
        cut, fast = cutoffs(lo, hi, threshold)  # fast implies valid
        slow = np.flatnonzero(valid & ~fast)  # a span that overflows float32: normalised
        slow_masks = _normalized_masks(arr[slow], threshold) if slow.size else None
        boxes = np.zeros((b, 4), np.int64)
        for s in range(0, b, per_chunk):
            e = min(b, s + per_chunk)
            tall = np.zeros((e - s, h + 1, w), np.uint8)  # the last row of each tile stays 0
            with np.errstate(invalid="ignore"):
                np.greater_equal(arr[s:e], cut[s:e, None, None], out=tall[:, :h].view(bool))
            tall[~fast[s:e]] = 0
            here = (slow >= s) & (slow < e)
            if slow_masks is not None and here.any():
                tall[slow[here] - s, :h] = slow_masks[here]
            boxes[s:e] = largest_tiled(tall)
        out.append(boxes)
    return out


def largest_tiled(tall: np.ndarray) -> np.ndarray:
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
