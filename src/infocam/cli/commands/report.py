"""``infocam report``: one self-contained HTML page with a run's tables and an example gallery."""

from __future__ import annotations

import argparse

from infocam.cli.commands import SPLIT_HELP

NAME = "report"
ORDER = 45
HELP = "one self-contained HTML page: a run's metric tables and a sortable CAM / infoCAM gallery"
DESCRIPTION = """\
Write one HTML file (images inlined, no network, no external files) for a
run folder:

* the metric tables of every eval*.json (`infocam evaluate --json`) and
  results.json (the demo's) in RUN_DIR (or only the --eval files), and the
  paper's tables they fit (a block per evaluation when a model has several,
  e.g. eval_val.json and eval_test.json);
* the mean deletion / insertion curves of each result evaluated with
  --faithfulness;
* when RUN_DIR holds a checkpoint (best.pt, else last.pt) and its dataset is
  found (the config's data.root, or --data), a gallery of --n test images:
  the image with its red ground-truth box, then each method's overlay with
  its green box and IoU, and the IoU gain of the last method over the first.
  The page opens sorted by gain (largest first); a select re-sorts it and
  another shows only the failures (e.g. infoCAM IoU < 0.5).

--pick spread takes --n images spread evenly over the split; --pick gain
scans the split for the --n largest gains; --pick extremes takes half
largest gains, half largest losses.

examples:
  infocam report runs/cub_resnet50 --data /data/CUB_200_2011
  infocam report runs/demo --out demo_report.html --n 24
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (infocam train --out, or the demo's)")
    p.add_argument("--out", metavar="FILE", help="HTML file [RUN_DIR/report.html]")
    p.add_argument("--eval", action="append", metavar="FILE", help="report this evaluation JSON only (repeatable) [every RUN_DIR/eval*.json and results.json]")
    p.add_argument("--data", metavar="ROOT", help="dataset root for the gallery (default: the checkpoint's)")
    p.add_argument("--format", choices=["cub", "tiny-imagenet", "wsol", "csv"], help="dataset format (default: the checkpoint's)")
    p.add_argument("--split", default="test", help="split of the gallery; " + SPLIT_HELP)
    p.add_argument("--n", type=int, default=48, help="gallery images [48]; 0: no gallery")
    p.add_argument("--pick", choices=["spread", "gain", "extremes"], default="spread", help="how images are chosen [spread]")
    p.add_argument("--methods", default="cam,infocam", help="gallery methods; the gain is the last over the first [cam,infocam]")
    p.add_argument("--region", type=int, default=None, help="region R of infoCAM/infoCAM+ (default: the checkpoint's)")
    p.add_argument("--threshold", type=float, default=0.2, help="box threshold on the normalised map [0.2]")
    p.add_argument("--checkpoint", metavar="CKPT", help="checkpoint for the gallery [RUN_DIR/best.pt, else last.pt]")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report file")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N [auto]")


def collect_tables(run_dir, evals=None) -> dict[str, str]:
    """``{heading: markdown}`` from RUN_DIR's eval*.json and results.json (or the files ``evals``),
    then the paper's tables (one block per evaluation of a setting)."""
    import json

    from infocam.cli.commands.tables import build_tables
    from infocam.viz.report import nested_tables
    from infocam.viz.tables import (
        format_eval_table,
        is_eval_result,
        load_runs,
        markdown_table,
        table_title,
    )

    files = _result_files(run_dir, evals)
    tables: dict[str, str] = {}
    runs: list[tuple[str, dict]] = []
    for path in files:
        found = load_runs(path)
        for name, run in found:
            heading = path.name + (f": {name.split(':', 1)[1]}" if ":" in name else "")
            tables[heading] = format_eval_table(run)
            runs.append((heading, run))
        obj = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(obj, dict) and not is_eval_result(obj):
            for key, value in obj.items():
                if isinstance(value, dict) and not is_eval_result(value):
                    text = nested_tables(value)
                    if text:
                        tables[f"{path.name}: {key}"] = text
    if runs:
        built = build_tables(runs, with_paper=True)
        built.pop("runs", None)
        for name, (header, rows) in built.items():
            heading = table_title(name) if name == "ablation" else f"Paper comparison: {table_title(name)}"
            tables[heading] = markdown_table(header, rows)
    return tables


def _result_files(run_dir, evals=None) -> list:
    """The files ``evals``, else RUN_DIR's eval*.json and results.json."""
    from pathlib import Path

    run_dir = Path(run_dir)
    if evals:
        return [Path(e) for e in evals]
    return sorted(run_dir.glob("eval*.json")) + ([run_dir / "results.json"] if (run_dir / "results.json").is_file() else [])


def collect_curves(run_dir, evals=None) -> dict[str, bytes]:
    """``{heading: PNG}``: the mean deletion / insertion curves of each result that has them."""
    from infocam.viz.curves import curves_png, faithfulness_curves
    from infocam.viz.tables import load_runs

    figures = {}
    for path in _result_files(run_dir, evals):
        for name, run in load_runs(path):
            found = faithfulness_curves(run)
            if found is not None:
                heading = path.name + (f": {name.split(':', 1)[1]}" if ":" in name else "")
                f = next(m["faithfulness"] for m in run["methods"].values() if "faithfulness" in m)
                figures[heading] = curves_png(*found, title=f"{heading}: mean over {f['count']} images")
    return figures


def _checkpoint_path(args: argparse.Namespace):
    from pathlib import Path

    from infocam.errors import InputError

    if args.checkpoint:
        path = Path(args.checkpoint)
        if not path.is_file():
            raise InputError(f"--checkpoint {path}: no such file")
        return path
    for name in ("best.pt", "last.pt"):
        if (Path(args.run_dir) / name).is_file():
            return Path(args.run_dir) / name
    return None


def _gallery(args: argparse.Namespace, notes: list[str]) -> list:
    """The gallery's examples, or [] (with a note saying why) when there is none."""
    import sys

    from infocam.cli.commands.visualize import dataset_from_config, resolve_device
    from infocam.engine.checkpoint import load_checkpoint
    from infocam.errors import InputError
    from infocam.viz.gallery import (
        collect_examples,
        parse_methods,
        spread_indices,
        top_gain_indices,
    )

    if args.n == 0:
        return []
    ckpt = _checkpoint_path(args)
    if ckpt is None:
        notes.append("No gallery: no best.pt or last.pt in the run folder.")
        return []
    device = resolve_device(args.device)
    model, cfg, meta = load_checkpoint(ckpt, device=device)
    epoch = meta.get("best_epoch") if ckpt.name == "best.pt" else meta.get("epoch")
    notes.append(f"Gallery from {ckpt.name}" + (f" (epoch {epoch})" if epoch is not None else "") + f", split {args.split}.")
    region = args.region if args.region is not None else int((cfg.get("evaluate") or {}).get("region", 1) or 1)
    variants = parse_methods(args.methods, region)
    try:
        dataset = dataset_from_config(cfg, args.split, args.data, args.format)
    except InputError as exc:
        if args.data or args.format:
            raise
        print(f"infocam report: warning: no gallery: {exc}", file=sys.stderr)
        notes[-1] = f"No gallery: the checkpoint's dataset was not found ({exc}); pass --data ROOT."
        return []
    names = list(variants)
    if args.pick == "spread":
        indices = spread_indices(len(dataset), args.n)
    else:
        kw = {"batch_size": args.batch_size}
        if len(names) < 2:
            raise InputError(f"--pick {args.pick} needs two methods in --methods")
        if args.pick == "gain":
            indices = top_gain_indices(model, dataset, args.n, names, region, args.threshold, device, **kw)
        else:
            best = top_gain_indices(model, dataset, (args.n + 1) // 2, names, region, args.threshold, device, **kw)
            worst = top_gain_indices(model, dataset, args.n // 2, names, region, args.threshold, device, worst=True, **kw) if args.n > 1 else []
            indices = best + [i for i in worst if i not in best]
    return collect_examples(model, dataset, indices, names, region, args.threshold, device, batch_size=args.batch_size)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from infocam.errors import InputError
    from infocam.viz.report import render_report

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise InputError(f"RUN_DIR {run_dir}: no such folder")
    if args.n < 0:
        raise InputError(f"--n must be at least 0; got {args.n}")
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1; got {args.batch_size}")
    out = Path(args.out) if args.out else run_dir / "report.html"
    if out.exists() and not args.overwrite:
        raise InputError(f"--out {out} exists; pass --overwrite to replace it")
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give an .html file")
    tables = collect_tables(run_dir, args.eval)
    notes: list[str] = []
    examples = _gallery(args, notes)
    if not tables and not examples:
        raise InputError(
            f"RUN_DIR {run_dir}: nothing to report: no eval*.json / results.json and no gallery "
            "(no checkpoint, or --n 0)"
        )
    render_report(run_dir, tables, examples, out, notes=notes, figures=collect_curves(run_dir, args.eval))
    print(f"wrote {out} ({len(tables)} tables, {len(examples)} gallery images)", file=sys.stderr)
    return 0
