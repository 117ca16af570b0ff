"""Boxes at one threshold: :func:`infocam.boxes.boxes_from_maps` vs a plain OpenCV loop.

Input, two labelled lines: a batch of 224 x 224 CAM maps already at the
input size (random 14 x 14 maps, seeded, resized bicubic once, before
timing), raw (not normalised) - the entry's ratio; and a batch of
Gaussian-blurred white-noise maps (``measured.noise``), whose many small
components are the hard case. Side A: ``boxes_from_maps(maps, threshold=0.2)`` (min-max
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


def noise_maps(n: int, size: int = MAP_SIZE, device: torch.device | str = "cpu") -> torch.Tensor:
    """(n, size, size) float32: Gaussian-blurred white noise (many small components), seeded."""
    from infocam.bench.sweep_vs_loop import noise_map

    return torch.from_numpy(np.stack([noise_map(i, size) for i in range(n)])).to(device)


def _one_line(maps: torch.Tensor, reps: int, dev: torch.device) -> dict[str, Any]:
    """Both sides on ``maps``, interleaved: images/s, the raw times, the share of equal boxes."""
    from infocam.boxes import boxes_from_maps

    n = maps.shape[0]
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
    return {
        "maps": n,
        "boxes_from_maps_s": ours_s,
        "opencv_loop_s": base_s,
        "boxes_from_maps_images_per_s": n / ours_s,
        "opencv_loop_images_per_s": n / base_s,
        "boxes_from_maps_s_all": times["boxes_from_maps"],
        "opencv_loop_s_all": times["opencv_loop"],
        "ratio": median(paired_ratios(times["opencv_loop"], times["boxes_from_maps"])),
        "same_box_fraction": float((ours == base).all(axis=1).mean()),
    }


def measure(ctx: BenchContext) -> dict[str, Any]:
    t_start = time.perf_counter()
    dev = ctx.device
    n = 32 if ctx.quick else 256
    reps = ctx.reps(15, 3)  # ~70 ms a round: many rounds are cheap, and the machines are noisy
    ctx.log(f"boxes: {n} maps of {MAP_SIZE}x{MAP_SIZE} per line, {reps} interleaved rounds")
    cam = _one_line(cam_like_maps(n, device=dev), reps, dev)
    noise = _one_line(noise_maps(n, device=dev), reps, dev)
    measured = {"map_size": MAP_SIZE, "threshold": THRESHOLD, "repeats": reps, **cam, "noise": noise}
    return make_entry(
        NAME,
        TITLE,
        measured=measured,
        ratio=cam["ratio"],
        ratio_meaning="boxes_from_maps images/s / OpenCV loop images/s on CAM maps (median of paired rounds)",
        goal_=GOAL,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=[
            "baseline (benchmark only): per-image NumPy min-max, threshold, findContours, "
            "largest contourArea, boundingRect",
            "lines: CAM maps (14x14 random maps resized bicubic to 224, raw); "
            "noise (Gaussian-blurred white noise, sigma 6 px) under measured.noise",
            f"maps on {dev.type}; both sides include the transfer to the CPU",
        ],
    )


def summary(m: dict[str, Any]) -> str:
    nz = m["noise"]
    return (
        f"CAM maps: boxes_from_maps {m['boxes_from_maps_images_per_s']:.0f} img/s, "
        f"OpenCV loop {m['opencv_loop_images_per_s']:.0f} img/s; noise maps: "
        f"{nz['boxes_from_maps_images_per_s']:.0f} vs {nz['opencv_loop_images_per_s']:.0f} img/s "
        f"(x{nz['ratio']:.2f})"
    )
