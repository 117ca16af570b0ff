"""Tiny-ImageNet-200, read from the extracted official archive.

Layout (``tiny-imagenet-200/``; fields separated by tabs)::

    wnids.txt                              one WordNet id per line
    words.txt                              <wnid> <tab> <description>   (optional)
    train/<wnid>/<wnid>_boxes.txt          <file> x0 y0 x1 y1
    train/<wnid>/images/<file>.JPEG
    val/val_annotations.txt                <file> <wnid> x0 y0 x1 y1
    val/images/<file>.JPEG

Boxes are **corners**, inclusive pixels (not ``x y w h``: the reference code
reads them as width/height and is wrong); ``x0 y0 x1 y1`` becomes the
half-open ``(x0, y0, x1 + 1, y1 + 1)``. The class index is the position of
the wnid in **sorted** ``wnids.txt``; class names are the wnids. The
official test set has no labels and is not read. Fields may be separated by
tabs or spaces (file names hold neither).

A record's ``id`` is its path relative to the root (``train/<wnid>/images/
<file>`` or ``val/images/<file>``). Training records are in class order,
then file order with numbers compared as numbers (``_2`` before ``_10``);
validation records in the same natural order of their file names
(``val_0``, ``val_1``, ...), which is the image-id order of the split.
"""

from __future__ import annotations

import re
from pathlib import Path

from infocam.data.records import Annotations, ProblemLog, Record, box_problem
from infocam.data.tables import parse_floats, read_lines, split_fields

_DIGITS = re.compile(r"(\d+)")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def natural_key(text: str) -> tuple:
    """Sort key comparing digit runs as numbers: ``val_2`` < ``val_10``."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(text))


def read_tiny_imagenet(root: str | Path) -> Annotations:
    """Read ``wnids.txt``, the training box files and the validation annotations.

    Never raises for content: every malformed line, unknown wnid, image
    listed twice, image without a box line and invalid box becomes a problem
    naming ``file:line``.
    """
    root = Path(root)
    problems = ProblemLog()
    wnids_file = root / "wnids.txt"
    wnids: dict[str, int] = {}
    for line, text in read_lines(wnids_file, problems):
        fields = split_fields(text, 1, wnids_file, line, problems, names="wnid")
        if fields is None:
            continue
        if fields[0] in wnids:
            problems.add(wnids_file, line, f"duplicate wnid {fields[0]} (first at line {wnids[fields[0]]})")
            continue
        wnids[fields[0]] = line
    class_names = sorted(wnids)
    index = {w: i for i, w in enumerate(class_names)}

    records: list[Record] = []
    for wnid in class_names:
        records.extend(_read_train_class(root, wnid, index[wnid], problems))
    records.extend(_read_val(root, index, problems))
    return Annotations(records=records, class_names=class_names, problems=problems.items)


def _box(fields: list[str], path: Path, line: int, problems: ProblemLog) -> tuple[float, float, float, float] | None:
    values = parse_floats(fields, path, line, problems, ("x0", "y0", "x1", "y1"))
    if values is None:
        return None
    x0, y0, x1, y1 = values
    box = (x0, y0, x1 + 1, y1 + 1)
    if x1 < x0 or y1 < y0:
        problems.add(path, line, f"inverted box: corners x0 y0 x1 y1 = {' '.join(fields)}")
        return None
    why = box_problem(box, None)
    if why:
        problems.add(path, line, why)
        return None
    return box


def _image_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return [p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]


def _read_train_class(root: Path, wnid: str, label: int, problems: ProblemLog) -> list[Record]:
    class_dir = root / "train" / wnid
    boxes_file = class_dir / f"{wnid}_boxes.txt"
    images_dir = class_dir / "images"
    if not class_dir.is_dir():
        problems.add(class_dir, None, f"training folder of wnid {wnid} (wnids.txt) not found")
        return []
    by_file: dict[str, Record] = {}
    reported: set[str] = set()  # files named on lines already reported as bad
    for line, text in read_lines(boxes_file, problems):
        reported.add(text.split()[0])
        fields = split_fields(text, 5, boxes_file, line, problems, names="file x0 y0 x1 y1")
        if fields is None:
            continue
        name = fields[0]
        box = _box(fields[1:], boxes_file, line, problems)
        if box is None:
            continue
        if _listed_before(name, by_file, boxes_file, line, problems):
            continue
        rel = f"train/{wnid}/images/{name}"
        rec = Record(id=rel, path=root / rel, label=label, source=f"{boxes_file}:{line}", subset="train")
        rec.add_box(box, f"{boxes_file}:{line}")
        by_file[name] = rec
    if images_dir.is_dir():
        for name in sorted(set(_image_files(images_dir)) - reported, key=natural_key):
            problems.add(boxes_file, None, f"image {images_dir / name} has no line in this box file")
    return [by_file[n] for n in sorted(by_file, key=natural_key)]


def _listed_before(name: str, by_file: dict[str, Record], path: Path, line: int, problems: ProblemLog) -> bool:
    """Whether image ``name`` already has a line in this file (then the problem is logged)."""
    if name not in by_file:
        return False
    first = by_file[name].source.rsplit(":", 1)[1]
    problems.add(path, line, f"image {name} listed twice (also at line {first})")
    return True


def _read_val(root: Path, index: dict[str, int], problems: ProblemLog) -> list[Record]:
    ann_file = root / "val" / "val_annotations.txt"
    by_file: dict[str, Record] = {}
    reported: set[str] = set()
    for line, text in read_lines(ann_file, problems):
        reported.add(text.split()[0])
        fields = split_fields(text, 6, ann_file, line, problems, names="file wnid x0 y0 x1 y1")
        if fields is None:
            continue
        name, wnid = fields[0], fields[1]
        box = _box(fields[2:], ann_file, line, problems)
        if wnid not in index:
            problems.add(ann_file, line, f"label out of range: wnid {wnid} is not in wnids.txt")
            continue
        if box is None:
            continue
        if _listed_before(name, by_file, ann_file, line, problems):
            continue
        rel = f"val/images/{name}"
        rec = Record(id=rel, path=root / rel, label=index[wnid], source=f"{ann_file}:{line}", subset="test")
        rec.add_box(box, f"{ann_file}:{line}")
        by_file[name] = rec
    images_dir = root / "val" / "images"
    if images_dir.is_dir() and reported:
        for name in sorted(set(_image_files(images_dir)) - reported, key=natural_key):
            problems.add(ann_file, None, f"image {images_dir / name} has no line in this file")
    return [by_file[n] for n in sorted(by_file, key=natural_key)]
