"""Property tests (hypothesis): what must hold for ANY input, not just the examples.

Kept small (``max_examples`` <= 60 per test, no deadline: the CPUs are
shared) so that the file runs in well under 30 s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from infocam import box_iou, boxes_from_maps, cam_maps, normalize_maps, region_sum
from infocam.data import (
    build_dataset,
    read_csv_annotations,
    read_cub,
    read_tiny_imagenet,
    read_wsol_split,
)
from infocam.errors import InputError
from infocam.extract import CAMExtractor
from infocam.sweep import fast_sweep, reference_sweep

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
               derandomize=True)

any_float = st.floats(allow_nan=True, allow_infinity=True, width=32)
finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)  # up to +-3.4e38
coord = st.floats(min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False, width=32)


def boxes_of(elements, max_n: int = 5):
    return st.lists(st.tuples(elements, elements, elements, elements), min_size=1, max_size=max_n).map(
        lambda rows: torch.tensor(rows, dtype=torch.float32))


def positive_box():
    return st.tuples(coord, coord, st.floats(0.5, 500, width=32), st.floats(0.5, 500, width=32)).map(
        lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))


# --------------------------------------------------------------------------- box_iou


@SETTINGS
@given(a=boxes_of(any_float), b=boxes_of(any_float))
def test_box_iou_never_crashes_never_nan_and_stays_in_0_1(a, b) -> None:
    iou = box_iou(a, b)
    assert iou.shape == (a.shape[0], b.shape[0])
    assert not torch.isnan(iou).any()
    assert ((iou >= 0) & (iou <= 1)).all()


@SETTINGS
@given(a=boxes_of(coord), b=boxes_of(coord))
def test_box_iou_is_symmetric(a, b) -> None:
    assert torch.equal(box_iou(a, b), box_iou(b, a).T)


@SETTINGS
@given(box=positive_box())
def test_box_iou_of_a_positive_area_box_with_itself_is_one(box) -> None:
    t = torch.tensor([box], dtype=torch.float32)
    assume(float((t[0, 2] - t[0, 0]) * (t[0, 3] - t[0, 1])) > 0)  # still positive after float32 rounding
    assert box_iou(t, t).item() == pytest.approx(1.0, abs=1e-6)
    assert box_iou(t.double(), t.double()).item() == 1.0


@SETTINGS
@given(a=positive_box(), b=positive_box(), gap=st.floats(0, 100, width=32), axis=st.sampled_from("xy"))
def test_box_iou_of_disjoint_boxes_is_zero(a, b, gap, axis) -> None:
    # move b so that it starts where a ends (+ gap): they share at most an edge
    if axis == "x":
        shift = a[2] + gap - b[0]
        b = (b[0] + shift, b[1], b[2] + shift, b[3])
    else:
        shift = a[3] + gap - b[1]
        b = (b[0], b[1] + shift, b[2], b[3] + shift)
    ta = torch.tensor([a], dtype=torch.float64)
    tb = torch.tensor([b], dtype=torch.float64)
    assume(float(tb[0, 0 if axis == "x" else 1]) >= float(ta[0, 2 if axis == "x" else 3]))
    assert box_iou(ta, tb).item() == 0.0


# --------------------------------------------------------------------------- maps -> boxes


def maps_of(elements, max_side: int = 9):
    return st.tuples(st.integers(1, 3), st.integers(1, max_side), st.integers(1, max_side)).flatmap(
        lambda shape: arrays(np.float32, shape, elements=elements)).map(torch.from_numpy)


sizes = st.one_of(st.none(), st.tuples(st.integers(1, 16), st.integers(1, 16)))


@SETTINGS
@example(maps=torch.full((1, 3, 3), float("nan")), threshold=0.2, size=None)
@example(maps=torch.full((2, 4, 4), 7.0), threshold=0.0, size=(8, 8))
@example(maps=torch.tensor([[[3e38, -3e38], [0.0, 1.0]]]), threshold=1.0, size=None)
# shrinking 5 rows to 1 samples the middle row only: the inf must not be stepped over
@example(maps=torch.tensor([[[float("inf"), 0], [1, 2], [3, 4], [5, 9], [6, 7]]]), threshold=0.0, size=(1, 2))
@given(maps=maps_of(any_float), threshold=st.floats(0, 1), size=sizes)
def test_boxes_from_maps_never_crashes_and_boxes_lie_inside_the_image(maps, threshold, size) -> None:
    boxes = boxes_from_maps(maps, threshold=threshold, size=size)
    h, w = size if size is not None else maps.shape[1:]
    assert boxes.shape == (maps.shape[0], 4) and boxes.dtype == torch.float32
    assert torch.isfinite(boxes).all()
    x0, y0, x1, y1 = boxes.unbind(1)
    assert ((x0 >= 0) & (x0 <= x1) & (x1 <= w) & (y0 >= 0) & (y0 <= y1) & (y1 <= h)).all()
    empty = boxes.eq(0).all(dim=1)
    assert ((x1 > x0) & (y1 > y0) | empty).all()  # a real box, or the empty box
    bad = ~torch.isfinite(maps).all(dim=(1, 2))
    assert empty[bad].all()  # a map with a NaN or inf gives no box


@SETTINGS
@example(maps=torch.tensor([[[-1.0, 0.0], [1e-30, 1.0]]]), threshold=0.5)
@example(maps=torch.tensor([[[1e6, 1e6 + 0.0625], [1e6 + 0.125, 1e6 + 1]]]), threshold=0.2)
@given(maps=maps_of(any_float), threshold=st.floats(0, 1))
def test_one_comparison_foreground_equals_normalize_then_threshold(maps, threshold) -> None:
    # boxes_from_maps compares each map with one cutoff value instead of
    # normalising it: where it has a cutoff, the masks must be those of the
    # reference steps (normalize_maps + foreground_masks), bit for bit.
    from infocam._boxes_fast import cutoffs
    from infocam.boxes import foreground_masks

    want = foreground_masks(normalize_maps(maps), threshold)
    arr = maps.numpy()
    cut, ok = cutoffs(arr.min(axis=(1, 2)), arr.max(axis=(1, 2)), threshold)
    for i in np.flatnonzero(ok):
        assert np.array_equal((arr[i] >= cut[i]).view(np.uint8), want[i])


@SETTINGS
@example(maps=torch.tensor([[[-1.0, 0.0], [1e-30, 1.0]]]), threshold=0.5)
@example(maps=torch.tensor([[[3e38, -3e38], [0.0, 1.0]]]), threshold=1e-300)
@given(maps=maps_of(any_float), threshold=st.floats(0, 1))
def test_small_maps_labelled_together_give_the_boxes_of_normalize_then_threshold(maps, threshold) -> None:
    # small maps are thresholded with vectorised cutoffs and labelled in one
    # tall image, larger ones one at a time: every box must be that of the
    # plain reference rule
    from infocam import _boxes_fast
    from infocam.boxes import boxes_at_thresholds, reference_boxes

    want = reference_boxes(maps, threshold=threshold).tolist()
    got = boxes_at_thresholds(maps, [threshold, threshold])
    assert got[0].tolist() == got[1].tolist() == want
    tiled = _boxes_fast.TILED_MAX_PIXELS
    try:
        _boxes_fast.TILED_MAX_PIXELS = 0  # the one-map-at-a-time path
        assert boxes_at_thresholds(maps, [threshold])[0].tolist() == want
    finally:
        _boxes_fast.TILED_MAX_PIXELS = tiled


@SETTINGS
@example(maps=torch.tensor([[[3e38, -3e38], [0.0, 1.0]]]), threshold=1.0)
@given(maps=maps_of(finite32), threshold=st.floats(0, 1))
def test_normalized_maps_are_finite_in_0_1_with_the_max_at_1(maps, threshold) -> None:
    norm = normalize_maps(maps)
    assert torch.isfinite(norm).all() and (norm >= 0).all() and (norm <= 1).all()
    for m, n in zip(maps, norm):
        if m.max() > m.min():
            assert n.max() == 1.0 and n.min() == 0.0
            assert (n[m == m.max()] == 1.0).all() and (n[m == m.min()] == 0.0).all()
        else:
            assert (n == 0).all()


@SETTINGS
@example(maps=torch.tensor([[[9.0, 0.0, 5.0], [0.0, 0.0, 5.0], [0.0, 0.0, 5.0]]]), threshold=0.5)
@example(maps=torch.tensor([[[9.0, 0.0, 5.0], [0.0, 0.0, 5.0], [0.0, 0.0, 5.0]]]), threshold=1.0)
@given(maps=maps_of(st.integers(-20, 20).map(float)), threshold=st.one_of(st.just(1.0), st.floats(0, 1)))
def test_box_covers_the_argmax_of_a_finite_non_constant_map(maps, threshold) -> None:
    """At threshold 1 the foreground is the argmax pixels; below 1, whenever the foreground is one piece.

    Below 1 with several pieces the LARGEST piece wins and need not hold the peak (the first
    example: a 1-pixel peak of 9 beside a 3-pixel bar of 5): that is the rule of
    docs/conventions.md, so the property is stated for one piece only. Integer-valued maps keep
    the normalisation exact (no pixel but the peak rounds to 1).
    """
    boxes = boxes_from_maps(maps, threshold=threshold)
    for m, n, box in zip(maps, normalize_maps(maps), boxes):
        if not m.max() > m.min():
            assert box.eq(0).all()
            continue
        fg = ((n >= threshold) & (n > 0)).numpy().astype(np.uint8)
        count = cv2.connectedComponents(fg, connectivity=8)[0] - 1
        x0, y0, x1, y1 = (int(v) for v in box)
        peaks = torch.nonzero(m == m.max()).tolist()
        covered = [x0 <= c < x1 and y0 <= r < y1 for r, c in peaks]
        if count == 1:
            assert all(covered)
            rows, cols = np.nonzero(fg)
            assert (x0, y0, x1, y1) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        if threshold == 1.0:
            assert any(covered)


# --------------------------------------------------------------------------- cam_maps


def features_and_weights(max_k: int = 4, max_m: int = 4):
    dims = st.tuples(st.integers(1, 3), st.integers(1, max_k), st.integers(2, max_m), st.integers(1, 5),
                     st.integers(1, 5))
    small = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
    return dims.flatmap(lambda d: st.tuples(
        arrays(np.float64, (d[0], d[1], d[3], d[4]), elements=small),
        arrays(np.float64, (d[2], d[1]), elements=small),
        st.lists(st.integers(0, d[2] - 1), min_size=d[0], max_size=d[0]),
        st.permutations(range(d[2])),
    )).map(lambda t: (torch.from_numpy(t[0]), torch.from_numpy(t[1]), torch.tensor(t[2]),
                      torch.tensor([t[3]] * t[0].shape[0], dtype=torch.float64)))


@SETTINGS
@given(fw=features_and_weights(), a=st.floats(1e-3, 1e3), method=st.sampled_from(["cam", "infocam", "infocam+"]),
       region=st.integers(1, 4), padding=st.sampled_from(["same", "full"]))
def test_cam_maps_are_linear_in_the_features(fw, a, method, region, padding) -> None:
    feats, weight, targets, logits = fw  # distinct integer logits: argmin has no ties
    base = cam_maps(feats, weight, targets, method=method, region=region, logits=logits, padding=padding)
    scaled = cam_maps(a * feats, weight, targets, method=method, region=region, logits=a * logits,
                      padding=padding)
    assert torch.allclose(scaled, a * base, rtol=1e-9, atol=1e-9 * max(1.0, a))
    both = cam_maps(feats + 2 * feats, weight, targets, method=method, region=region, logits=logits,
                    padding=padding)
    assert torch.allclose(both, 3 * base, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(fw=features_and_weights(), region=st.integers(1, 5))
def test_map_means_are_the_logits_the_methods_compare(fw, region) -> None:
    """mean(CAM_y) = z_y, mean(infoCAM_y) = z_y - mean_{c != y} z_c, mean(infoCAM+_y) = z_y - min_c z_c,
    with z = pooled features times W (no bias); a 'full' region multiplies the sum by R^2."""
    feats, weight, targets, _ = fw
    z = feats.mean(dim=(2, 3)) @ weight.T
    rows = torch.arange(len(targets))
    z_y = z[rows, targets]
    m = weight.shape[0]
    expected = {
        "cam": z_y,
        "infocam": z_y - (z.sum(1) - z_y) / (m - 1),
        "infocam+": z_y - z.min(1).values,
    }
    for method, want in expected.items():
        point = cam_maps(feats, weight, targets, method=method)
        assert torch.allclose(point.mean(dim=(1, 2)), want, atol=1e-9), method
        full = cam_maps(feats, weight, targets, method=method, region=region, padding="full")
        assert torch.allclose(full.sum(dim=(1, 2)), region**2 * point.sum(dim=(1, 2)), atol=1e-7), method
    # the three methods agree on which class each compares against: infoCAM+ at its own y_min is zero
    y_min = z.argmin(1)
    assert torch.allclose(cam_maps(feats, weight, y_min, method="infocam+"), torch.zeros(1, dtype=feats.dtype))


class _TinyGap(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


with torch.random.fork_rng():  # a fixed model, without touching the global RNG at import
    torch.manual_seed(0)
    _TINY = _TinyGap().double().eval()


@FEW
@given(x=arrays(np.float64, (2, 3, 5, 6), elements=st.floats(-5, 5, allow_nan=False)),
       targets=st.lists(st.integers(0, 3), min_size=2, max_size=2))
def test_extractor_maps_average_to_the_model_logits_minus_bias(x, targets) -> None:
    x, y = torch.from_numpy(x), torch.tensor(targets)
    out = CAMExtractor(_TINY)(x, methods=("cam", "infocam", "infocam+"), targets=y)
    z = out.logits - _TINY.fc.bias  # the bias never enters a map
    rows = torch.arange(2)
    assert torch.allclose(out.maps["cam"].mean(dim=(1, 2)), z[rows, y], atol=1e-9)
    others = (z.sum(1) - z[rows, y]) / 3
    assert torch.allclose(out.maps["infocam"].mean(dim=(1, 2)), z[rows, y] - others, atol=1e-9)
    least = out.logits.argmin(1)  # infoCAM+'s y_min comes from the real logits, bias included
    assert torch.allclose(out.maps["infocam+"].mean(dim=(1, 2)), z[rows, y] - z[rows, least], atol=1e-9)


@SETTINGS
@given(maps=arrays(np.float64, st.tuples(st.integers(1, 2), st.integers(1, 6), st.integers(1, 6)),
                   elements=st.floats(-100, 100)), region=st.integers(1, 6))
def test_region_same_keeps_the_shape_and_full_sums_r_squared(maps, region) -> None:
    t = torch.from_numpy(maps)
    same = region_sum(t, region, "same")
    assert same.shape == t.shape
    full = region_sum(t, region, "full")
    assert full.shape == (t.shape[0], t.shape[1] + region - 1, t.shape[2] + region - 1)
    assert torch.allclose(full.sum(dim=(1, 2)), region**2 * t.sum(dim=(1, 2)), atol=1e-6)


# --------------------------------------------------------------------------- the MaxBoxAccV2 sweep


@st.composite
def integer_map_and_gt(draw):
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    top = draw(st.integers(1, 6))
    levels = draw(arrays(np.int64, (h, w), elements=st.integers(0, top)))
    n = draw(st.integers(0, 3))
    gt = []
    for _ in range(n):
        x0, y0 = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
        gt.append((x0, y0, draw(st.integers(x0 + 1, w)), draw(st.integers(y0 + 1, h))))
    return levels, top, np.array(gt, dtype=np.float64).reshape(-1, 4)


@SETTINGS
@given(data=integer_map_and_gt(), step=st.sampled_from([0.5, 0.1, 0.05, 0.01]),
       as_float=st.booleans(), iou=st.lists(st.integers(0, 100), min_size=1, max_size=3))
def test_fast_sweep_equals_the_reference_loop(data, step, as_float, iou) -> None:
    levels, top, gt = data
    scoremap = (levels / top).astype(np.float32) if as_float else (levels * (255 // top)).astype(np.uint8)
    thresholds = np.arange(0, 1, step)
    fast = fast_sweep(scoremap, gt, thresholds, iou)
    ref = reference_sweep(scoremap, gt, thresholds, iou)
    assert fast.shape == ref.shape == (thresholds.size, len(iou))
    assert np.array_equal(fast, ref)


# --------------------------------------------------------------------------- the annotation parsers

# lines made of the characters the formats use (so numbers, separators and paths come up often),
# or of anything at all
format_text = st.text(alphabet=" \t,0123456789.-+eE/_abcnijfpgJPEGx\"'\r\\", max_size=40)
any_text = st.text(max_size=30)
lines = st.lists(st.one_of(format_text, format_text, any_text), max_size=8)


def _survives(fn, *args):
    """Call ``fn``: returning or raising InputError is fine; anything else is a crash."""
    try:
        return fn(*args)
    except InputError:
        return None


def _write(path: Path, rows: list[str], raw: bytes | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text("\n".join(rows), encoding="utf-8", errors="surrogatepass")


# valid lines for the round trips: each image one box, as (label, half-open box, official split)
valid_box = st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(1, 30), st.integers(1, 30)).map(
    lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3]))
valid_images = st.lists(st.tuples(st.integers(0, 2), valid_box, st.sampled_from(["train", "test"])),
                        min_size=1, max_size=5)


def _by_path(ann) -> dict[str, tuple[str, list, str | None]]:
    """What a reader kept, keyed by image file name: (class name, boxes, official split)."""
    return {r.path.name: (ann.class_names[r.label], [tuple(b) for b in r.boxes], r.subset) for r in ann.records}


def _try_dataset(cfg: dict, split: str) -> None:
    ds = _survives(build_dataset, cfg, split, False)
    if ds is not None:
        for i in range(min(len(ds), 2)):
            _survives(ds.__getitem__, i)


@FEW
@given(rows=lines, header=st.booleans(), raw=st.one_of(st.none(), st.binary(max_size=60)), valid=valid_images)
def test_csv_lines_of_random_text_never_crash(rows, header, raw, valid) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # the round trip: valid lines come back as written (half-open boxes as they are)
        _write(root / "annotations.csv", [f"v{i}.png,{c},{b[0]},{b[1]},{b[2]},{b[3]},{s}"
                                          for i, (c, b, s) in enumerate(valid)])
        ann = read_csv_annotations(root / "annotations.csv", root)
        assert not ann.problems
        assert _by_path(ann) == {f"v{i}.png": (str(c), [b], s) for i, (c, b, s) in enumerate(valid)}
        body = (["path,label,x0,y0,x1,y1,split"] if header else []) + rows
        _write(root / "annotations.csv", body, raw)
        ann = read_csv_annotations(root / "annotations.csv", root)
        assert all(str(root / "annotations.csv") in str(p) for p in ann.problems)
        for split in ("train", "all_test"):
            _try_dataset({"format": "csv", "root": str(root)}, split)


CUB_FILES = ("classes.txt", "images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt")
CUB_GOOD = {
    "classes.txt": ["1 001.A", "2 002.B"],
    "images.txt": ["1 001.A/a.jpg", "2 002.B/b.jpg"],
    "image_class_labels.txt": ["1 1", "2 2"],
    "train_test_split.txt": ["1 1", "2 0"],
    "bounding_boxes.txt": ["1 1.0 2.0 10.0 5.0", "2 0 0 3 3"],
}


@FEW
@given(file=st.sampled_from(CUB_FILES), rows=lines, keep=st.booleans(), valid=valid_images)
def test_cub_lines_of_random_text_never_crash(file, rows, keep, valid) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # the round trip: x y w h -> (x, y, x + w, y + h); is_training_image 1 -> train
        ids = range(1, len(valid) + 1)
        _write(root / "classes.txt", ["1 c0", "2 c1", "3 c2"])
        _write(root / "images.txt", [f"{i} c{c}/v{i}.jpg" for i, (c, _, _) in zip(ids, valid)])
        _write(root / "image_class_labels.txt", [f"{i} {c + 1}" for i, (c, _, _) in zip(ids, valid)])
        _write(root / "train_test_split.txt", [f"{i} {int(s == 'train')}" for i, (_, _, s) in zip(ids, valid)])
        _write(root / "bounding_boxes.txt", [f"{i} {b[0]} {b[1]} {b[2] - b[0]} {b[3] - b[1]}"
                                             for i, (_, b, _) in zip(ids, valid)])
        ann = read_cub(root)
        assert not ann.problems
        assert _by_path(ann) == {f"v{i}.jpg": (f"c{c}", [b], s) for i, (c, b, s) in zip(ids, valid)}
        for name, good in CUB_GOOD.items():
            _write(root / name, good + rows if (name == file and keep) else rows if name == file else good)
        ann = read_cub(root)
        assert all(p.file.startswith(str(root)) for p in ann.problems)
        for split in ("train", "test"):
            _try_dataset({"format": "cub", "root": str(root)}, split)


@FEW
@given(rows=lines, which=st.sampled_from(["wnids", "train", "val"]), valid=valid_images)
def test_tiny_imagenet_lines_of_random_text_never_crash(rows, which, valid) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "round_trip"
        # the round trip: inclusive corners x0 y0 x1 y1 -> (x0, y0, x1 + 1, y1 + 1)
        wnids = ["n00", "n01", "n02"]
        _write(root / "wnids.txt", wnids)
        for w in wnids:
            _write(root / "train" / w / f"{w}_boxes.txt", [f"{w}_{i}.JPEG\t{b[0]}\t{b[1]}\t{b[2] - 1}\t{b[3] - 1}"
                                                         for i, (c, b, s) in enumerate(valid) if s == "train" and wnids[c] == w])
        _write(root / "val" / "val_annotations.txt", [f"val_{i}.JPEG\t{wnids[c]}\t{b[0]}\t{b[1]}\t{b[2] - 1}\t{b[3] - 1}"
                                                     for i, (c, b, s) in enumerate(valid) if s == "test"])
        ann = read_tiny_imagenet(root)
        assert not ann.problems
        want = {(f"{wnids[c]}_{i}.JPEG" if s == "train" else f"val_{i}.JPEG"): (wnids[c], [b], s)
                for i, (c, b, s) in enumerate(valid)}
        assert _by_path(ann) == want
        root = Path(tmp)
        _write(root / "wnids.txt", rows if which == "wnids" else ["n01", "n02"])
        _write(root / "train" / "n01" / "n01_boxes.txt", rows if which == "train" else ["n01_0.JPEG\t1\t1\t5\t5"])
        (root / "train" / "n02").mkdir(parents=True, exist_ok=True)
        _write(root / "val" / "val_annotations.txt", rows if which == "val" else ["val_0.JPEG\tn02\t0\t0\t3\t3"])
        read_tiny_imagenet(root)
        _try_dataset({"format": "tiny-imagenet", "root": str(root)}, "test")


@FEW
@given(rows=lines, which=st.sampled_from(["image_ids", "class_labels", "image_sizes", "localization"]),
       valid=valid_images)
def test_wsol_lines_of_random_text_never_crash(rows, which, valid) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # the round trip: inclusive corners x0,y0,x1,y1 -> (x0, y0, x1 + 1, y1 + 1)
        trip = Path(tmp) / "round_trip" / "test"
        _write(trip / "image_ids.txt", [f"v{i}.png" for i in range(len(valid))])
        _write(trip / "class_labels.txt", [f"v{i}.png,{c}" for i, (c, _, _) in enumerate(valid)])
        _write(trip / "localization.txt", [f"v{i}.png,{b[0]},{b[1]},{b[2] - 1},{b[3] - 1}"
                                           for i, (_, b, _) in enumerate(valid)])
        ann = read_wsol_split(trip, Path(tmp))
        assert not ann.problems
        got = {name: (int(label), boxes) for name, (label, boxes, _) in _by_path(ann).items()}
        assert got == {f"v{i}.png": (c, [b]) for i, (c, b, _) in enumerate(valid)}
        meta = Path(tmp) / "meta"
        good = {"image_ids": ["a.png", "b.png"], "class_labels": ["a.png,0", "b.png,1"],
                "image_sizes": ["a.png,10,10", "b.png,8,6"], "localization": ["a.png,1,1,5,5", "b.png,0,0,2,2"]}
        for name, content in good.items():
            _write(meta / "test" / f"{name}.txt", rows if name == which else content)
        read_wsol_split(meta / "test", Path(tmp))
        _try_dataset({"format": "wsol", "root": tmp, "metadata_root": str(meta)}, "test")
