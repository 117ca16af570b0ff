"""The wsolevaluation (CVPR 2020) metadata layout, to read and to write.

One folder per split, ``<metadata_root>[/<DATASET>]/<split>/``, holding
comma-separated files whose paths are relative to the image root::

    image_ids.txt      <path>                       one image per line (the order kept)
    class_labels.txt   <path>,<label>               0-based integer class
    image_sizes.txt    <path>,<w>,<h>               optional
    localization.txt   <path>,<x0>,<y0>,<x1>,<y1>   optional; one line per box
                   or  <path>,<mask>,<ignore>       masks (OpenImages); ignore only
                                                    on an image's first line

Box corners are inclusive pixels: ``x0,y0,x1,y1`` becomes the half-open
``(x0, y0, x1 + 1, y1 + 1)`` (``docs/conventions.md``). Note that the CUB
metadata shipped with wsolevaluation stores CUB's ``x + w`` as the inclusive
``x1``, so its boxes are one pixel wider and taller than CUB's own
``bounding_boxes.txt``; ``infocam data convert`` writes ``x + w - 1``.

Masks are mask image paths relative to the mask root (by default the image
root); an image's foreground is the union of its masks, and its ignore
region is the ignore mask minus the foreground, as in wsolevaluation.

Standard splits are ``train``, ``val`` and ``test``; any folder name works.
The number of classes is the length of ``class_names.txt`` in the metadata
root when present (``infocam data convert`` writes it), otherwise one more
than the largest label in any split.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from infocam.data.records import Annotations, ProblemLog, Record, box_problem, fmt_number
from infocam.data.tables import parse_floats, parse_int, read_lines, split_fields

CLASS_NAMES_FILE = "class_names.txt"
SPLIT_FILES = ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt")


def metadata_dir(metadata_root: str | Path, dataset_name: str | None = None) -> Path:
    """``metadata_root/dataset_name`` (or ``metadata_root`` when no name is given)."""
    root = Path(metadata_root)
    return root / dataset_name if dataset_name else root


def list_splits(meta_dir: str | Path) -> list[str]:
    """Split folders under a metadata directory (those holding ``image_ids.txt``), sorted."""
    meta_dir = Path(meta_dir)
    if not meta_dir.is_dir():
        return []
    return sorted(p.name for p in meta_dir.iterdir() if (p / "image_ids.txt").is_file())


def no_splits_message(meta_dir: str | Path, *, root_flag: str = "metadata_root",
                      name_flag: str = "dataset_name") -> str:
    """Why ``meta_dir`` holds no split, pointing at the folder below that does.

    The split folders may sit one level down (``meta_dir/CUB/train``: a
    dataset name is needed, named by ``name_flag``) or the folder may be the
    one above the metadata (``meta_dir/metadata/train``: ``root_flag`` should
    name ``meta_dir/metadata``), or both (``meta_dir/metadata/CUB/train``).
    """
    meta_dir = Path(meta_dir)
    if not meta_dir.is_dir():
        return f"{meta_dir} is not a folder"
    base = f"no split folder (train/, val/, test/ with image_ids.txt) in {meta_dir}"
    children = sorted(p for p in meta_dir.iterdir() if p.is_dir())
    names = [p.name for p in children if list_splits(p)]
    if names:
        if len(names) > 1:
            return f"{base}; its sub-folders {', '.join(names)} hold split folders: add {name_flag} with one of them"
        return f"{base}; the split folders are in {meta_dir / names[0]}: give {root_flag} {meta_dir / names[0]}, or add {name_flag} {names[0]}"
    for child in children:
        inner = sorted(p.name for p in child.iterdir() if p.is_dir() and list_splits(p))
        if inner:
            return f"{base}; the metadata is in {child}: give {root_flag} {child} with {name_flag} {inner[0]}"
    return base


def read_class_names(meta_dir: Path) -> list[str] | None:
    """Class names from ``class_names.txt`` (one per line), or None when absent."""
    path = Path(meta_dir) / CLASS_NAMES_FILE
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [n for n in names if n]


def infer_num_classes(meta_dir: Path, problems: ProblemLog | None = None) -> int:
    """Number of classes: ``class_names.txt`` if present, else max label over all splits + 1."""
    names = read_class_names(meta_dir)
    if names is not None:
        return len(names)
    top = -1
    scratch = problems if problems is not None else ProblemLog()
    for split in list_splits(meta_dir):
        path = Path(meta_dir) / split / "class_labels.txt"
        for _line, text in read_lines(path, scratch, required=False):
            parts = text.rsplit(",", 1)
            if len(parts) == 2 and parts[1].strip().isdigit():
                top = max(top, int(parts[1]))
    return top + 1


def read_wsol_split(
    split_dir: str | Path,
    image_root: str | Path,
    *,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    mask_root: str | Path | None = None,
) -> Annotations:
    """Read one split folder; never raises for content.

    ``num_classes`` bounds the labels (defaults to :func:`infer_num_classes`
    on the parent folder); ``class_names`` default to the parent's
    ``class_names.txt`` or ``"0", "1", ...``.
    """
    split_dir = Path(split_dir)
    image_root = Path(image_root)
    mask_root = Path(mask_root) if mask_root is not None else image_root
    problems = ProblemLog()
    meta_dir = split_dir.parent
    if class_names is None:
        class_names = read_class_names(meta_dir)
    if num_classes is None:
        num_classes = len(class_names) if class_names is not None else infer_num_classes(meta_dir)
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]
    class_names = list(class_names)

    ids_file = split_dir / "image_ids.txt"
    records: dict[str, Record] = {}
    for line, text in read_lines(ids_file, problems):
        path = text.strip()
        if path in records:
            first = records[path].source.rsplit(":", 1)[1]
            problems.add(ids_file, line, f"image {path} listed twice (also at line {first})")
            continue
        records[path] = Record(id=path, path=image_root / path, label=-1, source=f"{ids_file}:{line}")

    labels_file = split_dir / "class_labels.txt"
    seen: dict[str, int] = {}
    labelled: set[str] = set()  # images with a line here, good or bad
    for line, text in read_lines(labels_file, problems):
        labelled.add(text.split(",")[0].strip())
        fields = split_fields(text, 2, labels_file, line, problems, sep=",", names="path,label")
        if fields is None:
            continue
        path, label = fields[0], parse_int(fields[1], labels_file, line, problems, "label")
        if label is None or not _known(path, records, seen, labels_file, line, problems):
            continue
        if not 0 <= label < num_classes:
            problems.add(labels_file, line, f"label out of range: {label} (expected 0..{num_classes - 1})")
            continue
        records[path].label = label

    sizes_file = split_dir / "image_sizes.txt"
    seen = {}
    for line, text in read_lines(sizes_file, problems, required=False):
        fields = split_fields(text, 3, sizes_file, line, problems, sep=",", names="path,w,h")
        if fields is None:
            continue
        w = parse_int(fields[1], sizes_file, line, problems, "width")
        h = parse_int(fields[2], sizes_file, line, problems, "height")
        if w is None or h is None or not _known(fields[0], records, seen, sizes_file, line, problems):
            continue
        if w <= 0 or h <= 0:
            problems.add(sizes_file, line, f"image size must be positive, got {w}x{h}")
            continue
        records[fields[0]].size = (w, h)
        records[fields[0]].size_source = f"{sizes_file}:{line}"

    has_masks = _read_localization(split_dir / "localization.txt", records, mask_root, problems)

    out = []
    for rec in records.values():
        if rec.label < 0:
            if rec.id not in labelled:
                line = int(rec.source.rsplit(":", 1)[1])
                problems.add(ids_file, line, f"image {rec.id} has no line in class_labels.txt")
            continue
        out.append(rec)
    return Annotations(records=out, class_names=class_names, problems=problems.items, has_masks=has_masks)


def _known(path: str, records: dict[str, Record], seen: dict[str, int], file: Path, line: int, problems: ProblemLog) -> bool:
    """True for the first line about an image listed in image_ids.txt; reports the others."""
    if path not in records:
        problems.add(file, line, f"unknown image {path} (not in image_ids.txt)")
        return False
    if path in seen:
        problems.add(file, line, f"duplicate line for image {path} (first at line {seen[path]})")
        return False
    seen[path] = line
    return True


def _read_localization(path: Path, records: dict[str, Record], mask_root: Path, problems: ProblemLog) -> bool:
    kind: str | None = None
    kind_line = 0
    seen_boxes: dict[tuple[str, tuple[float, ...]], int] = {}
    ignore_line: dict[str, int] = {}
    for line, text in read_lines(path, problems, required=False):
        fields = [f.strip() for f in text.split(",")]
        this = "boxes" if len(fields) == 5 else "masks" if len(fields) == 3 else None
        if this is None:
            problems.add(path, line, f"malformed line: expected 5 fields (path,x0,y0,x1,y1) or 3 (path,mask,ignore), got {len(fields)}: {text.strip()!r}")
            continue
        if kind is None:
            kind, kind_line = this, line
        elif this != kind:
            problems.add(path, line, f"malformed line: {this} line in a file of {kind} (line {kind_line})")
            continue
        image = fields[0]
        if image not in records:
            problems.add(path, line, f"unknown image {image} (not in image_ids.txt)")
            continue
        rec = records[image]
        if this == "boxes":
            values = parse_floats(fields[1:], path, line, problems, ("x0", "y0", "x1", "y1"))
            if values is None:
                continue
            x0, y0, x1, y1 = values
            if x1 < x0 or y1 < y0:
                problems.add(path, line, f"inverted box: corners x0,y0,x1,y1 = {','.join(fields[1:])}")
                continue
            box = (x0, y0, x1 + 1, y1 + 1)
            why = box_problem(box, None)
            if why:
                problems.add(path, line, why)
                continue
            key = (image, box)
            if key in seen_boxes:
                problems.add(path, line, f"duplicate box for image {image} (same as line {seen_boxes[key]})")
                continue
            seen_boxes[key] = line
            rec.add_box(box, f"{path}:{line}")
        else:
            if not fields[1]:
                problems.add(path, line, "malformed line: empty mask path")
                continue
            rec.mask_paths.append(mask_root / fields[1])
            if fields[2]:
                if image in ignore_line:
                    problems.add(path, line, f"second ignore mask for image {image} (first at line {ignore_line[image]})")
                    continue
                ignore_line[image] = line
                rec.ignore_path = mask_root / fields[2]
    return kind == "masks"


def write_wsol_split(split_dir: Path, records: Sequence[Record], image_root: Path, sizes: Sequence[tuple[int, int]]) -> None:
    """Write one split folder (image_ids, class_labels, image_sizes, localization).

    Paths are written relative to ``image_root`` with ``/`` separators; boxes
    as inclusive corners (``x1 - 1``, ``y1 - 1``), integers without ``.0``.
    """
    split_dir.mkdir(parents=True, exist_ok=False)
    rels = [Path(os.path.relpath(r.path, image_root)).as_posix() for r in records]
    with open(split_dir / "image_ids.txt", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{rel}\n" for rel in rels)
    with open(split_dir / "class_labels.txt", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{rel},{r.label}\n" for rel, r in zip(rels, records))
    with open(split_dir / "image_sizes.txt", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{rel},{w},{h}\n" for rel, (w, h) in zip(rels, sizes))
    with open(split_dir / "localization.txt", "w", encoding="utf-8", newline="\n") as f:
        for rel, r in zip(rels, records):
            for x0, y0, x1, y1 in r.boxes:
                f.write(f"{rel},{fmt_number(x0)},{fmt_number(y0)},{fmt_number(x1 - 1)},{fmt_number(y1 - 1)}\n")
