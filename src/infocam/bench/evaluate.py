"""End-to-end evaluation throughput: scoring in the main process vs in worker processes, and with decoding.

One :func:`infocam.engine.evaluate.evaluate` run per line, with a ResNet50
of random weights: CAM, infoCAM and infoCAM+ (R = 4), GT-known Loc at 0.2
against one GT box per image, Top-1 / Top-5 Loc, and MaxBoxAccV2 (IoU
30/50/70) at step 0.001. Three lines:

* ``serial`` and ``workers``, side by side, interleaved: ``images`` random
  224 x 224 images in memory (no decoding) in batches of ``batch``, with
  ``cpu_workers=0`` (each batch's boxes and sweeps run in the main process
  between forward passes) and ``cpu_workers=N`` (they run in N worker
  processes while the next forward passes run). ``identical``: both give
  the same numbers.
* ``decoded``: ``decoded`` JPEG files of 500 x 375 on disk
  (:mod:`infocam.bench.cub_jpegs`, written untimed to a temporary
  CUB-200-2011 tree), evaluated as ``infocam evaluate`` evaluates a dataset
  on disk: :func:`infocam.data.build_dataset` (format ``cub``, split
  ``all_test``: resize to 256, centre crop 224, ImageNet normalisation) and
  :func:`infocam.engine.evaluate.evaluation_loader`, whose
  ``loader_workers`` processes decode and transform the images, with the
  scoring in ``decoded_cpu_workers`` processes. By default one core is left
  to the main process and the others are shared in proportion to what an
  image costs each side (:func:`split_cores`, from the measured decode and
  scoring times; at least one each).

Each line reports images per second and the shares of its wall time spent
in the forward pass and the maps (``forward``), waiting for the CPU scoring
(``cpu``: the work itself, serial, or the wait for the workers), waiting for
the data (``data``: the loader) and the rest (``other``: starting and
stopping worker processes).

Sizes: 128 images in memory in batches of 16 and 32 JPEGs on a CPU, 4,096
of each in batches of 128 on a GPU (``--quick``: 8 of each in batches of
4); ``cpu_workers`` = every usable core. Override any of them with
``INFOCAM_BENCH_EVALUATE="images=64,batch=8,cpu_workers=2,decoded=64,loader_workers=1,decoded_cpu_workers=1"``.

Goal on a CPU: the CPU scoring hides behind the forward pass (the wait for
the workers <= 10% of the wall time, images in memory). On a GPU: >= 2,000
images/s with decoding included (the ``decoded`` line).
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import torch

from infocam.bench.common import BenchContext, goal, make_entry, median, overridden
from infocam.engine.pool import usable_cores

NAME = "evaluate"
TITLE = ("evaluate: ResNet50 + CAM/infoCAM/infoCAM+, GT-known + MaxBoxAccV2 at step 0.001, serial vs cpu workers, "
         "and from JPEG files")
GOAL_CPU = goal("workers_cpu_share", "<=", 0.10, "with workers, waiting for the CPU scoring <= 10% of the wall time")
GOAL_GPU = goal("decoded_images_per_s", ">=", 2000.0, ">= 2,000 images/s on one GPU, JPEG decoding included")
ENV = "INFOCAM_BENCH_EVALUATE"
IMAGE_SIZE = 224
#: (width, height) of the decoded line's JPEGs: photo-sized
JPEG_SIZE = (500, 375)
REGION = 4
STEP = 0.001


def sizes(quick: bool, cuda: bool = False, text: str | None = None) -> dict[str, int]:
    """Images, batch and worker processes of both lines: the defaults, then the overrides in ``text`` (``ENV``'s format)."""
    cores = usable_cores()
    images, batch = (8, 4) if quick else (4096, 128) if cuda else (128, 16)
    decoded = 8 if quick else 4096 if cuda else 32
    # 0: chosen from the measured costs (:func:`split_cores`); an override is kept as given
    return overridden({"images": images, "batch": batch, "cpu_workers": cores, "decoded": decoded,
                       "loader_workers": 0, "decoded_cpu_workers": 0}, ENV, text)


def split_cores(cores: int, decode_ms: float, scoring_ms: float) -> tuple[int, int]:
    """(loader workers, scoring workers) for the decoded line on ``cores`` cores.

    One core stays with the main process (the forward passes); the others go
    to decoding and to scoring in proportion to their per-image costs, so
    that both sides keep up with the same number of images per second; at
    least one each. 16 cores at 4.3 ms to decode and 3.8 ms to score an
    image: 15 * 4.3 / 8.1 = 7.96, so 8 and 7.
    """
    spare = max(2, cores - 1)
    loaders = round(spare * decode_ms / (decode_ms + scoring_ms)) if decode_ms + scoring_ms > 0 else spare // 2
    loaders = min(spare - 1, max(1, loaders))
    return loaders, spare - loaders


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


def side_numbers(side: str, spents: list[dict], images: int) -> dict[str, float]:
    """One line's numbers from its runs' ``timings``: the median wall time, images/s and shares of the wall time.

    ``other``: what none of ``forward``, ``cpu`` and ``data`` holds (starting and stopping worker processes).
    """
    wall = median([s["wall_s"] for s in spents])
    out = {f"{side}_wall_s": wall, f"{side}_images_per_s": images / wall}
    for part in ("forward", "cpu", "data"):
        out[f"{side}_{part}_share"] = median([s[f"{part}_s"] / s["wall_s"] for s in spents])
    out[f"{side}_other_share"] = median(
        [1 - (s["forward_s"] + s["cpu_s"] + s["data_s"]) / s["wall_s"] for s in spents])
    return out


def decode_cost_ms(dataset: Any, count: int) -> float:
    """Milliseconds of one core per item of ``dataset`` (decode + transform), over its first ``count`` items
    read in this process on one thread, after one untimed item."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        dataset[0]
        t = time.perf_counter()
        for i in range(count):
            dataset[i]
        return (time.perf_counter() - t) / count * 1000
    finally:
        torch.set_num_threads(threads)


def decoded_line(model: torch.nn.Module, cfg: dict[str, int], reps: int, ctx: BenchContext,
                 kw: dict[str, Any], scoring_ms: float) -> tuple[dict[str, Any], dict]:
    """The decode-included line: ``cfg["decoded"]`` JPEGs written to a temporary CUB tree (untimed), then
    ``reps`` evaluations of it through :func:`infocam.data.build_dataset` and the loader of ``infocam
    evaluate``, each with a fresh loader. Worker counts left at 0 in ``cfg`` come from
    :func:`split_cores`, with ``scoring_ms`` (an image's scoring, from the serial line).
    Returns its measured numbers and the last run's result."""
    from infocam.bench.cub_jpegs import write_cub_jpegs
    from infocam.data import build_dataset
    from infocam.engine.evaluate import evaluate, evaluation_loader

    n, loaders, workers = cfg["decoded"], cfg["loader_workers"], cfg["decoded_cpu_workers"]
    with tempfile.TemporaryDirectory(prefix="infocam-bench-evaluate-") as tmp:
        ctx.log(f"{NAME}: writing {n} JPEGs of {JPEG_SIZE[0]} x {JPEG_SIZE[1]} in the CUB layout")
        root = write_cub_jpegs(tmp, n, size=JPEG_SIZE, threads=max(1, usable_cores()))
        kib = sum(p.stat().st_size for p in (root / "images").rglob("*.jpg")) / n / 1024
        dataset = build_dataset({"format": "cub", "root": str(root)}, "all_test", train=False)
        decode_ms = decode_cost_ms(dataset, min(n, 32))
        auto = split_cores(usable_cores(), decode_ms, scoring_ms)
        if not loaders and not workers:
            loaders, workers = auto
        elif not loaders:  # one side given: the other gets the rest
            loaders = max(1, sum(auto) - workers)
        elif not workers:
            workers = max(1, sum(auto) - loaders)
        spents: list[dict] = []
        result: dict = {}
        for _ in range(reps):
            ctx.log(f"{NAME}: {n} JPEGs in batches of {cfg['batch']}, decoded by {loaders} loader workers, "
                    f"cpu_workers={workers}")
            spent: dict = {}
            loader = evaluation_loader(dataset, cfg["batch"], loaders, ctx.device)
            result = evaluate(model, loader, cpu_workers=workers, timings=spent, **kw)
            spents.append(spent)
    measured = {"decoded_images": n, "decoded_count": result["count"], "decoded_jpeg_size": list(JPEG_SIZE),
                "decoded_jpeg_mean_kib": kib, "decode_ms_per_image": decode_ms, "loader_workers": loaders,
                "decoded_cpu_workers": workers,
                **side_numbers("decoded", spents, n)}
    return measured, result


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
        measured.update(side_numbers(side, spents, n))
    measured["scoring_ms_per_image"] = median([s["cpu_s"] for s in runs["serial"]]) / n * 1000
    measured["max_box_acc_v2"] = {m: results["workers"]["methods"][m]["max_box_acc_v2"] for m in METHODS}
    decoded, decoded_result = decoded_line(model, cfg, reps, ctx, kw, measured["scoring_ms_per_image"])
    measured.update(decoded)
    measured["decoded_max_box_acc_v2"] = {m: decoded_result["methods"][m]["max_box_acc_v2"] for m in METHODS}
    measured["overrides"] = os.environ.get(ENV) or None
    notes = [
        "serial and workers: images, labels and boxes in memory (no decoding); the forward pass, the maps and "
        "their transfer to the CPU are 'forward'",
        "serial: cpu_workers=0; workers: the batches' boxes and sweeps in worker processes, at most "
        "cpu_workers + 1 batches in flight; one warm-up batch first; sides interleaved ABBA",
        "identical: the two in-memory sides' results are equal",
        f"decoded: JPEGs of {JPEG_SIZE[0]} x {JPEG_SIZE[1]} (smooth colour fields and a textured ellipse, the GT "
        "box; quality 95) written untimed to a temporary CUB_200_2011 tree, then evaluated as `infocam evaluate` "
        "does a dataset on disk: build_dataset (format cub, split all_test) and its DataLoader, whose "
        "loader_workers processes decode (PIL), resize to 256, centre-crop to 224 and normalise",
        "decoded: one core for the main process, the others split between loader_workers and "
        "decoded_cpu_workers (the scoring) in proportion to decode_ms_per_image and scoring_ms_per_image; the "
        "files are in the page cache (just written), the loader's workers start inside the timed run; "
        "'other' is the wall time outside forward, cpu and data (starting and stopping worker processes)",
        "decode_ms_per_image: one core's time to read, decode and transform one JPEG (the first 32, in the main "
        "process, one thread); scoring_ms_per_image: the serial line's scoring time per image (boxes and the "
        "three sweeps). At R images/s the decoding needs about R * decode_ms_per_image / 1000 cores and the "
        "scoring R * scoring_ms_per_image / 1000",
    ]
    return make_entry(
        NAME,
        TITLE,
        measured=measured,
        ratio=measured["workers_images_per_s"] / measured["serial_images_per_s"],
        ratio_meaning="images/s with cpu workers / images/s serial (images in memory)",
        goal_=GOAL_GPU if ctx.cuda else GOAL_CPU,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=notes,
        identical=identical,
    )


def summary(m: dict[str, Any]) -> str:
    def side(s: str) -> str:
        return (f"{m[f'{s}_images_per_s']:.3g} img/s (forward {m[f'{s}_forward_share']:.0%}, "
                f"cpu {m[f'{s}_cpu_share']:.0%}, data {m[f'{s}_data_share']:.0%})")

    return (f"{m['images']} images in memory: serial {side('serial')}; {m['cpu_workers']} workers "
            f"{side('workers')}; {m['decoded_images']} JPEGs, {m['loader_workers']} decoding + "
            f"{m['decoded_cpu_workers']} scoring workers {side('decoded')}")
