"""convert CUB / Tiny-ImageNet -> wsolevaluation metadata, then load back: same boxes and labels."""

from __future__ import annotations

import pytest

from data_factory import make_cub, make_tiny_imagenet, rewrite_line
from infocam.cli import main
from infocam.data import build_dataset, convert_to_wsol
from infocam.errors import InputError


def _records(ds):
    return [(r.id, r.label, [tuple(b) for b in r.boxes]) for r in ds.records]


@pytest.mark.parametrize(
    ("maker", "fmt"),
    [(lambda p: make_cub(p, n_classes=3, n_train_per_class=2, n_test_per_class=5), "cub"), (make_tiny_imagenet, "tiny-imagenet")],
)
def test_convert_round_trip(tmp_path, maker, fmt):
    made = maker(tmp_path / "data")
    out = tmp_path / "meta"
    result = convert_to_wsol(fmt, made.root, out)
    assert sorted(p.name for p in out.iterdir()) == ["class_names.txt", "test", "train", "val"]
    assert result.counts["train"] == len(made.subset("train"))
    assert result.counts["val"] + result.counts["test"] == len(made.subset("test"))
    wsol_cfg = result.config()
    assert wsol_cfg["format"] == "wsol" and wsol_cfg["metadata_root"] == str(out)
    size = {"image_size": 64, "resize_size": 64, "crop": False}
    for split in ("train", "val", "test"):
        original = build_dataset({"format": fmt, "root": str(made.root), **size}, split, train=False)
        converted = build_dataset({**wsol_cfg, **size}, split, train=False)
        assert _records(converted) == _records(original)
        assert converted.class_names == original.class_names
        assert all(r.size == (m.size) for r, m in zip(converted.records, [made.by_id()[i] for i in original.ids]))
        a, b = original[0], converted[0]
        assert a["label"] == b["label"] and a["id"] == b["id"]
        assert a["boxes"].tolist() == b["boxes"].tolist()


def test_convert_writes_inclusive_corners(tmp_path):
    made = make_cub(tmp_path / "data", n_classes=1, n_train_per_class=1, n_test_per_class=0)
    (made / "bounding_boxes.txt").write_text("1 10.0 5.0 20.0 30.0\n")
    convert_to_wsol("cub", made.root, tmp_path / "meta")
    line = (tmp_path / "meta" / "train" / "localization.txt").read_text()
    assert line == f"{made.images[0].id},10,5,29,34\n"  # x + w - 1, y + h - 1
    sizes = (tmp_path / "meta" / "train" / "image_sizes.txt").read_text()
    assert sizes == f"{made.images[0].id},64,48\n"


def test_convert_refuses_to_overwrite(tmp_path):
    made = make_cub(tmp_path / "data")
    out = tmp_path / "meta"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(InputError, match=r"--out: .* refusing to overwrite"):
        convert_to_wsol("cub", made.root, out)
    assert (out / "mine.txt").read_text() == "keep me" and len(list(out.iterdir())) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    convert_to_wsol("cub", made.root, empty)  # an empty folder is fine
    assert (empty / "train" / "image_ids.txt").is_file()


def test_convert_refuses_bad_annotations_and_leaves_nothing(tmp_path):
    made = make_cub(tmp_path / "data")
    rewrite_line(made / "bounding_boxes.txt", 2, "2 1 1 x 3")
    with pytest.raises(InputError, match=r"bounding_boxes.txt:2"):
        convert_to_wsol("cub", made.root, tmp_path / "meta")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_convert_missing_image_leaves_nothing(tmp_path):
    made = make_cub(tmp_path / "data")
    made.images[-1].path.unlink()
    with pytest.raises(InputError, match="image file not found"):
        convert_to_wsol("cub", made.root, tmp_path / "meta")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_cli_convert(tmp_path, capsys):
    made = make_tiny_imagenet(tmp_path / "data")
    out = tmp_path / "meta"
    assert main(["data", "convert", "--format", "tiny-imagenet", str(made.root), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "train 6, val 3, test 3" in text and f"metadata_root: {out}" in text
    assert main(["data", "convert", "--format", "tiny-imagenet", str(made.root), "--out", str(out)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(["data", "check", str(out), "--format", "wsol", "--images", str(made.root)]) == 0
