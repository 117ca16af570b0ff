"""Box IoU in both conventions: half-open (infocam's boxes) and inclusive (wsolevaluation's)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infocam.iou import box_hits, box_iou, box_iou_pairwise, inclusive_iou


def t(a, dtype=torch.float32) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=dtype)


def pixels(x0: int, y0: int, x1: int, y1: int, *, inclusive: bool) -> set[tuple[int, int]]:
    """The pixels a box covers, listed one by one: the oracle both IoUs are held to."""
    end = 1 if inclusive else 0
    return {(x, y) for x in range(x0, x1 + end) for y in range(y0, y1 + end)}


def pixel_iou(a, b, *, inclusive: bool) -> float:
    pa, pb = pixels(*a, inclusive=inclusive), pixels(*b, inclusive=inclusive)
    union = len(pa | pb)
    return len(pa & pb) / union if union else 0.0


# ----------------------------------------------------------------------------
# Half-open
# ----------------------------------------------------------------------------


def test_box_iou_by_hand():
    a = t([[0, 0, 2, 2], [0, 0, 4, 4]])
    b = t([[1, 1, 3, 3], [0, 0, 2, 2], [2, 2, 4, 4]])
    # [0,2)^2 vs [1,3)^2: inter 1, union 7; [0,4)^2 vs [2,4)^2: 4 / 16
    want = [[1 / 7, 1.0, 0.0], [4 / 16, 4 / 16, 4 / 16]]
    assert torch.allclose(box_iou(a, b), t(want), atol=0, rtol=1e-6)


def test_disjoint_boxes_score_zero_not_more_than_one():
    # without the clamp, (-1) * (-1) would count as an overlap of 1
    a, b = t([[0, 0, 2, 2]]), t([[3, 3, 4, 4]])
    assert box_iou(a, b).item() == 0.0
    assert box_iou_pairwise(a, b).item() == 0.0
    # touching edges do not overlap
    assert box_iou(t([[0, 0, 2, 2]]), t([[2, 0, 4, 2]])).item() == 0.0


def test_zero_area_boxes_score_zero_and_never_nan():
    z = t([[0, 0, 0, 0], [3, 3, 3, 5], [5, 5, 4, 4]])
    out = box_iou(z, torch.cat([z, t([[0, 0, 10, 10]])]))
    assert not torch.isnan(out).any()
    assert (out == 0).all()


def test_box_iou_symmetric_self_one_and_matches_an_independent_formula():
    rng = np.random.default_rng(2)
    xy = rng.integers(0, 50, (40, 2))
    wh = rng.integers(1, 30, (40, 2))
    boxes = t(np.concatenate([xy, xy + wh], 1), torch.float64)
    iou = box_iou(boxes, boxes)
    assert iou.dtype == torch.float64
    assert torch.equal(iou, iou.T)
    assert torch.equal(torch.diagonal(iou), torch.ones(40, dtype=torch.float64))
    # independent: count pixels on a grid
    for i in range(0, 40, 7):
        for j in range(0, 40, 5):
            ga = np.zeros((90, 90), bool)
            gb = np.zeros((90, 90), bool)
            x0, y0, x1, y1 = boxes[i].int().tolist()
            ga[y0:y1, x0:x1] = True
            x0, y0, x1, y1 = boxes[j].int().tolist()
            gb[y0:y1, x0:x1] = True
            want = (ga & gb).sum() / (ga | gb).sum()
            assert iou[i, j].item() == pytest.approx(want, abs=1e-12)
    assert torch.equal(box_iou_pairwise(boxes, boxes.flip(0)), torch.diagonal(iou.flip(1)))


def test_box_iou_float_boxes_and_dtypes():
    a = t([[0.5, 0.5, 2.5, 2.5]], torch.float16)
    b = t([[1.5, 0.5, 3.5, 2.5]])
    assert box_iou(a, b).dtype == torch.float32
    assert box_iou(a, b).item() == pytest.approx(2 / 6)
    assert box_iou(t([[0, 0, 2, 2]], torch.int64), t([[0, 0, 1, 2]], torch.int64)).item() == 0.5
    assert box_iou(t([[0, 0, 1, 1]]), torch.zeros(0, 4)).shape == (1, 0)


def test_box_iou_bad_shapes_name_the_argument():
    with pytest.raises(ValueError, match="a must"):
        box_iou(torch.zeros(4), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="b must"):
        box_iou(torch.zeros(1, 4), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="same number"):
        box_iou_pairwise(torch.zeros(2, 4), torch.zeros(1, 4))


def test_box_hits_by_hand():
    boxes = t([[0, 0, 4, 4], [0, 0, 4, 4], [0, 0, 4, 4], [0, 0, 0, 0]])
    gts = [
        t([[0, 0, 4, 2]]),  # IoU 8/16 = 0.5 exactly: a hit
        t([[10, 10, 12, 12], [0, 0, 4, 3]]),  # the second GT box: 12/16
        torch.zeros(0, 4),  # no GT box: never a hit
        t([[0, 0, 0, 0]]),  # the empty box scores 0 even against itself
    ]
    assert box_hits(boxes, gts, 0.5).tolist() == [True, True, False, False]
    assert box_hits(boxes, gts, 0.75).tolist() == [False, True, False, False]
    assert box_hits(boxes, gts, 0.7500001).tolist() == [False, False, False, False]
    with pytest.raises(ValueError, match="one"):
        box_hits(boxes, gts[:2], 0.5)
    with pytest.raises(ValueError, match=r"gts\[1\] must be a \(N, 4\) tensor"):
        box_hits(boxes[:2], [gts[0], t([0, 0, 4, 4])], 0.5)


# ----------------------------------------------------------------------------
# Inclusive (wsolevaluation's calculate_multiple_iou)
# ----------------------------------------------------------------------------


def test_inclusive_iou_by_hand():
    # (0, 0, 1, 1) covers 2 x 2 pixels; (1, 1, 2, 2) too; they share pixel (1, 1): 1 / 7
    got = inclusive_iou(np.array([[0, 0, 1, 1], [0, 0, 3, 3]]), np.array([[1, 1, 2, 2], [0, 0, 1, 1], [4, 4, 5, 5]]))
    assert got.dtype == np.float64 and got.shape == (2, 3)
    assert got.tolist() == [[1 / 7, 1.0, 0.0], [4 / 16, 4 / 16, 0.0]]
    # a one-pixel box is a box here (area 1), unlike a zero-area half-open box
    assert inclusive_iou(np.array([[2, 2, 2, 2]]), np.array([[2, 2, 2, 2]])).tolist() == [[1.0]]
    # touching edges share a column of pixels: (0..1) and (1..2) overlap in column 1
    assert inclusive_iou(np.array([[0, 0, 1, 0]]), np.array([[1, 0, 2, 0]])).tolist() == [[1 / 3]]
    # disjoint boxes score 0 (both overlaps clamped), an inverted pair too, and no NaN
    assert inclusive_iou(np.array([[0, 0, 1, 1]]), np.array([[5, 5, 6, 6]])).tolist() == [[0.0]]
    assert inclusive_iou(np.array([[3, 3, 1, 1]]), np.array([[3, 3, 1, 1]])).tolist() == [[0.0]]


def test_inclusive_iou_equals_counting_pixels():
    rng = np.random.default_rng(4)
    xy = rng.integers(0, 30, (60, 2))
    wh = rng.integers(0, 12, (60, 2))  # 0: a one-pixel-wide box
    boxes = np.concatenate([xy, xy + wh], 1)
    got = inclusive_iou(boxes, boxes[::-1])
    for i in range(0, 60, 3):
        for j in range(0, 60, 4):
            want = pixel_iou(boxes[i].tolist(), boxes[::-1][j].tolist(), inclusive=True)
            assert got[i, j] == pytest.approx(want, abs=1e-15), (i, j)


def test_both_conventions_agree_on_the_same_pixels():
    # a half-open box (x0, y0, x1, y1) is the inclusive box (x0, y0, x1 - 1, y1 - 1)
    rng = np.random.default_rng(5)
    xy = rng.integers(0, 40, (30, 2))
    wh = rng.integers(1, 15, (30, 2))
    half_open = np.concatenate([xy, xy + wh], 1)
    inclusive = half_open - np.array([0, 0, 1, 1])
    want = box_iou(t(half_open, torch.float64), t(half_open[::-1].copy(), torch.float64)).numpy()
    assert np.allclose(inclusive_iou(inclusive, inclusive[::-1]), want, rtol=0, atol=1e-15)
