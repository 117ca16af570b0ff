"""CUB-200-2011, read from the extracted official archive.

Layout (``CUB_200_2011/``; fields separated by single spaces)::

    classes.txt              <class_id> <class_name>          1-based ids
    images.txt               <image_id> <class_dir>/<file>.jpg
    image_class_labels.txt   <image_id> <class_id>            1-based
    train_test_split.txt     <image_id> <is_training_image>   1 = train, 0 = test
    bounding_boxes.txt       <image_id> <x> <y> <width> <height>   floats
    images/<class_dir>/<file>.jpg

The class index is ``class_id - 1``; class names are those of
``classes.txt``. A box ``x y w h`` becomes the half-open
``(x, y, x + w, y + h)`` (``docs/conventions.md``). A record's ``id`` is
the image path relative to ``images/`` (as in the wsolevaluation metadata)
and records come in image-id order (the numeric ``image_id``), which is the
order the validation/test split uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from infocam.data.records import Annotations, ProblemLog, Record, box_problem, fmt_box
from infocam.data.tables import parse_floats, parse_int, read_lines, split_fields

FILES = ("classes.txt", "images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt")


def read_cub(root: str | Path) -> Annotations:
    """Read every CUB annotation file under ``root``; never raises for content.

    Every malformed line, unknown or duplicate image id, label out of range,
    image listed twice and invalid box becomes a problem naming ``file:line``.
    """
    root = Path(root)
    problems = ProblemLog()

    class_names = _read_classes(root / "classes.txt", problems)
    n_classes = len(class_names)

    images_file = root / "images.txt"
    paths: dict[int, tuple[str, int]] = {}
    first_line_of_path: dict[str, int] = {}
    broken: set[int] = set()  # ids on bad images.txt lines: no second report elsewhere
    for line, text in read_lines(images_file, problems):
        fields = split_fields(text, 2, images_file, line, problems, names="image_id path")
        if fields is None:
            _note_id(text, broken)
            continue
        image_id = parse_int(fields[0], images_file, line, problems, "image id")
        if image_id is None:
            continue
        rel = fields[1]
        if image_id in paths:
            problems.add(images_file, line, f"duplicate image id {image_id} (first at line {paths[image_id][1]})")
            continue
        if rel in first_line_of_path:
            problems.add(images_file, line, f"image {rel} listed twice (also at line {first_line_of_path[rel]})")
            continue
        paths[image_id] = (rel, line)
        first_line_of_path[rel] = line

    reported: set[int] = set()  # ids whose label, split or box line was reported bad
    labels = _read_id_values(root / "image_class_labels.txt", paths, broken, reported, problems, "class id")
    subsets = _read_id_values(root / "train_test_split.txt", paths, broken, reported, problems, "is_training_image")

    boxes_file = root / "bounding_boxes.txt"
    boxes: dict[int, tuple[tuple[float, float, float, float], int]] = {}
    for line, text in read_lines(boxes_file, problems):
        fields = split_fields(text, 5, boxes_file, line, problems, names="image_id x y width height")
        if fields is None:
            _note_id(text, reported)
            continue
        image_id = parse_int(fields[0], boxes_file, line, problems, "image id")
        n_before = len(problems)
        values = parse_floats(fields[1:], boxes_file, line, problems, ("x", "y", "width", "height"))
        if image_id is None or values is None or image_id in broken:
            if image_id is not None and len(problems) > n_before:
                reported.add(image_id)
            continue
        if not _new_known_id(image_id, paths, boxes, boxes_file, line, problems):
            continue
        x, y, w, h = values
        box = (x, y, x + w, y + h)
        if w < 0 or h < 0:
            problems.add(boxes_file, line, f"inverted box: negative width or height in x y w h = {fmt_box(values)}")
            reported.add(image_id)
            continue
        why = box_problem(box, None)
        if why:
            problems.add(boxes_file, line, why)
            reported.add(image_id)
            continue
        boxes[image_id] = (box, line)

    records: list[Record] = []
    for image_id in sorted(paths):
        rel, line = paths[image_id]
        label_entry = labels.get(image_id)
        subset_entry = subsets.get(image_id)
        where_listed = f"{images_file}:{line}"
        if label_entry is None or subset_entry is None:
            if image_id not in reported:
                missing = "image_class_labels.txt" if label_entry is None else "train_test_split.txt"
                problems.add(images_file, line, f"image id {image_id} has no line in {missing}")
            continue
        label, label_line = label_entry
        if not 1 <= label <= n_classes:
            problems.add(
                root / "image_class_labels.txt",
                label_line,
                f"label out of range: class id {label} (classes.txt has ids 1..{n_classes})",
            )
            continue
        flag, flag_line = subset_entry
        if flag not in (0, 1):
            problems.add(root / "train_test_split.txt", flag_line, f"is_training_image must be 0 or 1, got {flag}")
            continue
        record = Record(
            id=rel,
            path=root / "images" / rel,
            label=label - 1,
            source=where_listed,
            subset="train" if flag == 1 else "test",
        )
        if image_id in boxes:
            box, box_line = boxes[image_id]
            record.add_box(box, f"{boxes_file}:{box_line}")
        elif image_id not in reported:
            problems.add(images_file, line, f"image id {image_id} has no line in bounding_boxes.txt")
        records.append(record)
    return Annotations(records=records, class_names=class_names, problems=problems.items)


def _read_classes(path: Path, problems: ProblemLog) -> list[str]:
    names: dict[int, tuple[str, int]] = {}
    for line, text in read_lines(path, problems):
        fields = split_fields(text, 2, path, line, problems, names="class_id class_name")
        if fields is None:
            first = text.split()[0] if text.split() else ""
            if first.isdigit() and int(first) not in names:  # keep the class count right
                names[int(first)] = (f"class_{first}", line)
            continue
        class_id = parse_int(fields[0], path, line, problems, "class id")
        if class_id is None:
            continue
        if class_id in names:
            problems.add(path, line, f"duplicate class id {class_id} (first at line {names[class_id][1]})")
            continue
        names[class_id] = (fields[1], line)
    expected = list(range(1, len(names) + 1))
    if sorted(names) != expected:
        for class_id, (_name, line) in sorted(names.items()):
            if not 1 <= class_id <= len(names):
                problems.add(path, line, f"class ids must run 1..{len(names)}; got {class_id}")
    return [names[i][0] if i in names else f"class_{i}" for i in expected]


def _read_id_values(
    path: Path,
    known: dict[int, tuple[str, int]],
    broken: set[int],
    reported: set[int],
    problems: ProblemLog,
    name: str,
) -> dict[int, tuple[int, int]]:
    """``<image_id> <int>`` files: image_class_labels.txt and train_test_split.txt.

    Ids of lines reported as bad are added to ``reported``.
    """
    values: dict[int, tuple[int, int]] = {}
    for line, text in read_lines(path, problems):
        fields = split_fields(text, 2, path, line, problems, names=f"image_id {name.replace(' ', '_')}")
        if fields is None:
            _note_id(text, reported)
            continue
        image_id = parse_int(fields[0], path, line, problems, "image id")
        value = parse_int(fields[1], path, line, problems, name)
        if image_id is None or value is None or image_id in broken:
            if image_id is not None and value is None:
                reported.add(image_id)
            continue
        if not _new_known_id(image_id, known, values, path, line, problems):
            continue
        values[image_id] = (value, line)
    return values


def _new_known_id(
    image_id: int, known: Mapping[int, object], seen: Mapping[int, tuple[object, int]],
    path: Path, line: int, problems: ProblemLog,
) -> bool:
    """Whether ``image_id`` is in images.txt and not yet in this file; else the problem is logged."""
    if image_id not in known:
        problems.add(path, line, f"unknown image id {image_id} (not in images.txt)")
        return False
    if image_id in seen:
        problems.add(path, line, f"duplicate image id {image_id} (first at line {seen[image_id][1]})")
        return False
    return True


def _note_id(text: str, ids: set[int]) -> None:
    """Remember the image id that starts a malformed line, so it is not reported again."""
    first = text.split()[0] if text.split() else ""
    if first.isdigit():
        ids.add(int(first))
