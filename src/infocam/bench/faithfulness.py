"""Faithfulness cost: deletion + insertion curves vs the plain forward passes they need.

Side A is :func:`infocam.faithfulness.deletion_insertion` (RISE's
baselines, ``steps`` steps, ``batch_size`` = the batch) on a ResNet50 with
random weights and random 14 x 14 maps resized inside; side B is
``2 * steps`` plain forward passes of the same batch: ``steps`` per curve,
the least any implementation needs. The ratio A / B (median of paired
rounds) is the cost beyond those forward passes; the curves themselves run
``2 steps + 1`` passes (each point once, the intact image once, shared),
so ``ratio_per_pass`` = the ratio x ``2 steps / (2 steps + 1)`` isolates
the perturbation and bookkeeping.

Full size: batch 32 at 224 px, 50 steps (``--quick``: batch 2 at 112 px,
10 steps). Override any of them with the environment variable
``INFOCAM_BENCH_FAITHFULNESS="batch=4,size=112,steps=10"`` (a full run on
a 2-core CPU takes tens of minutes).
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch

from infocam.bench.common import (
    BenchContext,
    goal,
    interleaved,
    make_entry,
    median,
    overridden,
    paired_ratios,
)

NAME = "faithfulness"
TITLE = "faithfulness: ResNet50 deletion + insertion curves vs 2 x steps plain forward passes"
GOAL = goal("ratio", "<=", 1.15, "deletion + insertion <= 1.15 x the 2 x steps forward passes they need")
FULL = {"batch": 32, "size": 224, "steps": 50}
QUICK = {"batch": 2, "size": 112, "steps": 10}
ENV = "INFOCAM_BENCH_FAITHFULNESS"


def sizes(quick: bool, text: str | None = None) -> dict[str, int]:
    """The batch, image size and steps: the defaults, then the overrides in ``text`` (``ENV``'s format)."""
    return overridden(QUICK if quick else FULL, ENV, text)


def measure(ctx: BenchContext) -> dict[str, Any]:
    from infocam.faithfulness import deletion_insertion
    from infocam.models import build_model

    t_start = time.perf_counter()
    dev = ctx.device
    cfg = sizes(ctx.quick)
    batch, size, steps = cfg["batch"], cfg["size"], cfg["steps"]
    reps = ctx.reps(3, 1)
    torch.manual_seed(0)
    model = build_model("resnet50", 1000).eval().to(dev)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, size, size, generator=g).to(dev)
    maps = torch.rand(batch, 14, 14, generator=g).to(dev)
    targets = torch.randint(0, 1000, (batch,), generator=g).to(dev)

    def curves() -> Any:
        return deletion_insertion(model, x, maps, targets, steps=steps, batch_size=batch)

    def forwards() -> None:
        with torch.no_grad():
            for _ in range(2 * steps):
                model(x)

    ctx.log(f"{NAME}: ResNet50, batch {batch} at {size} px, {steps} steps, {reps} interleaved rounds")
    with torch.no_grad():
        model(x)  # one untimed pass (a whole warm-up round would double a CPU run)
    times = interleaved({"curves": curves, "forwards": forwards}, reps, dev, warmup=1 if ctx.cuda else 0)
    ratio = median(paired_ratios(times["curves"], times["forwards"]))
    curves_s = median(times["curves"])
    measured = {
        "model": "resnet50 (infocam build_model, random weights)",
        "batch": batch,
        "image_size": size,
        "steps": steps,
        "repeats": reps,
        "curves_s": curves_s,
        "forwards_s": median(times["forwards"]),
        "curves_s_all": times["curves"],
        "forwards_s_all": times["forwards"],
        "images_per_s": batch / curves_s,
        "forward_passes_of_the_curves": 2 * steps + 1,
        "ratio_per_pass": ratio * 2 * steps / (2 * steps + 1),
        "overrides": os.environ.get(ENV) or None,
    }
    notes = [
        "A: deletion_insertion (zeros / blur baselines), forward batches of the input batch size",
        f"B: {2 * steps} plain forward passes of the same batch; torch.no_grad on both; rounds interleaved ABBA",
    ]
    return make_entry(
        NAME,
        TITLE,
        measured=measured,
        ratio=ratio,
        ratio_meaning="time of deletion + insertion / time of 2 x steps plain forward passes (median of pairs)",
        goal_=GOAL,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=notes,
    )


def summary(m: dict[str, Any]) -> str:
    return (
        f"batch {m['batch']} at {m['image_size']}, {m['steps']} steps: curves {m['curves_s']:.3g} s "
        f"({m['images_per_s']:.3g} img/s), {2 * m['steps']} forwards {m['forwards_s']:.3g} s"
    )
