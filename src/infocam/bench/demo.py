"""Demo wall time: ``infocam demo`` end to end, in a subprocess, into a temporary directory.

The full demo (or ``--quick`` with ``infocam bench --quick``) is started
as ``python -m infocam demo --out TMP --no-progress`` with this process's
interpreter and environment, and timed from start to exit (``wall_s``;
``cpu_s`` is its user + system CPU time). Goal: at most 180 s on 2 CPU
cores.
"""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infocam.bench.common import BenchContext, goal, make_entry, python_cmd

NAME = "demo"
TITLE = "demo: wall time of `infocam demo`"
GOAL_S = 180.0
GOAL = goal("wall_s", "<=", GOAL_S, f"infocam demo <= {GOAL_S:g} s on 2 CPU cores")
TIMEOUT_S = 3600


def _children_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def demo_command(out: Path, quick: bool) -> list[str]:
    cmd = [*python_cmd(), "-m", "infocam", "demo", "--out", str(out), "--no-progress"]
    return [*cmd, "--quick"] if quick else cmd


def measure(
    ctx: BenchContext, command: Sequence[str] | None = None, timeout: float = TIMEOUT_S
) -> dict[str, Any]:
    """Time the demo; ``command`` replaces it (tests time a stand-in; ``{out}`` is filled in)."""
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="infocam-bench-demo-") as tmp:
        out = Path(tmp) / "demo"
        cmd = (
            demo_command(out, ctx.quick)
            if command is None
            else [str(c).format(out=out) for c in command]
        )
        ctx.log(f"demo: {' '.join(cmd[1:])}")
        t0 = time.perf_counter()
        cpu0 = _children_cpu_s()
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
            )
            rc, timed_out = proc.returncode, False
            tail = (proc.stderr or "").strip().splitlines()[-3:]
        except subprocess.TimeoutExpired:
            rc, timed_out, tail = None, True, [f"timed out after {timeout:g} s"]
        wall = time.perf_counter() - t0
        cpu = _children_cpu_s() - cpu0
    ok = rc == 0
    measured = {
        "wall_s": wall,
        "cpu_s": cpu,
        "mode": "quick" if ctx.quick else "full",
        "command": " ".join(["python", *cmd[1:]]),
        "returncode": rc,
        "timed_out": timed_out,
        "goal_s": GOAL_S,
    }
    if not ok:
        measured["stderr_tail"] = tail
    entry = make_entry(
        NAME,
        TITLE,
        measured=measured,
        ratio=wall / GOAL_S,
        ratio_meaning=f"wall time / the {GOAL_S:g} s budget",
        goal_=GOAL,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=[
            "a fresh interpreter: imports and data generation included",
            "cpu_s: the demo's user + system CPU time (less sensitive to other load than wall_s)",
        ]
        + (["--quick: the shortened demo; the goal is for the full one"] if ctx.quick else []),
    )
    if not ok:
        entry["met"] = False
        entry["error"] = f"the demo failed (returncode {rc})" if not timed_out else tail[0]
    return entry


def summary(m: dict[str, Any]) -> str:
    status = "" if m.get("returncode") == 0 else f" (failed: returncode {m.get('returncode')})"
    return f"{m['mode']} demo {m['wall_s']:.1f} s{status}"
