"""Each on-disk format loads back with the right counts, labels, boxes and ids."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from data_factory import draw, make_csv, make_cub, make_tiny_imagenet, make_wsol
from infocam.data import (
    build_dataset,
    collate,
    read_csv_annotations,
    read_cub,
    read_tiny_imagenet,
    read_wsol_split,
)
from infocam.data.dataset import BoxDataset
from infocam.data.transforms import to_float_image

RAW = {"crop": False, "normalize": False}  # transforms that keep the images recognisable


def _boxes(records):
    return {r.id: [tuple(b) for b in r.boxes] for r in records}


# ---------------------------------------------------------------- CUB


def test_cub_reader_counts_labels_boxes(tmp_path):
    made = make_cub(tmp_path, n_classes=3, n_train_per_class=2, n_test_per_class=4)
    ann = read_cub(made.root)
    assert ann.problems == []
    assert ann.class_names == made.class_names
    assert ann.class_names[0].startswith("001.")
    assert len(ann.records) == 18
    assert [r.subset for r in ann.records].count("train") == 6
    assert [r.subset for r in ann.records].count("test") == 12
    expected = made.by_id()
    for rec in ann.records:
        m = expected[rec.id]
        assert rec.label == m.label  # 1-based on disk, 0-based here
        assert rec.boxes == [tuple(float(v) for v in m.boxes[0])]
        assert rec.subset == m.subset
        assert rec.path == m.path
    # image-id order (the numeric id), not path order
    assert [r.id for r in ann.records] == [m.id for m in sorted(made.images, key=lambda m: m.order)]


def test_cub_xywh_becomes_half_open(tmp_path):
    made = make_cub(tmp_path, n_classes=1, n_train_per_class=1, n_test_per_class=0)
    (made.root / "bounding_boxes.txt").write_text("1 60.0 27.0 325.0 304.5\n")
    rec = read_cub(made.root).records[0]
    assert rec.boxes == [(60.0, 27.0, 385.0, 331.5)]


def test_cub_dataset_items(tmp_path):
    made = make_cub(tmp_path, size=(64, 48))
    ds = build_dataset({"format": "cub", "root": str(made.root)}, "all_test", train=False)
    assert len(ds) == 12 and ds.num_classes == 3 and ds.class_names == made.class_names
    item = ds[0]
    assert set(item) == {"image", "label", "boxes", "id"}
    assert item["image"].shape == (3, 224, 224) and item["image"].dtype == torch.float32
    assert item["boxes"].dtype == torch.float32 and item["boxes"].shape == (1, 4)
    m = made.by_id()[item["id"]]
    assert item["label"] == m.label
    x0, y0, x1, y1 = m.boxes[0]
    sx, sy = 256 / 64, 256 / 48  # Resize((256, 256)) then CenterCrop(224): offset 16
    expected = torch.tensor([[x0 * sx - 16, y0 * sy - 16, x1 * sx - 16, y1 * sy - 16]]).clamp(0, 224)
    torch.testing.assert_close(item["boxes"], expected)


def test_cub_root_may_be_the_parent_folder(tmp_path):
    make_cub(tmp_path)
    ds = build_dataset({"format": "cub", "root": str(tmp_path)}, "train", train=True)
    assert len(ds) == 6


# ---------------------------------------------------------- Tiny-ImageNet


def test_tiny_imagenet_reader(tmp_path):
    made = make_tiny_imagenet(tmp_path, n_classes=3, n_train_per_class=2, n_val_per_class=4)
    ann = read_tiny_imagenet(made.root)
    assert ann.problems == []
    listed = (made.root / "wnids.txt").read_text().split()
    assert listed != sorted(listed)  # the file is shuffled ...
    assert ann.class_names == sorted(listed)  # ... the class order is sorted
    assert len(ann.records) == 6 + 12
    expected = made.by_id()
    for rec in ann.records:
        m = expected[rec.id]
        assert (rec.label, rec.subset) == (m.label, m.subset)
        assert rec.boxes == [tuple(float(v) for v in m.boxes[0])]  # inclusive corners + 1
    val = [r.id for r in ann.records if r.subset == "test"]
    assert val == [f"val/images/val_{k}.JPEG" for k in range(12)]  # val_2 before val_10


def test_tiny_imagenet_corners_not_width_height(tmp_path):
    made = make_tiny_imagenet(tmp_path, n_classes=1, n_train_per_class=1, n_val_per_class=1)
    wnid = made.class_names[0]
    (made.root / "val" / "val_annotations.txt").write_text(f"val_0.JPEG\t{wnid}\t10\t20\t40\t63\n")
    rec = next(r for r in read_tiny_imagenet(made.root).records if r.subset == "test")
    assert rec.boxes == [(10.0, 20.0, 41.0, 64.0)]


def test_tiny_imagenet_dataset_is_64px_without_crop(tmp_path):
    made = make_tiny_imagenet(tmp_path)
    ds = build_dataset({"format": "tiny-imagenet", "root": str(made.root), "normalize": False}, "all_test", train=False)
    assert len(ds) == 6
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (3, 64, 64)
        m = made.by_id()[item["id"]]
        torch.testing.assert_close(item["boxes"], torch.tensor([m.boxes[0]], dtype=torch.float32))


def test_tiny_imagenet_grayscale_images_become_rgb(tmp_path):
    made = make_tiny_imagenet(tmp_path)
    ds = build_dataset({"format": "tiny-imagenet", "root": str(made.root), "normalize": False}, "train", train=False)
    gray = [i for i, r in enumerate(ds.records) if r.id.endswith("_0.JPEG")]
    item = ds[gray[0]]
    assert item["image"].shape == (3, 64, 64)
    assert torch.equal(item["image"][0], item["image"][1])


# ------------------------------------------------------ wsol metadata


def test_wsol_reader_boxes_several_per_image(tmp_path):
    made = make_wsol(tmp_path)
    for split in ("train", "val", "test"):
        ann = read_wsol_split(made.metadata_root / split, made.root)
        assert ann.problems == []
        assert ann.num_classes == 3
        expected = {m.id: m for m in made.subset(split)}
        assert [r.id for r in ann.records] == [m.id for m in made.subset(split)]
        for rec in ann.records:
            assert rec.label == expected[rec.id].label
            assert rec.boxes == [tuple(float(v) for v in b) for b in expected[rec.id].boxes]
            assert rec.size == (60, 40)
    assert any(len(m.boxes) == 2 for m in made.images)


def test_wsol_dataset_with_dataset_name(tmp_path):
    made = make_wsol(tmp_path, dataset_name="CUB")
    cfg = {
        "format": "wsol",
        "root": str(made.root),
        "metadata_root": str(made.extra["metadata_parent"]),
        "dataset_name": "CUB",
        **RAW,
    }
    ds = build_dataset(cfg, "test", train=False)
    assert len(ds) == 6 and ds.num_classes == 3
    for i in range(len(ds)):
        item = ds[i]
        m = made.by_id()[item["id"]]
        sx, sy = 224 / 60, 224 / 40
        expected = torch.tensor([[x0 * sx, y0 * sy, x1 * sx, y1 * sy] for x0, y0, x1, y1 in m.boxes])
        torch.testing.assert_close(item["boxes"], expected)


def test_wsol_masks(tmp_path):
    made = make_wsol(tmp_path, masks=True)
    cfg = {"format": "wsol", "root": str(made.root), "metadata_root": str(made.metadata_root), **RAW, "image_size": 60}
    ds = build_dataset(cfg, "val", train=False)
    assert ds.has_masks
    raw = BoxDataset(ds.records, ds.class_names, to_float_image(), has_masks=True)  # no resize
    for i in range(len(raw)):
        item = raw[i]
        expected = made.extra["masks"][item["id"]]
        assert item["mask"].dtype == torch.uint8
        assert np.array_equal(item["mask"].numpy(), expected)
        assert set(np.unique(expected)) == {0, 1, 255}
    batch = collate([ds[0], ds[1]])
    assert batch["mask"].shape == (2, 60, 60)


def test_wsol_class_names_file(tmp_path):
    made = make_wsol(tmp_path)
    (made.metadata_root / "class_names.txt").write_text("cat\ndog\nemu\nfox\n")
    ann = read_wsol_split(made.metadata_root / "train", made.root)
    assert ann.class_names == ["cat", "dog", "emu", "fox"] and ann.num_classes == 4


# ------------------------------------------------------------------ CSV


def test_csv_reader_with_header_names_and_split(tmp_path):
    made = make_csv(tmp_path)
    ann = read_csv_annotations(made.csv, made.root)
    assert ann.problems == []
    assert ann.class_names == ["kind0", "kind1", "kind2"]
    assert len(ann.records) == 12
    expected = made.by_id()
    for rec in ann.records:
        m = expected[rec.id]
        assert (rec.label, rec.subset) == (m.label, m.subset)
        assert rec.boxes == [tuple(float(v) for v in b) for b in m.boxes]


def test_csv_without_header_integer_labels_no_split(tmp_path):
    made = make_csv(tmp_path, header=False, names=False, split_column=False)
    ann = read_csv_annotations(made.csv, made.root)
    assert ann.problems == []
    assert ann.class_names == ["0", "1", "2"]
    assert [r.label for r in ann.records] == [m.label for m in made.images]
    assert all(r.subset is None for r in ann.records)
    cfg = {"format": "csv", "root": str(made.root)}
    assert len(build_dataset(cfg, "train", train=True)) == 12
    assert len(build_dataset(cfg, "all_test", train=False)) == 12
    assert len(build_dataset(cfg, "val", train=False)) == 6


def test_csv_names_sort_naturally_and_header_any_order(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("a.png", "b,c.png"):
        draw((20, 10), [(2, 2, 8, 8)]).save(folder / name)
    csv = tmp_path / "labels.csv"
    csv.write_text(
        "label,path,x1,y1,x0,y0\n"
        "class10,a.png,8,8,2,2\n"
        'class2,"b,c.png",8,8,2,2\n'
        f'class2,"{folder / "b,c.png"}",,,,\n'
    )
    ann = read_csv_annotations(csv, folder)
    assert ann.problems == []
    assert ann.class_names == ["class2", "class10"]
    by_id = {r.id: r for r in ann.records}
    assert by_id["a.png"].label == 1 and by_id["b,c.png"].label == 0
    assert by_id["a.png"].boxes == [(2.0, 2.0, 8.0, 8.0)]
    absolute = by_id[str(folder / "b,c.png")]
    assert absolute.boxes == [] and absolute.path == folder / "b,c.png"
    ds = build_dataset({"format": "csv", "root": str(folder), "csv": str(csv), **RAW, "image_size": 20}, "train", True)
    assert ds[2]["boxes"].shape == (0, 4)


# ---------------------------------------------------------------- collate


def test_collate_through_dataloader(tmp_path):
    made = make_csv(tmp_path)
    ds = build_dataset({"format": "csv", "root": str(made.root)}, "train", train=True)
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=False, collate_fn=collate)))
    assert batch["image"].shape == (4, 3, 224, 224)
    assert batch["label"].dtype == torch.long and batch["label"].tolist() == [0, 0, 1, 1]
    train = made.subset("train")[:4]
    assert isinstance(batch["boxes"], list)
    assert [b.shape[0] for b in batch["boxes"]] == [len(m.boxes) for m in train]
    assert 2 in [len(m.boxes) for m in train]
    assert batch["id"] == [m.id for m in train]


def test_collate_keeps_lists_and_rejects_mismatched_shapes():
    a = {"image": torch.zeros(3, 4, 4), "label": 1, "boxes": torch.zeros(0, 4), "id": "a"}
    b = {"image": torch.ones(3, 4, 4), "label": 2, "boxes": torch.ones(2, 4), "id": "b"}
    out = collate([a, b])
    assert out["image"].shape == (2, 3, 4, 4) and out["label"].tolist() == [1, 2]
    assert out["id"] == ["a", "b"] and out["boxes"][1].shape == (2, 4)
    with pytest.raises(ValueError, match="image"):
        collate([a, {**b, "image": torch.zeros(3, 5, 5)}])


def test_dataset_pickles_for_worker_processes(tmp_path):
    import pickle

    made = make_cub(tmp_path)
    ds = build_dataset({"format": "cub", "root": os.fspath(made)}, "train", train=True)
    clone = pickle.loads(pickle.dumps(ds))
    torch.manual_seed(0)
    a = ds[0]
    torch.manual_seed(0)
    b = clone[0]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["boxes"], b["boxes"])


def test_windows_line_endings_and_bom(tmp_path):
    made = make_cub(tmp_path)
    for name in ("images.txt", "bounding_boxes.txt", "classes.txt"):
        path = made / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    ann = read_cub(made.root)
    assert ann.problems == [] and len(ann.records) == 18
    assert ann.class_names == made.class_names
