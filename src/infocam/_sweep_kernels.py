"""Compiled kernels of the fast sweep (numba): the boxes of every cut level in one pass.

wsolevaluation's candidate boxes at a cut level ``l`` of a ``uint8`` map are
the boxes of the 8-connected components of ``{u8 > l}`` (outer contours)
and, grown by one pixel, of the 4-connected components of ``{u8 <= l}``
that do not touch the border (hole contours). :func:`level_boxes` finds
them at every wanted level at once, with two union-find passes over one
counting sort of the pixels (:func:`_sort_pixels`):

* **Components**: the pixels are added brightest first (raster order
  within a value), each joined to its 8 neighbours already in. Once every
  pixel of value ``v`` is in, the sets are the components of
  ``{u8 > v - 1}``: their boxes are read off.
* **Holes**: the pixels are added darkest first (reverse raster order
  within a value), each joined to its 4 neighbours already in; the frame
  around the map is one set, the outside, that is never listed. Once every
  pixel of value ``v`` is in, the sets other than the outside are the
  components of ``{u8 <= v}`` that do not touch the border: the holes of
  ``{u8 > v}``.

Layout: the map is padded with a one-pixel frame and flattened, so the
neighbours of flat index ``p`` are ``p + offset`` with no bounds check.
``label[p]`` is the set a pixel joined; sets are numbered as they start and
form a union-find forest of their own (``parent``, union by size, path
halving), each root keeping its size and its tight box ``x0, y0, x1, y1``
in map coordinates (``box[4 * s: 4 * s + 4]``). The live roots are kept in a
dense list (``alive``, with each root's position ``slot``), so that reading
a level costs the number of sets, not of pixels.

Which neighbours are already in is known from the values alone (a
neighbour comes first when it is brighter, or as bright and earlier in the
order), so the counting sort stores each pixel's 8-bit pattern of
neighbours in beside its coordinates, computed row by row; adding the
pixels darkest first in reverse order, the neighbours in are exactly the
others. A pixel's neighbours in fall into groups already joined in one set
(:data:`RING_GROUPS`, :data:`HOLE_GROUPS`), so a pixel looks up one set per
group: almost always one.

The first MaxBoxAcc's box (the contour of largest polygon area) at every
level comes from :func:`largest_contour_boxes`, and the best IoU per level
from :func:`best_iou`.

The kernels take their scratch arrays from the caller (:func:`workspace`)
and index with unsigned integers (``U``): numba then skips the check for
negative indices (``docs/decisions.md`` says what each choice bought). They
are compiled on first use and cached on disk (``cache=True``). Two things
cost numba seconds of compile time and are avoided: 2-D slice copies, and
inlining a per-pixel step into its loop (the step is one function called
per value, :func:`_add_pixels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba import uint64 as U

OUT = -1  # no set (a root not found yet)

# The 8 neighbours in ring order NW, N, NE, E, SE, S, SW, W (dx, dy).
RING = ((-1, -1), (0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0))
GROUP_ROW = 5  # the group tables' row length: a count, then up to 4 neighbours


def _ring_groups() -> np.ndarray:
    """(256 * 5,) int64: for each pattern of neighbours in (bit j: ring neighbour j),
    the number of groups of mutually 8-adjacent neighbours, then one member of each."""
    table = np.zeros((256, GROUP_ROW), dtype=np.int64)
    for mask in range(256):
        members = [j for j in range(8) if mask >> j & 1]
        seen: set[int] = set()
        for j in members:
            if j in seen:
                continue
            table[mask, 0] += 1
            table[mask, table[mask, 0]] = j
            stack = [j]
            seen.add(j)
            while stack:
                a = stack.pop()
                for b in members:
                    (ax, ay), (bx, by) = RING[a], RING[b]
                    if b not in seen and max(abs(ax - bx), abs(ay - by)) == 1:
                        seen.add(b)
                        stack.append(b)
    return table.ravel()


RING_GROUPS = _ring_groups()


def _hole_groups() -> np.ndarray:
    """(256 * 5,) int64: :data:`RING_GROUPS` for the darkest-first pass (4-connected).

    Bit j of the pattern: ring neighbour j is in. Only the 4 neighbours N,
    E, S, W (ring 1, 3, 5, 7) are joined; two of them are already in one set
    when the diagonal neighbour between them is in too (N, NE, E are
    4-connected), so each group lists one of them.
    """
    table = np.zeros((256, GROUP_ROW), dtype=np.int64)
    for mask in range(256):
        groups: list[set[int]] = [{j} for j in (1, 3, 5, 7) if mask >> j & 1]
        for a, corner, b in ((1, 2, 3), (3, 4, 5), (5, 6, 7), (7, 0, 1)):
            if mask >> corner & 1:
                ga = next((g for g in groups if a in g), None)
                gb = next((g for g in groups if b in g), None)
                if ga is not None and gb is not None and ga is not gb:
                    groups.remove(gb)
                    ga |= gb
        table[mask, 0] = len(groups)
        for i, g in enumerate(groups):
            table[mask, i + 1] = min(g)
    return table.ravel()


HOLE_GROUPS = _hole_groups()


def _window_weights() -> np.ndarray:
    """(256,) int64: the polygon area (doubled) a pixel adds to its set, by pattern of neighbours in.

    The 2 x 2 windows of pixel centres that have ``p`` as a corner are
    those of ring neighbours (NW, N, W), (N, NE, E), (E, SE, S), (S, SW, W).
    A window with 3 corners in a set is half inside its contour polygon,
    with 4 all inside; so the pixel that completes 3 corners of a window
    adds 1 (half a window, doubled), the one that completes 4 adds 1 more.
    """
    windows = ((0, 1, 7), (1, 2, 3), (3, 4, 5), (5, 6, 7))
    table = np.zeros(256, dtype=np.int64)
    for mask in range(256):
        table[mask] = sum(sum(mask >> j & 1 for j in w) >= 2 for w in windows)
    return table


WINDOW_WEIGHTS = _window_weights()
NO_WEIGHTS = np.zeros(0, dtype=np.int64)  # :func:`_add_pixels` without areas


def workspace(height: int, width: int) -> tuple:
    """Scratch arrays for the kernels on maps up to ``height`` x ``width`` (reused across maps).

    Returns ``(u_pass, f_pass, history)``: two :func:`_pass_arrays` (the
    pass over the map, and the first MaxBoxAcc's pass over its filled
    version) and a record of merges (:func:`_add_pixels`, 2 per set).
    Reusing them across maps spares the page faults of fresh allocations.
    On a smaller map only
    their first entries are used.
    """
    return _pass_arrays(height, width), _pass_arrays(height, width), np.empty(2 * (height * width + 1), np.int64)


def _pass_arrays(height: int, width: int) -> tuple:
    """One union-find pass: (val, packed, bits, start, label, parent, size, box, alive, slot, extra).

    ``val`` the padded values (int16, frame -1); ``packed`` the sorted
    pixels; ``bits`` a row of patterns; ``start`` the counting sort's
    offsets; ``label`` the set of each padded pixel; then per set:
    ``parent``, ``size``, ``box`` (4 per set), the dense list ``alive`` of
    live roots and each root's position ``slot`` in it, and ``extra`` (3
    per set, :func:`_add_pixels`).
    """
    n_padded = (height + 2) * (width + 2)
    n_sets = height * width + 1
    return (
        np.empty(n_padded, np.int16),
        np.empty(height * width, np.int64),
        np.empty(width, np.int64),
        np.empty(257, np.int64),
        np.empty(n_padded, np.int32),
        np.empty(n_sets, np.int32),
        np.empty(n_sets, np.int32),
        np.empty(4 * n_sets, np.int32),
        np.empty(n_sets, np.int32),
        np.empty(n_sets, np.int32),
        np.empty(3 * n_sets, np.int64),
    )


@njit(cache=True, nogil=True)
def _pad_into(values, val):
    """``val`` (flat) = ``values`` (H, W) inside a one-pixel frame of -1, row length W + 2."""
    height, width = values.shape
    stride = width + 2
    for x in range(stride):
        val[U(x)] = -1
        val[U((height + 1) * stride + x)] = -1
    for y in range(height):
        row = (y + 1) * stride
        val[U(row)] = -1
        val[U(row + width + 1)] = -1
        for x in range(width):
            val[U(row + 1 + x)] = values[U(y), U(x)]


@njit(cache=True, nogil=True)
def _sort_pixels(val, height, width, packed, bits, start):
    """Counting sort of the pixels by value, each with its pattern of neighbours in.

    ``val``: the padded values 0 .. 255 (frame -1, :func:`_pad_into`).
    Fills ``packed[:H * W]`` with ``pattern << 32 | y << 16 | x``, the
    pixels of value ``v`` at ``packed[start[v]:start[v + 1]]`` in raster
    order. Bit j of ``pattern`` tells whether ring neighbour j
    (:data:`RING`) comes before the pixel when the pixels are added
    brightest first, raster order within a value: it does when its value
    is higher, or equal and earlier in raster order (the frame never does).
    Adding the pixels darkest first, reverse raster order within a value,
    the neighbours that come before are exactly the others (``~pattern``).
    """
    stride = width + 2
    for v in range(257):
        start[v] = 0
    for y in range(height):
        row = (y + 1) * stride + 1
        for x in range(width):
            start[U(val[U(row + x)] + 1)] += 1
    for v in range(256):
        start[v + 1] += start[v]
    nxt = start[:256].copy()
    for y in range(height):
        r = (y + 1) * stride + 1
        up = val[r - stride - 1 : r - stride + width + 1]
        mid = val[r - 1 : r + width + 1]
        down = val[r + stride - 1 : r + stride + width + 1]
        for x in range(width):  # up[x + 1], mid[x + 1], down[x + 1]: straight above, the pixel, below
            v = mid[U(x + 1)]
            bits[U(x)] = (
                np.int64(up[U(x)] >= v)
                | np.int64(up[U(x + 1)] >= v) << 1
                | np.int64(up[U(x + 2)] >= v) << 2
                | np.int64(mid[U(x + 2)] > v) << 3
                | np.int64(down[U(x + 2)] > v) << 4
                | np.int64(down[U(x + 1)] > v) << 5
                | np.int64(down[U(x)] > v) << 6
                | np.int64(mid[U(x)] >= v) << 7
            )
        for x in range(width):
            v = U(mid[U(x + 1)])
            packed[U(nxt[v])] = bits[U(x)] << 32 | y << 16 | x
            nxt[v] += 1


@njit(cache=True, nogil=True, inline="always")
def _root(parent, s):
    """Root of set ``s``, halving the path on the way."""
    while parent[U(s)] != s:
        g = parent[U(parent[U(s)])]
        parent[U(s)] = g
        s = g
    return s


@njit(cache=True, nogil=True)
def _add_pixels(
    lo, hi, packed, stride, sets, n_sets, n_alive, ring, groups, darkest_first, extra, weights, u8val, history, value
):
    """Add the pixels ``packed[lo:hi]`` (one value), each joined to the sets of its neighbours already in.

    Brightest first (``darkest_first`` False): in raster order, 8-connected,
    the neighbours in given by the pixel's pattern (:func:`_sort_pixels`)
    and grouped by ``groups`` = :data:`RING_GROUPS`. Darkest first: in
    reverse raster order, 4-connected, the neighbours in are ``~pattern``,
    grouped by :data:`HOLE_GROUPS`. A set is looked up once per group; a
    merge puts the smaller set under the larger.

    ``sets`` = (label, parent, size, box, alive, slot) (:func:`_pass_arrays`).
    When ``weights`` is not empty, each set also keeps in ``extra`` its
    doubled polygon area (every pixel adds ``weights[pattern]``,
    :data:`WINDOW_WEIGHTS`), its least value in ``u8val`` (padded) and its
    first pixel in raster order. When ``history`` is not empty, a set that
    goes under another records that set and ``value`` (the pixels' value)
    at ``history[2 * s: 2 * s + 2]``. Returns (number of sets started,
    number of live roots).
    """
    label, parent, size, box, alive, slot = sets
    flip = 0xFF if darkest_first else 0
    measured = weights.size > 0
    recorded = history.size > 0
    for i in range(lo, hi):
        k = hi - 1 - (i - lo) if darkest_first else i
        e = packed[U(k)]
        x = np.int32(e & 0xFFFF)
        y = np.int32((e >> 16) & 0xFFFF)
        pattern = ((e >> 32) ^ flip) & 0xFF
        p = (y + 1) * stride + x + 1
        row = pattern * GROUP_ROW
        root = np.int32(OUT)
        for g in range(groups[U(row)]):  # one neighbour per group of connected ones
            s = _root(parent, label[U(p + ring[U(groups[U(row + 1 + g)])])])
            if root == OUT:
                root = s
            elif s != root:  # merge: the smaller set goes under, its box and extras into the root's
                if size[U(s)] > size[U(root)]:
                    root, s = s, root
                parent[U(s)] = root
                size[U(root)] += size[U(s)]
                if recorded:
                    history[U(2 * s)] = root
                    history[U(2 * s + 1)] = value
                b, c = U(4 * root), U(4 * s)
                box[b] = min(box[b], box[c])
                box[b + 1] = min(box[b + 1], box[c + 1])
                box[b + 2] = max(box[b + 2], box[c + 2])
                box[b + 3] = max(box[b + 3], box[c + 3])
                if measured:
                    b, c = U(3 * root), U(3 * s)
                    extra[b] += extra[c]
                    extra[b + 1] = min(extra[b + 1], extra[c + 1])
                    extra[b + 2] = min(extra[b + 2], extra[c + 2])
                moved = alive[U(n_alive - 1)]  # s leaves the list of live roots
                alive[U(slot[U(s)])] = moved
                slot[U(moved)] = slot[U(s)]
                n_alive -= 1
        if root == OUT:  # a new set: the pixel alone
            root = np.int32(n_sets)
            n_sets += 1
            parent[U(root)] = root
            size[U(root)] = 1
            b = U(4 * root)
            box[b] = box[b + 2] = x
            box[b + 1] = box[b + 3] = y
            alive[U(n_alive)] = root
            slot[U(root)] = n_alive
            n_alive += 1
            if recorded:
                history[U(2 * root)] = OUT
            if measured:
                b = U(3 * root)
                extra[b] = 0
                extra[b + 1] = extra[b + 2] = 1 << 62
        else:
            size[U(root)] += 1
            b = U(4 * root)
            if x < box[b]:
                box[b] = x
            if y < box[b + 1]:
                box[b + 1] = y
            if x > box[b + 2]:
                box[b + 2] = x
            if y > box[b + 3]:
                box[b + 3] = y
        label[U(p)] = root
        if measured:
            b = U(3 * root)
            extra[b] += weights[U(pattern)]
            extra[b + 1] = min(extra[b + 1], u8val[U(p)])
            extra[b + 2] = min(extra[b + 2], p)
    return n_sets, n_alive


@njit(cache=True, nogil=True)
def _emit(out, n_out, level, alive, n_alive, box, grow, width, height):
    """Append ``(level, box)`` for every live set, grown by ``grow`` and clipped as wsolevaluation.

    The box is wsolevaluation's ``(x, y, min(x + w, W - 1), min(y + h,
    H - 1))`` of the contour's ``boundingRect``. Returns (out, row count);
    ``out`` is reallocated when full (copied by a loop: a 2-D slice copy
    costs numba seconds of compile time).
    """
    if n_out + n_alive > out.shape[0]:
        bigger = np.empty((2 * (n_out + n_alive), 5), np.int32)
        for i in range(n_out):
            for j in range(5):
                bigger[i, j] = out[i, j]
        out = bigger
    for i in range(n_alive):
        b = 4 * alive[i]
        out[n_out, 0] = level
        out[n_out, 1] = box[b] - grow
        out[n_out, 2] = box[b + 1] - grow
        out[n_out, 3] = min(box[b + 2] + grow + 1, width - 1)
        out[n_out, 4] = min(box[b + 3] + grow + 1, height - 1)
        n_out += 1
    return out, n_out


@njit(cache=True, nogil=True)
def _ring8(stride):
    """:data:`RING` as flat offsets in a padded map of row length ``stride``."""
    return np.array([-stride - 1, -stride, -stride + 1, 1, stride + 1, stride, stride - 1, -1], np.int64)


@njit(cache=True, nogil=True)
def _sorted_pass(values, arrays):
    """Pad and sort ``values`` (H, W) into a pass's arrays; returns its ``sets`` tuple."""
    val, packed, bits, start = arrays[:4]
    height, width = values.shape
    _pad_into(values, val)
    _sort_pixels(val, height, width, packed, bits, start)
    return arrays[4:10]


@njit(cache=True, nogil=True)
def _hole_rows(sorted_arrays, set_arrays, height, width, level_slot, hole_groups, out, n_out, history):
    """Hole-contour rows (appended to ``out``): the 4-connected components of ``{u8 <= l}`` off the border.

    ``sorted_arrays``: a pass (:func:`_pass_arrays`) whose pixels
    :func:`_sorted_pass` sorted; ``set_arrays``: the pass whose sets are
    used (the same one, or another). The pixels are added darkest first; the
    frame is one set, the outside (set 0), that is never listed, so a
    component leaves the list when it reaches the border. No row is written
    when ``out`` has no rows. ``history``: as :func:`_add_pixels` (or
    empty). Returns (out, row count, number of sets).
    """
    val, packed, start = sorted_arrays[0], sorted_arrays[1], sorted_arrays[3]
    label, parent, size, box, alive, slot, extra = set_arrays[4:]
    stride = width + 2
    n = (height + 2) * stride
    outside = 0
    parent[outside] = outside
    size[outside] = 1 << 30  # always the larger set: it stays a root
    for x in range(stride):
        label[x] = label[n - 1 - x] = outside
    for y in range(1, height + 1):
        label[y * stride] = label[y * stride + width + 1] = outside
    ring = _ring8(stride)
    sets = (label, parent, size, box, alive, slot)
    n_sets, n_alive = 1, 0
    highest = _highest_level(level_slot)
    for v in range(highest + 1):  # after value v: the holes of {u8 > v}
        n_sets, n_alive = _add_pixels(
            start[v], start[v + 1], packed, stride, sets, n_sets, n_alive, ring, hole_groups, True,
            extra, NO_WEIGHTS, val, history, v,
        )  # fmt: skip
        if level_slot[v] >= 0 and out.shape[0]:
            out, n_out = _emit(out, n_out, level_slot[v], alive, n_alive, box, 1, width, height)
    return out, n_out, n_sets


@njit(cache=True, nogil=True)
def _highest_level(level_slot):
    """The highest wanted level (-1 when none is)."""
    highest = 255
    while highest >= 0 and level_slot[highest] < 0:
        highest -= 1
    return highest


@njit(cache=True, nogil=True)
def _lowest_level(level_slot):
    """The lowest wanted level (256 when none is)."""
    lowest = 0
    while lowest < 256 and level_slot[lowest] < 0:
        lowest += 1
    return lowest


@njit(cache=True, nogil=True)
def _fill_into(f_val, u_val, label, history, n_sets, height, width, highest):
    """Grayscale hole filling (4-connected) from the darkest-first pass, into ``f_val`` (padded, frame -1).

    ``fill[p]`` is the least level ``l`` at which ``p`` reaches the border
    within ``{u8 <= l}``: the value at which the pass joined the set of
    ``p`` (through the sets it went under, :func:`_add_pixels`' ``history``)
    to the outside (set 0); the pixel's own value when it joined the
    outside itself. A pixel that does not reach the border by ``highest``
    (the pass stops there) gets 255: above every wanted level, which is
    all that the components of ``{fill > l}`` at wanted levels depend on.
    """
    stride = width + 2
    reach = np.empty(n_sets, np.int32)  # the fill level of each set, 255 when not reached
    reach[0] = -1  # the outside: a pixel in it keeps its own value
    for s in range(1, n_sets):
        reach[s] = -2  # not known yet
    chain = np.empty(n_sets, np.int64)
    for s0 in range(1, n_sets):
        depth = 0
        s = s0
        while reach[s] == -2:  # up the sets it went under, to one whose level is known
            chain[depth] = s
            depth += 1
            if history[2 * s] < 0:  # never went under: still apart at the end of the pass
                reach[s] = 255
                break
            if history[2 * s] == 0:
                reach[s] = history[2 * s + 1]
                break
            s = history[2 * s]
        level = reach[s]
        for i in range(depth):
            reach[chain[i]] = level
    for p in range((height + 2) * stride):
        f_val[p] = -1
    for y in range(height):
        for x in range(width):
            p = (y + 1) * stride + x + 1
            if u_val[p] > highest:
                f_val[p] = 255
            else:
                r = reach[label[p]]
                f_val[p] = u_val[p] if r < 0 else r


@njit(cache=True, nogil=True)
def level_boxes(u8, level_slot, ring_groups, hole_groups, ws):
    """Every contour box of ``{u8 > l}`` at every wanted level ``l``.

    Args:
        u8: (H, W) uint8 map, C-contiguous.
        level_slot: (256,) int64, the output slot of level ``l`` or -1 when
            ``l`` is not wanted (nor any level ``>= u8.max()``: empty masks).
        ring_groups, hole_groups: :data:`RING_GROUPS`, :data:`HOLE_GROUPS`.
        ws: :func:`workspace` for maps at least this large.

    Returns:
        (K, 5) int32 rows ``(slot, x0, y0, x1, y1)``, wsolevaluation's
        clipped inclusive boxes: outer contours then hole contours.
    """
    height, width = u8.shape
    stride = width + 2
    arrays = ws[0]
    sets = _sorted_pass(u8, arrays)
    val, packed, start, extra = arrays[0], arrays[1], arrays[3], arrays[10]
    ring = _ring8(stride)
    out = np.empty((1024, 5), np.int32)
    n_out = n_sets = n_alive = 0
    no_history = ws[2][:0]  # empty: no record of merges (a writable view, as the kernels' type wants)
    for v in range(255, _lowest_level(level_slot), -1):  # after value v: the components of {u8 > v - 1}
        n_sets, n_alive = _add_pixels(
            start[v], start[v + 1], packed, stride, sets, n_sets, n_alive, ring, ring_groups, False,
            extra, NO_WEIGHTS, val, no_history, v,
        )  # fmt: skip
        if level_slot[v - 1] >= 0:
            out, n_out = _emit(out, n_out, level_slot[v - 1], sets[4], n_alive, sets[3], 0, width, height)
    out, n_out, _ = _hole_rows(arrays, arrays, height, width, level_slot, hole_groups, out, n_out, no_history)
    return out[:n_out]


@njit(cache=True, nogil=True)
def largest_contour_boxes(u8, level_slot, ring_groups, hole_groups, window_weights, rows_too, ws):
    """wsolevaluation's first MaxBoxAcc box (the contour of largest area) at every wanted level.

    ``cv2.contourArea`` of a contour is the area of the polygon through its
    pixel centres. The largest contour is always the outer contour of a
    top-level component (one not inside a hole): a hole's polygon, and all
    inside it, lie within the outer polygon of the component around it.
    The outer polygon of a top-level component encloses the component with
    its holes filled, and those filled components are the 8-connected
    components of ``{fill > l}`` (``fill``: :func:`_fill_into`). Their
    polygon areas come from a union-find pass over ``fill`` in which every
    pixel adds its :data:`WINDOW_WEIGHTS` (doubled areas, exact integers).

    A level is answered here only when the largest area is unique; and,
    when that component has holes, only when its own polygon (without the
    holes) has a positive area (a second pass over ``u8`` counts it), since
    otherwise a hole contour could tie with it. Other levels are flagged:
    the caller asks ``cv2.findContours`` (exact, and rare).

    The fill levels come from the darkest-first pass of the holes, so with
    ``rows_too`` that pass and the pass over ``u8`` (the components of
    ``{u8 > l}``) also give every contour's box, as :func:`level_boxes`
    does, at little extra cost.

    Returns ``(largest, rows)``: (n_slots, 5) int32 ``x0, y0, x1, y1``
    (wsolevaluation's clipped box) and a flag (1: undecided here), one row
    per slot of ``level_slot``; and :func:`level_boxes`' rows (none unless
    ``rows_too``).
    """
    height, width = u8.shape
    stride = width + 2
    ring = _ring8(stride)
    u_arrays, f_arrays, history = ws
    u_sets = _sorted_pass(u8, u_arrays)
    # the holes, darkest first, in F's sets (free until F's pass): their rows, and the fill levels
    rows = np.empty((1024 if rows_too else 0, 5), np.int32)
    rows, n_rows, n_sets = _hole_rows(u_arrays, f_arrays, height, width, level_slot, hole_groups, rows, 0, history)
    f_val = f_arrays[0]
    _fill_into(f_val, u_arrays[0], f_arrays[4], history, n_sets, height, width, _highest_level(level_slot))
    _sort_pixels(f_val, height, width, f_arrays[1], f_arrays[2], f_arrays[3])
    # U: the components of {u8 > l}; F: those of {fill > l}; both with extras
    f_sets = f_arrays[4:10]
    u_val, u_packed, u_start, u_extra = u_arrays[0], u_arrays[1], u_arrays[3], u_arrays[10]
    f_packed, f_start, f_extra = f_arrays[1], f_arrays[3], f_arrays[10]
    f_box, f_alive = f_sets[3], f_sets[4]
    u_n = u_alive_n = f_n = f_alive_n = 0
    no_history = history[:0]
    out = np.zeros((level_slot.max() + 1, 5), np.int32)  # a row per slot (none when no level is wanted)
    for v in range(255, _lowest_level(level_slot), -1):  # the components of {u8 > v - 1}, {fill > v - 1}
        u_n, u_alive_n = _add_pixels(
            u_start[v], u_start[v + 1], u_packed, stride, u_sets, u_n, u_alive_n, ring, ring_groups, False,
            u_extra, window_weights, u_val, no_history, v,
        )  # fmt: skip
        f_n, f_alive_n = _add_pixels(
            f_start[v], f_start[v + 1], f_packed, stride, f_sets, f_n, f_alive_n, ring, ring_groups, False,
            f_extra, window_weights, u_val, no_history, v,
        )  # fmt: skip
        if level_slot[v - 1] < 0:
            continue
        if rows_too:
            rows, n_rows = _emit(rows, n_rows, level_slot[v - 1], u_sets[4], u_alive_n, u_sets[3], 0, width, height)
        # the largest filled component (doubled area extra[3 * s]), and whether another one ties with it
        best = OUT
        ties = 0
        for i in range(f_alive_n):
            r = f_alive[i]
            if best == OUT or f_extra[3 * r] > f_extra[3 * best]:
                best = r
                ties = 0
            elif f_extra[3 * r] == f_extra[3 * best]:
                ties += 1
        if best == OUT:  # an empty mask (not a wanted level by contract): wsolevaluation's (0, 0, 0, 0)
            continue
        undecided = ties > 0
        if not undecided and f_extra[3 * best + 1] <= v - 1:  # it has holes: is its own polygon > 0?
            own = _root(u_sets[1], u_sets[0][f_extra[3 * best + 2]])
            undecided = u_extra[3 * own] == 0
        row = out[level_slot[v - 1]]
        row[0] = f_box[4 * best]
        row[1] = f_box[4 * best + 1]
        row[2] = min(f_box[4 * best + 2] + 1, width - 1)
        row[3] = min(f_box[4 * best + 3] + 1, height - 1)
        row[4] = undecided
    return out, rows[:n_rows]


@njit(cache=True, nogil=True)
def best_iou(rows, gt, n_slots):
    """The best IoU with any GT box of the boxes of each slot: (n_slots,) float64, -inf if none.

    ``rows`` (K, 5) ``(slot, x0, y0, x1, y1)``; ``gt`` (G, 4) float64
    inclusive boxes. The IoU is :func:`infocam.iou.inclusive_iou`'s, the
    same float64 operations in the same order (so the same bits).
    """
    best = np.full(n_slots, -np.inf)
    for k in range(rows.shape[0]):
        ax0, ay0, ax1, ay1 = float(rows[k, 1]), float(rows[k, 2]), float(rows[k, 3]), float(rows[k, 4])
        area_a = (ax1 - ax0 + 1) * (ay1 - ay0 + 1)
        for g in range(gt.shape[0]):
            bx0, by0, bx1, by1 = gt[g, 0], gt[g, 1], gt[g, 2], gt[g, 3]
            inter = max(0.0, min(ax1, bx1) - max(ax0, bx0) + 1) * max(0.0, min(ay1, by1) - max(ay0, by0) + 1)
            denom = area_a + (bx1 - bx0 + 1) * (by1 - by0 + 1) - inter
            iou = inter / denom if denom > 0 else 0.0
            if iou > best[rows[k, 0]]:
                best[rows[k, 0]] = iou
    return best
