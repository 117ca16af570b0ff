"""The whole pipeline's throughput: forward + maps + boxes, in images per second.

One :class:`infocam.extract.CAMExtractor` call (CAM, infoCAM, infoCAM+ at
R = 4), then :func:`infocam.boxes.boxes_from_maps` of each map at the input
size. The maps stay on the model's device (resized, normalised and
thresholded there); only the uint8 foreground masks go to the CPU, where
the components are found. Side by side with the plain forward pass.

Run by default with ``--device cuda`` (the GPU number); on the CPU only
when named in ``--only`` (the forward pass dominates there, see ``maps``).
Informational: no goal.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from infocam.bench.common import BenchContext, interleaved, make_entry, median, paired_ratios

NAME = "pipeline"
TITLE = "pipeline: ResNet50 forward + 3 maps + boxes, images/s"
GOAL = None
IMAGE_SIZE = 224
REGION = 4


def measure(ctx: BenchContext) -> dict[str, Any]:
    from infocam.bench.map_overhead import build_resnet
    from infocam.boxes import boxes_from_maps
    from infocam.extract import CAMExtractor
    from infocam.maps import METHODS

    t_start = time.perf_counter()
    dev = ctx.device
    batch = (8 if ctx.quick else 64) if ctx.cuda else (2 if ctx.quick else 32)
    reps = ctx.reps(10 if ctx.cuda else 5, 3)
    size = (IMAGE_SIZE, IMAGE_SIZE)
    model = build_resnet(dev)
    x = torch.randn(batch, 3, *size, generator=torch.Generator().manual_seed(1)).to(dev)
    extractor = CAMExtractor(model)

    def plain() -> Any:
        return model(x)

    def pipeline() -> dict[str, torch.Tensor]:
        res = extractor(x, methods=METHODS, region=REGION)
        return {m: boxes_from_maps(v, threshold=0.2, size=size) for m, v in res.maps.items()}

    ctx.log(f"pipeline: ResNet50, batch {batch} at {IMAGE_SIZE} px on {dev.type}, {reps} rounds")
    with torch.inference_mode():
        times = interleaved({"plain": plain, "pipeline": pipeline}, reps, dev)
    plain_s, pipe_s = median(times["plain"]), median(times["pipeline"])
    measured = {
        "batch": batch,
        "image_size": IMAGE_SIZE,
        "methods": list(METHODS),
        "region": REGION,
        "repeats": reps,
        "plain_s": plain_s,
        "pipeline_s": pipe_s,
        "plain_images_per_s": batch / plain_s,
        "pipeline_images_per_s": batch / pipe_s,
        "plain_s_all": times["plain"],
        "pipeline_s_all": times["pipeline"],
    }
    return make_entry(
        NAME,
        TITLE,
        measured=measured,
        ratio=median(paired_ratios(times["plain"], times["pipeline"])),
        ratio_meaning="pipeline images/s / plain forward images/s (median of paired rounds)",
        goal_=GOAL,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=[
            "maps stay on the device until boxes need them: only uint8 masks go to the CPU",
            "informational: no goal",
        ],
    )


def summary(m: dict[str, Any]) -> str:
    return (
        f"forward {m['plain_images_per_s']:.1f} img/s; "
        f"+maps+boxes {m['pipeline_images_per_s']:.1f} img/s"
    )
