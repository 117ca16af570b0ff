"""``infocam bench``: measure maps, boxes, the sweep, memory, the trainer and the demo side by side."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "bench"
ORDER = 90
HELP = "measure performance side by side (maps, boxes, sweep, score, evaluate, memory, trainer, demo)"
DESCRIPTION = """\
Runs each measurement side by side in one process (interleaved rounds,
medians) and prints a table; --json writes every number, the ratio, the
goal, whether it is met and the machine (atomically).

measurements (--only):
  maps      ResNet50 forward vs forward + CAM/infoCAM/infoCAM+ maps (goal <= 1.03x);
            torch-cam's CAM beside them when torchcam is installed
  pipeline  forward + maps + boxes images/s (default on --device cuda only)
  boxes     boxes_from_maps vs a plain OpenCV findContours loop, CAM maps and white
            noise (goal >= 1x on CAM maps)
  sweep     fast_sweep vs reference_sweep on CAM maps (float64, float32, both MaxBoxAcc
            versions) and white noise, CPU time per map, identical hits (goal >= 50x)
  score     `infocam score` over 5,794 CAM-like maps, step 0.001, vs wsolevaluation's
            per-threshold loop (goal <= 30 s), identical hits
  evaluate  `infocam evaluate` images/s, ResNet50 + 3 maps, GT-known and MaxBoxAccV2 at
            step 0.001: images in memory, scoring in the main process vs in --cpu-workers
            processes, identical results; and a line decoding 500 x 375 JPEG files
            through the evaluate command's data loader (goal: CPU, the wait for the
            workers <= 10% of the wall time; GPU, >= 2,000 images/s decode included);
            sizes from the environment, any of images, batch, cpu_workers, decoded
            (JPEGs), loader_workers, decoded_cpu_workers, e.g.
            INFOCAM_BENCH_EVALUATE="images=64,batch=16,decoded=32,loader_workers=1"
  memory    evaluation peak RSS for N vs 10N images (goal growth < 10%)
  trainer   the trainer vs a bare torch loop, images/s (goal >= 0.95x)
  demo      wall time of `infocam demo` (goal <= 180 s on 2 CPU cores)
  faithfulness  ResNet50 deletion + insertion curves vs the 2 x steps forward
            passes they need (goal <= 1.15x); sizes from the environment:
            INFOCAM_BENCH_FAITHFULNESS="batch=4,size=112,steps=10"

Exits 1 when fast hits are not identical to the reference loop's (or the
workers' evaluation to the serial one) or a measurement failed; unmet goals
are reported, not fatal.

examples:
  infocam bench --quick                       # a first look, well under a minute without the demo
  infocam bench --json bench.json             # everything (several minutes on 2 cores)
  infocam bench --only sweep,boxes --json b.json --overwrite
  infocam bench --device cuda --json gpu.json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device", default="cpu", choices=("cpu", "cuda"), help="where the models run [cpu]"
    )
    p.add_argument("--json", metavar="OUT", help="write the report as JSON to OUT (atomically)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument(
        "--quick", action="store_true", help="small batches, maps and counts (a first look)"
    )
    p.add_argument(
        "--only", metavar="NAME,...", help="run only these measurements (comma-separated)"
    )
    p.add_argument(
        "--repeats",
        type=int,
        metavar="N",
        help="interleaved rounds per side (default: per measurement, fewer with --quick)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    from infocam.errors import InputError

    out = Path(args.json) if args.json else None
    if out is not None:
        if out.is_dir():
            raise InputError(f"--json {out}: is a directory")
        if out.exists() and not args.overwrite:
            raise InputError(f"--json {out}: exists; pass --overwrite to replace it")
    if args.repeats is not None and args.repeats < 1:
        raise InputError(f"--repeats must be >= 1; got {args.repeats}")

    from infocam.bench import format_table, parse_only, resolve_device, run_bench
    from infocam.fileio import atomic_write_json

    device = resolve_device(args.device)
    names = parse_only(args.only, device)

    def log(msg: str) -> None:
        if not args.quiet:
            print(f"bench: {msg}", file=sys.stderr, flush=True)

    report = run_bench(names, device=device.type, quick=args.quick, repeats=args.repeats, log=log)
    print(format_table(report))
    if out is not None:
        atomic_write_json(out, report)
        print(f"\nwrote {out}")
    if report["identical"] is False:
        print(
            "bench: error: fast_sweep and reference_sweep disagree (identical: false)",
            file=sys.stderr,
        )
        return 1
    if report["errors"]:
        print(f"bench: error: failed: {', '.join(report['errors'])}", file=sys.stderr)
        return 1
    return 0
