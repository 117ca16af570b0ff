"""The MaxBoxAccV2 sweep: :func:`infocam.sweep.fast_sweep` vs :func:`infocam.sweep.reference_sweep`.

Both give, for one normalised map and its GT boxes, the hits at every
threshold ``np.arange(0, 1, step)`` and IoU 30/50/70 from the candidate
boxes of EVERY contour (wsolevaluation's MaxBoxAccV2). The reference is
wsolevaluation's plain per-threshold ``cv2.findContours`` loop; at step
0.001 it costs tens of milliseconds per 224 x 224 map, so it runs on a
subset of the maps (the first ``reference_maps``) and its time for all the
maps is extrapolated per map (``reference_extrapolated``).

Per step, two phases. (1) Correctness: both sweeps on each map of the
subset, alternating which goes first; their outputs must be IDENTICAL
(``identical``; ``infocam bench`` exits non-zero otherwise), and the
per-map time ratios give ``speedup_paired_median``. (2) Throughput as an
evaluation sees it: blocks of back-to-back calls, the fast sweep over all
the maps and the reference over the subset, in ABBA rounds; the medians of
the per-map times give ``speedup`` (the entry's ratio at step 0.001).
Interleaving map by map slows the fast sweep by ~15% here (its working
set is evicted by the reference's), hence the blocks.

Maps: smooth random maps, seeded - Gaussian-blurred white noise (sigma 6
px, the recipe of ``tests/test_sweep.py``), min-max normalised, float32;
one random GT box per map.
"""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np

from infocam.bench.common import BenchContext, goal, make_entry, median

NAME = "sweep"
TITLE = "MaxBoxAccV2 sweep: fast_sweep vs reference_sweep, 224x224 maps, IoU 30/50/70"
GOAL = goal("ratio", ">=", 20.0, "fast_sweep >= 20x the reference loop at step 0.001")
STEPS = (0.001, 0.01)
MAP_SIZE = 224
SIGMA = 6.0


def smooth_map(i: int, size: int = MAP_SIZE, sigma: float = SIGMA, seed: int = 0) -> np.ndarray:
    """Map ``i``: Gaussian-blurred noise, min-max normalised to [0, 1], float32."""
    rng = np.random.default_rng([seed, i])
    x = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), sigma)
    return ((x - x.min()) / (x.max() - x.min())).astype(np.float32)


def random_gt(i: int, size: int = MAP_SIZE, seed: int = 0) -> np.ndarray:
    """One random half-open GT box (1, 4) inside the map, sides of at least size/8."""
    rng = np.random.default_rng([seed, i, 1])
    lo = max(1, size // 8)
    w, h = (int(v) for v in rng.integers(lo, size + 1, 2))
    x0, y0 = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
    return np.array([[x0, y0, x0 + w, y0 + h]], dtype=np.int64)


def max_box_acc(hits: np.ndarray, count: int) -> tuple[dict[str, float], float]:
    """Summed hits (T, 3) -> ({d: MaxBoxAcc(d) in percent}, MaxBoxAccV2)."""
    acc = hits.max(axis=0) / max(count, 1) * 100
    per_d = {str(d): float(a) for d, a in zip((30, 50, 70), acc)}
    return per_d, float(acc.mean())


def _block(fn, maps: list, gts: list, thr: np.ndarray, count: int) -> tuple[float, np.ndarray]:
    """``fn`` on the first ``count`` maps back to back: (seconds per map, summed hits (T, 3))."""
    hits = np.zeros((thr.size, 3), np.int64)
    t0 = time.perf_counter()
    for i in range(count):
        hits += fn(maps[i], gts[i], thr)
    return (time.perf_counter() - t0) / count, hits


def _one_step(step: float, maps: list, gts: list, n_ref: int, rounds: int) -> dict[str, Any]:
    from infocam.sweep import fast_sweep, reference_sweep

    thr = np.arange(0, 1, step)
    n = len(maps)
    fast_sweep(maps[0], gts[0], thr)  # warm the per-shape caches
    # 1. Both on each map of the subset, alternating which goes first: the
    #    outputs must be identical; per-map paired times.
    identical = True
    paired_ref, paired_fast = [], []
    for i in range(n_ref):
        out: dict[str, np.ndarray] = {}
        for side in ("reference", "fast") if i % 2 == 0 else ("fast", "reference"):
            fn = reference_sweep if side == "reference" else fast_sweep
            t0 = time.perf_counter()
            out[side] = fn(maps[i], gts[i], thr)
            (paired_ref if side == "reference" else paired_fast).append(time.perf_counter() - t0)
        identical &= bool(np.array_equal(out["reference"], out["fast"]))
    # 2. Throughput as a real run sees it, blocks of back-to-back calls in
    #    ABBA order: the fast sweep over ALL maps, the reference over the subset.
    fast_pm, ref_pm = [], []
    fast_hits = ref_hits = None
    for r in range(rounds):
        for side in ("fast", "reference") if r % 2 == 0 else ("reference", "fast"):
            if side == "fast":
                per_map, fast_hits = _block(fast_sweep, maps, gts, thr, n)
                fast_pm.append(per_map)
            else:
                per_map, ref_hits = _block(reference_sweep, maps, gts, thr, n_ref)
                ref_pm.append(per_map)
    ref_mean, fast_mean = median(ref_pm), median(fast_pm)
    ref_acc, ref_v2 = max_box_acc(ref_hits, n_ref)
    fast_acc, fast_v2 = max_box_acc(fast_hits, n)
    return {
        "step": step,
        "thresholds": int(thr.size),
        "maps": n,
        "reference_maps": n_ref,
        "reference_extrapolated": n_ref < n,
        "rounds": rounds,
        "fast_ms_per_map": fast_mean * 1e3,
        "fast_s": fast_mean * n,
        "reference_ms_per_map": ref_mean * 1e3,
        "reference_s_measured": ref_mean * n_ref,
        "reference_s_extrapolated": ref_mean * n,
        "speedup": ref_mean / fast_mean,
        "fast_ms_per_map_rounds": [t * 1e3 for t in fast_pm],
        "reference_ms_per_map_rounds": [t * 1e3 for t in ref_pm],
        "paired_fast_ms_per_map": float(np.mean(paired_fast)) * 1e3,
        "paired_reference_ms_per_map": float(np.mean(paired_ref)) * 1e3,
        "speedup_paired_median": median([a / b for a, b in zip(paired_ref, paired_fast)]),
        "identical": identical,
        "max_box_acc_v2_reference_subset": ref_v2,
        "max_box_acc_reference_subset": ref_acc,
        "max_box_acc_v2_fast_all": fast_v2,
        "max_box_acc_fast_all": fast_acc,
    }


def measure(ctx: BenchContext) -> dict[str, Any]:
    t_start = time.perf_counter()
    n = 40 if ctx.quick else 1000
    n_ref = 4 if ctx.quick else 50
    maps = [smooth_map(i) for i in range(n)]
    gts = [random_gt(i) for i in range(n)]
    ctx.log(f"sweep: {n} maps of {MAP_SIZE}x{MAP_SIZE}, reference on {n_ref}, steps {STEPS}")
    rounds = ctx.reps(2, 2)
    per_step = {f"{s:g}": _one_step(s, maps, gts, n_ref, rounds) for s in STEPS}
    identical = all(v["identical"] for v in per_step.values())
    main = per_step[f"{STEPS[0]:g}"]
    notes = [
        f"reference_sweep timed on the first {n_ref} maps and extrapolated per map to all {n}",
        "speedup: per-map times of back-to-back blocks (fast over all maps, reference over "
        "the subset), ABBA rounds, medians; speedup_paired_median: the two run map by map",
        "identical: fast and reference hit arrays equal on every map where both ran, at every step",
        f"maps: Gaussian-blurred noise, sigma {SIGMA:g} px, seeded; one random GT box each",
    ]
    return make_entry(
        NAME,
        TITLE,
        measured={"map_size": MAP_SIZE, "sigma": SIGMA, "steps": per_step},
        ratio=main["speedup"],
        ratio_meaning="reference ms per map / fast ms per map at step 0.001 (back-to-back blocks)",
        goal_=GOAL,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=notes,
        identical=identical,
    )


def summary(m: dict[str, Any]) -> str:
    parts = []
    for key, s in m["steps"].items():
        parts.append(
            f"step {key}: fast {s['fast_ms_per_map']:.2f} ms/map, reference "
            f"{s['reference_ms_per_map']:.1f} ms/map (x{s['speedup']:.1f})"
        )
    return "; ".join(parts)
