"""``infocam visualize``: figure grids like the paper's Figures 2, 3 and 5."""

from __future__ import annotations

import argparse

from infocam.cli.commands import SPLIT_HELP

NAME = "visualize"
ORDER = 30
HELP = "paper-style figure grids: images, then CAM / infoCAM(+) overlays with GT and predicted boxes"
DESCRIPTION = """\
Draw the paper's Figures 2, 3 and 5 for a checkpoint of `infocam train`: one
column per image; rows: the image, then one overlay per method (the map of
the ground-truth class), red ground-truth and green predicted boxes.

Pick the images by id (--ids), by position in the split (--indices), or let
one pass over the split find the N images where the last method's box gains
the most IoU over the first method's (--top-gains N; --worst for the largest
losses). `cam` is the paper's CAM (R = 1); infocam and infocam+ use --region
(default: the checkpoint's evaluate.region); a suffix _rN fixes R (cam_r4).

examples:
  infocam visualize --checkpoint runs/cub_resnet50/best.pt --methods cam,infocam+ \\
      --region 4 --top-gains 6 --out fig3.png --pdf          # Figure 3
  infocam visualize --checkpoint runs/tiny_resnet50/best.pt --methods cam,infocam \\
      --region 3 --indices 0,5,9,12 --out fig5_tiny.png       # Figure 5
"""

MAX_COLUMNS = 32


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="a best.pt / last.pt written by infocam train")
    p.add_argument("--data", metavar="ROOT", help="dataset root (default: the root in the checkpoint's config)")
    p.add_argument("--format", choices=["cub", "tiny-imagenet", "wsol", "csv"], help="dataset format (default: the checkpoint's)")
    p.add_argument("--split", default="test", help=SPLIT_HELP)
    p.add_argument("--methods", default="cam,infocam+", help="comma-separated methods, one row each [cam,infocam+]")
    p.add_argument("--region", type=int, default=None, help="region R of infoCAM/infoCAM+ (default: the checkpoint's)")
    p.add_argument("--threshold", type=float, default=0.2, help="box threshold on the normalised map [0.2]")
    pick = p.add_mutually_exclusive_group(required=True)
    pick.add_argument("--ids", help="comma-separated image ids of the split")
    pick.add_argument("--indices", help="comma-separated positions in the split (0-based)")
    pick.add_argument("--top-gains", type=int, metavar="N", help="the N images with the largest IoU gain")
    p.add_argument("--worst", action="store_true", help="with --top-gains: the largest IoU losses instead")
    p.add_argument("--out", required=True, metavar="FIG.png", help="figure file (.png or .pdf)")
    p.add_argument("--pdf", action="store_true", help="also write the figure as PDF beside the PNG")
    p.add_argument("--overwrite", action="store_true", help="replace existing figure files")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=0, help="data-loading worker processes for --top-gains [0]")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N [auto]")


def dataset_from_config(cfg: dict, split: str, data_root: str | None = None, data_format: str | None = None):
    """The test-transform dataset of a checkpoint's config for ``split`` (``--data`` overrides the root)."""
    from infocam.errors import InputError

    data = {k: v for k, v in (cfg.get("data") or {}).items() if v is not None}
    if data_format:
        data["format"] = data_format
    if data_root:
        data["root"] = str(data_root)
    fmt = data.get("format")
    if fmt is None:
        raise InputError("the checkpoint's config names no data.format; pass --format and --data")
    if fmt != "synthetic" and not data.get("root"):
        raise InputError("the checkpoint's config names no data.root; pass --data ROOT")
    from infocam.data import build_dataset

    return build_dataset(data, split, False)


def parse_int_list(text: str, what: str) -> list[int]:
    """``"0,5,9"`` -> ``[0, 5, 9]``; InputError naming ``what`` otherwise."""
    from infocam.errors import InputError

    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise InputError(f"{what}: {part!r} is not an integer") from None
    if not out:
        raise InputError(f"{what}: give at least one value")
    return out


def ids_to_indices(dataset, ids: list[str]) -> list[int]:
    """Positions of ``ids`` in ``dataset`` (its ``ids`` attribute, else each item's ``id``)."""
    import difflib

    from infocam.errors import InputError

    all_ids = list(getattr(dataset, "ids", None) or (dataset[i]["id"] for i in range(len(dataset))))
    where = {str(x): i for i, x in enumerate(all_ids)}
    out = []
    for x in ids:
        if x not in where:
            close = difflib.get_close_matches(x, list(where), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f" (e.g. {', '.join(list(where)[:3])})"
            raise InputError(f"--ids: {x!r} is not an image of the split{hint}")
        out.append(where[x])
    return out


def resolve_device(name: str):
    """``auto`` -> cuda when available, else cpu; InputError for an unusable device."""
    import torch

    from infocam.errors import InputError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise InputError(f"--device: unknown device {name!r} (auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine")
    return dev


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from infocam.engine.checkpoint import load_checkpoint
    from infocam.errors import InputError
    from infocam.viz.gallery import collect_examples, parse_methods, top_gain_indices
    from infocam.viz.overlay import figure_grid

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".pdf"):
        raise InputError(f"--out {out}: the figure file must end in .png or .pdf")
    outs = [out] + ([out.with_suffix(".pdf")] if args.pdf and out.suffix.lower() != ".pdf" else [])
    for path in outs:
        if path.exists() and not args.overwrite:
            raise InputError(f"--out {path} exists; pass --overwrite to replace it")
    if args.worst and args.top_gains is None:
        raise InputError("--worst goes with --top-gains")
    if args.top_gains is not None and not 1 <= args.top_gains <= MAX_COLUMNS:
        raise InputError(f"--top-gains must lie in 1..{MAX_COLUMNS} (columns of one figure); got {args.top_gains}")
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1; got {args.batch_size}")
    device = resolve_device(args.device)
    model, cfg, _meta = load_checkpoint(args.checkpoint, device=device)
    region = args.region if args.region is not None else int((cfg.get("evaluate") or {}).get("region", 1) or 1)
    variants = parse_methods(args.methods, region)
    dataset = dataset_from_config(cfg, args.split, args.data, args.format)
    if args.ids:
        indices = ids_to_indices(dataset, [x.strip() for x in args.ids.split(",") if x.strip()])
    elif args.indices:
        indices = parse_int_list(args.indices, "--indices")
    else:
        indices = top_gain_indices(
            model, dataset, args.top_gains, list(variants), region, args.threshold, device,
            batch_size=args.batch_size, num_workers=args.workers, worst=args.worst,
        )
    if len(indices) > MAX_COLUMNS:
        raise InputError(f"{len(indices)} images asked for; a figure holds at most {MAX_COLUMNS} columns")
    examples = collect_examples(
        model, dataset, indices, list(variants), region, args.threshold, device, batch_size=args.batch_size
    )
    names = list(variants)
    written = figure_grid([ex.panel(names) for ex in examples], names, outs,
                          row_titles={m: _title(m) for m in names})
    for ex in examples:
        ious = "  ".join(f"{m} {ex.iou[m]:.3f}" for m in names)
        print(f"#{ex.index} {ex.id}: {ex.label_name}  IoU {ious}")
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0


def _title(name: str) -> str:
    from infocam.viz.gallery import method_title

    return method_title(name)
