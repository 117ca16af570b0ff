"""A simple custom layout for your own data: an image folder and one CSV file.

The CSV has one row per box::

    path,label,x0,y0,x1,y1[,split]
    birds/0001.jpg,sparrow,10,12,120,98,train
    birds/0001.jpg,sparrow,130,40,200,90,train     <- a second box, same image
    birds/0002.png,robin,,,,,train                 <- an image without a box
    birds/0003.jpg,robin,5,5,60,70,test

Rules:

* **Header**: optional. The first row is a header when it holds a field
  ``path`` (any case) and either a field ``label`` or ``path`` first; a
  header may list the columns in any order (``path``, ``label``, ``x0``,
  ``y0``, ``x1``, ``y1`` are required, ``split`` is optional). Without a
  header the columns are positional, 6 or 7 of them.
* **Paths** are relative to the image folder (or absolute). The path as
  written is the image id. Standard CSV quoting works for paths with commas.
* **Labels**: if every label is a non-negative integer (``0``, ``7``) the
  labels are class indices and there are ``max + 1`` classes; otherwise
  every label is a class name and the class index is the position of the
  name in the sorted list of names (numbers inside names compare as
  numbers). All rows of one image must agree on its label and split.
  Integer labels take their names from a ``class_names.txt`` beside the
  CSV (one name per line, line k naming class k) when there is one.
* **Boxes** are half-open pixel edges, ``docs/conventions.md``: a box
  covering pixel columns 10..119 is ``x0=10, x1=120``. Leave all four box
  fields empty for an image without a box (training images may have none).
* **split** (optional column): ``train`` or ``test``. Without it the file is
  one set: the ``train`` and ``all_test`` splits are both the whole file,
  ``val``/``test`` its even/odd halves. Use such a file for training or for
  evaluation, not both.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from infocam.data.records import Annotations, ProblemLog, Record, box_problem
from infocam.data.tables import parse_floats, read_lines
from infocam.data.tiny_imagenet import natural_key

COLUMNS = ("path", "label", "x0", "y0", "x1", "y1")
OPTIONAL_COLUMNS = ("split",)
SUBSETS = ("train", "test")
DEFAULT_CSV_NAME = "annotations.csv"
_INT = re.compile(r"^\d+$")


def read_csv_annotations(csv_path: str | Path, image_root: str | Path) -> Annotations:
    """Read the CSV layout; never raises for content (every problem names ``file:line``)."""
    csv_path = Path(csv_path)
    image_root = Path(image_root)
    problems = ProblemLog()
    columns: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for line, text in read_lines(csv_path, problems):
        try:
            fields = [f.strip() for f in next(csv.reader([text]))]
        except csv.Error as exc:
            problems.add(csv_path, line, f"malformed line: {exc}")
            continue
        if columns is None:
            lowered = [f.lower() for f in fields]
            if "path" in lowered and ("label" in lowered or lowered[0] == "path"):
                columns = _header(fields, csv_path, line, problems)
                if columns is None:
                    break
                continue
            columns = list(COLUMNS) if len(fields) != 7 else [*COLUMNS, "split"]
        if len(fields) != len(columns):
            problems.add(csv_path, line, f"malformed line: expected {len(columns)} fields ({','.join(columns)}), got {len(fields)}: {text.strip()!r}")
            continue
        rows.append((line, dict(zip(columns, fields))))

    has_split = columns is not None and "split" in columns
    records: dict[str, Record] = {}
    raw_labels: dict[str, tuple[str, int]] = {}
    subsets: dict[str, tuple[str, int]] = {}
    seen_boxes: dict[tuple[str, tuple[float, ...]], int] = {}
    for line, row in rows:
        path, label = row["path"], row["label"]
        if not path:
            problems.add(csv_path, line, "empty path")
            continue
        if not label:
            problems.add(csv_path, line, "empty label")
            continue
        subset = None
        if has_split:
            subset = row["split"].lower()
            if subset not in SUBSETS:
                problems.add(csv_path, line, f"split must be one of {', '.join(SUBSETS)}; got {row['split']!r}")
                continue
        box = _box(row, csv_path, line, problems)
        if box is False:
            continue
        if path in records:
            first_label, first_line = raw_labels[path]
            if label != first_label:
                problems.add(csv_path, line, f"conflicting labels for image {path}: {label!r} here, {first_label!r} at line {first_line}")
                continue
            if has_split and subsets[path][0] != subset:
                problems.add(csv_path, line, f"conflicting splits for image {path}: {subset!r} here, {subsets[path][0]!r} at line {subsets[path][1]}")
                continue
            if box is None:
                problems.add(csv_path, line, f"image {path} listed twice without a box (first at line {first_line})")
                continue
        else:
            p = Path(path)
            records[path] = Record(id=path, path=p if p.is_absolute() else image_root / p, label=-1, source=f"{csv_path}:{line}", subset=subset)
            raw_labels[path] = (label, line)
            if has_split:
                subsets[path] = (subset or "", line)
        if box is not None:
            key = (path, box)
            if key in seen_boxes:
                problems.add(csv_path, line, f"duplicate box for image {path} (same as line {seen_boxes[key]})")
                continue
            seen_boxes[key] = line
            records[path].add_box(box, f"{csv_path}:{line}")

    labels = {p: lab for p, (lab, _line) in raw_labels.items()}
    if labels and all(_INT.match(v) for v in labels.values()):
        n_classes = max(int(v) for v in labels.values()) + 1
        class_names = _names_beside(csv_path, n_classes) or [str(i) for i in range(n_classes)]
        index = {str(i): i for i in range(n_classes)}
        index.update({v: int(v) for v in labels.values()})
    else:
        class_names = sorted(set(labels.values()), key=natural_key)
        index = {name: i for i, name in enumerate(class_names)}
    for path, rec in records.items():
        rec.label = index[labels[path]]
    notes = [] if has_split else [f"{csv_path}: no split column: the whole file is one set"]
    return Annotations(records=list(records.values()), class_names=class_names, problems=problems.items, notes=notes)


def _header(fields: list[str], path: Path, line: int, problems: ProblemLog) -> list[str] | None:
    columns = [f.lower() for f in fields]
    bad = [c for c in columns if c not in COLUMNS + OPTIONAL_COLUMNS]
    missing = [c for c in COLUMNS if c not in columns]
    dup = sorted({c for c in columns if columns.count(c) > 1})
    if bad or missing or dup:
        parts = []
        if bad:
            parts.append(f"unknown column(s) {', '.join(bad)}")
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if dup:
            parts.append(f"repeated column(s) {', '.join(dup)}")
        problems.add(path, line, "malformed header: " + "; ".join(parts) + f" (expected {','.join(COLUMNS)}[,split])")
        return None
    return columns


def _box(row: dict[str, str], path: Path, line: int, problems: ProblemLog):
    """The half-open box of a row; None for a row without a box; False if invalid."""
    texts = [row[c] for c in ("x0", "y0", "x1", "y1")]
    if not any(texts):
        return None
    if not all(texts):
        problems.add(path, line, "incomplete box: give all of x0,y0,x1,y1 or none")
        return False
    values = parse_floats(texts, path, line, problems, ("x0", "y0", "x1", "y1"))
    if values is None:
        return False
    why = box_problem(values, None)  # type: ignore[arg-type]
    if why:
        problems.add(path, line, why)
        return False
    return values


def _names_beside(csv_path: Path, n_classes: int) -> list[str] | None:
    """Class names from ``class_names.txt`` in the CSV's folder, when it names every class."""
    path = Path(csv_path).parent / "class_names.txt"
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return names if len(names) >= n_classes else None
