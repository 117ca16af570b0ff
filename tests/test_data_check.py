"""Every malformed input: an InputError naming file:line from the loader, and a report entry from check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_factory import (
    append_line,
    draw,
    make_csv,
    make_cub,
    make_tiny_imagenet,
    make_wsol,
    read_line,
    rewrite_line,
)
from infocam.cli import main
from infocam.data import build_dataset, check_dataset
from infocam.errors import InputError


def _first_wnid_file(made):
    return f"train/{made.class_names[0]}/{made.class_names[0]}_boxes.txt"


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, t in enumerate(path.read_text().split("\n"), 1) if needle in t)


# (maker, file relative to root, line or "append", new text from the made dataset, message fragment)
CUB = [
    ("images.txt", 2, lambda m: "2", "expected 2 fields"),
    ("images.txt", "append", lambda m: f"3 {m.images[5].id}x", "duplicate image id 3"),
    ("images.txt", "append", lambda m: f"99 {read_line(m / 'images.txt', 1).split()[1]}", "listed twice"),
    ("image_class_labels.txt", 4, lambda m: "4 99", "label out of range"),
    ("image_class_labels.txt", 4, lambda m: "4 0", "label out of range"),
    ("image_class_labels.txt", 4, lambda m: "4 two", "non-integer class id"),
    ("image_class_labels.txt", "append", lambda m: "4 1", "duplicate image id 4"),
    ("train_test_split.txt", 2, lambda m: "2 7", "must be 0 or 1"),
    ("bounding_boxes.txt", 3, lambda m: "3 abc 1 20 20", "non-numeric x"),
    ("bounding_boxes.txt", 3, lambda m: "3 1 nan 20 20", "non-finite y"),
    ("bounding_boxes.txt", 1, lambda m: "1 10 10 0 5", "zero-area"),
    ("bounding_boxes.txt", 1, lambda m: "1 10 10 -5 5", "inverted"),
    ("bounding_boxes.txt", 1, lambda m: "1 -3 10 5 5", "outside"),
    ("bounding_boxes.txt", "append", lambda m: "999 1 1 5 5", "unknown image id 999"),
    ("classes.txt", 2, lambda m: "2", "expected 2 fields"),
]
TINY = [
    ("val/val_annotations.txt", 2, lambda m: "val_1.JPEG\tn99999999\t1\t1\t9\t9", "label out of range"),
    ("val/val_annotations.txt", 1, lambda m: f"val_0.JPEG\t{m.class_names[0]}\tx\t1\t9\t9", "non-numeric x0"),
    ("val/val_annotations.txt", 1, lambda m: f"val_0.JPEG\t{m.class_names[0]}\t20\t1\t9\t9", "inverted"),
    ("val/val_annotations.txt", 1, lambda m: f"val_0.JPEG\t{m.class_names[0]}\t1\t1\t9", "expected 6 fields"),
    ("val/val_annotations.txt", "append", lambda m: f"val_0.JPEG\t{m.class_names[0]}\t1\t1\t9\t9", "listed twice"),
    ("wnids.txt", "append", lambda m: m.class_names[1], "duplicate wnid"),
    (_first_wnid_file, 1, lambda m: f"{m.class_names[0]}_0.JPEG\t1\t2\t3", "expected 5 fields"),
    (_first_wnid_file, 2, lambda m: f"{m.class_names[0]}_1.JPEG\t-1\t2\t30\t30", "outside"),
]
WSOL = [
    ("train/class_labels.txt", 1, lambda m: "train/class0/img_0.png,abc", "non-integer label"),
    ("train/class_labels.txt", 1, lambda m: "train/class0/img_0.png,-1", "label out of range"),
    ("train/class_labels.txt", "append", lambda m: "train/nope.png,0", "unknown image"),
    ("train/image_ids.txt", "append", lambda m: "train/class0/img_1.png", "listed twice"),
    ("train/image_sizes.txt", 1, lambda m: "train/class0/img_0.png,sixty,40", "non-integer width"),
    ("val/localization.txt", 1, lambda m: "val/class0/img_0.png,30,1,10,9", "inverted"),
    ("val/localization.txt", 1, lambda m: "val/class0/img_0.png,3,1,10", "expected 5 fields"),
    ("val/localization.txt", 1, lambda m: "val/class0/img_0.png,3,1,1e9x,9", "non-numeric x1"),
]
CSV = [
    ("annotations.csv", 2, lambda m: "c0/im0.png,kind0,1,2,3", "expected 7 fields"),
    ("annotations.csv", 2, lambda m: "c0/im0.png,kind0,1,2,three,9,train", "non-numeric x1"),
    ("annotations.csv", 2, lambda m: "c0/im0.png,kind0,9,2,3,9,train", "inverted"),
    ("annotations.csv", 2, lambda m: "c0/im0.png,kind0,3,2,3,9,train", "zero-area"),
    ("annotations.csv", 2, lambda m: "c0/im0.png,kind0,3,2,,9,train", "incomplete box"),
    ("annotations.csv", 2, lambda m: "c0/im0.png,,3,2,8,9,train", "empty label"),
    ("annotations.csv", 2, lambda m: "c0/im0.png,kind0,3,2,8,9,valid", "split must be"),
    ("annotations.csv", "append", lambda m: "c0/im0.png,kind2,3,2,8,9,train", "conflicting labels"),
    ("annotations.csv", "append", lambda m: read_line(m.csv, 2), "duplicate box"),
    ("annotations.csv", 1, lambda m: "path,label,x0,y0,x1,y2,split", "malformed header"),
]


def _cases() -> list:
    return list(_iter_cases())


def _iter_cases():
    for maker, fmt, table in ((make_cub, "cub", CUB), (make_tiny_imagenet, "tiny-imagenet", TINY), (make_wsol, "wsol", WSOL), (make_csv, "csv", CSV)):
        for file, line, text, fragment in table:
            yield pytest.param(maker, fmt, file, line, text, fragment, id=f"{fmt}-{fragment}")


def _cfg(fmt, made):
    if fmt == "wsol":
        return {"format": fmt, "root": str(made.root), "metadata_root": str(made.metadata_root)}
    return {"format": fmt, "root": str(made.root)}


def _check(fmt, made):
    if fmt == "wsol":
        return check_dataset(fmt, made.metadata_root, images=made.root)
    return check_dataset(fmt, made.root)


@pytest.mark.parametrize(("maker", "fmt", "file", "line", "text", "fragment"), _cases())
def test_malformed_input_is_named_by_file_and_line(tmp_path, maker, fmt, file, line, text, fragment):
    made = maker(tmp_path)
    base = made.metadata_root if fmt == "wsol" else made.root
    path = base / (file(made) if callable(file) else file)
    new_text = text(made)
    if line == "append":
        line = append_line(path, new_text)
    else:
        rewrite_line(path, line, new_text)
    where = f"{path}:{line}"

    report = _check(fmt, made)
    assert not report.ok
    hits = [p for p in report.problems if p.file == str(path) and p.line == line]
    assert hits, f"no problem at {where}: {[str(p) for p in report.problems]}"
    assert any(fragment in p.message for p in hits), [str(p) for p in hits]
    assert len(report.problems) == 1, [str(p) for p in report.problems]  # no knock-on reports

    split = "val" if fmt == "wsol" and "val/" in str(file) else "train"
    with pytest.raises(InputError) as info:
        for s in ([split] if fmt == "wsol" else ["train", "all_test"]):
            build_dataset(_cfg(fmt, made), s, train=False)
    assert where in str(info.value) or str(path) in str(info.value)
    assert "infocam data check" in str(info.value) or len(report.problems) == 1


def test_check_collects_every_problem_without_stopping(tmp_path):
    made = make_cub(tmp_path)
    rewrite_line(made / "bounding_boxes.txt", 1, "1 abc 1 2 2")
    rewrite_line(made / "image_class_labels.txt", 5, "5 77")
    rewrite_line(made / "images.txt", 7, "7")
    (made.images[9].path).unlink()
    report = check_dataset("cub", made.root)
    located = {(Path(p.file).name, p.line) for p in report.problems}
    assert ("bounding_boxes.txt", 1) in located
    assert ("image_class_labels.txt", 5) in located
    assert ("images.txt", 7) in located
    assert ("images.txt", 10) in located  # the missing image, at the line listing it
    assert len(report.problems) == 4  # no knock-on reports for image 7 in the other files
    with pytest.raises(InputError, match=r"images.txt:7: .* 2 more problems"):
        build_dataset({"format": "cub", "root": str(made.root)}, "train", train=True)


def test_missing_and_unreadable_images(tmp_path):
    made = make_cub(tmp_path)
    made.images[0].path.unlink()
    made.images[1].path.write_bytes(b"")
    made.images[2].path.write_bytes(made.images[2].path.read_bytes()[:200])  # truncated JPEG
    made.images[3].path.write_bytes(b"not an image at all")
    report = check_dataset("cub", made.root)
    by_line = {p.line: p.message for p in report.problems if p.file.endswith("images.txt")}
    assert "not found" in by_line[1]
    assert "empty file" in by_line[2]
    assert "cannot read image" in by_line[3]
    assert "cannot read image" in by_line[4]
    ds = build_dataset({"format": "cub", "root": str(made.root), "normalize": False}, "train", train=False)
    for rec_index, m in enumerate(made.images[:4]):
        i = ds.ids.index(m.id) if m.id in ds.ids else None
        if i is None:
            continue
        with pytest.raises(InputError, match=str(m.path).replace(".", r"\.")) as info:
            ds[i]
        assert f"images.txt:{rec_index + 1}" in str(info.value)


def test_box_outside_image_needs_the_image_size(tmp_path):
    made = make_cub(tmp_path, size=(64, 48))
    rewrite_line(made / "bounding_boxes.txt", 1, "1 40 10 60 10")  # x1 = 100 > 64
    rewrite_line(made / "bounding_boxes.txt", 2, "2 4 10 60.5 38")  # x1 = 64.5: within 1 px, clamped
    report = check_dataset("cub", made.root)
    boxes_file = str(made / "bounding_boxes.txt")
    assert [(p.file, p.line) for p in report.problems] == [(boxes_file, 1)]
    assert "reaches past the 64x48 image" in report.problems[0].message
    assert [(p.file, p.line) for p in report.warnings] == [(boxes_file, 2)]
    ds = build_dataset({"format": "cub", "root": str(made.root)}, "all_test", train=False)
    bad = [i for i, r in enumerate(ds.records) if r.box_sources[0].endswith(":1")]
    ok = [i for i, r in enumerate(ds.records) if r.box_sources[0].endswith(":2")]
    for i in bad:
        with pytest.raises(InputError, match=r"bounding_boxes.txt:1: box"):
            ds[i]
    for i in ok:
        assert ds[i]["boxes"][0, 2] <= 224


def test_wsol_declared_size_mismatch_and_two_splits(tmp_path):
    made = make_wsol(tmp_path)
    sizes = made.metadata_root / "test" / "image_sizes.txt"
    rewrite_line(sizes, 2, "test/class0/img_1.png,61,40")
    ids = made.metadata_root / "test" / "image_ids.txt"
    n = append_line(ids, "train/class0/img_0.png")
    append_line(made.metadata_root / "test" / "class_labels.txt", "train/class0/img_0.png,0")
    report = check_dataset("wsol", made.metadata_root, images=made.root)
    located = {(p.file, p.line): p.message for p in report.problems}
    assert "declared size 61x40" in located[(str(sizes), 2)]
    train_ids = made.metadata_root / "train" / "image_ids.txt"
    twice = [k for k, msg in located.items() if "two splits" in msg]
    assert twice in ([(str(ids), n)], [(str(train_ids), 1)])
    assert f"{ids}:{n}" in located[twice[0]] or f"{train_ids}:1" in located[twice[0]]
    ds = build_dataset({"format": "wsol", "root": str(made.root), "metadata_root": str(made.metadata_root)}, "test", False)
    with pytest.raises(InputError, match=f"{sizes}:2: declared size 61x40"):
        ds[ds.ids.index("test/class0/img_1.png")]


def test_wsol_without_images_checks_metadata_only(tmp_path):
    made = make_wsol(tmp_path)
    rewrite_line(made.metadata_root / "val" / "localization.txt", 1, "val/class0/img_0.png,3,1,80,9")  # past 60 px
    report = check_dataset("wsol", made.metadata_root)
    assert not report.images_checked
    assert [(Path(p.file).name, p.line) for p in report.problems] == [("localization.txt", 1)]


def test_tiny_imagenet_image_without_box_line(tmp_path):
    made = make_tiny_imagenet(tmp_path)
    wnid = made.class_names[0]
    draw((64, 64), []).save(made / f"train/{wnid}/images/{wnid}_9.JPEG")
    report = check_dataset("tiny-imagenet", made.root)
    assert any("has no line" in p.message and p.file.endswith(f"{wnid}_boxes.txt") for p in report.problems)


def test_csv_check_accepts_the_csv_file_as_root(tmp_path):
    made = make_csv(tmp_path)
    report = check_dataset("csv", made.csv)
    assert report.ok and report.splits["train"].images == 6
    assert report.splits["train"].boxes == sum(len(m.boxes) for m in made.subset("train"))


# ------------------------------------------------------------------ CLI


def test_cli_check_clean_exit_0_and_json(tmp_path, capsys):
    made = make_cub(tmp_path)
    out = tmp_path / "report.json"
    assert main(["data", "check", str(made.root), "--format", "cub", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "OK: no problems found" in text and "3 classes" in text
    data = json.loads(out.read_text())
    assert data["ok"] is True and data["splits"]["train"]["images"] == 6
    assert data["splits"]["val"]["boxes_per_image"] == {"1": 6}
    # the report is not overwritten without --overwrite
    assert main(["data", "check", str(made.root), "--format", "cub", "--json", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["data", "check", str(made.root), "--format", "cub", "--json", str(out), "--overwrite"]) == 0


def test_cli_check_problems_exit_1(tmp_path, capsys):
    made = make_tiny_imagenet(tmp_path)
    rewrite_line(made / "val/val_annotations.txt", 3, "val_2.JPEG\tnope\t1\t1\t2\t2")
    out = tmp_path / "r.json"
    assert main(["data", "check", str(made.root), "--format", "tiny-imagenet", "--json", str(out)]) == 1
    text = capsys.readouterr().out
    assert f"{made / 'val/val_annotations.txt'}:3: label out of range" in text
    data = json.loads(out.read_text())
    assert data["ok"] is False
    assert data["problems"][0]["line"] == 3 and data["problems"][0]["file"].endswith("val_annotations.txt")


def test_cli_check_missing_root_is_an_input_error(tmp_path, capsys):
    assert main(["data", "check", str(tmp_path / "nope"), "--format", "cub"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_data_help_lists_the_actions(capsys):
    with pytest.raises(SystemExit) as info:
        main(["data", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "check" in text and "download" in text and "convert" in text
