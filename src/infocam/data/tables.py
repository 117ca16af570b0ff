"""Reading the small text tables the dataset formats use, line by line.

Every helper reports what it cannot read to a :class:`ProblemLog` as
``file:line`` and carries on, so one pass finds every problem. Blank lines
are skipped; line numbers are 1-based and count blank lines too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from infocam.data.records import ProblemLog


def read_lines(path: Path, problems: ProblemLog, *, required: bool = True) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each non-blank line of a UTF-8 text file.

    A missing file (when ``required``), an unreadable file, or a line that is
    not valid UTF-8 is reported and skipped. Trailing ``\\r\\n`` is removed.
    """
    path = Path(path)
    if not path.is_file():
        if required:
            what = "is a directory, not a file" if path.is_dir() else "file not found"
            problems.add(path, None, what)
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.add(path, None, f"cannot read file: {exc.strerror or exc}")
        return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.add(path, number, "line is not valid UTF-8 text")
            continue
        text = text.rstrip("\r")
        if text.strip():
            yield number, text


def split_fields(
    text: str,
    n: int,
    path: Path,
    line: int,
    problems: ProblemLog,
    *,
    sep: str | None = None,
    names: str = "",
) -> list[str] | None:
    """Split a line into exactly ``n`` fields (``sep=None``: runs of spaces or tabs).

    A line with more or fewer fields is reported and gives None. ``names``
    describes the expected fields for the message, e.g. ``"id x y w h"``.
    """
    fields = text.split() if sep is None else [f.strip() for f in text.split(sep)]
    if len(fields) != n:
        expect = f" ({names})" if names else ""
        problems.add(path, line, f"malformed line: expected {n} fields{expect}, got {len(fields)}: {text.strip()!r}")
        return None
    return fields


def parse_float(text: str, path: Path, line: int, problems: ProblemLog, name: str) -> float | None:
    """Parse a finite float, reporting ``name`` on failure."""
    try:
        value = float(text)
    except ValueError:
        problems.add(path, line, f"non-numeric {name}: {text!r}")
        return None
    if not math.isfinite(value):
        problems.add(path, line, f"non-finite {name}: {text!r}")
        return None
    return value


def parse_int(text: str, path: Path, line: int, problems: ProblemLog, name: str) -> int | None:
    """Parse an integer (``"3"``; ``"3.0"`` is not an integer), reporting ``name`` on failure."""
    try:
        return int(text.strip())
    except ValueError:
        problems.add(path, line, f"non-integer {name}: {text!r}")
        return None


def parse_floats(
    fields: list[str], path: Path, line: int, problems: ProblemLog, names: tuple[str, ...]
) -> tuple[float, ...] | None:
    """Parse several floats; None if any fails (each failure is reported)."""
    values = [parse_float(f, path, line, problems, n) for f, n in zip(fields, names)]
    if any(v is None for v in values):
        return None
    return tuple(values)  # type: ignore[arg-type]
