"""Streaming WSOL metrics, checked against counts worked out by hand."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from infocam.metrics import PxAPCounter, WSOLMeter, topk_correct


def block_map(h, w, *blocks) -> torch.Tensor:
    """A map that is 0 except ``value`` on rows y0:y1, columns x0:x1 for each (x0, y0, x1, y1, value)."""
    m = torch.zeros(h, w)
    for x0, y0, x1, y1, v in blocks:
        m[y0:y1, x0:x1] = v
    return m


def batch_of_four():
    """Four 8x8 maps whose single-threshold box is a known block, and their GT boxes.

    0: box (1,1,4,4) = GT                          -> IoU 1, hit
    1: box (0,0,2,2), GT (5,5,8,8)                 -> IoU 0, miss
    2: box (4,0,8,4), GT [(0,4,2,8), (4,0,8,4)]    -> the second GT: hit
    3: box (0,0,4,4), GT (0,0,4,2)                 -> IoU 8/16 = 0.5 exactly, hit
    """
    maps = torch.stack(
        [
            block_map(8, 8, (1, 1, 4, 4, 1.0)),
            block_map(8, 8, (0, 0, 2, 2, 3.0)),
            block_map(8, 8, (4, 0, 8, 4, 2.0), (0, 6, 1, 8, 0.1)),  # the faint block is below 20 %
            block_map(8, 8, (0, 0, 4, 4, 1.0)),
        ]
    )
    gts = [
        torch.tensor([[1.0, 1, 4, 4]]),
        torch.tensor([[5.0, 5, 8, 8]]),
        torch.tensor([[0.0, 4, 2, 8], [4, 0, 8, 4]]),
        torch.tensor([[0.0, 0, 4, 2]]),
    ]
    # label ranks: image 0 top-1, image 1 top-1, image 2 4th, image 3 6th
    logits = torch.tensor(
        [
            [9.0, 1, 2, 3, 4, 5, 6],
            [1.0, 9, 2, 3, 4, 5, 6],
            [1.0, 2, 3.5, 3, 4, 5, 6],  # label 2: after 6, 5, 4 -> 4th
            [1.0, 2, 3, 4, 5, 6, 7],  # label 1: after 7, 6, 5, 4, 3 -> 6th
        ]
    )
    labels = torch.tensor([0, 1, 2, 1])
    return maps, gts, logits, labels


def test_gt_known_top1_top5_by_hand():
    maps, gts, logits, labels = batch_of_four()
    meter = WSOLMeter(max_box_acc=False)
    meter.update(maps, gts, logits, labels)
    r = meter.compute()
    assert r["count"] == 4
    assert r["gt_known_loc"] == 75.0  # images 0, 2, 3
    assert r["top1_cls"] == 50.0  # images 0, 1
    assert r["top5_cls"] == 75.0  # images 0, 1, 2
    assert r["top1_loc"] == 25.0  # image 0 (image 1 is correct but misses)
    assert r["top5_loc"] == 50.0  # images 0, 2
    assert "max_box_acc" not in r and "pxap" not in r


def test_boxes_given_by_the_caller_are_scored_as_given():
    from infocam.boxes import boxes_from_maps

    maps, gts, logits, labels = batch_of_four()
    given = WSOLMeter(max_box_acc=False)
    given.update(maps, gts, logits, labels, boxes=boxes_from_maps(maps, threshold=0.2))
    r = given.compute()
    assert (r["gt_known_loc"], r["top1_loc"], r["top5_loc"]) == (75.0, 25.0, 50.0)
    # the caller's boxes are what counts: the empty box misses everywhere
    empty = WSOLMeter(max_box_acc=False)
    empty.update(maps, gts, logits, labels, boxes=torch.zeros(4, 4))
    assert empty.compute()["gt_known_loc"] == 0.0 and empty.compute()["top1_cls"] == 50.0
    with pytest.raises(ValueError, match=r"boxes must be a \(B, 4\) = \(4, 4\)"):
        empty.update(maps, gts, boxes=torch.zeros(3, 4))


def test_iou_threshold_is_inclusive():
    maps, gts, _, _ = batch_of_four()
    strict = WSOLMeter(max_box_acc=False, iou=0.5000001)
    strict.update(maps, gts)
    assert strict.compute()["gt_known_loc"] == 50.0  # image 3 (IoU exactly 0.5) drops out


def test_topk_with_fewer_than_five_classes():
    logits = torch.tensor([[0.1, 0.9, 0.5], [0.3, 0.2, 0.1]])
    labels = torch.tensor([0, 2])
    assert topk_correct(logits, labels).tolist() == [[False, True], [False, True]]
    meter = WSOLMeter(max_box_acc=False)
    maps = torch.stack([block_map(4, 4, (0, 0, 2, 2, 1.0))] * 2)
    meter.update(maps, [torch.tensor([[0.0, 0, 2, 2]])] * 2, logits, labels)
    r = meter.compute()
    assert (r["top1_cls"], r["top5_cls"], r["top1_loc"], r["top5_loc"]) == (0.0, 100.0, 0.0, 100.0)


def sweep_batch():
    """Two 6x6 maps for the sweep at t in {0, .25, .5, .75}.

    A: a 3x3 block of 1 = its GT. wsolevaluation's box is one pixel too wide
       (x + w), IoU 9/16: a hit at 30 and 50, never at 70.
    B: a 2x2 block of 1 and a 3x3 block of 0.5 (u8 127) = GT, in the corner
       (so its box is clipped back to the GT): IoU 1 while the block shows
       (t = 0, .25: levels 0, 63), no hit at t = .5, .75 (levels 127, 191).
    Hits per t, d=30: [2, 2, 1, 1], d=50: the same, d=70: [1, 1, 0, 0].
    """
    maps = torch.stack([block_map(6, 6, (1, 1, 4, 4, 1.0)), block_map(6, 6, (0, 0, 2, 2, 1.0), (3, 3, 6, 6, 0.5))])
    return maps, [torch.tensor([[1.0, 1, 4, 4]]), torch.tensor([[3.0, 3, 6, 6]])]


@pytest.mark.parametrize("sweep", ["fast", "reference"])
def test_max_box_acc_v2_by_hand(sweep):
    maps, gts = sweep_batch()
    meter = WSOLMeter(cam_curve_step=0.25, sweep=sweep)
    meter.update(maps, gts)
    r = meter.compute()
    assert meter.sweep_hits.tolist() == [[2, 2, 1], [2, 2, 1], [1, 1, 0], [1, 1, 0]]
    assert r["max_box_acc"] == {30: 100.0, 50: 100.0, 70: 50.0}
    assert r["best_threshold"] == {30: 0.0, 50: 0.0, 70: 0.0}
    assert r["max_box_acc_v2"] == pytest.approx(250 / 3)
    assert r["gt_known_loc"] == 100.0  # B's largest component by pixels is the GT block


def test_best_threshold_is_the_first_maximum():
    # a block of 1 (= GT) inside a block of 0.5 (u8 127): at t = 0, .25 the
    # box is the big block (IoU 9/100), at t = .5, .75 the small one (9/16)
    m = block_map(10, 10, (0, 0, 9, 9, 0.5), (2, 2, 5, 5, 1.0))
    meter = WSOLMeter(cam_curve_step=0.25, iou_thresholds=(50, 70))
    meter.update(m[None], [torch.tensor([[2.0, 2, 5, 5]])])
    assert meter.sweep_hits.tolist() == [[0, 0], [0, 0], [1, 0], [1, 0]]
    r = meter.compute()
    assert r["max_box_acc"] == {50: 100.0, 70: 0.0}
    assert r["best_threshold"] == {50: 0.5, 70: 0.0}
    assert r["max_box_acc_v2"] == 50.0


def test_pxap_by_hand():
    # positives score 1.0 and 0.5, negatives 0.5 and 0.0; step 0.5, bins
    # [0, .5), [.5, 1), [1, 2), [2, 3]: tp = [0, 1, 2, 2], fp = [0, 0, 1, 2]
    # from the top bin down; precision[1:] = [1, 2/3, 1/2],
    # diff(recall) = [.5, .5, 0] -> (.5 + 1/3) * 100
    px = PxAPCounter(0.5)
    px.update(np.array([[[1.0, 0.5], [0.5, 0.0]]]), np.array([[[1, 1], [0, 0]]]))
    assert px.positive.tolist() == [0, 1, 1, 0] and px.negative.tolist() == [1, 1, 0, 0]
    assert px.compute() == pytest.approx(100 * 5 / 6)
    # a positive in the lowest bin: the last step counts, at precision 3/4
    px = PxAPCounter(0.5)
    px.update(np.array([[[1.0, 0.2], [0.5, 0.0]]]), np.array([[[1, 1], [0, 255]]]))
    # pos bins [0, 0, 1, 0] + [1, 0, 0, 0]; neg: 0.5 -> bin 1; 0.0 ignored
    # tp = [0, 1, 1, 2], fp = [0, 0, 1, 1]; precision[1:] = [1, 1/2, 2/3]
    # diff(recall) = [.5, 0, .5] -> (.5 + 1/3) * 100
    assert px.compute() == pytest.approx(100 * 5 / 6)
    assert math.isnan(PxAPCounter(0.5).compute())


def test_pxap_perfect_map_is_100_and_ignored_pixels_do_not_count():
    m = block_map(6, 6, (1, 1, 4, 5, 1.0))
    mask = (m > 0).to(torch.uint8)
    mask[0, 0] = 255  # ignored
    meter = WSOLMeter(pxap=True, max_box_acc=False)
    meter.update(m[None], [torch.tensor([[1.0, 1, 4, 5]])], masks=mask[None])
    assert meter.compute()["pxap"] == 100.0
    assert int(meter.pxap.positive.sum() + meter.pxap.negative.sum()) == 35
    # the inverted map puts every positive in the lowest bin: recall jumps
    # from 0 to 1 only on the last step (t = 0), at the base rate 12 / 36
    meter = WSOLMeter(pxap=True, max_box_acc=False)
    meter.update((1 - m)[None], [torch.tensor([[1.0, 1, 4, 5]])], masks=(m > 0)[None])
    assert meter.compute()["pxap"] == pytest.approx(100 / 3)


def test_streaming_two_batches_equals_one():
    maps, gts, logits, labels = batch_of_four()
    masks = (maps > 0.5).to(torch.uint8)
    kw = dict(cam_curve_step=0.05, pxap=True)
    one = WSOLMeter(**kw)
    one.update(maps, gts, logits, labels, masks)
    two = WSOLMeter(**kw)
    two.update(maps[:1], gts[:1], logits[:1], labels[:1], masks[:1])
    two.update(maps[1:], gts[1:], logits[1:], labels[1:], masks[1:])
    assert one.compute() == two.compute()
    assert torch.equal(one.to_tensor(), two.to_tensor())


def test_counts_round_trip_merge_and_all_reduce():
    maps, gts, logits, labels = batch_of_four()
    masks = (maps > 0.5).to(torch.uint8)
    kw = dict(cam_curve_step=0.1, pxap=True)
    full = WSOLMeter(**kw)
    full.update(maps, gts, logits, labels, masks)
    a, b = WSOLMeter(**kw), WSOLMeter(**kw)
    a.update(maps[:3], gts[:3], logits[:3], labels[:3], masks[:3])
    b.update(maps[3:], gts[3:], logits[3:], labels[3:], masks[3:])
    # all-reduce (SUM) by hand
    summed = a.to_tensor() + b.to_tensor()
    fresh = WSOLMeter(**kw)
    fresh.load_counts(summed)
    assert fresh.compute() == full.compute()
    a.merge(b)
    assert a.compute() == full.compute()
    assert summed.dtype == torch.float64 and summed[0] == 4  # count first
    with pytest.raises(ValueError, match="counts"):
        fresh.load_counts(summed[:-1])
    with pytest.raises(ValueError, match="other"):
        fresh.merge(WSOLMeter(cam_curve_step=0.5))


def test_size_resizes_maps_and_boxes_live_at_that_size():
    # a 4x4 map with a hot 2x2 corner, scored at 8x8: GT at 8x8 pixels
    m = block_map(4, 4, (0, 0, 2, 2, 1.0))
    meter = WSOLMeter(size=(8, 8), max_box_acc=False)
    meter.update(m[None], [torch.tensor([[0.0, 0, 4, 4]])])
    assert meter.compute()["gt_known_loc"] == 100.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_any_map_dtype(dtype):
    maps, gts, logits, labels = batch_of_four()
    ref = WSOLMeter(cam_curve_step=0.1)
    ref.update(maps, gts, logits, labels)
    other = WSOLMeter(cam_curve_step=0.1)
    other.update(maps.to(dtype), gts, logits.to(dtype), labels)
    assert other.compute() == ref.compute()


def test_gt_boxes_as_a_tensor_and_empty_gt():
    maps = torch.stack([block_map(4, 4, (0, 0, 2, 2, 1.0))] * 2)
    meter = WSOLMeter(cam_curve_step=0.5)
    meter.update(maps, torch.tensor([[[0.0, 0, 2, 2]], [[2.0, 2, 4, 4]]]))
    assert meter.compute()["gt_known_loc"] == 50.0
    empty = WSOLMeter(cam_curve_step=0.5)
    empty.update(maps[:1], [torch.zeros(0, 4)])  # no GT box: never a hit
    r = empty.compute()
    assert r["gt_known_loc"] == 0.0 and r["max_box_acc_v2"] == 0.0


def test_empty_meter_and_reset():
    meter = WSOLMeter()
    r = meter.compute()
    assert r["count"] == 0 and math.isnan(r["gt_known_loc"]) and math.isnan(r["max_box_acc_v2"])
    maps, gts, _, _ = batch_of_four()
    meter.update(maps, gts)
    meter.reset()
    assert meter.compute()["count"] == 0 and not meter.sweep_hits.any()


def test_bad_arguments_name_the_argument():
    maps, gts, logits, labels = batch_of_four()
    meter = WSOLMeter(pxap=True)
    with pytest.raises(ValueError, match="maps"):
        meter.update(maps[0], gts)
    with pytest.raises(ValueError, match="gt_boxes"):
        meter.update(maps, gts[:3])
    with pytest.raises(ValueError, match=r"gt_boxes\[1\]"):
        meter.update(maps, [gts[0], torch.zeros(2, 3), gts[2], gts[3]])
    with pytest.raises(ValueError, match="labels"):
        meter.update(maps, gts, logits)
    with pytest.raises(ValueError, match="labels"):
        meter.update(maps, gts, logits, torch.tensor([0, 1, 2, 7]))
    with pytest.raises(ValueError, match="logits"):
        meter.update(maps, gts, logits[:2], labels)
    with pytest.raises(ValueError, match="masks"):
        meter.update(maps, gts)
    with pytest.raises(ValueError, match="masks"):
        meter.update(maps, gts, masks=torch.zeros(4, 7, 8))
    assert meter.compute()["count"] == 0  # nothing was counted by the failed updates
    for kw, name in [
        (dict(size=(0, 3)), "size"),
        (dict(threshold=2.0), "threshold"),
        (dict(iou=1.5), "iou"),
        (dict(iou_thresholds=(50, 200)), "iou_thresholds"),
        (dict(cam_curve_step=0.0), "cam_curve_step"),
        (dict(sweep="slow"), "sweep"),
        (dict(largest="biggest"), "largest"),
    ]:
        with pytest.raises(ValueError, match=name):
            WSOLMeter(**kw)


# ----------------------------------------------------------------------------
# MaxBoxAccV2 against an independent implementation
# ----------------------------------------------------------------------------


class IndependentBoxEvaluator:
    """wsolevaluation's ``BoxEvaluator`` (multi_contour_eval=True), written from its description.

    Written here without any of infocam's code: per threshold t of
    ``np.arange(0, 1, step)``, ``cv2.threshold`` of ``uint8(map * 255)`` at
    ``int(t * max)``, the ``boundingRect`` of every ``RETR_TREE`` contour
    (``x1 = min(x + w, W - 1)``, the same for y; no contour: ``[0, 0, 0, 0]``),
    the inclusive (+1) IoU with each GT box ``(x0, y0, x1 - 1, y1 - 1)``; a
    counter per (IoU level, t) counts the images whose best box reaches it.
    """

    def __init__(self, step: float, iou_levels=(30, 50, 70), multi_contour: bool = True) -> None:
        self.multi_contour = multi_contour  # False: wsolevaluation's first MaxBoxAcc
        self.thresholds = list(np.arange(0, 1, step))
        self.iou_levels = iou_levels
        self.correct = {d: np.zeros(len(self.thresholds)) for d in iou_levels}
        self.count = 0

    @staticmethod
    def iou(boxes: np.ndarray, gts: np.ndarray) -> np.ndarray:
        out = np.zeros((len(boxes), len(gts)))
        for i, (a0, b0, a1, b1) in enumerate(boxes):
            for j, (c0, d0, c1, d1) in enumerate(gts):
                w = max(0, min(a1, c1) - max(a0, c0) + 1)
                h = max(0, min(b1, d1) - max(b0, d0) + 1)
                union = (a1 - a0 + 1) * (b1 - b0 + 1) + (c1 - c0 + 1) * (d1 - d0 + 1) - w * h
                out[i, j] = w * h / union if union > 0 else 0.0
        return out

    def accumulate(self, scoremap: np.ndarray, gt_half_open: np.ndarray) -> None:
        height, width = scoremap.shape
        image = (scoremap * 255).astype(np.uint8)
        gts = np.asarray(gt_half_open, dtype=np.float64) - [0, 0, 1, 1]
        for k, t in enumerate(self.thresholds):
            _, binary = cv2.threshold(image, int(t * np.max(image)), 255, cv2.THRESH_BINARY)
            contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
            if not self.multi_contour and len(contours):
                contours = [max(contours, key=cv2.contourArea)]
            boxes = []
            for c in contours:
                x, y, w, h = cv2.boundingRect(c)
                boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
            best = self.iou(np.array(boxes or [[0, 0, 0, 0]]), gts).max()
            for d in self.iou_levels:
                self.correct[d][k] += best >= d / 100
        self.count += 1

    def max_box_acc(self) -> dict:
        return {d: float((self.correct[d] * 100 / self.count).max()) for d in self.iou_levels}


def smooth_maps(n: int, size: int, sigma: float, seed: int) -> np.ndarray:
    """Blurred noise, min-max normalised so that min = 0 and max = 1 exactly (normalising is then exact)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), sigma)
        out.append((x - x.min()) / (x.max() - x.min()))
    return np.stack(out).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("step, size, n", [(0.01, 64, 24), (0.001, 48, 8)])
def test_meter_max_box_acc_equals_an_independent_box_evaluator(step, size, n):
    maps = smooth_maps(n, size, size / 20, seed=int(step * 1000) + size)
    rng = np.random.default_rng(size)
    gts = []
    for _ in range(n):  # one or two GT boxes of random size
        k = int(rng.integers(1, 3))
        xy = rng.integers(0, size // 2, (k, 2))
        wh = rng.integers(size // 8, size // 2, (k, 2))
        gts.append(np.concatenate([xy, np.minimum(xy + wh, size)], 1))
    independent = IndependentBoxEvaluator(step)
    for m, g in zip(maps, gts):
        independent.accumulate(m, g)
    want = independent.max_box_acc()
    assert any(0 < v < 100 for v in want.values())  # a test that can tell
    for sweep in ("fast", "reference"):
        meter = WSOLMeter(cam_curve_step=step, sweep=sweep)
        for i in range(0, n, 5):  # batches of 5
            meter.update(torch.from_numpy(maps[i : i + 5]), [torch.from_numpy(g).float() for g in gts[i : i + 5]])
        got = meter.compute()
        assert got["max_box_acc"] == want, sweep
        assert got["max_box_acc_v2"] == pytest.approx(np.mean(list(want.values())), abs=1e-12)
        assert got["count"] == n


class IndependentMaskEvaluator:
    """wsolevaluation's ``MaskEvaluator`` (PxAP), written from its description without infocam's code.

    Per image, ``np.histogram`` of the map's values at foreground (mask 1)
    and background (mask 0) pixels over the edges ``arange(0, 1, step)`` +
    ``[1, 2, 3]``; at the end tp / fp are the reversed cumulative sums and
    PxAP = 100 * sum of precision[i] * (recall[i] - recall[i - 1]) where
    tp + fp > 0.
    """

    def __init__(self, step: float) -> None:
        edges = [*np.arange(0, 1, step), 1.0, 2.0, 3.0]
        self.edges = np.array(edges)
        self.true = np.zeros(len(edges) - 1)
        self.false = np.zeros(len(edges) - 1)

    def accumulate(self, scoremap: np.ndarray, mask: np.ndarray) -> None:
        self.true += np.histogram(scoremap[mask == 1], bins=self.edges)[0]
        self.false += np.histogram(scoremap[mask == 0], bins=self.edges)[0]

    def compute(self) -> float:
        tp = np.cumsum(self.true[::-1])
        fp = np.cumsum(self.false[::-1])
        keep = (tp + fp) > 0
        precision = np.where(keep, tp / np.where(keep, tp + fp, 1), 0)
        recall = tp / tp[-1]
        total = 0.0
        for i in range(1, len(tp)):
            if keep[i]:
                total += precision[i] * (recall[i] - recall[i - 1])
        return total * 100


def first_version_cases(n: int, size: int, seed: int):
    maps = smooth_maps(n, size, size / 16, seed=seed).astype(np.float64)
    rng = np.random.default_rng(seed)
    maps = [np.clip(m + rng.normal(0, 0.01, m.shape), 0, 1) for m in maps]  # not float32 values: a float64 map
    gts = []
    for _ in range(n):
        k = int(rng.integers(1, 3))
        xy = rng.integers(0, size // 2, (k, 2))
        wh = rng.integers(size // 8, size // 2, (k, 2))
        gts.append(np.concatenate([xy, np.minimum(xy + wh, size)], 1))
    return maps, gts


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_first_max_box_acc_v2_and_pxap_equal_independent_evaluators(dtype):
    """What ``infocam score`` feeds the meter (maps as given, in their own dtype) against both evaluators."""
    step, size, n = 0.001, 40, 6
    maps, gts = first_version_cases(n, size, seed=7)
    maps = [m.astype(dtype) for m in maps]
    masks = []
    for g in gts:  # foreground: the first GT box; the top rows outside it ignored
        mask = np.zeros((size, size), np.uint8)
        x0, y0, x1, y1 = g[0]
        mask[y0:y1, x0:x1] = 1
        mask[:3, :] = np.where(mask[:3, :] == 1, 1, 255)
        masks.append(mask)
    v1, v2, px = IndependentBoxEvaluator(step, (50,), multi_contour=False), IndependentBoxEvaluator(step), IndependentMaskEvaluator(step)
    for m, g, mask in zip(maps, gts, masks):
        v1.accumulate(m, g)
        v2.accumulate(m, g)
        px.accumulate(m, mask)
    meter = WSOLMeter(cam_curve_step=step, max_box_acc_v1=True, pxap=True)
    for m, g, mask in zip(maps, gts, masks):
        meter.update(torch.from_numpy(m)[None], [torch.from_numpy(g).double()], masks=torch.from_numpy(mask)[None],
                     scores=[m])
    got = meter.compute()
    assert got["max_box_acc_v1"] == v1.max_box_acc()[50]
    assert got["max_box_acc"] == v2.max_box_acc()
    assert got["pxap"] == pytest.approx(px.compute(), abs=1e-9)
    assert 0 < got["pxap"] < 100 and any(0 < v < 100 for v in got["max_box_acc"].values())
    assert got["max_box_acc_v1"] <= got["max_box_acc"][50]


def test_maps_are_scored_in_their_own_dtype():
    # 51/255 - 1e-12 quantises to 50 in float64, but its float32 rounding to 51:
    # at the cut level 50 (t = 0.197) the block is foreground only in float32
    v = 51 / 255 - 1e-12
    assert int(v * 255) == 50 and int(np.float32(v) * np.float32(255)) == 51
    m64 = np.zeros((6, 6))
    m64[1:4, 1:4] = v
    m64[5, 5] = 1.0
    m32 = m64.astype(np.float32)
    gt = [torch.tensor([[1.0, 1.0, 4.0, 4.0]], dtype=torch.float64)]
    hits = {}
    for m in (m64, m32):
        meter = WSOLMeter(cam_curve_step=0.001, max_box_acc_v1=True)
        meter.update(torch.from_numpy(m)[None], gt, scores=[m])
        independent = IndependentBoxEvaluator(0.001, (50,), multi_contour=False)
        independent.accumulate(m, gt[0].numpy())
        assert meter.sweep_hits_v1.tolist() == independent.correct[50].astype(int).tolist()
        hits[m.dtype.name] = meter.sweep_hits_v1
    k = 197  # t = 0.197: level int(0.197 * 255) = 50
    assert (hits["float64"][k], hits["float32"][k]) == (0, 1)


def test_counts_merge_exactly_in_integers():
    a, b = WSOLMeter(max_box_acc_v1=True), WSOLMeter(max_box_acc_v1=True)
    m = torch.zeros(1, 8, 8)
    m[0, 2:5, 2:5] = 1
    gt = [torch.tensor([[2.0, 2.0, 5.0, 5.0]])]
    a.update(m, gt)
    b.update(m, gt)
    b.scalars["count"] += 2**60  # beyond float64's exact integers
    a.merge(b)
    assert a.scalars["count"] == 2 + 2**60
    assert a.counts().dtype == np.int64
    with pytest.raises(ValueError, match="same settings"):
        a.merge(WSOLMeter(max_box_acc_v1=True, threshold=0.3))


def test_scores_and_correct_arguments_are_checked():
    meter = WSOLMeter(max_box_acc_v1=True)
    m = torch.zeros(1, 4, 4)
    gt = [torch.tensor([[0.0, 0.0, 2.0, 2.0]])]
    with pytest.raises(ValueError, match="scores"):
        meter.update(m, gt, scores=[np.zeros((4, 5))])
    with pytest.raises(ValueError, match="scores"):
        meter.update(m, gt, scores=[np.zeros((4, 4), dtype=np.uint8)])
    with pytest.raises(ValueError, match="correct"):
        meter.update(m, gt, correct=torch.zeros(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="not both"):
        meter.update(m, gt, correct=torch.zeros(1, 2, dtype=torch.bool), logits=torch.zeros(1, 3),
                     labels=torch.zeros(1, dtype=torch.long))
    assert meter.compute()["count"] == 0
