"""What every format reader produces: image records, and the problems it found.

A reader (``cub``, ``tiny_imagenet``, ``wsol_metadata``, ``csv_format``) never
stops at the first bad line. It returns an :class:`Annotations` holding the
records it could build and a :class:`Problem` for every line it could not
use, each naming ``file:line``. The loaders raise the first problem as an
:class:`~infocam.errors.InputError`; ``infocam data check`` reports them all.

Boxes in a :class:`Record` are already converted to the half-open pixel-edge
convention of ``docs/conventions.md``, in the pixels of the image on disk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from infocam.errors import InputError, where

#: How far (in pixels) a box may reach past the image border and still be
#: accepted (clamped). Float annotations (CUB ``x + w``) and the
#: wsolevaluation CUB metadata (which stores ``x + w`` as an inclusive corner)
#: overshoot by up to one pixel; anything more is an annotation error.
BORDER_TOLERANCE = 1.0


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as ``file:line`` (line may be None)."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{where(self.file, self.line)}: {self.message}"

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"file": self.file, "line": self.line, "message": self.message}


class ProblemLog:
    """Collects :class:`Problem` entries (:func:`raise_problems` raises them)."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, file: object, line: int | None, message: str) -> None:
        """Record a problem at ``file:line``."""
        self.items.append(Problem(str(file), line, message))

    def extend(self, problems: Iterable[Problem]) -> None:
        """Append problems found elsewhere."""
        self.items.extend(problems)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def raise_problems(problems: list[Problem], hint: str = "") -> None:
    """Raise ``problems[0]`` as an :class:`InputError`; do nothing for an empty list."""
    if not problems:
        return
    msg = str(problems[0])
    if len(problems) > 1:
        msg += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''}"
        msg += f"; {hint})" if hint else ")"
    elif hint:
        msg += f" ({hint})"
    raise InputError(msg)


@dataclass(slots=True)
class Record:
    """One image of a dataset, with its label and ground truth.

    ``boxes`` are half-open ``(x0, y0, x1, y1)`` in the pixels of the image on
    disk; ``box_sources[i]`` is the ``file:line`` that gave ``boxes[i]``.
    ``subset`` is the official split the image belongs to (``"train"`` or
    ``"test"``; None when the format has none). ``size`` is the ``(w, h)``
    the metadata declares, if any, with ``size_source`` its ``file:line``.
    ``mask_paths`` / ``ignore_path`` hold wsolevaluation-style masks.
    """

    id: str
    path: Path
    label: int
    source: str
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    box_sources: list[str] = field(default_factory=list)
    subset: str | None = None
    size: tuple[int, int] | None = None
    size_source: str | None = None
    mask_paths: list[Path] = field(default_factory=list)
    ignore_path: Path | None = None

    def add_box(self, box: tuple[float, float, float, float], source: str) -> None:
        """Append a half-open box and where it came from."""
        self.boxes.append(box)
        self.box_sources.append(source)


@dataclass
class Annotations:
    """Everything a reader found: records (in image-id order), classes, problems."""

    records: list[Record]
    class_names: list[str]
    problems: list[Problem]
    notes: list[str] = field(default_factory=list)
    has_masks: bool = False

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def raise_if_problems(self, check_hint: str) -> None:
        """Raise the first problem as an :class:`InputError`, pointing at ``infocam data check``."""
        raise_problems(self.problems, f"run `{check_hint}` for the full list")


def box_problem(box: tuple[float, float, float, float], size: tuple[int, int] | None) -> str | None:
    """Why a half-open box is invalid, or None when it is fine.

    Checks inverted and zero-area boxes, negative coordinates, and, when the
    image ``size`` ``(w, h)`` is known, a box reaching more than
    :data:`BORDER_TOLERANCE` pixels past the border.
    """
    x0, y0, x1, y1 = box
    if x1 < x0 or y1 < y0:
        return f"inverted box {fmt_box(box)} (x1 < x0 or y1 < y0)"
    if x1 == x0 or y1 == y0:
        return f"zero-area box {fmt_box(box)}"
    if x0 < 0 or y0 < 0:
        return f"box {fmt_box(box)} outside the image (negative coordinate)"
    if size is not None:
        w, h = size
        if x0 >= w or y0 >= h:
            return f"box {fmt_box(box)} outside the {w}x{h} image"
        if x1 > w + BORDER_TOLERANCE or y1 > h + BORDER_TOLERANCE:
            return f"box {fmt_box(box)} reaches past the {w}x{h} image"
    return None


def box_overshoots(box: tuple[float, float, float, float], size: tuple[int, int]) -> bool:
    """True if a box reaches past the border by a tolerated amount (it will be clamped)."""
    w, h = size
    return box[2] > w or box[3] > h


def fmt_box(box: tuple[float, float, float, float]) -> str:
    """Format a box compactly: integers without ``.0``."""
    return "(" + ", ".join(fmt_number(v) for v in box) + ")"


def fmt_number(v: float) -> str:
    """Shortest exact text for a coordinate: ``12`` for 12.0, ``12.5`` for 12.5."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))
