"""``infocam data check``: count a dataset and list everything wrong with it.

The check never stops at the first problem. It reports, each with
``file:line``: malformed lines, non-numeric fields, inverted, zero-area or
out-of-image boxes, labels out of range, duplicate ids, images listed twice,
images in two splits, and (opening every image) missing or unreadable
images, sizes that disagree with the metadata and masks that do not fit.
Boxes reaching at most one pixel past the border are *warnings* (the
loaders clamp them). :class:`CheckReport` holds the counts and both lists.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from infocam.data.factory import read_annotations, resolve_root, validate_config
from infocam.data.images import image_size, open_mask, open_rgb
from infocam.data.records import Annotations, Problem, Record, box_overshoots, box_problem, fmt_box
from infocam.data.split import select_split
from infocam.data.wsol_metadata import list_splits, metadata_dir, no_splits_message, read_wsol_split
from infocam.errors import InputError


@dataclass
class SplitSummary:
    """Counts for one split."""

    images: int
    classes: int
    boxes: int
    boxes_per_image: dict[int, int]
    masks: int = 0

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "images": self.images,
            "classes": self.classes,
            "boxes": self.boxes,
            "boxes_per_image": {str(k): v for k, v in sorted(self.boxes_per_image.items())},
            "masks": self.masks,
        }


@dataclass
class CheckReport:
    """What ``infocam data check`` found."""

    format: str
    root: str
    num_classes: int
    class_names: list[str]
    splits: dict[str, SplitSummary]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    images_checked: bool = True
    #: boxes that reach the image's right or bottom edge, and those of them one pixel past it
    edge_boxes: int = field(default=0, repr=False)
    overshoots: list[Problem] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        """True when no problem was found (warnings allowed)."""
        return not self.problems

    def sort(self) -> None:
        """Order problems and warnings by file, then line (file-level entries first)."""
        def key(p: Problem) -> tuple:
            return (p.file, p.line or 0)

        self.problems.sort(key=key)
        self.warnings.sort(key=key)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "format": self.format,
            "root": self.root,
            "ok": self.ok,
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "images_checked": self.images_checked,
            "splits": {k: v.to_dict() for k, v in self.splits.items()},
            "problems": [p.to_dict() for p in self.problems],
            "warnings": [p.to_dict() for p in self.warnings],
            "notes": self.notes,
        }

    def to_text(self, max_listed: int | None = None) -> str:
        """Human-readable report."""
        lines = [f"{self.format} dataset at {self.root}: {self.num_classes} classes"]
        if self.splits:
            masks = any(s.masks for s in self.splits.values())
            head = f"  {'split':<10} {'images':>8} {'classes':>8} {'boxes':>8}"
            lines.append(head + (f" {'masks':>8}" if masks else "") + "  boxes per image")
            for name, s in self.splits.items():
                per = ", ".join(f"{k}: {v}" for k, v in sorted(s.boxes_per_image.items()))
                row = f"  {name:<10} {s.images:>8} {s.classes:>8} {s.boxes:>8}"
                lines.append(row + (f" {s.masks:>8}" if masks else "") + f"  {per}")
        lines.extend(f"note: {n}" for n in self.notes)
        for title, items in (("problems", self.problems), ("warnings", self.warnings)):
            if items:
                lines.append(f"{title} ({len(items)}):")
                shown = items if max_listed is None else items[:max_listed]
                lines.extend(f"  {p}" for p in shown)
                if len(shown) < len(items):
                    lines.append(f"  ... and {len(items) - len(shown)} more (see --json)")
        lines.append("OK: no problems found" if self.ok else f"{len(self.problems)} problem(s) found")
        return "\n".join(lines)


def _split_source(source: str) -> tuple[str, int | None]:
    file, _, line = source.rpartition(":")
    return (file, int(line)) if line.isdigit() else (source, None)


def _summary(records: list[Record]) -> SplitSummary:
    per = Counter(len(r.boxes) for r in records)
    return SplitSummary(
        images=len(records),
        classes=len({r.label for r in records}),
        boxes=sum(len(r.boxes) for r in records),
        boxes_per_image=dict(per),
        masks=sum(len(r.mask_paths) for r in records),
    )


def check_dataset(
    fmt: str,
    root: str | Path,
    *,
    csv: str | Path | None = None,
    images: str | Path | None = None,
    dataset_name: str | None = None,
    decode: bool = True,
    progress: bool = False,
) -> CheckReport:
    """Check a dataset on disk.

    ``root`` is the dataset folder (cub, tiny-imagenet), the image folder or
    the CSV file itself (csv; ``csv`` overrides the file), or the metadata
    folder (wsol, with ``images`` the image root; without it, images are not
    checked). ``decode=False`` reads image headers only (faster; misses
    truncated files).
    """
    fmt = str(fmt).lower()
    root = Path(root)
    if not root.exists():
        raise InputError(f"ROOT: {root} does not exist")
    if fmt == "wsol":
        return _check_wsol(root, images, dataset_name, decode, progress)
    if fmt == "csv":
        if root.is_file() and csv is None:
            csv, root = root, root.parent
        cfg = validate_config({"format": "csv", "root": str(root), **({"csv": str(csv)} if csv else {})})
    else:
        cfg = validate_config({"format": fmt, "root": str(root)})
    ann = read_annotations(cfg)
    report = CheckReport(
        format=fmt,
        root=str(resolve_root(fmt, root)),
        num_classes=ann.num_classes,
        class_names=ann.class_names,
        splits={s: _summary(select_split(ann.records, s)) for s in ("train", "val", "test")},
        problems=list(ann.problems),
        notes=list(ann.notes),
    )
    _check_records(ann.records, report, decode, progress, has_masks=ann.has_masks)
    _report_overshoots(report, inclusive_corners=False)
    report.sort()
    return report


def _check_wsol(meta_root: Path, images: str | Path | None, dataset_name: str | None, decode: bool, progress: bool) -> CheckReport:
    meta = metadata_dir(meta_root, dataset_name)
    splits = list_splits(meta)
    if not splits:
        raise InputError(f"ROOT: {no_splits_message(meta, root_flag='ROOT', name_flag='--dataset-name')}")
    image_root = Path(images) if images is not None else Path("<images>")
    report = CheckReport(format="wsol", root=str(meta), num_classes=0, class_names=[], splits={})
    first_seen: dict[str, str] = {}
    for split in splits:
        cfg = validate_config({"format": "wsol", "root": str(image_root), "metadata_root": str(meta)})
        ann = read_annotations(cfg, split) if images is not None else _read_without_images(meta, split)
        report.num_classes, report.class_names = ann.num_classes, ann.class_names
        report.splits[split] = _summary(ann.records)
        report.problems.extend(ann.problems)
        for rec in ann.records:
            if rec.id in first_seen:
                file, line = _split_source(rec.source)
                report.problems.append(Problem(file, line, f"image {rec.id} is in two splits (also at {first_seen[rec.id]})"))
            else:
                first_seen[rec.id] = rec.source
        if images is not None:
            _check_records(ann.records, report, decode, progress, has_masks=ann.has_masks)
        else:
            for rec in ann.records:
                if rec.size is not None:
                    for box, source in zip(rec.boxes, rec.box_sources):
                        _check_box(box, source, rec.size, report)
    _report_overshoots(report, inclusive_corners=True)
    if images is None:
        report.images_checked = False
        report.notes.append("images not checked: pass --images DIR (the folder the metadata paths are relative to)")
    report.sort()
    return report


def _read_without_images(meta: Path, split: str) -> Annotations:
    return read_wsol_split(meta / split, Path("."))


def _check_box(box: tuple, source: str, size: tuple[int, int], report: CheckReport) -> None:
    file, line = _split_source(source)
    why = box_problem(box, size)
    if why:
        report.problems.append(Problem(file, line, why))
        return
    report.edge_boxes += box[2] >= size[0] or box[3] >= size[1]
    if box_overshoots(box, size):
        report.overshoots.append(
            Problem(file, line, f"box {fmt_box(box)} reaches past the {size[0]}x{size[1]} image by at most 1 px (clamped)")
        )


def _line_as_written(file: str, line: int | None) -> str:
    """Line ``line`` of ``file`` as it stands in the file (empty when unreadable)."""
    if line is None:
        return ""
    try:
        with open(file, encoding="utf-8") as f:
            for i, text in enumerate(f, 1):
                if i == line:
                    return text.rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        pass
    return ""


def _report_overshoots(report: CheckReport, *, inclusive_corners: bool) -> None:
    """Boxes one pixel past the border: one warning each, or (inclusive-corner metadata) one in all.

    In wsolevaluation metadata the corners are inclusive (``x1 = x + w - 1``):
    a box written as ``x + w`` (half-open) that ends at the image's edge reads
    as one pixel past it. When most edge boxes do that, the file was very
    likely written half-open; one warning says so, quoting the first such line.
    """
    items, report.overshoots = report.overshoots, []
    if not items:
        return
    if not inclusive_corners or len(items) == 1:
        report.warnings.extend(items)
        return
    first = items[0]
    quoted = _line_as_written(first.file, first.line)
    share = f"{len(items)} of the {report.edge_boxes} boxes that reach the right or bottom edge"
    why = (
        "the corners here are inclusive (x1 = x + w - 1), so these look like half-open boxes (x + w) "
        "written where inclusive ones are expected; they are clamped to the image"
        if 2 * len(items) > report.edge_boxes
        else "they are clamped to the image"
    )
    report.warnings.append(Problem(
        first.file, first.line,
        f"{share} end one pixel past it (first: {quoted!r}): {why}",
    ))


def _check_records(records: list[Record], report: CheckReport, decode: bool, progress: bool, *, has_masks: bool) -> None:
    iterator = records
    if progress:
        from tqdm import tqdm

        iterator = tqdm(records, desc="checking images", unit="img", file=sys.stderr, leave=False)
    for rec in iterator:
        file, line = _split_source(rec.source)
        try:
            size = open_rgb(rec.path).size if decode else image_size(rec.path)
        except InputError as exc:
            report.problems.append(Problem(file, line, str(exc)))
            continue
        if rec.size is not None and rec.size != size:
            sfile, sline = _split_source(rec.size_source or rec.source)
            report.problems.append(
                Problem(sfile, sline, f"declared size {rec.size[0]}x{rec.size[1]} but {rec.path} is {size[0]}x{size[1]}")
            )
        for box, source in zip(rec.boxes, rec.box_sources):
            _check_box(box, source, size, report)
        if has_masks:
            if not rec.mask_paths:
                report.problems.append(Problem(file, line, f"image {rec.id} has no mask in localization.txt"))
            for mpath in [*rec.mask_paths, *([rec.ignore_path] if rec.ignore_path else [])]:
                try:
                    m = open_mask(mpath)
                except InputError as exc:
                    report.problems.append(Problem(file, line, str(exc)))
                    continue
                if (m.shape[1], m.shape[0]) != size:
                    report.problems.append(
                        Problem(file, line, f"{mpath}: mask is {m.shape[1]}x{m.shape[0]} but the image is {size[0]}x{size[1]}")
                    )
