"""End-to-end evaluation throughput: scoring in the main process vs in worker processes.

One :func:`infocam.engine.evaluate.evaluate` run over ``images`` random
224 x 224 images in batches of ``batch`` (in memory: no decoding), with a
ResNet50 of random weights: CAM, infoCAM and infoCAM+ (R = 4), GT-known
Loc at 0.2 against one random GT box per image, Top-1 / Top-5 Loc, and
MaxBoxAccV2 (IoU 30/50/70) at step 0.001. Side by side, interleaved:
``cpu_workers=0`` (serial: each batch's boxes and sweeps run in the main
process between forward passes) and ``cpu_workers=N`` (they run in N worker
processes while the next forward passes run). Each side reports images per
second and the shares of its wall time spent in the forward pass and the
maps (``forward``), waiting for the CPU scoring (``cpu``: the work itself,
serial, or the wait for the workers) and for the data (``data``).
``identical``: both sides give the same numbers.

Sizes: 128 images in batches of 16 on a CPU, 4,096 in batches of 128 on a
GPU (``--quick``: 8 in batches of 4), N = every usable core. Override them
with ``INFOCAM_BENCH_EVALUATE="images=64,batch=8,cpu_workers=2"``.

Goal on a CPU: the CPU scoring hides behind the forward pass (the wait for
the workers <= 10% of the wall time). On a GPU: >= 2,000 images/s.
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch

from infocam.bench.common import BenchContext, goal, make_entry, median, overridden

NAME = "evaluate"
TITLE = "evaluate: ResNet50 + CAM/infoCAM/infoCAM+, GT-known + MaxBoxAccV2 at step 0.001, serial vs cpu workers"
GOAL_CPU = goal("workers_cpu_share", "<=", 0.10, "with workers, waiting for the CPU scoring <= 10% of the wall time")
GOAL_GPU = goal("workers_images_per_s", ">=", 2000.0, ">= 2,000 images/s with workers on one GPU")
ENV = "INFOCAM_BENCH_EVALUATE"
IMAGE_SIZE = 224
REGION = 4
STEP = 0.001


def sizes(quick: bool, cuda: bool = False, text: str | None = None) -> dict[str, int]:
    """Images, batch and worker processes: the defaults, then the overrides in ``text`` (``ENV``'s format)."""
    from infocam.engine.pool import usable_cores

    images, batch = (8, 4) if quick else (4096, 128) if cuda else (128, 16)
    return overridden({"images": images, "batch": batch, "cpu_workers": usable_cores()}, ENV, text)


def make_batches(images: int, batch: int, seed: int = 0) -> list[dict]:
    """``images`` random images at 224 px in batches, each with a label in 0..999 and one random GT box."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for start in range(0, images, batch):
        b = min(batch, images - start)
        x0y0 = torch.randint(0, IMAGE_SIZE // 2, (b, 2), generator=g)
        wh = torch.randint(IMAGE_SIZE // 8, IMAGE_SIZE // 2, (b, 2), generator=g)
        boxes = torch.cat([x0y0, x0y0 + wh], dim=1).double()
        out.append({
            "image": torch.randn(b, 3, IMAGE_SIZE, IMAGE_SIZE, generator=g),
            "label": torch.randint(0, 1000, (b,), generator=g),
            "boxes": [boxes[i : i + 1] for i in range(b)],
            "id": [f"img_{start + i:05d}" for i in range(b)],
        })
    return out


def measure(ctx: BenchContext) -> dict[str, Any]:
    from infocam.bench.map_overhead import build_resnet
    from infocam.engine.evaluate import evaluate, main_variants
    from infocam.maps import METHODS

    t_start = time.perf_counter()
    dev = ctx.device
    cfg = sizes(ctx.quick, ctx.cuda)
    n, workers = cfg["images"], cfg["cpu_workers"]
    reps = ctx.reps(1, 1)
    model = build_resnet(dev)
    batches = make_batches(n, cfg["batch"])
    kw = {"variants": main_variants(METHODS, REGION), "thresholds": 0.2, "max_box_acc": True,
          "cam_curve_step": STEP, "device": dev, "progress": False}
    ctx.log(f"{NAME}: warming up on one batch")
    evaluate(model, batches[:1], **kw)
    runs: dict[str, list[dict]] = {"serial": [], "workers": []}
    results: dict[str, dict] = {}
    sides = {"serial": 0, "workers": workers}
    for r in range(reps):
        for side in sides if r % 2 == 0 else reversed(list(sides)):
            ctx.log(f"{NAME}: {n} images in batches of {cfg['batch']}, {side} (cpu_workers={sides[side]})")
            spent: dict = {}
            results[side] = evaluate(model, batches, cpu_workers=sides[side], timings=spent, **kw)
            runs[side].append(spent)
    identical = results["serial"] == results["workers"]
    measured: dict[str, Any] = {
        "model": "resnet50 (infocam build_model, random weights)",
        "images": n,
        "batch": cfg["batch"],
        "image_size": IMAGE_SIZE,
        "methods": list(METHODS),
        "region": REGION,
        "cam_curve_step": STEP,
        "cpu_workers": workers,
        "repeats": reps,
    }
    for side, spents in runs.items():
        wall = median([s["wall_s"] for s in spents])
        measured[f"{side}_wall_s"] = wall
        measured[f"{side}_images_per_s"] = n / wall
        for part in ("forward", "cpu", "data"):
            measured[f"{side}_{part}_share"] = median([s[f"{part}_s"] / s["wall_s"] for s in spents])
    measured["max_box_acc_v2"] = {m: results["workers"]["methods"][m]["max_box_acc_v2"] for m in METHODS}
    measured["overrides"] = os.environ.get(ENV) or None
    notes = [
        "images, labels and boxes are in memory (no decoding); the forward pass, the maps and their "
        "transfer to the CPU are 'forward'",
        "serial: cpu_workers=0; workers: the batches' boxes and sweeps in worker processes, at most "
        "cpu_workers + 1 batches in flight; one warm-up batch first; sides interleaved ABBA",
        "identical: the two sides' results are equal",
    ]
    return make_entry(
        NAME,
        TITLE,
        measured=measured,
        ratio=measured["workers_images_per_s"] / measured["serial_images_per_s"],
        ratio_meaning="images/s with cpu workers / images/s serial",
        goal_=GOAL_GPU if ctx.cuda else GOAL_CPU,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=notes,
        identical=identical,
    )


def summary(m: dict[str, Any]) -> str:
    def side(s: str) -> str:
        return (f"{m[f'{s}_images_per_s']:.3g} img/s (forward {m[f'{s}_forward_share']:.0%}, "
                f"cpu {m[f'{s}_cpu_share']:.0%})")

    return f"{m['images']} images: serial {side('serial')}; {m['cpu_workers']} workers {side('workers')}"
