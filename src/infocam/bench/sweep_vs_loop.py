"""The sweeps: :func:`infocam.sweep.fast_sweep` vs :func:`infocam.sweep.reference_sweep`.

Both give, for one normalised map and its GT boxes, the hits at every
threshold ``np.arange(0, 1, step)`` and IoU 30/50/70: MaxBoxAccV2 from
the boxes of EVERY contour, the first MaxBoxAcc from the largest contour
only (``multi_contour=False``). The reference is wsolevaluation's plain
per-threshold ``cv2.findContours`` loop; it costs tens of milliseconds per
224 x 224 map at step 0.001, so it runs on the first ``reference_maps``
maps and its time per map is compared with the fast sweep's over all maps.

Lines (each labelled; the entry's ratio is the first):

* ``cam/float64/v2``: maps as wsolevaluation's inference writes them - a
  14 x 14 CAM (one to three Gaussian bumps plus noise,
  :func:`infocam.bench.score.cam_like`), resized to 224 with
  ``cv2.resize(INTER_CUBIC)`` in float64, min-max normalised; one GT box
  near the strongest bump. MaxBoxAccV2.
* ``cam/float32/v2``: the same maps cast to float32 (quantised in float32).
* ``cam/float64/v1``, ``cam/float32/v1``: the first MaxBoxAcc.
* ``noise/float32/v2``: Gaussian-blurred white noise (sigma 6 px), whose
  many small contours make the reference loop slow; a random GT box.

Per line and step: blocks of back-to-back calls, the fast sweep over all
the maps and the reference over the subset, in ABBA rounds; the medians of
the per-map CPU times (this process's, so the per-core cost) give
``speedup``. ``identical``: on the subset, the two
sweeps' hits are equal at every threshold (``infocam bench`` exits
non-zero otherwise).
"""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np

from infocam.bench.common import BenchContext, goal, make_entry, median

NAME = "sweep"
TITLE = "sweeps: fast_sweep vs wsolevaluation's loop, 224x224 CAM maps, IoU 30/50/70"
GOAL = goal("ratio", ">=", 50.0, "fast_sweep >= 50x the loop at step 0.001 on CAM maps (float64, V2)")
STEPS = (0.001, 0.01)
MAP_SIZE = 224
SIGMA = 6.0
#: (label, maps, dtype, multi_contour); the first is the entry's ratio.
LINES = (
    ("cam/float64/v2", "cam", "float64", True),
    ("cam/float32/v2", "cam", "float32", True),
    ("cam/float64/v1", "cam", "float64", False),
    ("cam/float32/v1", "cam", "float32", False),
    ("noise/float32/v2", "noise", "float32", True),
)


def noise_map(i: int, size: int = MAP_SIZE, sigma: float = SIGMA, seed: int = 0) -> np.ndarray:
    """Noise map ``i``: Gaussian-blurred white noise, min-max normalised to [0, 1], float32."""
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


def cam_gt(i: int, centre: tuple[float, float], size: int = MAP_SIZE, seed: int = 0) -> np.ndarray:
    """A half-open GT box (1, 4) around ``centre`` (fractions), 20-60% of the map per side."""
    rng = np.random.default_rng([seed, i, 2])
    w, h = (int(v) for v in rng.uniform(0.2, 0.6, 2) * size)
    x0 = int(np.clip(centre[0] * size - w / 2, 0, size - w))
    y0 = int(np.clip(centre[1] * size - h / 2, 0, size - h))
    return np.array([[x0, y0, x0 + w, y0 + h]], dtype=np.int64)


def make_maps(kind: str, n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``n`` float64 (cam) or float32 (noise) maps of a kind, and one GT box each."""
    if kind == "noise":
        return [noise_map(i) for i in range(n)], [random_gt(i) for i in range(n)]
    from infocam.bench.score import cam_like

    made = [cam_like(i) for i in range(n)]
    return [m for m, _ in made], [cam_gt(i, c) for i, (_, c) in enumerate(made)]


def max_box_acc(hits: np.ndarray, count: int) -> tuple[dict[str, float], float]:
    """Summed hits (T, 3) -> ({d: MaxBoxAcc(d) in percent}, their mean: MaxBoxAccV2)."""
    acc = hits.max(axis=0) / max(count, 1) * 100
    per_d = {str(d): float(a) for d, a in zip((30, 50, 70), acc)}
    return per_d, float(acc.mean())


def _block(fn, maps: list, gts: list, thr: np.ndarray, count: int, multi_contour: bool):
    """``fn`` on the first ``count`` maps back to back: (CPU seconds per map, per-map hits).

    CPU time of this process (``time.process_time``): the per-core cost,
    which other processes on a shared machine disturb far less than the
    wall time.
    """
    t0 = time.process_time()
    hits = [fn(maps[i], gts[i], thr, multi_contour=multi_contour) for i in range(count)]
    return (time.process_time() - t0) / count, hits


def _one_line(step: float, maps: list, gts: list, n_ref: int, rounds: int, multi_contour: bool) -> dict[str, Any]:
    from infocam.sweep import fast_sweep, reference_sweep

    thr = np.arange(0, 1, step)
    n = len(maps)
    fast_sweep(maps[0], gts[0], thr, multi_contour=multi_contour)  # compile / load the kernels
    fast_pm, ref_pm = [], []
    fast_hits = ref_hits = []
    for r in range(max(rounds, 1)):
        for side in ("fast", "reference") if r % 2 == 0 else ("reference", "fast"):
            if side == "fast":
                per_map, fast_hits = _block(fast_sweep, maps, gts, thr, n, multi_contour)
                fast_pm.append(per_map)
            else:
                per_map, ref_hits = _block(reference_sweep, maps, gts, thr, n_ref, multi_contour)
                ref_pm.append(per_map)
    identical = all(np.array_equal(a, b) for a, b in zip(fast_hits[:n_ref], ref_hits))
    ref_mean, fast_mean = median(ref_pm), median(fast_pm)
    ref_acc, ref_v2 = max_box_acc(np.sum(ref_hits, axis=0), n_ref)
    fast_acc, fast_v2 = max_box_acc(np.sum(fast_hits, axis=0), n)
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
        "identical": identical,
        "max_box_acc_v2_reference_subset": ref_v2,
        "max_box_acc_reference_subset": ref_acc,
        "max_box_acc_v2_fast_all": fast_v2,
        "max_box_acc_fast_all": fast_acc,
    }


def measure(ctx: BenchContext) -> dict[str, Any]:
    t_start = time.perf_counter()
    n = 40 if ctx.quick else 400
    n_ref = 3 if ctx.quick else 30
    rounds = ctx.reps(2, 2)
    made = {kind: make_maps(kind, n) for kind in ("cam", "noise")}
    ctx.log(f"sweep: {n} maps of {MAP_SIZE}x{MAP_SIZE} per line, reference on {n_ref}, steps {STEPS}")
    lines: dict[str, dict[str, Any]] = {}
    for label, kind, dtype, multi_contour in LINES:
        maps = [m.astype(dtype) for m in made[kind][0]]
        lines[label] = {
            "maps": kind,
            "dtype": dtype,
            "version": "MaxBoxAccV2" if multi_contour else "MaxBoxAcc (first version)",
            "steps": {f"{s:g}": _one_line(s, maps, made[kind][1], n_ref, rounds, multi_contour) for s in STEPS},
        }
    identical = all(s["identical"] for line in lines.values() for s in line["steps"].values())
    main = lines[LINES[0][0]]
    notes = [
        f"reference_sweep timed on the first {n_ref} maps of each line, fast_sweep on all {n}",
        "speedup: median per-map CPU times (time.process_time) of back-to-back blocks in ABBA rounds",
        "identical: fast and reference hits equal on every map where both ran, every line and step",
        "cam maps: 14x14 bumps plus noise, cv2 INTER_CUBIC to 224 in float64, normalised; "
        f"noise maps: Gaussian-blurred white noise, sigma {SIGMA:g} px",
        "one process, one core; on a shared machine both sides slow down alike, the ratio less",
    ]
    return make_entry(
        NAME,
        TITLE,
        measured={"map_size": MAP_SIZE, "steps": main["steps"], "lines": lines},
        ratio=main["steps"][f"{STEPS[0]:g}"]["speedup"],
        ratio_meaning="reference CPU ms per map / fast CPU ms per map, CAM maps, float64, MaxBoxAccV2, step 0.001",
        goal_=GOAL,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=notes,
        identical=identical,
    )


def summary(m: dict[str, Any]) -> str:
    key = f"{STEPS[0]:g}"
    first = m["lines"][LINES[0][0]]["steps"][key]
    parts = [
        f"cam f64 V2 @{key}: fast {first['fast_ms_per_map']:.2f} ms/map, reference "
        f"{first['reference_ms_per_map']:.1f} ms/map (x{first['speedup']:.1f})"
    ]
    for label, line in list(m["lines"].items())[1:]:
        parts.append(f"{label} x{line['steps'][key]['speedup']:.1f}")
    return "; ".join(parts)
