"""The validation/test protocol: per class, image-id order, even -> val, odd -> test."""

from __future__ import annotations

import pytest

from data_factory import make_csv, make_cub, make_tiny_imagenet
from infocam.data import build_dataset, read_cub, select_split, split_even_odd
from infocam.errors import InputError


def test_split_even_odd_small_example():
    ids = ["1", "2", "3", "4", "5", "6", "7"]
    labels = [0, 1, 0, 0, 1, 2, 0]
    val, test = split_even_odd(ids, labels)
    # class 0: 1 3 4 7 -> val 1 4, test 3 7; class 1: 2 5 -> val 2, test 5; class 2: 6 -> val 6
    assert val == ["1", "2", "4", "6"]
    assert test == ["3", "5", "7"]


def test_split_even_odd_counts_per_class():
    # a class with n images gives ceil(n/2) to val and floor(n/2) to test
    counts = {0: 30, 1: 29, 2: 1, 3: 12, 4: 11}
    ids, labels = [], []
    for c, n in counts.items():
        for k in range(n):
            ids.append(f"{c}-{k}")
            labels.append(c)
    val, test = split_even_odd(ids, labels)
    assert len(val) == 15 + 15 + 1 + 6 + 6 and len(test) == 15 + 14 + 0 + 6 + 5
    assert set(val).isdisjoint(test) and set(val) | set(test) == set(ids)
    assert [i for i in val if i.startswith("1-")] == [f"1-{k}" for k in range(0, 29, 2)]
    assert [i for i in test if i.startswith("1-")] == [f"1-{k}" for k in range(1, 29, 2)]


@pytest.mark.parametrize(("ids", "labels", "match"), [(["a", "a"], [0, 0], "duplicate"), (["a"], [0, 1], "same length")])
def test_split_even_odd_rejects_bad_input(ids, labels, match):
    with pytest.raises(InputError, match=match):
        split_even_odd(ids, labels)


def test_cub_split_counts_and_membership(tmp_path):
    # 5 test images per class (odd), 4 classes: val 3 per class, test 2 per class
    made = make_cub(tmp_path, n_classes=4, n_train_per_class=3, n_test_per_class=5)
    cfg = {"format": "cub", "root": str(made.root)}
    val = build_dataset(cfg, "val", train=False)
    test = build_dataset(cfg, "test", train=False)
    all_test = build_dataset(cfg, "all_test", train=False)
    train = build_dataset(cfg, "train", train=True)
    assert (len(train), len(val), len(test), len(all_test)) == (12, 12, 8, 20)
    for c in range(4):
        official = [m.id for m in made.subset("test") if m.label == c]  # image-id order
        assert [i for i, r in zip(val.ids, val.records) if r.label == c] == official[0::2]
        assert [i for i, r in zip(test.ids, test.records) if r.label == c] == official[1::2]
    assert set(val.ids) | set(test.ids) == set(all_test.ids)
    assert set(val.ids).isdisjoint(test.ids)
    assert set(train.ids) == {m.id for m in made.subset("train")}


def test_cub_split_uses_numeric_image_ids(tmp_path):
    # 12 test images in one class: ids 1..12, so "10" < "2" as text would change the halves
    made = make_cub(tmp_path, n_classes=1, n_train_per_class=0, n_test_per_class=12)
    ann = read_cub(made.root)
    val = select_split(ann.records, "val")
    order = [m.id for m in sorted(made.images, key=lambda m: m.order)]
    assert [r.id for r in val] == order[0::2]
    paths_sorted = sorted(order)
    assert paths_sorted != order  # file names are not in id order


def test_tiny_imagenet_split_half_and_half(tmp_path):
    made = make_tiny_imagenet(tmp_path, n_classes=3, n_train_per_class=1, n_val_per_class=6)
    cfg = {"format": "tiny-imagenet", "root": str(made.root)}
    val = build_dataset(cfg, "val", train=False)
    test = build_dataset(cfg, "test", train=False)
    assert len(val) == len(test) == 9
    for c in range(3):
        official = sorted((m for m in made.subset("test") if m.label == c), key=lambda m: int(m.id.split("_")[1].split(".")[0]))
        assert [r.id for r in val.records if r.label == c] == [m.id for m in official[0::2]]
        assert [r.id for r in test.records if r.label == c] == [m.id for m in official[1::2]]


def test_csv_split_column(tmp_path):
    made = make_csv(tmp_path, n_classes=2, n_train_per_class=2, n_test_per_class=3)
    cfg = {"format": "csv", "root": str(made.root)}
    assert len(build_dataset(cfg, "train", train=True)) == 4
    assert len(build_dataset(cfg, "val", train=False)) == 4
    assert len(build_dataset(cfg, "test", train=False)) == 2


def test_unknown_split_name(tmp_path):
    made = make_cub(tmp_path)
    with pytest.raises(InputError, match="split"):
        build_dataset({"format": "cub", "root": str(made.root)}, "validation", train=False)
