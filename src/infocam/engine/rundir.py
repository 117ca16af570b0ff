"""The run directory: the guard against overwriting a run, and the epoch log.

Files (written by rank 0 only)::

    config.yaml     the resolved config
    metrics.jsonl   one JSON object per epoch, appended after last.pt is written
    last.pt         the checkpoint after the latest epoch
    best.pt         the checkpoint of the best epoch
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infocam.engine.checkpoint import atomic_write
from infocam.errors import InputError

__all__ = ["RUN_FILES", "append_log", "check_run_dir", "create_run_dir", "prepare_run_dir", "read_log", "write_log"]

RUN_FILES = ("config.yaml", "metrics.jsonl", "last.pt", "best.pt")


def check_run_dir(out: Path, resume: bool, overwrite: bool) -> Path | None:
    """Check ``out`` without writing anything; returns the checkpoint to resume from, if any.

    A directory holding a previous run (any of :data:`RUN_FILES`) is refused
    unless ``resume`` (continue from ``last.pt``; a run that finished no epoch
    starts over) or ``overwrite`` (:func:`create_run_dir` deletes those files;
    other files stay).
    """
    if resume and overwrite:
        raise InputError("--resume and --overwrite: give one of them, not both")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    found = [n for n in RUN_FILES if (out / n).exists()]
    if resume:
        if (out / "last.pt").is_file():
            return out / "last.pt"
        if not found:
            raise InputError(f"{out}: --resume: no previous run here (no last.pt)")
        return None  # started, but no epoch finished: start from the beginning
    if found and not overwrite:
        raise InputError(
            f"{out}: holds a previous run ({', '.join(found)}); pass --resume to continue "
            "it or --overwrite to replace it"
        )
    return None


def create_run_dir(out: Path, resume: bool) -> None:
    """Make ``out`` ready once the run's config and data are known to be good.

    Removes temporary files of writes that a crash interrupted and, unless
    ``resume``, the files of a previous run (:func:`check_run_dir` allowed it).
    """
    if out.is_dir():
        for tmp in out.glob(".*.tmp"):
            if any(tmp.name.startswith(f".{n}.") for n in RUN_FILES):
                tmp.unlink(missing_ok=True)
        if not resume:
            for n in RUN_FILES:
                (out / n).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def prepare_run_dir(out: Path, resume: bool, overwrite: bool) -> Path | None:
    """:func:`check_run_dir`, then :func:`create_run_dir` at once."""
    ckpt = check_run_dir(out, resume, overwrite)
    create_run_dir(out, resume)
    return ckpt


def read_log(path: Path, upto_epoch: int) -> list[dict[str, Any]]:
    """The epoch rows of ``metrics.jsonl`` up to ``upto_epoch`` (none if it is missing)."""
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("epoch", 0) <= upto_epoch]


def write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.jsonl`` atomically (on resume: drop epochs a crash lost)."""
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    atomic_write(path, lambda f: f.write(data))


def append_log(path: Path, row: Mapping[str, Any]) -> None:
    """Append one epoch row to ``metrics.jsonl`` and fsync it."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())
