"""Shared pieces of ``infocam bench``: the context, timers, entries and the machine.

Every measurement compares two things *side by side in one process*: the
two sides run interleaved in ABBA order (A B, then B A, ...) so that a slow
drift of the machine's load hits both alike, and each side reports the
median of its repetitions. A ratio that pairs the two sides (e.g.
``with maps / plain``) is the median of the per-pair ratios.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "BenchContext",
    "goal",
    "interleaved",
    "machine_info",
    "make_entry",
    "median",
    "overridden",
    "paired_ratios",
    "rounded",
    "sync",
    "timed",
]

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


@dataclass
class BenchContext:
    """What every measurement is given.

    ``repeats``: the number of interleaved repetitions per side (``None``:
    each measurement's own default, smaller with ``quick``). ``log`` prints
    one progress line (to stderr).
    """

    device: torch.device
    quick: bool = False
    repeats: int | None = None
    log: Callable[[str], None] = field(default=lambda msg: None)
    machine: dict[str, Any] = field(default_factory=dict)

    def reps(self, full: int, quick: int) -> int:
        if self.repeats is not None:
            return self.repeats
        return quick if self.quick else full

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"


def machine_info(device: torch.device | str = "cpu") -> dict[str, Any]:
    """The machine a number was measured on: cores, threads, versions, load."""
    import cv2
    import numpy as np

    import infocam

    dev = torch.device(device)
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        usable = os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover - not Unix
        load = None
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "opencv_threads": cv2.getNumThreads(),
        "load_average": load,
        "torch_version": str(torch.__version__),
        "numpy_version": np.__version__,
        "opencv_version": cv2.__version__,
        "infocam_version": infocam.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "device": dev.type,
    }
    if dev.type == "cuda":
        info["cuda_device"] = torch.cuda.get_device_name(dev)
        info["cuda_version"] = torch.version.cuda
    return info


def sync(device: torch.device) -> None:
    """Wait for the device (a no-op on the CPU), so that a timer sees finished work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    """Seconds that ``fn()`` takes, device work included."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def interleaved(
    sides: Mapping[str, Callable[[], Any]],
    repeats: int,
    device: torch.device,
    *,
    warmup: int = 1,
) -> dict[str, list[float]]:
    """Time each side ``repeats`` times, interleaved in ABBA order, after ``warmup`` untimed rounds.

    Round ``r`` runs the sides in their given order when ``r`` is even and
    reversed when odd, so that a linear drift of the load cancels out of
    the medians. Returns ``{side: [seconds of each round]}``.
    """
    names = list(sides)
    for _ in range(warmup):
        for n in names:
            sides[n]()
    sync(device)
    out: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for n in names if r % 2 == 0 else reversed(names):
            out[n].append(timed(sides[n], device))
    return out


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def paired_ratios(num: Sequence[float], den: Sequence[float]) -> list[float]:
    """``num[i] / den[i]`` for each round (both sides timed next to each other)."""
    return [a / b for a, b in zip(num, den, strict=True)]


def rounded(x: Any, digits: int = 6) -> Any:
    """Round floats (recursively) for the JSON; non-finite floats become None."""
    if isinstance(x, bool) or x is None:
        return x
    if isinstance(x, float):
        return round(x, digits) if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {k: rounded(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [rounded(v, digits) for v in x]
    return x


def overridden(defaults: Mapping[str, int], env: str, text: str | None = None) -> dict[str, int]:
    """``defaults`` with the overrides ``key=N,key=N`` (N >= 1) of ``text``, else of the variable ``env``."""
    from infocam.errors import InputError

    out = dict(defaults)
    text = os.environ.get(env) if text is None else text
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in out or not value.strip().isdigit() or int(value) < 1:
            keys = ", ".join(f"{k}=N" for k in out)
            raise InputError(f"{env}: {part.strip()!r} is not one of {keys} with N >= 1")
        out[key] = int(value)
    return out


def goal(metric: str, op: str, value: float, text: str) -> dict[str, Any]:
    """A goal: ``entry[metric]`` (``"ratio"``) or ``entry["measured"][metric]`` ``op`` ``value``."""
    if op not in OPS:
        raise ValueError(f"op must be one of {tuple(OPS)}; got {op!r}")
    return {"metric": metric, "op": op, "value": value, "text": text}


def make_entry(
    name: str,
    title: str,
    *,
    measured: Mapping[str, Any],
    ratio: float,
    ratio_meaning: str,
    goal_: Mapping[str, Any] | None,
    ctx: BenchContext,
    seconds: float,
    notes: Sequence[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    """One entry of the JSON: the numbers, the ratio, the goal, ``met`` and the machine.

    ``met`` is None only for an informational entry (no goal).
    """
    entry: dict[str, Any] = {
        "name": name,
        "title": title,
        "measured": dict(measured),
        "ratio": float(ratio),
        "ratio_meaning": ratio_meaning,
        "goal": dict(goal_) if goal_ is not None else None,
        "met": None,
        **extra,
        "quick": ctx.quick,
        "device": ctx.device.type,
        "seconds": float(seconds),
        "notes": list(notes),
        "machine": dict(ctx.machine),
    }
    if goal_ is not None:
        value = entry["ratio"] if goal_["metric"] == "ratio" else entry["measured"][goal_["metric"]]
        entry["met"] = bool(
            value is not None and OPS[goal_["op"]](float(value), float(goal_["value"]))
        )
    return rounded(entry)


def error_entry(
    name: str, title: str, exc: BaseException, ctx: BenchContext, seconds: float
) -> dict[str, Any]:
    """The entry of a measurement that failed: ``error`` says why; ``met`` is False."""
    return rounded(
        {
            "name": name,
            "title": title,
            "error": f"{type(exc).__name__}: {exc}",
            "measured": {},
            "ratio": None,
            "goal": None,
            "met": False,
            "quick": ctx.quick,
            "device": ctx.device.type,
            "seconds": float(seconds),
            "machine": dict(ctx.machine),
        }
    )


def python_cmd() -> list[str]:
    """The interpreter running this process (children use the same environment)."""
    return [sys.executable]
