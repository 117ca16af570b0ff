"""The MaxBoxAccV2 threshold sweep, exactly as wsolevaluation computes it.

wsolevaluation (Choe et al., CVPR 2020, ``BoxEvaluator`` with
``multi_contour_eval=True``) scores one normalised score map against its
ground-truth boxes as follows; this module reproduces it to the pixel.

1. ``u8 = (scoremap * 255).astype(uint8)`` (truncation, in the map's dtype).
2. For every threshold ``t`` (``np.arange(0, 1, step)``), the mask is
   ``u8 > int(t * u8.max())`` (``cv2.threshold``, ``THRESH_BINARY``).
3. The candidate boxes are ``cv2.boundingRect`` of EVERY contour that
   ``cv2.findContours(mask, RETR_TREE, CHAIN_APPROX_SIMPLE)`` returns, turned
   into an "inclusive" box ``x0, y0 = x, y``; ``x1 = min(x + w, W - 1)``;
   ``y1 = min(y + h, H - 1)`` (note: ``x + w`` is one past the last pixel, so
   the box is one pixel too wide unless clipped - a quirk we keep). A mask
   with no contour gives the single box ``(0, 0, 0, 0)``.
4. IoU is the inclusive (+1) IoU with both overlaps clamped at 0
   (:func:`infocam.iou.inclusive_iou`); ground-truth boxes, half-open here, enter as
   ``(x0, y0, x1 - 1, y1 - 1)``. Threshold ``t`` is a hit at IoU level ``d``
   (30, 50, 70) when ANY (candidate, GT) pair has ``IoU >= d / 100``.

What the contours are (checked against OpenCV 5 on every test map): the
contours of ``RETR_TREE`` on a binary mask are exactly

* one outer contour per 8-connected foreground component (islands inside
  holes included); its bounding rectangle is the component's tight box;
* one hole contour per 4-connected background component that does not touch
  the image border (OpenCV pads the image with a zero frame, so foreground
  on the border is an ordinary component, and background on the border is
  part of the outside); the hole contour runs over the foreground pixels
  4-adjacent to the hole, so its bounding rectangle is the hole's tight box
  grown by one pixel on each side.

:func:`reference_sweep` is the plain per-threshold loop over
``cv2.findContours`` (the ground truth). :func:`fast_sweep` gives the
identical output from the component trees of the map: every distinct cut
level is computed once, and the components at all levels come from one pass
over the pixels (see :func:`candidate_boxes`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from infocam.iou import inclusive_iou

IOU_THRESHOLDS: tuple[int, ...] = (30, 50, 70)

_EMPTY_BOX = np.zeros((1, 4), dtype=np.int64)  # wsolevaluation's box when there is no contour


# ----------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------


def _as_array(scoremap) -> np.ndarray:
    """A torch tensor (any device; half types become float32) or array-like -> ndarray."""
    if isinstance(scoremap, torch.Tensor):
        x = scoremap.detach().cpu()
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        return x.numpy()
    return np.asarray(scoremap)


def scoremap_to_uint8(scoremap: np.ndarray) -> np.ndarray:
    """wsolevaluation's quantisation: ``(scoremap * 255).astype(np.uint8)``.

    A ``uint8`` map is returned as is. A floating map must be 2-D, finite and
    within [0, 1] (as wsolevaluation's ``check_scoremap_validity``); the
    product is taken in the map's own dtype and truncated.
    """
    arr = _as_array(scoremap)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"scoremap must be a non-empty 2-D array (H, W); got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"scoremap must be uint8 or floating point in [0, 1]; got dtype {arr.dtype}")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise ValueError("scoremap must hold finite values in [0, 1] (normalise the map first)")
    return (arr * 255).astype(np.uint8)


def _fine(scoremap: np.ndarray) -> np.ndarray | None:
    """The float32 map that steers the fast path's ascent, when there is one.

    A float32 map, or a float64 map whose values are all float32 values
    (then the float32 order is exactly the float64 order). Any other map
    gets None (the ascent then breaks ties of ``u8`` by pixel index).
    """
    if scoremap.dtype == np.float32:
        return scoremap
    if scoremap.dtype == np.float64:
        single = scoremap.astype(np.float32)
        if np.array_equal(single, scoremap):
            return single
    return None


def threshold_levels(thresholds: Sequence[float] | np.ndarray, peak: int) -> np.ndarray:
    """Integer cut levels ``int(t * peak)`` of each threshold (int64 array)."""
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"thresholds must be a non-empty 1-D sequence; got shape {t.shape}")
    if not np.isfinite(t).all() or t.min() < 0 or t.max() > 1:
        raise ValueError("thresholds must lie in [0, 1]")
    return (t * int(peak)).astype(np.int64)


def gt_boxes_inclusive(gt_boxes: Sequence | np.ndarray) -> np.ndarray:
    """Half-open GT boxes (G, 4) -> wsolevaluation's inclusive ``(x0, y0, x1-1, y1-1)``, float64."""
    if isinstance(gt_boxes, torch.Tensor):
        gt_boxes = gt_boxes.detach().cpu().double().numpy()
    try:
        g = np.asarray(gt_boxes, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"gt_boxes must be a (G, 4) array of numbers: {err}") from None
    if g.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if g.ndim == 1:
        g = g[None]
    if g.ndim != 2 or g.shape[1] != 4:
        raise ValueError(f"gt_boxes must have shape (G, 4) (x0, y0, x1, y1); got {g.shape}")
    if not np.isfinite(g).all():
        raise ValueError("gt_boxes must be finite")
    return g - np.array([0.0, 0.0, 1.0, 1.0])


def _check_iou_thresholds(iou_thresholds: Sequence[float]) -> np.ndarray:
    d = np.asarray(iou_thresholds, dtype=np.float64)
    if d.ndim != 1 or d.size == 0 or not np.isfinite(d).all() or d.min() < 0 or d.max() > 100:
        raise ValueError(f"iou_thresholds must be percentages in [0, 100]; got {iou_thresholds!r}")
    return d


# ----------------------------------------------------------------------------
# The reference: wsolevaluation's loop
# ----------------------------------------------------------------------------


def contour_boxes(mask: np.ndarray, multi_contour: bool = True) -> np.ndarray:
    """Candidate boxes of one binary mask as wsolevaluation makes them (K, 4) int64.

    ``boundingRect`` of every ``RETR_TREE`` contour (``multi_contour``), or
    of the first contour of largest ``cv2.contourArea`` only (wsolevaluation's
    first MaxBoxAcc), as inclusive boxes clipped by ``min(x + w, W - 1)``;
    no contour gives ``[[0, 0, 0, 0]]``.
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    height, width = m.shape
    contours = cv2.findContours(m, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(contours) == 0:
        return _EMPTY_BOX.copy()
    if not multi_contour:
        contours = [max(contours, key=cv2.contourArea)]  # the first of largest area
    rects = np.array([cv2.boundingRect(c) for c in contours], dtype=np.int64)
    x, y, w, h = rects.T
    return np.stack([x, y, np.minimum(x + w, width - 1), np.minimum(y + h, height - 1)], axis=1)


def reference_sweep(
    scoremap: np.ndarray,
    gt_boxes: Sequence | np.ndarray,
    thresholds: Sequence[float] | np.ndarray,
    iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
    multi_contour: bool = True,
) -> np.ndarray:
    """Hits of one map at every threshold, by wsolevaluation's plain loop.

    Args:
        scoremap: (H, W) normalised map in [0, 1] (float) or its ``uint8``
            quantisation.
        gt_boxes: (G, 4) ground-truth boxes, half-open pixel edges.
        thresholds: map thresholds ``t`` in [0, 1].
        iou_thresholds: IoU levels ``d`` in percent.
        multi_contour: True (MaxBoxAccV2): every contour's box is a
            candidate. False (the first MaxBoxAcc, ``multi_contour_eval=False``):
            only the box of the first contour of largest ``cv2.contourArea``.

    Returns:
        bool array (len(thresholds), len(iou_thresholds)): ``[i, j]`` is True
        when some candidate box at ``thresholds[i]`` has IoU >= d_j / 100
        with some GT box. No GT box: never a hit.
    """
    u8 = scoremap_to_uint8(scoremap)
    gt = gt_boxes_inclusive(gt_boxes)
    d = _check_iou_thresholds(iou_thresholds)
    threshold_levels(thresholds, 0)  # validation only
    out = np.zeros((len(thresholds), d.size), dtype=bool)
    if gt.shape[0] == 0:
        return out
    for i, t in enumerate(np.asarray(thresholds, dtype=np.float64)):
        _, mask = cv2.threshold(u8, int(t * np.max(u8)), 255, cv2.THRESH_BINARY)
        best = inclusive_iou(contour_boxes(mask, multi_contour), gt).max()
        out[i] = best >= d / 100
    return out


# ----------------------------------------------------------------------------
# The fast sweep: component trees
# ----------------------------------------------------------------------------

_GRIDS: dict[tuple[int, int], dict[str, np.ndarray]] = {}
_BIG = np.int32(1 << 30)
_ONE_BITS = int(np.float32(1.0).view(np.int32))  # float32 bit patterns of [0, 1] are <= this
_KERNELS = {8: np.ones((3, 3), np.uint8), 4: cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))}


def _grid(height: int, width: int) -> dict[str, np.ndarray]:
    """Per-shape constants: pixel columns / rows, border indices, flat index."""
    key = (height, width)
    if key not in _GRIDS:
        n = height * width
        ys, xs = np.divmod(np.arange(n, dtype=np.int32), np.int32(width))
        border = (xs == 0) | (xs == width - 1) | (ys == 0) | (ys == height - 1)
        if len(_GRIDS) > 16:
            _GRIDS.clear()
        _GRIDS[key] = {
            "xs": xs,
            "ys": ys,
            "border": np.flatnonzero(border),
            "index": np.arange(n, dtype=np.int64 if n >= 2**31 else np.int32),
            "index_f": np.arange(n, dtype=np.float64).reshape(height, width),
            "not_last_col": xs != width - 1,
            "not_first_col": xs != 0,
            "-xs": -xs,
            "-ys": -ys,
        }
    return _GRIDS[key]


def _ascent_key(val: np.ndarray, fine: np.ndarray | None, flip: bool) -> tuple[np.ndarray, int]:
    """A strict pixel order that refines the order of ``val``, as exact float64.

    ``key = major * 2**shift + flat_index``. The major part is ``val`` itself
    or, when the float32 map ``fine`` is given (``val`` = its uint8
    quantisation, or ``255 -`` that when ``flip``), the float32 bit pattern
    (monotone for values >= 0), so that the ascent follows the smooth map
    across the flat terraces that quantisation makes, and far fewer
    spurious basins appear. Returns (key (H, W), shift).
    """
    height, width = val.shape
    n = height * width
    shift = max(1, (n - 1).bit_length())
    if fine is not None and 30 + shift <= 53:
        major = (fine + np.float32(0.0)).view(np.int32).astype(np.float64)  # -0.0 -> +0.0
        if flip:
            major = _ONE_BITS - major
    else:
        major = val.astype(np.float64)
    major *= float(1 << shift)
    major += _grid(height, width)["index_f"]
    return major, shift


def _basins(val: np.ndarray, connectivity: int, fine: np.ndarray | None = None, flip: bool = False):
    """Split the pixels into ascent basins.

    Every pixel points to its neighbour of highest key (:func:`_ascent_key`)
    when that is above its own; following the pointers ends at a root. A
    pixel joins its root's basin along a path whose values never drop below
    its own, so for every level ``l`` the pixels of a basin above ``l`` lie
    in the same component of ``{val > l}`` as the root, and the root holds
    the basin's top value.

    Returns (root pixel of every pixel (N,), the root pixels (n_basins,)).
    """
    height, width = val.shape
    grid = _grid(height, width)
    key, shift = _ascent_key(val, fine, flip)
    best = cv2.dilate(key, _KERNELS[connectivity])  # out-of-image neighbours never win
    index = grid["index"]
    ptr = (best.ravel().astype(np.int64) & ((1 << shift) - 1)).astype(index.dtype)
    while True:  # pointer jumping: O(log chain length) passes
        nxt = np.take(ptr, ptr)
        if np.array_equal(nxt, ptr):
            break
        ptr = nxt
    return ptr, np.flatnonzero(ptr == index)


def _basin_edges(val: np.ndarray, root: np.ndarray, basin_of_root: np.ndarray, connectivity: int):
    """Adjacent basin pairs and the highest level at which each pair touches.

    ``root`` is the root pixel of every pixel, ``basin_of_root`` maps a root
    pixel to its basin id. Returns (a, b, w) sorted by decreasing ``w``:
    basins ``a`` and ``b`` hold adjacent pixels ``p``, ``q`` with
    ``min(val[p], val[q]) = w`` (the best such pair), so they are connected
    in ``{val > l}`` for every ``l < w``.
    """
    height, width = val.shape
    grid = _grid(height, width)
    flat = val.ravel()
    steps = [(1, grid["not_last_col"]), (width, None)]
    if connectivity == 8:
        steps += [(width + 1, grid["not_last_col"]), (width - 1, grid["not_first_col"])]
    keys = []
    for off, valid in steps:
        if off >= root.size or off <= 0:
            continue
        cross = root[:-off] != root[off:]
        if valid is not None:
            cross &= valid[:-off]
        p = np.flatnonzero(cross)
        a = np.take(basin_of_root, np.take(root, p)).astype(np.int64)
        b = np.take(basin_of_root, np.take(root, p + off)).astype(np.int64)
        w = np.minimum(np.take(flat, p), np.take(flat, p + off)).astype(np.int64)
        keys.append(((np.minimum(a, b) << 32) | (np.maximum(a, b) << 8)) | (255 - w))
    key = np.sort(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
    pair = key >> 8
    first = np.ones(key.size, dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    key = key[first]  # the highest w of each pair
    key = key[np.argsort((key & 255).astype(np.uint8), kind="stable")]
    return key >> 32, (key >> 8) & ((1 << 24) - 1), 255 - (key & 255)


def _leaf_order(n_basins: int, top: np.ndarray, edges) -> tuple[np.ndarray, np.ndarray]:
    """Kruskal over the basin graph: an order of the basins and the gaps between them.

    Clusters are merged in order of decreasing edge level, each cluster
    keeping its basins as a list; a merge concatenates the two lists and
    records the merge level as the gap at the junction. In the final order,
    the components of ``{val > l}`` are exactly the maximal runs of
    consecutive basins whose gaps are all ``> l`` (restricted to basins with
    pixels above ``l``). A merge where one cluster only appears at the merge
    level itself (its top equals the level) never separates, so its gap is
    marked ``-2`` ("always together").
    """
    ea, eb, ew = (x.tolist() for x in edges)
    parent = list(range(n_basins))
    size = [1] * n_basins
    head = list(range(n_basins))
    tail = list(range(n_basins))
    nxt = [-1] * n_basins
    gap = [-1] * n_basins
    tops = top.tolist()
    for a, b, w in zip(ea, eb, ew):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a == b:
            continue
        if size[a] < size[b]:
            a, b = b, a
        g = -2 if (tops[a] == w or tops[b] == w) else w
        nxt[tail[a]] = head[b]
        gap[tail[a]] = g
        tail[a] = tail[b]
        parent[b] = a
        size[a] += size[b]
        if tops[b] > tops[a]:
            tops[a] = tops[b]
    order: list[int] = []
    gaps: list[int] = []
    for r in range(n_basins):
        if parent[r] != r:
            continue
        x = head[r]
        while x != -1:
            order.append(x)
            gaps.append(gap[x])
            x = nxt[x]
    return np.array(order, dtype=np.int64), np.array(gaps[:-1], dtype=np.int64)


def _component_boxes(
    val: np.ndarray,
    levels: np.ndarray,
    connectivity: int,
    border: bool,
    fine: np.ndarray | None = None,
    flip: bool = False,
):
    """Tight boxes of the components of ``{val > l}`` for every ``l`` in ``levels``.

    ``val`` is (H, W) uint8, ``levels`` ascending distinct ints in [0, 254].
    Returns ``(level_index, x0, y0, x1, y1, touches_border)`` with one entry
    per component and level; x/y are the extreme pixel columns / rows
    (inclusive); ``touches_border`` is None unless ``border``.
    """
    height, width = val.shape
    grid = _grid(height, width)
    root, roots = _basins(val, connectivity, fine, flip)
    n_basins = roots.size
    basin_of_root = np.zeros(root.size, dtype=np.int32)
    basin_of_root[roots] = np.arange(n_basins, dtype=np.int32)
    edges = _basin_edges(val, root, basin_of_root, connectivity)
    order, gaps = _leaf_order(n_basins, val.ravel()[roots].astype(np.int64), edges)

    # Merge runs of "always together" basins into super-leaves.
    new = np.ones(n_basins, dtype=bool)
    new[1:] = gaps != -2
    leaf_of_pos = (np.cumsum(new) - 1).astype(np.int32)
    n_leaves = int(leaf_of_pos[-1]) + 1
    leaf_gaps = gaps[gaps != -2]  # (n_leaves - 1,), -1 between separate trees
    leaf_of_root = basin_of_root  # reused: root pixel -> leaf
    leaf_of_root[roots[order]] = leaf_of_pos
    leaf = np.take(leaf_of_root, root)

    # Per (level bin, leaf) extremes. A pixel of value v lies in {val > L[j]}
    # for j < bin(v); the bins are stored top-down (row r = bin n_levels - r),
    # so a running min down the rows gives, at row r, the extremes of each
    # leaf at level L[n_levels - 1 - r]. Columns: x0, y0, -x1, -y1.
    n_levels = levels.size
    rbin_of_value = n_levels - np.searchsorted(levels, np.arange(256), side="left").astype(np.int32)
    cell = cv2.LUT(val, rbin_of_value).ravel()
    cell *= np.int32(n_leaves)
    cell += leaf
    size = (n_levels + 1) * n_leaves
    # np.minimum.at takes its fast path on a contiguous target with intp
    # indices: scatter into one row per extreme, then lay the rows out as columns.
    cell_index = cell.astype(np.intp)
    rows = np.full((4, size), _BIG, dtype=np.int32)
    for k, coord in enumerate(("xs", "ys", "-xs", "-ys")):
        np.minimum.at(rows[k], cell_index, grid[coord])
    table = np.ascontiguousarray(rows.T)
    table = _running_min(table.reshape(n_levels + 1, n_leaves * 4))[:n_levels].reshape(-1, 4)

    # Components: runs of consecutive live leaves joined by gaps > level
    # (a gap next to a leaf with no pixel above the level is <= the level).
    live = np.flatnonzero(table[:, 0] < _BIG)
    if live.size == 0:
        none = np.zeros(0, dtype=np.int64)
        return none, none, none, none, none, (np.zeros(0, dtype=bool) if border else None)
    row, pos = np.divmod(live, n_leaves)
    joined = (live[1:] == live[:-1] + 1) & (pos[1:] > 0)
    joined[joined] = leaf_gaps[pos[1:][joined] - 1] > levels[::-1][row[1:][joined]]
    start = np.flatnonzero(np.concatenate([[True], ~joined]))
    ext = np.minimum.reduceat(table[live], start, axis=0)
    touches = None
    if border:  # a component touches the border iff one of its pixels on it is above the level
        border_top = np.full(n_leaves, -1, dtype=np.int64)
        np.maximum.at(border_top, np.take(leaf, grid["border"]), val.ravel()[grid["border"]])
        top_of_run = np.maximum.reduceat(border_top[pos], start)
        touches = top_of_run > levels[::-1][row[start]]
    return n_levels - 1 - row[start], ext[:, 0], ext[:, 1], -ext[:, 2], -ext[:, 3], touches


def _running_min(table: np.ndarray) -> np.ndarray:
    """Running minimum down the rows (``np.minimum.accumulate(axis=0)``, by doubling: faster)."""
    k = 1
    while k < table.shape[0]:
        table[k:] = np.minimum(table[k:], table[:-k])
        k *= 2
    return table


def candidate_boxes(
    scoremap: np.ndarray, levels: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """All candidate boxes at many cut levels at once, without ``findContours``.

    For each ``l`` in ``levels``, the boxes :func:`contour_boxes` gives for
    the mask ``u8 > l``, ``u8`` = :func:`scoremap_to_uint8` of ``scoremap``
    (as a multiset; the empty mask gives ``(0,0,0,0)``):
    the box of every 8-connected component of ``{u8 > l}`` and, grown by
    one pixel, of every 4-connected component of ``{u8 <= l}`` that does not
    touch the border, clipped as wsolevaluation clips.

    Method: the components of ``{u8 > l}`` for all ``l`` form a tree. The
    pixels are split into ascent basins; the basin graph, each edge carrying
    the highest level at which two basins touch, is merged Kruskal-style into
    an order of the basins in which every component at every level is a run
    of consecutive basins; the box of a run is the min / max over its basins
    of per-(basin, level) extremes, all vectorised. The holes come the same
    way from ``255 - u8`` with 4-connectivity (``u8 <= l`` is
    ``255 - u8 > 254 - l``), dropping components that touch the border.

    A float32 ``scoremap`` (or a float64 one holding float32 values) also
    steers the ascent across the flat terraces of ``u8`` (fewer basins,
    same boxes).

    Returns:
        ``(level_index, boxes)``: (K,) positions into ``levels`` and (K, 4)
        int64 inclusive boxes.
    """
    arr = _as_array(scoremap)
    return _candidate_boxes(scoremap_to_uint8(arr), levels, _fine(arr))


def _candidate_boxes(u8: np.ndarray, levels, fine: np.ndarray | None):
    """:func:`candidate_boxes` on the quantised map (``fine``: its float32 source or None)."""
    u8 = np.ascontiguousarray(u8)
    if fine is not None:
        fine = np.ascontiguousarray(fine)
    height, width = u8.shape
    levels = np.asarray(levels, dtype=np.int64).ravel()
    if levels.size and levels.min() < 0:
        raise ValueError("levels must be >= 0")
    uniq, inverse = np.unique(levels, return_inverse=True)
    n_active = int(np.searchsorted(uniq, int(u8.max())))  # levels >= max: empty mask
    active = uniq[:n_active]
    parts_lev, parts_box = [], []
    if n_active:
        lev, x0, y0, x1, y1, _ = _component_boxes(u8, active, 8, False, fine)
        parts_lev.append(lev)
        parts_box.append(_wsol_clip(x0, y0, x1, y1, width, height))
        hole_levels = 254 - active[::-1]  # u8 <= l  <=>  255 - u8 > 254 - l
        lev, x0, y0, x1, y1, touches = _component_boxes(255 - u8, hole_levels, 4, True, fine, True)
        k = ~touches
        parts_lev.append(n_active - 1 - lev[k])
        parts_box.append(_wsol_clip(x0[k] - 1, y0[k] - 1, x1[k] + 1, y1[k] + 1, width, height))
    parts_lev.append(np.arange(n_active, uniq.size))
    parts_box.append(np.zeros((uniq.size - n_active, 4), dtype=np.int64))
    lev_u = np.concatenate(parts_lev)
    boxes = np.concatenate(parts_box).astype(np.int64)
    # Back from the distinct levels to the levels as given.
    order = np.argsort(lev_u, kind="stable")
    lev_u, boxes = lev_u[order], boxes[order]
    counts = np.bincount(lev_u, minlength=uniq.size)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    reps = counts[inverse]
    out_lev = np.repeat(np.arange(levels.size), reps)
    offset = np.arange(out_lev.size) - np.repeat(np.cumsum(reps) - reps, reps)
    return out_lev, boxes[np.repeat(starts[inverse], reps) + offset]


def _wsol_clip(x0, y0, x1, y1, width: int, height: int) -> np.ndarray:
    """Pixel extents -> wsolevaluation's box ``(x, y, min(x + w, W - 1), min(y + h, H - 1))``."""
    return np.stack([x0, y0, np.minimum(x1 + 1, width - 1), np.minimum(y1 + 1, height - 1)], 1)


def fast_sweep(
    scoremap: np.ndarray,
    gt_boxes: Sequence | np.ndarray,
    thresholds: Sequence[float] | np.ndarray,
    iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
    multi_contour: bool = True,
) -> np.ndarray:
    """Same arguments and identical output as :func:`reference_sweep`, much faster.

    Each distinct cut level ``int(t * u8.max())`` (at most 256) is evaluated
    once, and the candidate boxes of all levels come from
    :func:`candidate_boxes` in one pass; each box's IoU with the GT boxes is
    computed by the same float64 formula as the reference.
    """
    arr = _as_array(scoremap)
    u8 = scoremap_to_uint8(arr)
    gt = gt_boxes_inclusive(gt_boxes)
    d = _check_iou_thresholds(iou_thresholds)
    levels = threshold_levels(thresholds, int(u8.max()))
    out = np.zeros((levels.size, d.size), dtype=bool)
    if gt.shape[0] == 0:
        return out
    uniq, inverse = np.unique(levels, return_inverse=True)
    if multi_contour:
        lev, boxes = _candidate_boxes(u8, uniq, _fine(arr))
    else:
        lev = np.arange(uniq.size)
        boxes = np.concatenate([contour_boxes((u8 > lv).view(np.uint8), False) for lv in uniq.tolist()])
    best = np.full(uniq.size, -np.inf)
    np.maximum.at(best, lev, inclusive_iou(boxes, gt).max(axis=1))
    return best[inverse.ravel()][:, None] >= d[None, :] / 100
