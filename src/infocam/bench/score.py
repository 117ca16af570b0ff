"""``infocam score`` over CUB-size data vs wsolevaluation's per-threshold loop.

Data: 5,794 maps (CUB's test set size) that look like CAMs: a 14 x 14 map of
one to three Gaussian bumps plus noise, resized to 224 x 224 with
``cv2.resize(INTER_CUBIC)`` in float64 and min-max normalised (what
wsolevaluation's inference writes), saved as ``<id>.npy`` in its layout;
wsolevaluation metadata with CUB-like image sizes (300-500 px) and one GT
box per image near the map's strongest bump. Seeded.

Measured: one whole :func:`infocam.score_maps` run, loading included, at
step 0.001 with every metric (the first MaxBoxAcc, MaxBoxAccV2 at IoU
30/50/70, GT-known Loc), with the default workers (every usable core); and,
on a subset, the same with ``--workers 1`` (the scaling). Beside it,
wsolevaluation's way: per map ``np.load``, then its per-threshold
``cv2.findContours`` loop once for the first MaxBoxAcc and once for
MaxBoxAccV2 (:func:`infocam.sweep.reference_sweep`), on the first
``reference_maps`` maps, extrapolated per map to all of them. ``identical``:
on that subset the loop's hits at every threshold equal those of the meter
``score`` uses.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from infocam.bench.common import BenchContext, goal, make_entry

NAME = "score"
TITLE = "infocam score: 5,794 CAM-like 224x224 maps, step 0.001, every metric, loading included"
GOAL = goal("score_s", "<=", 30.0, "a whole CUB-size run under 30 s of wall time")
N_MAPS = 5794
SIZE = 224
STEP = 0.001


def cam_like(i: int, seed: int = 0) -> tuple[np.ndarray, tuple[float, float]]:
    """Map ``i`` (224 x 224 float64 in [0, 1]) and its strongest bump's centre (x, y) as a fraction."""
    rng = np.random.default_rng([seed, i])
    yy, xx = np.mgrid[0:14, 0:14]
    m = rng.normal(0.0, 0.1, (14, 14))
    centre, top = (0.5, 0.5), -1.0
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(2, 12, 2)
        s, a = rng.uniform(1.0, 3.5), rng.uniform(0.5, 1.5)
        m += a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        if a > top:
            centre, top = (cx / 14, cy / 14), a
    big = cv2.resize(m, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    big -= big.min()
    big /= big.max()
    return big, centre


def write_dataset(root: Path, n: int, seed: int = 0) -> tuple[Path, Path, list[tuple[str, np.ndarray]]]:
    """Maps under ``root/maps`` and CUB-like metadata under ``root/metadata/CUB/test``; also (id, GT box at 224) per map."""
    rng = np.random.default_rng([seed, 1])
    maps, meta = root / "maps", root / "metadata" / "CUB" / "test"
    meta.mkdir(parents=True)
    ids, labels, sizes, loc, cases = [], [], [], [], []
    for i in range(n):
        image_id = f"{i % 200:03d}.class/img_{i:05d}.jpg"
        scoremap, (cx, cy) = cam_like(i, seed)
        p = maps / f"{image_id}.npy"
        p.parent.mkdir(parents=True, exist_ok=True)
        np.save(p, scoremap)
        w, h = (int(v) for v in rng.integers(300, 501, 2))
        bw, bh = rng.uniform(0.2, 0.6) * w, rng.uniform(0.2, 0.6) * h
        x0 = int(np.clip(cx * w - bw / 2 + rng.normal(0, 0.05 * w), 0, w - bw))
        y0 = int(np.clip(cy * h - bh / 2 + rng.normal(0, 0.05 * h), 0, h - bh))
        x1, y1 = min(w - 1, int(x0 + bw)), min(h - 1, int(y0 + bh))
        ids.append(image_id)
        labels.append(f"{image_id},{i % 200}")
        sizes.append(f"{image_id},{w},{h}")
        loc.append(f"{image_id},{x0},{y0},{x1},{y1}")
        # the box as wsolevaluation scales it (inclusive), made half-open
        sx = [int(x0 * SIZE / w), int(y0 * SIZE / h), int(x1 * SIZE / w) + 1, int(y1 * SIZE / h) + 1]
        cases.append((image_id, np.array([sx], dtype=np.float64)))
    for name, lines in (("image_ids", ids), ("class_labels", labels), ("image_sizes", sizes), ("localization", loc)):
        (meta / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return maps, root / "metadata", cases


def _reference(maps: Path, cases: list, thresholds: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """wsolevaluation's way on ``cases``: seconds per map, hits (T,) of the first MaxBoxAcc, (T, 3) of V2."""
    from infocam.sweep import reference_sweep

    v1 = np.zeros(thresholds.size, np.int64)
    v2 = np.zeros((thresholds.size, 3), np.int64)
    t0 = time.perf_counter()
    for image_id, gt in cases:
        scoremap = np.load(maps / f"{image_id}.npy", allow_pickle=False)
        v1 += reference_sweep(scoremap, gt, thresholds, (50,), multi_contour=False)[:, 0]
        v2 += reference_sweep(scoremap, gt, thresholds)
    return (time.perf_counter() - t0) / len(cases), v1, v2


def _meter_hits(maps: Path, cases: list) -> tuple[np.ndarray, np.ndarray]:
    """The hits of the meter ``score`` feeds, on the same maps."""
    import torch

    from infocam.metrics import WSOLMeter

    meter = WSOLMeter(cam_curve_step=STEP, max_box_acc_v1=True)
    for image_id, gt in cases:
        m = np.load(maps / f"{image_id}.npy", allow_pickle=False)
        meter.update(torch.from_numpy(m)[None], [torch.from_numpy(gt)], scores=[m])
    return meter.sweep_hits_v1, meter.sweep_hits


def _timed_score(maps: Path, meta: Path, workers: int | None, split_dir: Path | None = None) -> tuple[float, dict]:
    from infocam.engine.score import score_maps

    t0 = time.perf_counter()
    r = score_maps(maps, metadata=split_dir or meta, dataset=None if split_dir else "CUB", cam_curve_step=STEP,
                   workers=workers)
    return time.perf_counter() - t0, r


def measure(ctx: BenchContext) -> dict[str, Any]:
    from infocam.engine.pool import usable_cores

    t_start = time.perf_counter()
    n = 120 if ctx.quick else N_MAPS
    n_ref = 3 if ctx.quick else 30
    n_scale = min(n, 60 if ctx.quick else 400)
    cores = usable_cores()
    with tempfile.TemporaryDirectory(prefix="infocam-bench-score-") as tmp:
        root = Path(tmp)
        ctx.log(f"score: writing {n} maps of {SIZE}x{SIZE} (float64) and CUB-like metadata")
        maps, meta, cases = write_dataset(root, n)
        ctx.log(f"score: one whole run, {cores} workers")
        score_s, result = _timed_score(maps, meta, None)
        # the scaling, on a subset (its own metadata split): 1 worker vs all
        sub = root / "metadata" / "CUB" / "subset"
        sub.mkdir()
        for name in ("image_ids", "class_labels", "image_sizes", "localization"):
            lines = (meta / "CUB" / "test" / f"{name}.txt").read_text().splitlines()[:n_scale]
            (sub / f"{name}.txt").write_text("\n".join(lines) + "\n")
        ctx.log(f"score: scaling on {n_scale} maps, 1 vs {cores} workers")
        one_s, _ = _timed_score(maps, meta, 1, sub)
        all_s, _ = _timed_score(maps, meta, None, sub)
        ctx.log(f"score: wsolevaluation's loop on {n_ref} maps")
        thresholds = np.arange(0, 1, STEP)
        ref_per_map, ref_v1, ref_v2 = _reference(maps, cases[:n_ref], thresholds)
        got_v1, got_v2 = _meter_hits(maps, cases[:n_ref])
    identical = bool(np.array_equal(ref_v1, got_v1) and np.array_equal(ref_v2, got_v2))
    ref_s = ref_per_map * n
    m = result["metrics"]
    measured = {
        "maps": n,
        "map_size": SIZE,
        "step": STEP,
        "workers": cores,
        "score_s": score_s,
        "score_ms_per_map": score_s / n * 1e3,
        "reference_maps": n_ref,
        "reference_ms_per_map": ref_per_map * 1e3,
        "reference_s_extrapolated": ref_s,
        "scaling_maps": n_scale,
        "scaling_1_worker_s": one_s,
        "scaling_all_workers_s": all_s,
        "scaling_speedup": one_s / all_s,
        "max_box_acc_v1": m["max_box_acc_v1"],
        "max_box_acc_v2": m["max_box_acc_v2"],
        "max_box_acc": m["max_box_acc"],
        "gt_known_loc": m["gt_known_loc"],
    }
    notes = [
        f"score: one score_maps run over all {n} maps (reading the metadata and every .npy included), "
        f"{cores} worker processes (every usable core)",
        f"reference: np.load + reference_sweep for the first MaxBoxAcc and again for MaxBoxAccV2 on the "
        f"first {n_ref} maps, one core, extrapolated per map to {n}",
        f"scaling: score_maps on the first {n_scale} maps with 1 worker and with {cores}",
        "identical: the loop's hits at every threshold equal the meter's on the reference subset",
    ]
    return make_entry(
        NAME,
        TITLE,
        measured=measured,
        ratio=ref_s / score_s,
        ratio_meaning="wsolevaluation-style loop seconds (extrapolated, one core) / score seconds",
        goal_=GOAL,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=notes,
        identical=identical,
    )


def summary(m: dict[str, Any]) -> str:
    return (
        f"{m['maps']} maps in {m['score_s']:.1f} s ({m['workers']} workers, {m['score_ms_per_map']:.1f} ms/map); "
        f"wsolevaluation loop {m['reference_ms_per_map']:.0f} ms/map = {m['reference_s_extrapolated']:.0f} s; "
        f"1 -> {m['workers']} workers x{m['scaling_speedup']:.2f}"
    )
