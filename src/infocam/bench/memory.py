"""Evaluation memory: peak RSS of the one evaluator for N and 10 N images.

Each size runs in a fresh subprocess (:func:`run_child` -> :func:`child`):
:func:`infocam.engine.evaluate.evaluate` with the small CNN (random
weights) on synthetic 64 x 64 one-channel images that are made on demand
(so the data set itself holds nothing), CAM, infoCAM and infoCAM+ at R = 3,
the GT-known box and the MaxBoxAccV2 sweep (step 0.01).
The child reports its peak resident set (``VmHWM`` from
``/proc/self/status``, else ``ru_maxrss``). The evaluator streams counts,
so 10x the images should not need more memory: goal growth < 10%.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

from infocam.bench.common import BenchContext, goal, make_entry, python_cmd

NAME = "memory"
TITLE = "evaluation memory: peak RSS of evaluate() for N vs 10N images"
GOAL = goal("ratio", "<", 1.10, "peak RSS for 10N images < 1.10 x for N (growth < 10%)")
IMAGE_SIZE = 64
NUM_CLASSES = 10
TIMEOUT_S = 1800


def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_kib() -> tuple[int, str]:
    """This process's peak resident set in KiB, and where it was read."""
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm, "VmHWM"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), "ru_maxrss"


def synthetic_dataset(n: int, size: int = IMAGE_SIZE, seed: int = 0):
    """``n`` one-channel images with a bright box on noise, each made when it is read."""
    import torch
    from torch.utils.data import Dataset

    class _OnDemand(Dataset):
        num_classes = NUM_CLASSES

        def __len__(self) -> int:
            return n

        def __getitem__(self, i: int) -> dict[str, Any]:
            g = torch.Generator().manual_seed(seed * 1_000_003 + i)
            image = torch.rand(1, size, size, generator=g) * 0.2
            w, h = (int(v) for v in torch.randint(size // 4, size // 2 + 1, (2,), generator=g))
            x0 = int(torch.randint(0, size - w + 1, (1,), generator=g))
            y0 = int(torch.randint(0, size - h + 1, (1,), generator=g))
            image[:, y0 : y0 + h, x0 : x0 + w] += 0.7
            return {
                "image": image,
                "label": i % NUM_CLASSES,
                "boxes": torch.tensor([[x0, y0, x0 + w, y0 + h]], dtype=torch.float32),
                "id": f"bench/{i}",
            }

    return _OnDemand()


def child(n: int, batch: int, device: str) -> dict[str, Any]:
    """Run the evaluator on ``n`` images in this process and report its memory."""
    import torch
    from torch.utils.data import DataLoader

    from infocam.data.collate import collate
    from infocam.engine.evaluate import evaluate, main_variants
    from infocam.maps import METHODS
    from infocam.models import build_model

    torch.manual_seed(0)
    dev = torch.device(device)
    model = build_model("small_cnn", NUM_CLASSES, in_channels=1).eval().to(dev)
    loader = DataLoader(
        synthetic_dataset(n), batch_size=batch, shuffle=False, num_workers=0, collate_fn=collate
    )
    rss_before = _status_kib("VmRSS")
    t0 = time.perf_counter()
    result = evaluate(
        model,
        loader,
        variants=main_variants(METHODS, 3),
        thresholds=0.2,
        max_box_acc=True,
        cam_curve_step=0.01,
        device=dev,
        progress=False,
    )
    seconds = time.perf_counter() - t0
    peak, source = peak_rss_kib()
    out: dict[str, Any] = {
        "images": int(result["count"]),
        "batch": batch,
        "evaluate_s": seconds,
        "images_per_s": result["count"] / seconds if seconds > 0 else None,
        "peak_rss_kib": peak,
        "peak_source": source,
        "rss_before_evaluate_kib": rss_before,
    }
    if dev.type == "cuda":
        out["cuda_max_allocated_bytes"] = int(torch.cuda.max_memory_allocated(dev))
    return out


# ``python -m infocam.bench.memory`` would work too, but runpy warns when the
# package (which imports this module) is loaded first.
_CHILD = "import sys; from infocam.bench.memory import _main; sys.exit(_main(sys.argv[1:]))"


def run_child(n: int, batch: int, device: str) -> dict[str, Any]:
    """:func:`child` in a fresh interpreter; its one JSON line, parsed."""
    cmd = [*python_cmd(), "-c", _CHILD, str(n), str(batch), device]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=os.environ.copy()
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(
            f"memory child for {n} images failed ({proc.returncode}): {' | '.join(tail)}"
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"memory child for {n} images printed no result")
    return json.loads(lines[-1])


def _net_mib(run: dict[str, Any]) -> float | None:
    """How far the peak rose above the resident set at the start of evaluate(), in MiB."""
    before = run.get("rss_before_evaluate_kib")
    return None if before is None else (run["peak_rss_kib"] - before) / 1024


def measure(ctx: BenchContext) -> dict[str, Any]:
    t_start = time.perf_counter()
    n = 32 if ctx.quick else 256
    batch = 32 if ctx.quick else 64
    ctx.log(f"memory: evaluate() on {n} and {10 * n} images, each in a fresh process")
    small = run_child(n, batch, ctx.device.type)
    large = run_child(10 * n, batch, ctx.device.type)
    ratio = large["peak_rss_kib"] / small["peak_rss_kib"]
    measured = {
        "n": n,
        "n_large": 10 * n,
        "image_size": IMAGE_SIZE,
        "model": "small_cnn (random weights)",
        "variants": ["cam", "infocam (R=3)", "infocam+ (R=3)"],
        "max_box_acc_step": 0.01,
        "peak_rss_mib_n": small["peak_rss_kib"] / 1024,
        "peak_rss_mib_10n": large["peak_rss_kib"] / 1024,
        "growth_percent": (ratio - 1) * 100,
        "evaluate_peak_over_start_mib_n": _net_mib(small),
        "evaluate_peak_over_start_mib_10n": _net_mib(large),
        "small": small,
        "large": large,
    }
    return make_entry(
        NAME,
        TITLE,
        measured=measured,
        ratio=ratio,
        ratio_meaning="peak RSS with 10N images / with N images",
        goal_=GOAL,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=["the peak includes the interpreter, torch and the model (the same in both runs)"],
    )


def _main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: N BATCH DEVICE", file=sys.stderr)
        return 2
    print(json.dumps(child(int(argv[0]), int(argv[1]), argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))


def summary(m: dict[str, Any]) -> str:
    return (
        f"{m['n']} images {m['peak_rss_mib_n']:.0f} MiB; "
        f"{m['n_large']} images {m['peak_rss_mib_10n']:.0f} MiB"
    )
