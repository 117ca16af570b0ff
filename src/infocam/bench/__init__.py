"""``infocam bench``: side-by-side performance measurements, one module each.

=============  ==============================================================
name           what is compared (goal)
=============  ==============================================================
``maps``       ResNet50 forward vs forward + CAM/infoCAM/infoCAM+ at 224,
               torch-cam's CAM beside them when installed (ratio <= 1.03)
``pipeline``   forward + maps + boxes images/s (default with ``--device
               cuda`` only; informational)
``boxes``      ``boxes_from_maps`` vs a plain OpenCV loop, CAM maps and
               white noise (>= 1x on CAM maps)
``sweep``      ``fast_sweep`` vs ``reference_sweep`` on CAM maps (float64,
               float32; both MaxBoxAcc versions) and white noise,
               identical hits (>= 50x at step 0.001, CAM, float64, V2)
``evaluate``   ``evaluate`` images/s, ResNet50 + 3 maps, GT-known and
               MaxBoxAccV2 at step 0.001, scoring serial vs in worker
               processes, identical numbers; a third line decodes JPEG
               files through ``infocam evaluate``'s loader (CPU: the wait
               for the workers <= 10% of the wall time; GPU: >= 2,000
               images/s, decoding included)
``memory``     evaluation peak RSS, N vs 10 N images (growth < 10%)
``trainer``    ``fit`` vs a bare torch loop (>= 0.95x)
``score``      ``infocam score`` over 5,794 CAM-like maps vs wsolevaluation's
               per-threshold loop (<= 30 s), identical hits
``demo``       ``infocam demo`` wall time (<= 180 s on 2 CPU cores)
``faithfulness`` ResNet50 deletion + insertion curves vs the 2 x steps
               forward passes they need (<= 1.15)
=============  ==============================================================

:func:`run_bench` runs a selection and returns the report (a JSON-ready
dict, see ``docs/performance.md``); :func:`format_table` lays it out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import torch

from infocam.bench import (
    boxes_vs_opencv,
    demo,
    evaluate,
    faithfulness,
    map_overhead,
    memory,
    pipeline,
    score,
    sweep_vs_loop,
    trainer,
)
from infocam.bench.common import BenchContext, error_entry, machine_info
from infocam.errors import InputError

__all__ = [
    "MEASUREMENTS",
    "default_names",
    "format_table",
    "parse_only",
    "resolve_device",
    "run_bench",
]

#: Every measurement, in the order they run and print.
MEASUREMENTS: dict[str, ModuleType] = {
    m.NAME: m
    for m in (
        map_overhead, pipeline, boxes_vs_opencv, sweep_vs_loop, score, evaluate, memory, trainer, demo,
        faithfulness,
    )
}
#: Run by default only on a GPU.
GPU_ONLY_DEFAULT = ("pipeline",)
FORMAT = "infocam-bench"
VERSION = 1


def resolve_device(device: str) -> torch.device:
    """``"cpu"`` or ``"cuda"``; InputError when CUDA is asked for and missing."""
    if device not in ("cpu", "cuda"):
        raise InputError(f"--device must be cpu or cuda; got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA requested but not available")
    return torch.device(device)


def default_names(device: str | torch.device = "cpu") -> list[str]:
    """What runs without ``--only``: everything, ``pipeline`` only on a GPU."""
    cuda = torch.device(device).type == "cuda"
    return [n for n in MEASUREMENTS if cuda or n not in GPU_ONLY_DEFAULT]


def parse_only(text: str | None, device: str | torch.device = "cpu") -> list[str]:
    """``--only a,b``: the names, in run order; InputError naming an unknown one."""
    if text is None:
        return default_names(device)
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in MEASUREMENTS]
    if unknown or not names:
        what = (
            f"unknown measurement {', '.join(map(repr, unknown))}"
            if unknown
            else "no measurement named"
        )
        raise InputError(f"--only: {what}; choose from {', '.join(MEASUREMENTS)}")
    return [n for n in MEASUREMENTS if n in names]


def run_bench(
    names: Iterable[str] | None = None,
    *,
    device: str = "cpu",
    quick: bool = False,
    repeats: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the named measurements (default: :func:`default_names`) and return the report.

    A measurement that raises is recorded with its ``error`` (and
    ``met: false``) and the others still run.
    """
    dev = resolve_device(device)
    names = default_names(dev) if names is None else list(names)
    for n in names:
        if n not in MEASUREMENTS:
            raise InputError(f"unknown measurement {n!r}; choose from {', '.join(MEASUREMENTS)}")
    if repeats is not None and repeats < 1:
        raise InputError(f"--repeats must be >= 1; got {repeats}")
    machine = machine_info(dev)
    ctx = BenchContext(
        device=dev, quick=quick, repeats=repeats, log=log or (lambda msg: None), machine=machine
    )
    results: dict[str, Any] = {}
    t0 = time.perf_counter()
    for n in names:
        mod = MEASUREMENTS[n]
        t = time.perf_counter()
        try:
            results[n] = mod.measure(ctx)
        except Exception as exc:  # one broken measurement must not hide the others
            results[n] = error_entry(n, mod.TITLE, exc, ctx, time.perf_counter() - t)
            ctx.log(f"{n}: failed: {type(exc).__name__}: {exc}")
    flags = [e["identical"] for e in results.values() if e.get("identical") is not None]
    identical = all(flags) if flags else None
    met = [e["met"] for e in results.values() if e.get("met") is not None]
    return {
        "format": FORMAT,
        "version": VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "device": dev.type,
        "quick": quick,
        "repeats": repeats,
        "machine": machine,
        "measurements": names,
        "seconds": time.perf_counter() - t0,
        "identical": identical,
        "all_met": all(met) if met else None,
        "errors": [n for n, e in results.items() if "error" in e],
        "results": results,
    }


def _goal_text(entry: dict[str, Any]) -> str:
    g = entry.get("goal")
    if not g:
        return "-"
    return f"{g['metric']} {g['op']} {g['value']:g}"


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table, one row per measurement, and the machine."""
    rows = [("measurement", "ratio", "goal", "met", "numbers")]
    for name, e in report["results"].items():
        if "error" in e and not e.get("measured"):
            numbers = f"ERROR {e['error']}"
        else:
            try:
                numbers = MEASUREMENTS[name].summary(e["measured"])
            except (KeyError, TypeError, ValueError):
                numbers = "?"
            if "error" in e:
                numbers += f"  ERROR {e['error']}"
        if "identical" in e:
            numbers += "; identical" if e["identical"] else "; NOT IDENTICAL"
        ratio = "-" if e.get("ratio") is None else f"{e['ratio']:.3f}"
        met = {True: "yes", False: "NO", None: "-"}[e.get("met")]
        rows.append((name, ratio, _goal_text(e), met, numbers))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
        if k == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
    m = report["machine"]
    lines.append("")
    lines.append(
        f"{report['device']}{' (quick)' if report['quick'] else ''}; {m['cpus_usable']} of {m['cpu_count']} CPUs, "
        f"torch {m['torch_version']} with {m['torch_threads']} threads, load average {m['load_average']}"
        + (f"; {m['cuda_device']}" if "cuda_device" in m else "")
    )
    return "\n".join(lines)
