"""Boxes at one threshold: :func:`infocam.boxes.boxes_from_maps` vs a plain OpenCV loop.

Input: a batch of 224 x 224 maps that are already at the input size (random
14 x 14 CAM-like maps, seeded, resized bicubic once, before timing), raw
(not normalised). Side A: ``boxes_from_maps(maps, threshold=0.2)`` (min-max
normalise, foreground ``>= 0.2``, the largest 8-connected component by
pixel count, its tight box). Side B, the baseline: the straightforward
per-image loop a user would write with OpenCV - per map, min-max normalise
in NumPy, threshold, ``cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)``,
the largest contour by ``cv2.contourArea``, its ``boundingRect``. The two
rules agree except on thin shapes (see ``infocam.boxes``); the share of
identical boxes is reported. Images per second, medians of interleaved
rounds.
"""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
import torch

from infocam.bench.common import BenchContext, goal, interleaved, make_entry, median, paired_ratios

NAME = "boxes"
TITLE = "boxes: largest-component box at one threshold, 224x224 maps"
GOAL = goal("ratio", ">=", 1.0, "boxes_from_maps images/s >= the plain OpenCV loop's")
MAP_SIZE = 224
THRESHOLD = 0.2


def opencv_loop_boxes(maps: torch.Tensor, threshold: float = THRESHOLD) -> np.ndarray:
    """The benchmark baseline: one map at a time, threshold + findContours, largest contour's box.

    Returns (B, 4) int64 half-open boxes; (0, 0, 0, 0) for a constant map
    or one without foreground.
    """
    arr = maps.detach().float().cpu().numpy()
    out = np.zeros((arr.shape[0], 4), dtype=np.int64)
    for i, m in enumerate(arr):
        lo, hi = float(m.min()), float(m.max())
        if not hi > lo:
            continue
        norm = (m - lo) / (hi - lo)
        mask = (norm >= threshold).astype(np.uint8)
        contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        if len(contours) == 0:
            continue
        x, y, w, h = cv2.boundingRect(max(contours, key=cv2.contourArea))
        out[i] = (x, y, x + w, y + h)
    return out


def cam_like_maps(
    n: int, size: int = MAP_SIZE, seed: int = 0, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """(n, size, size) float32: random 14 x 14 maps resized bicubic, as a CAM at 224 px looks."""
    from infocam.maps import resize_maps

    g = torch.Generator().manual_seed(seed)
    return resize_maps(torch.randn(n, 14, 14, generator=g), (size, size)).to(device)


def measure(ctx: BenchContext) -> dict[str, Any]:
    from infocam.boxes import boxes_from_maps

    t_start = time.perf_counter()
    dev = ctx.device
    n = 32 if ctx.quick else 256
    reps = ctx.reps(15, 3)  # ~70 ms a round: many rounds are cheap, and the machines are noisy
    maps = cam_like_maps(n, device=dev)
    ctx.log(f"boxes: {n} maps of {MAP_SIZE}x{MAP_SIZE}, {reps} interleaved rounds")
    times = interleaved(
        {
            "boxes_from_maps": lambda: boxes_from_maps(maps, threshold=THRESHOLD),
            "opencv_loop": lambda: opencv_loop_boxes(maps, THRESHOLD),
        },
        reps,
        dev,
    )
    ours = boxes_from_maps(maps, threshold=THRESHOLD).cpu().numpy().astype(np.int64)
    base = opencv_loop_boxes(maps, THRESHOLD)
    ours_s, base_s = median(times["boxes_from_maps"]), median(times["opencv_loop"])
    measured = {
        "maps": n,
        "map_size": MAP_SIZE,
        "threshold": THRESHOLD,
        "repeats": reps,
        "boxes_from_maps_s": ours_s,
        "opencv_loop_s": base_s,
        "boxes_from_maps_images_per_s": n / ours_s,
        "opencv_loop_images_per_s": n / base_s,
        "boxes_from_maps_s_all": times["boxes_from_maps"],
        "opencv_loop_s_all": times["opencv_loop"],
        "same_box_fraction": float((ours == base).all(axis=1).mean()),
    }
    return make_entry(
        NAME,
        TITLE,
        measured=measured,
        ratio=median(paired_ratios(times["opencv_loop"], times["boxes_from_maps"])),
        ratio_meaning="boxes_from_maps images/s / OpenCV loop images/s (median of paired rounds)",
        goal_=GOAL,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=[
            "baseline (benchmark only): per-image NumPy min-max, threshold, findContours, "
            "largest contourArea, boundingRect",
            f"maps on {dev.type}; both sides include the transfer to the CPU",
        ],
    )


def summary(m: dict[str, Any]) -> str:
    return (
        f"boxes_from_maps {m['boxes_from_maps_images_per_s']:.0f} img/s; "
        f"OpenCV loop {m['opencv_loop_images_per_s']:.0f} img/s"
    )
