"""Boxes from maps, every-component boxes, and IoU (half-open pixel boxes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from infocam import _boxes_fast
from infocam.boxes import (
    all_component_boxes,
    boxes_at_thresholds,
    boxes_from_maps,
    foreground_masks,
    reference_boxes,
)
from infocam.maps import normalize_maps, resize_maps

EIGHT = np.ones((3, 3), dtype=int)


@pytest.fixture(autouse=True, params=["tiled", "per_map"])
def box_path(request, monkeypatch):
    """Every test here runs on both CPU speed paths of the single-box rule:
    small maps labelled many at a time in one tall image, and larger maps
    one at a time (with the single-contour shortcut)."""
    monkeypatch.setattr(_boxes_fast, "TILED_MAX_PIXELS", 1 << 30 if request.param == "tiled" else 0)
    return request.param


def t(a, dtype=torch.float32) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=dtype)


def scipy_largest_box(norm: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """Independent implementation: scipy labels components in raster order of first pixel."""
    fg = (norm >= threshold) & (norm > 0)
    lab, n = ndimage.label(fg, structure=EIGHT)
    if n == 0:
        return (0, 0, 0, 0)
    counts = np.bincount(lab.ravel())[1:]
    best = int(np.argmax(counts)) + 1  # first max = first in raster order
    rows, cols = np.nonzero(lab == best)
    return (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)


# ----------------------------------------------------------------------------
# boxes_from_maps
# ----------------------------------------------------------------------------


def test_box_of_the_largest_component_by_hand():
    m = np.zeros((6, 8))
    m[1:3, 1:3] = 1.0  # 4 pixels, columns 1-2, rows 1-2
    m[3:6, 4:7] = 0.5  # 9 pixels, columns 4-6, rows 3-5
    assert boxes_from_maps(t(m)[None]).tolist() == [[4.0, 3.0, 7.0, 6.0]]
    # at threshold 0.6 only the first block remains
    assert boxes_from_maps(t(m)[None], threshold=0.6).tolist() == [[1.0, 1.0, 3.0, 3.0]]


def test_threshold_is_inclusive_and_zero_is_never_foreground():
    m = t([[0.0, 0.2, 0.1, 1.0]])[None]  # normalised values are exactly these
    assert boxes_from_maps(m, threshold=0.2).tolist() == [[1.0, 0.0, 2.0, 1.0]]  # 0.2 kept, ties: left
    assert boxes_from_maps(t([[0.0, 0.2, 0.2, 1.0]])[None], threshold=0.2).tolist() == [[1.0, 0.0, 4.0, 1.0]]
    # threshold 0: everything > 0 is foreground, but not the zero pixel
    assert boxes_from_maps(t([[1.0, 0.0, 0.5]])[None], threshold=0.0).tolist() == [[0.0, 0.0, 1.0, 1.0]]


def test_eight_connectivity_joins_diagonal_pixels():
    m = np.zeros((5, 5))
    m[0, 0] = m[1, 1] = m[2, 2] = 1.0
    m[4, 0] = m[4, 1] = 1.0
    assert boxes_from_maps(t(m)[None]).tolist() == [[0.0, 0.0, 3.0, 3.0]]


def test_no_foreground_gives_the_empty_box():
    maps = torch.stack([torch.full((4, 5), 3.0), torch.full((4, 5), float("nan")), torch.zeros(4, 5)])
    assert boxes_from_maps(maps).tolist() == [[0.0] * 4] * 3
    # a map holding an inf normalises to all zeros: not even the inf pixel is foreground
    inf = torch.arange(20.0).reshape(1, 4, 5).repeat(3, 1, 1)
    inf[0, 1, 1], inf[1, 2, 2], inf[2, 0, 0], inf[2, 3, 3] = float("inf"), -float("inf"), -float("inf"), float("inf")
    for th in (0.0, 0.2, 1.0):
        assert boxes_from_maps(inf, threshold=th).tolist() == [[0.0] * 4] * 3


def test_full_image_component():
    m = np.arange(12.0).reshape(3, 4) + 10.0
    m[:, 0] = 0.0  # the minimum column normalises to 0: never foreground
    assert boxes_from_maps(t(m)[None], threshold=0.0).tolist() == [[1.0, 0.0, 4.0, 3.0]]
    m2 = t(np.ones((3, 4)))
    m2[0, 0] = 0.5
    assert boxes_from_maps(m2[None], threshold=0.0).tolist() == [[0.0, 0.0, 4.0, 3.0]]


def test_tie_goes_to_the_first_pixel_in_raster_order():
    # two 2-pixel components: cv2 labels the one starting at (row 1, col 0)
    # first (it scans 2x2 blocks), but raster order meets (row 0, col 5) first
    m = np.zeros((4, 8))
    m[1, 0] = m[2, 0] = 1.0
    m[0, 5] = m[0, 6] = 1.0
    assert boxes_from_maps(t(m)[None]).tolist() == [[5.0, 0.0, 7.0, 1.0]]


def test_tie_is_decided_by_the_first_pixel_not_the_leftmost_column():
    # two 9-pixel components with the same top row (0): B starts at column 1,
    # A at column 4, but A reaches further left (column 0) lower down
    m = np.zeros((8, 8))
    m[0:4, 1:3] = 1.0
    m[4, 1] = 1.0  # B: 9 pixels, first pixel (0, 1), leftmost column 1
    for r, c in [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4), (5, 3), (6, 2), (7, 1), (7, 0)]:
        m[r, c] = 1.0  # A: 9 pixels, first pixel (0, 4), leftmost column 0
    b_box = [1.0, 0.0, 3.0, 5.0]
    assert boxes_from_maps(t(m)[None], threshold=0.5).tolist() == [b_box]
    # mirrored, A comes first in raster order; in a batch each map keeps its own winner
    batch = t(np.stack([m, m[:, ::-1].copy(), np.zeros((8, 8)), m]))
    assert boxes_from_maps(batch, threshold=0.5).tolist() == [b_box, [3.0, 0.0, 8.0, 8.0], [0.0] * 4, b_box]


def test_boxes_at_thresholds_equal_one_threshold_at_a_time():
    g = torch.Generator().manual_seed(7)
    maps = resize_maps(torch.randn(40, 6, 9, generator=g), (30, 45))
    maps[0] = 2.0  # constant
    maps[1, 4, 4] = float("nan")
    maps[2] = torch.round(maps[2] * 3) / 3  # plateaus
    ts = [0.0, 0.2, 0.5, 0.9, 1.0]
    got = boxes_at_thresholds(maps, ts)
    assert got.shape == (5, 40, 4)
    for k, th in enumerate(ts):
        norm = normalize_maps(maps).numpy()
        assert got[k].tolist() == [list(map(float, scipy_largest_box(n, th))) for n in norm], th
        assert torch.equal(got[k], boxes_from_maps(maps, threshold=th))
    assert boxes_at_thresholds(maps, []).shape == (0, 40, 4)
    with pytest.raises(ValueError, match="thresholds"):
        boxes_at_thresholds(maps, 0.2)
    with pytest.raises(ValueError, match="threshold"):
        boxes_at_thresholds(maps, [0.2, 1.5])


def test_tall_images_are_split_into_chunks(monkeypatch):
    g = torch.Generator().manual_seed(8)
    maps = resize_maps(torch.randn(23, 4, 4, generator=g), (16, 16))
    want = boxes_from_maps(maps, threshold=0.4)
    monkeypatch.setattr(_boxes_fast, "TILE_CHUNK_PIXELS", 3 * 17 * 16)  # three maps per tall image
    assert torch.equal(boxes_from_maps(maps, threshold=0.4), want)
    norm = normalize_maps(maps).numpy()
    assert want.tolist() == [list(map(float, scipy_largest_box(n, 0.4))) for n in norm]


def test_pixels_and_contour_area_disagree_on_a_thin_line():
    m = np.zeros((8, 12))
    m[1, 0:11] = 1.0  # a 1 x 11 line: 11 pixels, polygon area 0
    m[4:7, 4:7] = 1.0  # a 3 x 3 blob: 9 pixels, polygon area 4
    maps = t(m)[None]
    assert boxes_from_maps(maps).tolist() == [[0.0, 1.0, 11.0, 2.0]]
    assert boxes_from_maps(maps, largest="contour_area").tolist() == [[4.0, 4.0, 7.0, 7.0]]
    assert reference_boxes(maps, largest="contour_area").tolist() == [[4.0, 4.0, 7.0, 7.0]]


def test_contour_area_agrees_on_ordinary_blobs():
    m = np.zeros((10, 10))
    m[1:4, 1:4] = 1.0
    m[5:10, 2:9] = 0.8
    maps = t(m)[None]
    assert boxes_from_maps(maps).tolist() == boxes_from_maps(maps, largest="contour_area").tolist()
    assert boxes_from_maps(maps).tolist() == [[2.0, 5.0, 9.0, 10.0]]


def test_matches_an_independent_scipy_implementation():
    rng = np.random.default_rng(0)
    raw = torch.from_numpy(rng.standard_normal((12, 9, 11)).astype(np.float32))
    for thr in (0.0, 0.2, 0.5, 0.8):
        got = boxes_from_maps(raw, threshold=thr)
        norm = normalize_maps(raw).numpy()
        want = [scipy_largest_box(n, thr) for n in norm]
        assert got.tolist() == [list(map(float, w)) for w in want]


def test_size_resizes_bicubic_before_normalising():
    rng = np.random.default_rng(1)
    raw = torch.from_numpy(rng.standard_normal((5, 7, 7)).astype(np.float32))
    got = boxes_from_maps(raw, size=(28, 21))
    norm = normalize_maps(resize_maps(raw, (28, 21))).numpy()
    assert got.tolist() == [list(map(float, scipy_largest_box(n, 0.2))) for n in norm]
    assert (got[:, 2] <= 21).all() and (got[:, 3] <= 28).all()
    # a single hot cell (row 1, column 2) of a 4x4 map covers columns 8..11
    # and rows 4..7 at 16x16; its bicubic half-maximum region is that footprint
    m = torch.zeros(1, 4, 4)
    m[0, 1, 2] = 1.0
    assert boxes_from_maps(m, size=(16, 16), threshold=0.5).tolist() == [[8.0, 4.0, 12.0, 8.0]]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_any_float_dtype(dtype):
    m = np.zeros((6, 8))
    m[1:3, 1:3] = 1.0
    m[3:6, 4:7] = 0.5
    out = boxes_from_maps(t(m, dtype)[None])
    assert out.dtype == torch.float32 and out.device == torch.device("cpu")
    assert out.tolist() == [[4.0, 3.0, 7.0, 6.0]]


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="maps"):
        boxes_from_maps(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="threshold"):
        boxes_from_maps(torch.zeros(1, 4, 4), threshold=1.5)
    with pytest.raises(ValueError, match="threshold"):
        boxes_from_maps(torch.zeros(1, 4, 4), threshold=-0.1)
    for size in [(0, 4), (4,), (4.0, 4), (True, 4), 4]:
        with pytest.raises(ValueError, match="size"):
            boxes_from_maps(torch.zeros(1, 4, 4), size=size)
    with pytest.raises(ValueError, match="largest"):
        boxes_from_maps(torch.zeros(1, 4, 4), largest="area")


# ----------------------------------------------------------------------------
# all_component_boxes
# ----------------------------------------------------------------------------


def test_all_component_boxes_by_hand():
    m = np.zeros((6, 8))
    m[0, 0] = 1.0  # single pixel
    m[2:4, 1:3] = 1.0
    m[4, 3] = 1.0  # diagonal to (3, 2): same component
    m[0:2, 5:8] = 0.5  # touches the border
    (boxes,) = all_component_boxes(t(m)[None])
    assert sorted(map(tuple, boxes.tolist())) == [(0, 0, 1, 1), (1, 2, 4, 5), (5, 0, 8, 2)]
    (masks_boxes,) = all_component_boxes(torch.from_numpy(m > 0)[None])
    assert sorted(map(tuple, masks_boxes.tolist())) == [(0, 0, 1, 1), (1, 2, 4, 5), (5, 0, 8, 2)]
    # a higher threshold drops the 0.5 block
    (high,) = all_component_boxes(t(m)[None], threshold=0.6)
    assert sorted(map(tuple, high.tolist())) == [(0, 0, 1, 1), (1, 2, 4, 5)]


def test_all_component_boxes_empty():
    out = all_component_boxes(torch.zeros(2, 3, 3))
    assert [b.shape for b in out] == [(0, 4), (0, 4)]


@pytest.mark.parametrize("largest", ["pixels", "contour_area"])
def test_speed_paths_equal_the_reference(largest):
    # boxes_from_maps thresholds by one comparison, labels small maps many at
    # a time and skips labelling single components: each path (this test runs
    # on both, see box_path) must give the boxes of the plain reference rule
    g = torch.Generator().manual_seed(3)
    maps = torch.nn.functional.interpolate(torch.rand(64, 1, 7, 7, generator=g), size=(40, 40), mode="bicubic")[:, 0]
    maps[0] = 1.0  # constant
    maps[1, 3, 3] = float("nan")
    maps[2] = torch.round(maps[2] * 4) / 4  # plateaus and ties at the threshold
    maps[3, 0, 0], maps[3, 5, 5] = -3e38, 3e38  # span overflows float32
    maps[4] = 0.0
    maps[4, 2:30:3, 5] = 1.0  # many one-pixel components, all tied
    maps[5, 1, 0:30] = 1.0  # a thin line next to a blob: the two rules disagree
    maps[5, 10:14, 10:14] = 1.0
    ts = (0.0, 0.2, 0.25, 0.5, 1.0)
    got = boxes_at_thresholds(maps, ts, largest=largest)
    for k, t in enumerate(ts):
        assert torch.equal(got[k], reference_boxes(maps, threshold=t, largest=largest)), t
        assert torch.equal(boxes_from_maps(maps, threshold=t, largest=largest), got[k]), t


def _cutoff_cases() -> list[np.ndarray]:
    """Maps where the one-comparison cutoff is hard to get right."""
    rng = np.random.default_rng(11)
    cases = [
        rng.standard_normal((16, 16)),  # the common case
        rng.standard_normal((16, 16)) * 1e-3 + 1e6,  # large offset: few float32 values per unit
        rng.standard_normal((16, 16)) * 1e-40,  # subnormal values
        np.linspace(-1, 1, 256).reshape(16, 16),  # the 0.5 cut lands on 0: the walk gives up, bisection
        np.linspace(-1e-30, 1.0, 256).reshape(16, 16),  # the 0 cut far below the estimate's ulp
        np.round(rng.random((16, 16)) * 5) / 5,  # plateaus exactly on the thresholds
        np.where(rng.random((16, 16)) < 0.5, -3e38, 3e38),  # span overflows: the halved formula
        np.concatenate([np.full(255, -2.0), [3.0e38]]).reshape(16, 16),
        np.concatenate([np.nextafter(np.float32(1), np.float32(2), dtype=np.float32) * np.ones(128), np.ones(128)]).reshape(16, 16),
    ]
    return [c.astype(np.float32) for c in cases]


@pytest.mark.parametrize("case", range(9))
def test_foreground_by_cutoff_equals_normalize_then_threshold(case):
    # boxes_from_maps thresholds each map with ONE comparison against the
    # smallest foreground value; the mask must equal normalise-then-compare
    # (the reference steps 2-3) at every threshold, bit for bit.
    m = _cutoff_cases()[case]
    values = np.unique(normalize_maps(torch.from_numpy(m)[None]).numpy())
    edges = np.concatenate([values, np.nextafter(values, np.float32(2)), np.nextafter(values, np.float32(-1))])
    thresholds = [0.0, 1e-30, 1e-8, 0.2, 0.25, 0.5, 0.999, 1.0]
    thresholds += [float(v) for v in edges if 0.0 <= v <= 1.0]  # every normalised value and its neighbours
    for th in thresholds:
        want = foreground_masks(normalize_maps(torch.from_numpy(m)[None]), th)[0]
        cut, ok = _boxes_fast.cutoffs(np.array([m.min()]), np.array([m.max()]), th)
        if ok[0]:
            assert np.array_equal((m >= cut[0]).view(np.uint8), want), (case, th)
        else:  # no cutoff: a constant map or a span that overflows
            assert m.max() == m.min() or max(-m.min(), m.max()) > 1.7e38, (case, th)


@pytest.mark.parametrize("case", range(9))
def test_cutoffs_are_the_smallest_foreground_value(case):
    # cutoffs come for a whole batch at once: from the float64 estimate and
    # its float32 neighbours, and by bisection where the cut is further than
    # one float32 step from the estimate; always the smallest float32 value
    # whose normalised value reaches the threshold
    m = _cutoff_cases()[case]
    rng = np.random.default_rng(case)
    lo = np.concatenate([[m.min()], rng.standard_normal(20) * 50, [-1e6, 3.0, -40.0]]).astype(np.float32)
    hi = np.concatenate([[m.max()], lo[1:21] + np.abs(rng.standard_normal(20)), [1.0, 3.5, 0.25]]).astype(np.float32)
    bisected = 0
    for th in (0.0, 1e-300, 1e-30, 0.1, 0.2, 0.25, 0.5, 0.7, 0.999, 1.0):
        t = np.float32(th)
        cut, ok = _boxes_fast.cutoffs(lo, hi, th)
        for i in range(len(lo)):
            eligible = lo[i] < hi[i] and lo[i] >= -1.7e38 and hi[i] <= 1.7e38
            assert bool(ok[i]) == eligible, (case, th, i)
            if ok[i]:
                estimate = np.float32(float(lo[i]) + th * (float(hi[i]) - float(lo[i])))
                bisected += cut[i] not in (estimate, np.nextafter(estimate, np.float32(np.inf)))
                c = cut[i]
                prev = np.nextafter(c, np.float32(-np.inf))
                q, q_prev = (c - lo[i]) / (hi[i] - lo[i]), (prev - lo[i]) / (hi[i] - lo[i])
                assert q >= t and q > 0, (case, th, i)
                assert not (q_prev >= t and q_prev > 0), (case, th, i)
    assert bisected > 0  # the far cuts occur: a min far from 0 next to the span


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_boxes_on_the_gpu_equal_the_cpu_path():
    # on an accelerator the masks are made there and only they cross to the CPU
    g = torch.Generator().manual_seed(5)
    maps = resize_maps(torch.randn(32, 14, 14, generator=g), (224, 224))
    for th in (0.0, 0.2, 0.5):
        got = boxes_from_maps(maps.cuda(), threshold=th)
        assert got.device.type == "cuda"
        assert torch.equal(got.cpu(), boxes_from_maps(maps, threshold=th)), th
