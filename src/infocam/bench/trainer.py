"""Trainer throughput: :func:`infocam.engine.trainer.fit` vs a bare torch loop.

Side A is the one trainer, one epoch of the small CNN on in-memory real
digits (:class:`infocam.data.digits.SingleDigitWSOL`, 64 x 64), its
images/s as ``fit`` logs them (``metrics.jsonl``: training images over the
epoch's training time, from building the epoch's DataLoader to the last
step; validation and checkpoints excluded). Side B is
:func:`bare_torch_loop`, a benchmark baseline and nothing else (the project
has one trainer): the same model, data, batch size, optimizer settings
(SGD, momentum 0.9, Nesterov, weight decay 1e-4) and DataLoader settings
(``infocam.data.collate``, no workers), timed over the same span. The
rounds run interleaved in ABBA order after one untimed round of each.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from infocam.bench.common import BenchContext, goal, make_entry, median, paired_ratios, sync

NAME = "trainer"
TITLE = "trainer: fit() images/s vs a bare torch loop (small CNN, 64x64 digits)"
GOAL = goal("ratio", ">=", 0.95, "fit() images/s >= 0.95 x the bare loop's")
NUM_CLASSES = 10
BATCH = 64
LR = 0.05
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4


def trainer_config(device: torch.device, seed: int = 0) -> dict[str, Any]:
    """One epoch of the small CNN, with the optimizer settings the bare loop copies."""
    return {
        "description": "infocam bench: trainer throughput",
        "seed": seed,
        "device": device.type,
        "model": {"name": "small_cnn", "num_classes": NUM_CLASSES, "in_channels": 1},
        "train": {
            "epochs": 1,
            "batch_size": BATCH,
            "lr": LR,
            "momentum": MOMENTUM,
            "nesterov": True,
            "weight_decay": WEIGHT_DECAY,
            "milestones": [],
            "num_workers": 0,
        },
    }


def bare_torch_loop(train_set, device: torch.device, seed: int = 0) -> tuple[int, float]:
    """BENCHMARK BASELINE ONLY - not a trainer: one plain epoch, returns (images, seconds).

    The hand-written loop a user would start from, to show what the one
    trainer's bookkeeping costs. Timed like ``fit`` times an epoch: from
    building the DataLoader to the end of the last step.
    """
    from torch.utils.data import DataLoader

    from infocam.data.collate import collate
    from infocam.models import build_model

    torch.manual_seed(seed)
    model = build_model("small_cnn", NUM_CLASSES, in_channels=1).to(device)
    opt = torch.optim.SGD(
        model.parameters(), lr=LR, momentum=MOMENTUM, nesterov=True, weight_decay=WEIGHT_DECAY
    )
    sync(device)
    t0 = time.perf_counter()
    model.train()
    loader = DataLoader(
        train_set,
        batch_size=BATCH,
        shuffle=True,
        num_workers=0,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(seed),
    )
    seen = 0
    for batch in loader:
        images = batch["image"].to(device, non_blocking=True)
        labels = batch["label"].to(device, non_blocking=True)
        loss = F.cross_entropy(model(images), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += images.shape[0]
    sync(device)
    return seen, time.perf_counter() - t0


def _fit_once(cfg: dict, out: Path, train_set, val_set) -> dict[str, Any]:
    from infocam.engine.trainer import fit

    t0 = time.perf_counter()
    result = fit(cfg, out, train_set=train_set, val_set=val_set, progress=False)
    wall = time.perf_counter() - t0
    row = result.history[-1]
    return {
        "images": row["train_images"],
        "train_s": row["train_seconds"],
        "images_per_s": row["images_per_s"],
        "fit_wall_s": wall,
    }


def measure(ctx: BenchContext) -> dict[str, Any]:
    from infocam.data.digits import SingleDigitWSOL

    t_start = time.perf_counter()
    dev = ctx.device
    n_train = 256 if ctx.quick else 2048
    reps = ctx.reps(3, 2)
    train_set = SingleDigitWSOL("train", n_train, 0)
    val_set = SingleDigitWSOL("val", 64, 0)
    cfg = trainer_config(dev)
    ctx.log(f"trainer: 1 epoch of {n_train} digits, batch {BATCH}, {reps} interleaved rounds")
    fit_rows: list[dict[str, Any]] = []
    bare_ips: list[float] = []
    with tempfile.TemporaryDirectory(prefix="infocam-bench-") as tmp:

        def fit_side(k: int) -> None:
            fit_rows.append(_fit_once(cfg, Path(tmp) / f"run{k}", train_set, val_set))

        def bare_side() -> None:
            images, seconds = bare_torch_loop(train_set, dev)
            bare_ips.append(images / seconds)

        fit_side(-1)  # untimed warm-up round of each side
        bare_side()
        fit_rows.clear()
        bare_ips.clear()
        for r in range(reps):
            if r % 2 == 0:
                fit_side(r)
                bare_side()
            else:
                bare_side()
                fit_side(r)
    fit_ips = [row["images_per_s"] for row in fit_rows]
    measured = {
        "model": "small_cnn (1 channel, 10 classes)",
        "data": f"SingleDigitWSOL train, {n_train} images 64x64, in memory",
        "batch": BATCH,
        "epochs": 1,
        "repeats": reps,
        "trainer_images_per_s": median(fit_ips),
        "bare_loop_images_per_s": median(bare_ips),
        "trainer_images_per_s_all": fit_ips,
        "bare_loop_images_per_s_all": bare_ips,
        "trainer_fit_wall_s": median([row["fit_wall_s"] for row in fit_rows]),
    }
    return make_entry(
        NAME,
        TITLE,
        measured=measured,
        ratio=median(paired_ratios(fit_ips, bare_ips)),
        ratio_meaning="fit() training images/s / bare loop images/s (median of paired rounds)",
        goal_=GOAL,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=[
            "fit's images/s come from its metrics.jsonl (train_images / train_seconds)",
            "bare_torch_loop is a benchmark baseline only, not a second trainer",
            "fit runs with its defaults (deterministic kernels on the CPU)",
        ],
    )


def summary(m: dict[str, Any]) -> str:
    return (
        f"fit {m['trainer_images_per_s']:.0f} img/s; "
        f"bare loop {m['bare_loop_images_per_s']:.0f} img/s"
    )
