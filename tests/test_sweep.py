"""The MaxBoxAccV2 sweep: wsolevaluation's loop, and the fast path that must equal it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from infocam.maps import normalize_maps, resize_maps
from infocam.sweep import (
    _distinct_levels,
    _largest_contour_boxes,
    candidate_boxes,
    contour_boxes,
    fast_sweep,
    fast_sweeps,
    gt_boxes_inclusive,
    inclusive_iou,
    reference_sweep,
    scoremap_to_uint8,
    threshold_levels,
)

ALL_LEVELS = np.arange(256)


def contour_multisets(u8: np.ndarray, levels) -> list[list[tuple]]:
    return [sorted(map(tuple, contour_boxes((u8 > lv).astype(np.uint8) * 255).tolist())) for lv in levels]


def fast_multisets(scoremap: np.ndarray, levels) -> list[list[tuple]]:
    lev, boxes = candidate_boxes(scoremap, levels)
    return [sorted(map(tuple, boxes[lev == i].tolist())) for i in range(len(levels))]


def assert_same_candidates(scoremap: np.ndarray, levels=ALL_LEVELS) -> None:
    """Every contour box (MaxBoxAccV2) and the largest contour's box (first MaxBoxAcc), per level."""
    u8 = scoremap_to_uint8(scoremap)
    assert fast_multisets(scoremap, levels) == contour_multisets(u8, levels)
    lv = _distinct_levels(np.asarray(levels), int(u8.max()))
    first = [contour_boxes((u8 > x).astype(np.uint8), multi_contour=False)[0].tolist() for x in lv.distinct]
    assert _largest_contour_boxes(u8, lv).tolist() == first
    # the shared passes give every contour's box too, as candidate_boxes does
    largest, rows = _largest_contour_boxes(u8, lv, rows_too=True)
    assert largest.tolist() == first
    lev, boxes = candidate_boxes(scoremap, lv.distinct)
    assert sorted(map(tuple, rows.tolist())) == sorted(zip(lev.tolist(), *boxes.T.tolist()))


def cam_map(seed: int, dtype=np.float64, size: int = 14) -> np.ndarray:
    """A map as wsolevaluation's inference writes it: a size x size CAM (here
    random), float64, resized to 224 with cv2 INTER_CUBIC, min-max normalised."""
    rng = np.random.default_rng(seed)
    x = cv2.resize(rng.standard_normal((size, size)), (224, 224), interpolation=cv2.INTER_CUBIC)
    x -= x.min()
    x /= x.max()
    return x.astype(dtype)


def assert_sweeps_agree(m, gt, thr) -> None:
    """fast_sweep (both versions) and fast_sweeps (both at once) equal the reference loop."""
    both = fast_sweeps(m, gt, thr)
    for multi_contour, shared in ((True, both[0]), (False, both[1])):
        want = reference_sweep(m, gt, thr, multi_contour=multi_contour)
        assert np.array_equal(fast_sweep(m, gt, thr, multi_contour=multi_contour), want), multi_contour
        assert np.array_equal(shared, want), multi_contour


def smooth(rng, h, w, sigma) -> np.ndarray:
    x = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)
    return ((x - x.min()) / (x.max() - x.min())).astype(np.float32)


def random_gt(rng, h, w, n) -> np.ndarray:
    xy = np.stack([rng.integers(0, w, n), rng.integers(0, h, n)], 1)
    wh = rng.integers(1, max(h, w) + 1, (n, 2))
    return np.concatenate([xy, np.minimum(xy + wh, [w, h])], 1)


# ----------------------------------------------------------------------------
# wsolevaluation's pieces, by hand
# ----------------------------------------------------------------------------


def test_contour_boxes_quirks_by_hand():
    ring = np.zeros((7, 7), np.uint8)
    ring[1:6, 1:6] = 255
    ring[3, 3] = 0
    # outer: boundingRect (1, 1, 5, 5) -> x1 = min(1 + 5, 6) = 6 (one past the
    # last pixel); hole at (3, 3): rect (2, 2, 3, 3) -> (2, 2, 5, 5)
    assert sorted(map(tuple, contour_boxes(ring).tolist())) == [(1, 1, 6, 6), (2, 2, 5, 5)]
    full = np.full((4, 5), 255, np.uint8)  # rect (0, 0, 5, 4) clipped to W-1, H-1
    assert contour_boxes(full).tolist() == [[0, 0, 4, 3]]
    assert contour_boxes(np.zeros((4, 5), np.uint8)).tolist() == [[0, 0, 0, 0]]
    edge = np.zeros((4, 5), np.uint8)
    edge[0:2, 3:5] = 255  # foreground on the border is an ordinary component
    assert contour_boxes(edge).tolist() == [[3, 0, 4, 2]]


def test_inclusive_iou_by_hand():
    a = np.array([[0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]])
    b = np.array([[0, 0, 0, 0], [1, 1, 2, 2], [5, 5, 6, 6]])
    iou = inclusive_iou(a, b)
    assert iou[0, 0] == 1.0  # (0,0,0,0) is one pixel for wsolevaluation
    assert iou[1, 1] == 1 / 7  # inter 1 pixel, areas 4 and 4
    assert iou[2, 2] == 0.0  # disjoint: clamped
    assert iou[1, 0] == 0.25
    assert inclusive_iou(np.array([[3, 3, 1, 1]]), np.array([[3, 3, 1, 1]]))[0, 0] == 0.0  # degenerate


def fill_by_levels(u8: np.ndarray) -> np.ndarray:
    """Grayscale hole filling by brute force: the least l at which each pixel reaches
    the border within {u8 <= l}, 4-connected (scipy's labelling at every level)."""
    from scipy import ndimage

    fill = np.full(u8.shape, 256)
    four = ndimage.generate_binary_structure(2, 1)
    for level in range(256):
        labels, _ = ndimage.label(u8 <= level, structure=four)
        border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        reached = np.isin(labels, border[border > 0]) & (fill == 256)
        fill[reached] = level
    return fill


@pytest.mark.parametrize("seed", range(4))
def test_fill_levels_from_the_hole_pass_equal_brute_force(seed):
    # the first MaxBoxAcc fills holes with the fill levels the darkest-first
    # pass records; a pixel that reaches the border by the highest wanted
    # level gets the brute-force level, any other 255 (above every wanted level)
    from infocam import _sweep_kernels as k

    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(5, 30, 2))
    u8 = scoremap_to_uint8(smooth(rng, h, w, 1.5)) if seed % 2 else rng.integers(0, 6, (h, w)).astype(np.uint8)
    u_pass, f_pass, history = k.workspace(h, w)
    highest = int(u8.max()) - 1 - seed  # below the peak, as the levels of a sweep are
    level_slot = np.where(np.arange(256) <= highest, np.arange(256), -1)
    k._sorted_pass(u8, u_pass)
    _, _, n_sets = k._hole_rows(u_pass, f_pass, h, w, level_slot, k.HOLE_GROUPS, np.empty((0, 5), np.int32), 0, history)
    k._fill_into(f_pass[0], u_pass[0], f_pass[4], history, n_sets, h, w, highest)
    got = f_pass[0][: (h + 2) * (w + 2)].reshape(h + 2, w + 2)[1:-1, 1:-1]
    fill = fill_by_levels(u8)
    want = np.where(fill <= highest, fill, 255)
    assert np.array_equal(got, want)


def test_scratch_reused_across_map_sizes_and_threads():
    # the kernels' scratch arrays are kept per thread and reused by smaller
    # maps: nothing of one map may leak into the next, nor across threads
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(11)
    thr = np.arange(0, 1, 0.01)
    shapes = [(40, 50), (7, 9), (1, 1), (45, 30), (12, 60), (40, 50)]
    maps = [smooth(rng, h, w, 2.0) if h * w > 1 else np.ones((1, 1), np.float32) for h, w in shapes]
    gts = [random_gt(rng, h, w, 2) for h, w in shapes]
    want = [(reference_sweep(m, g, thr), reference_sweep(m, g, thr, multi_contour=False)) for m, g in zip(maps, gts)]
    for (m, g), (v2, v1) in zip(zip(maps, gts), want):
        assert np.array_equal(fast_sweep(m, g, thr), v2)
        got = fast_sweeps(m, g, thr)
        assert np.array_equal(got[0], v2) and np.array_equal(got[1], v1)
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda i: fast_sweeps(maps[i % 6], gts[i % 6], thr), range(24)))
    for i, (v2, v1) in enumerate(got):
        assert np.array_equal(v2, want[i % 6][0]) and np.array_equal(v1, want[i % 6][1])


def test_compiled_best_iou_is_inclusive_iou():
    # the fast sweeps score boxes with a compiled copy of inclusive_iou's
    # arithmetic: the same bits, boxes of any shape (degenerate, disjoint,
    # inverted, fractional GT), the best per slot, -inf for an empty slot
    from infocam._sweep_kernels import best_iou

    rng = np.random.default_rng(3)
    boxes = rng.integers(-3, 30, (400, 4))
    slots = rng.integers(0, 7, 400)
    gt = np.concatenate([rng.integers(0, 30, (5, 4)), rng.random((2, 4)) * 30]).astype(np.float64)
    rows = np.concatenate([slots[:, None], boxes], axis=1).astype(np.int32)
    got = best_iou(rows, gt, 8)
    iou = inclusive_iou(boxes, gt).max(axis=1)
    assert got[:7].tolist() == [iou[slots == s].max() for s in range(7)]
    assert got[7] == -np.inf


def test_gt_boxes_become_inclusive_and_levels_truncate():
    assert gt_boxes_inclusive([[1, 2, 4, 6]]).tolist() == [[1, 2, 3, 5]]
    assert gt_boxes_inclusive(np.zeros((0, 4))).shape == (0, 4)
    thr = np.arange(0, 1, 0.001)
    assert threshold_levels(thr, 200).tolist() == [int(t * np.uint8(200)) for t in thr]
    assert threshold_levels([0.29], 100).tolist() == [28]  # 0.29 * 100 = 28.999999999999996


def test_sweep_by_hand():
    # a 3x3 block: the candidate box is one pixel too wide (x + w), so even a
    # perfect map scores IoU 9/16 against its own inclusive GT box
    m = np.zeros((6, 6), np.float32)
    m[1:4, 1:4] = 1.0
    thr = [0.0, 0.25, 0.5, 0.75]
    want = np.array([[True, True, False]] * 4)
    assert np.array_equal(reference_sweep(m, [[1, 1, 4, 4]], thr), want)
    assert np.array_equal(fast_sweep(m, [[1, 1, 4, 4]], thr), want)
    # two blocks, 255 and 127 after quantisation: the GT block disappears at
    # t = 0.5 (level 127: u8 > 127 fails); its box touches the border and is
    # clipped to W-1, H-1, so it matches the inclusive GT exactly
    m = np.zeros((6, 6), np.float32)
    m[0:2, 0:2] = 1.0
    m[3:6, 3:6] = 0.5
    want = np.array([[True] * 3, [True] * 3, [False] * 3, [False] * 3])
    for sweep in (reference_sweep, fast_sweep):
        assert np.array_equal(sweep(m, [[3, 3, 6, 6]], thr), want)
        # several GT boxes: a hit if any one is matched
        assert np.array_equal(sweep(m, [[0, 0, 1, 1], [3, 3, 6, 6]], thr)[:, 2], [True, True, False, False])
        # no GT box: never a hit
        assert not sweep(m, np.zeros((0, 4)), thr).any()


def test_first_version_takes_the_largest_contour_area_by_hand():
    # wsolevaluation's first MaxBoxAcc (multi_contour_eval=False): one box per
    # threshold, of the contour of largest cv2.contourArea (polygon area
    # through the pixel centres), not of the most pixels. A 1 x 20 line has
    # 20 pixels and contourArea 0; a 3 x 3 block has 9 pixels and area 4.
    m = np.zeros((8, 24), np.float32)
    m[1, 1:21] = 1.0
    m[4:7, 2:5] = 1.0
    assert contour_boxes(scoremap_to_uint8(m), multi_contour=False).tolist() == [[2, 4, 5, 7]]
    thr = [0.0, 0.5]
    line, block = [[1, 1, 21, 2]], [[2, 4, 5, 7]]
    for sweep in (reference_sweep, fast_sweep):
        # the line's box (1, 1, 21, 2) against its inclusive GT (1, 1, 20, 1):
        # IoU 20 / (42 + 20 - 20) = 0.476
        assert sweep(m, line, thr).tolist() == [[True, False, False]] * 2
        assert sweep(m, line, thr, multi_contour=False).tolist() == [[False, False, False]] * 2
        # the block's box (2, 4, 5, 7) against (2, 4, 4, 6): IoU 9 / 16
        assert sweep(m, block, thr, multi_contour=False).tolist() == [[True, True, False]] * 2
        assert sweep(m, block, thr, iou_thresholds=(50,), multi_contour=False).tolist() == [[True]] * 2


def test_first_version_breaks_area_ties_by_opencv_order():
    # two 2 x 2 blocks, both of contourArea 1: max() keeps the first contour
    # in findContours' order, which lists the lower block first; a 2 x 2
    # block's box is 3 x 3, IoU 4 / 9 with its own GT box
    m = np.zeros((8, 12), np.float32)
    m[1:3, 1:3] = 1.0
    m[5:7, 8:10] = 1.0
    for sweep in (reference_sweep, fast_sweep):
        assert not sweep(m, [[1, 1, 3, 3]], [0.5], multi_contour=False).any()
        assert sweep(m, [[8, 5, 10, 7]], [0.5], multi_contour=False).tolist() == [[True, False, False]]
        assert sweep(m, [[1, 1, 3, 3]], [0.5]).tolist() == [[True, False, False]]  # V2: every contour


def test_empty_mask_scores_the_origin_pixel():
    # a constant map has no contour at any threshold: the box (0, 0, 0, 0)
    # is the single pixel at the origin, which matches a GT box there
    m = np.zeros((5, 5), np.float32)
    for sweep in (reference_sweep, fast_sweep):
        for multi_contour in (True, False):
            assert sweep(m, [[0, 0, 1, 1]], [0.0, 0.5], multi_contour=multi_contour).all()
            assert not sweep(m, [[1, 1, 2, 2]], [0.0, 0.5], multi_contour=multi_contour).any()


# ----------------------------------------------------------------------------
# fast == reference
# ----------------------------------------------------------------------------


def special_maps() -> dict[str, np.ndarray]:
    maps = {}
    ring = np.zeros((9, 9))
    ring[1:8, 1:8] = 1.0
    ring[3:6, 3:6] = 0.0
    maps["ring"] = ring
    island = ring.copy()
    island[4, 4] = 0.6  # an island inside the hole
    maps["island_in_hole"] = island
    nested = np.zeros((13, 13))
    nested[1:12, 1:12] = 0.9
    nested[2:11, 2:11] = 0.1
    nested[4:9, 4:9] = 0.7
    nested[6, 6] = 0.2  # rings within rings, holes at several levels
    maps["nested"] = nested
    border_ring = np.ones((7, 8))
    border_ring[2:5, 2:6] = 0.3  # a hole in a component that fills the border
    maps["border_ring"] = border_ring
    open_ring = ring.copy()
    open_ring[1:8, 1] = 0.0
    open_ring[4, 0:4] = 0.0  # the "hole" leaks to the border: no hole contour
    maps["leaking_ring"] = open_ring
    diag = np.ones((6, 6))
    diag[2, 2] = diag[3, 3] = 0.0  # two holes touching diagonally: 4-connectivity keeps them apart
    maps["diagonal_holes"] = diag
    pixels = np.zeros((7, 9))
    pixels[0, 0] = pixels[6, 8] = pixels[3, 4] = 1.0
    pixels[1, 1] = 0.5  # diagonal neighbour of (0, 0): one 8-connected component
    maps["single_pixels"] = pixels
    maps["constant"] = np.zeros((5, 6))
    full = np.ones((6, 7))
    full[2, 3] = 0.5  # one component covering the whole image (and, below 0.5, a hole in it)
    maps["full_image"] = full
    maps["one_pixel_image"] = np.ones((1, 1))
    maps["row"] = np.array([[0.0, 1.0, 0.2, 0.9, 0.0, 0.5]])
    maps["column"] = np.array([[0.3], [1.0], [0.0], [0.7]])
    plateau = np.zeros((10, 10))
    plateau[2:8, 1:9] = 0.5
    plateau[4:6, 3:5] = 1.0
    plateau[4:6, 6:8] = 1.0  # two equal peaks on one plateau
    maps["plateaus"] = plateau
    steps = np.repeat(np.linspace(0, 1, 8)[None], 5, 0)  # terraces
    maps["terraces"] = np.maximum(steps, steps[:, ::-1])
    return {k: v.astype(np.float32) for k, v in maps.items()}


@pytest.mark.parametrize("name", list(special_maps()))
def test_fast_candidates_equal_contours_on_special_maps(name):
    m = special_maps()[name]
    assert_same_candidates(m)
    assert_same_candidates(scoremap_to_uint8(m))  # the uint8 path (no float tie-break)


@pytest.mark.parametrize("name", list(special_maps()))
def test_fast_sweep_equals_reference_on_special_maps(name):
    m = special_maps()[name]
    h, w = m.shape
    rng = np.random.default_rng(len(name))
    thr = np.arange(0, 1, 0.01)
    for n_gt in (1, 3):
        assert_sweeps_agree(m, random_gt(rng, h, w, n_gt), thr)
    assert_sweeps_agree(m, np.array([[0, 0, w, h]]), thr)  # the full image


@pytest.mark.parametrize("seed", range(6))
def test_fast_equals_reference_on_random_maps(seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(8, 40, 2))
    maps = [
        smooth(rng, h, w, 2.0),
        rng.random((h, w)).astype(np.float32),  # raw noise
        (rng.integers(0, 4, (h, w)) / 3).astype(np.float32),  # ties everywhere
        (rng.random((h, w)) * 255).astype(np.uint8),
    ]
    thr = np.arange(0, 1, 0.01)
    for m in maps:
        assert_same_candidates(m)
        assert_sweeps_agree(m, random_gt(rng, h, w, 1 + seed % 3), thr)


def test_fast_equals_reference_on_224_maps():
    rng = np.random.default_rng(7)
    torch.manual_seed(0)
    cam = normalize_maps(resize_maps(torch.randn(1, 14, 14), (224, 224)))[0].numpy()
    thr = np.arange(0, 1, 0.01)
    for m in (smooth(rng, 224, 224, 6.0), cam):
        gt = np.array([[40, 50, 150, 190], [100, 10, 220, 60]])
        assert_sweeps_agree(m, gt, thr)
        ref = reference_sweep(m, gt, thr)
        assert np.array_equal(fast_sweep(m.astype(np.float64), gt, thr), ref)  # float32-valued
        assert np.array_equal(fast_sweep(torch.from_numpy(m), torch.from_numpy(gt), thr), ref)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("step", [0.01, 0.001])
def test_fast_equals_reference_on_cam_maps(dtype, step):
    # maps as wsolevaluation writes them (14 x 14 and 7 x 7 CAMs), float64 as
    # it saves them and float32; wsolevaluation's two steps; both versions
    thr = np.arange(0, 1, step)
    for seed, size in ((0, 14), (1, 7)):
        m = cam_map(seed, dtype, size)
        assert_same_candidates(m)
        gt = random_gt(np.random.default_rng(seed), 224, 224, 2)
        assert_sweeps_agree(m, gt, thr)


def test_fast_equals_reference_on_a_photo_sized_map():
    # score --size original: maps at the image's own size, not square
    x = cv2.resize(np.random.default_rng(5).standard_normal((14, 14)), (500, 375), interpolation=cv2.INTER_CUBIC)
    m = (x - x.min()) / (x.max() - x.min())
    assert_sweeps_agree(m, np.array([[120, 60, 420, 330], [10, 200, 90, 370]]), np.arange(0, 1, 0.01))


def test_fast_sweeps_refuse_maps_wider_than_their_packing():
    wide = np.zeros((1, 65536))
    wide[0, 3] = 1.0
    with pytest.raises(ValueError, match="65,535 pixels per side"):
        fast_sweep(wide, [[0, 0, 5, 1]], [0.5])
    assert reference_sweep(wide, [[0, 0, 5, 1]], [0.5]).shape == (1, 3)


def test_fast_equals_reference_at_the_default_step_0001():
    # wsolevaluation's default: 1,000 thresholds, many mapping to one uint8 level
    rng = np.random.default_rng(8)
    m = smooth(rng, 224, 224, 6.0)
    thr = np.arange(0, 1, 0.001)
    for gt in (np.array([[30, 20, 200, 180]]), np.array([[0, 0, 224, 224]]), np.array([[100, 100, 120, 140]])):
        assert_sweeps_agree(m, gt, thr)


def test_quantisation_boundary_in_the_maps_own_dtype():
    # 17 * 195 / 255 = 13 exactly, but the float64 product (17/255) * (195/255)
    # times 255 is 12.999999999999998: wsolevaluation's uint8 is 12
    x = np.float64(17 / 255) * np.float64(195 / 255)
    assert scoremap_to_uint8(np.array([[x]])).tolist() == [[12]]
    assert scoremap_to_uint8(np.array([[17 / 255]])).tolist() == [[17]]
    # a map of such products: in float64 and float32 the uint8 maps differ
    # in places, and the fast sweep follows each dtype's own
    k = np.arange(0, 256, 3) / 255
    m64 = np.outer(k, k)
    m32 = m64.astype(np.float32)
    assert (scoremap_to_uint8(m64) != scoremap_to_uint8(m32)).any()
    thr = np.arange(0, 1, 0.001)
    for m in (m64, m32):
        assert_same_candidates(m)
        h, w = m.shape
        assert_sweeps_agree(m, np.array([[10, 10, w, h]]), thr)
        assert_sweeps_agree(m, np.array([[0, 0, w // 2, h // 3]]), thr)


def test_thresholds_are_returned_in_the_given_order_with_repeats():
    m = special_maps()["nested"]
    thr = [0.5, 0.0, 0.5, 0.95, 0.3, 1.0]
    assert_sweeps_agree(m, [[4, 4, 9, 9]], thr)
    lev, boxes = candidate_boxes(m, [120, 3, 120])
    assert sorted(map(tuple, boxes[lev == 0].tolist())) == sorted(map(tuple, boxes[lev == 2].tolist()))


@settings(max_examples=150, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.integers(0, 5)))
def test_property_small_maps(values):
    u8 = (values * 51).astype(np.uint8)  # 0, 51, ..., 255
    levels = np.array([0, 25, 51, 60, 102, 153, 204, 254])
    assert fast_multisets(u8, levels) == contour_multisets(u8, levels)
    f = (values / 5).astype(np.float32)
    h, w = f.shape
    gt = np.array([[0, 0, max(1, w // 2), max(1, h // 2)], [w // 3, h // 3, w, h]])
    thr = np.arange(0, 1, 0.05)
    assert_sweeps_agree(f, gt, thr)
    assert_same_candidates(u8, levels)


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 16), st.integers(1, 16)), elements=st.integers(0, 255)),
    st.integers(0, 2**32 - 1),
)
def test_property_any_uint8_map_every_level(u8, seed):
    # any values: nested holes and islands, ties of area between contours
    assert_same_candidates(u8)
    h, w = u8.shape
    rng = np.random.default_rng(seed)
    assert_sweeps_agree(u8, random_gt(rng, h, w, 2), np.arange(0, 1, 0.01))


# ----------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("sweep", [reference_sweep, fast_sweep, fast_sweeps])
def test_bad_arguments_name_the_argument(sweep):
    ok = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="scoremap"):
        sweep(np.full((4, 4), 1.5, np.float32), [[0, 0, 1, 1]], [0.5])
    with pytest.raises(ValueError, match="scoremap"):
        sweep(np.zeros((2, 4, 4), np.float32), [[0, 0, 1, 1]], [0.5])
    with pytest.raises(ValueError, match="scoremap"):
        sweep(np.full((4, 4), np.nan, np.float32), [[0, 0, 1, 1]], [0.5])
    with pytest.raises(ValueError, match="gt_boxes"):
        sweep(ok, [[0, 0, 1]], [0.5])
    with pytest.raises(ValueError, match="thresholds"):
        sweep(ok, [[0, 0, 1, 1]], [1.5])
    with pytest.raises(ValueError, match="iou_thresholds"):
        sweep(ok, [[0, 0, 1, 1]], [0.5], iou_thresholds=(50, 150))
