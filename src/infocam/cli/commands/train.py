"""``infocam train``: the one trainer, on one device or many (torchrun)."""

from __future__ import annotations

import argparse

NAME = "train"
ORDER = 10
HELP = "train a classifier from a YAML config (one GPU, CPU, or many GPUs with torchrun)"
DESCRIPTION = """\
Train a classifier for WSOL from a YAML config (configs/*.yaml hold one per
paper setting) and write the run directory: config.yaml (resolved, seed
included), metrics.jsonl (one line per epoch), last.pt (every epoch) and
best.pt (best top-1 on the validation half). Evaluate best.pt with
`infocam evaluate`: the CAM method is chosen at evaluation time.

train.batch_size is the GLOBAL batch: N processes take batch_size/N each,
so a config means the same optimisation on 1 or 8 GPUs.
"""
EPILOG = """\
examples:
  # CUB-200-2011, VGG16-GAP, one GPU (or CPU: slow):
  infocam train --config configs/cub_vgg16_gap.yaml \\
      --set data.root=/data/CUB_200_2011 --out runs/cub_vgg16_gap

  # CUB-200-2011, ResNet50 + ADL, 8 GPUs of one node, bf16 (batch 128 = 16 per GPU):
  torchrun --nproc-per-node 8 -m infocam train --config configs/cub_resnet50_adl.yaml \\
      --set data.root=/data/CUB_200_2011 --set train.amp=bf16 --out runs/cub_resnet50_adl

  # VGG CUB on 8 GPUs: batch 30 does not split over 8, choose e.g. 32:
  torchrun --nproc-per-node 8 -m infocam train --config configs/cub_vgg16_gap.yaml \\
      --set data.root=/data/CUB_200_2011 --set train.batch_size=32 --out runs/cub_vgg16_gap

  # continue after a crash or a kill (exactly where last.pt left off):
  infocam train --out runs/cub_vgg16_gap --resume

  # a one-minute CPU trial on generated data:
  infocam train --config configs/tiny_synthetic.yaml --out runs/trial

Several nodes: run torchrun on each with --nnodes, --node-rank and
--rdzv-endpoint (RUN_DIR on a shared filesystem). See docs/training.md.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``train`` options."""
    p.epilog = EPILOG
    p.add_argument(
        "--config",
        metavar="FILE",
        help="YAML config, or the name of a bundled one (cub_vgg16_gap, ...); "
        "default with --resume: RUN_DIR/config.yaml",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set train.lr=0.001 (repeatable; values are YAML)",
    )
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    mode.add_argument(
        "--overwrite", action="store_true", help="replace a previous run in RUN_DIR"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or epoch lines")
    p.add_argument(
        "--print-config", action="store_true", help="print the resolved config and exit"
    )


def run(args: argparse.Namespace) -> int:
    """Load the config and call :func:`infocam.engine.trainer.fit`."""
    import os
    from pathlib import Path

    from infocam.engine.config import dump_config, find_config, load_config
    from infocam.errors import InputError

    out = Path(args.out)
    if args.config is not None:
        path = find_config(args.config)
    elif args.resume:
        path = out / "config.yaml"
        if not path.is_file():
            raise InputError(f"--resume without --config: {path} does not exist")
    else:
        raise InputError("--config: required (except with --resume)")
    cfg = load_config(path, args.overrides)
    if args.print_config:
        print(dump_config(cfg), end="")
        return 0

    from infocam.engine.trainer import fit

    result = fit(
        cfg, out, resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress
    )
    if os.environ.get("RANK", "0") == "0" and not args.no_progress:
        print(
            f"done: {result.epochs} epochs; best val {result.select_metric} "
            f"{result.best_score:.2f} at epoch {result.best_epoch}; {result.best_path}"
        )
    return 0
