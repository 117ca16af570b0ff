"""``infocam tables``: the paper's Tables 1, 3, 4 and 5 from evaluation JSON files."""

from __future__ import annotations

import argparse

NAME = "tables"
ORDER = 40
HELP = "the paper's Tables 1, 3/4 and 5 (markdown and CSV) from evaluation JSON files"
DESCRIPTION = """\
Lay out evaluation results (`infocam evaluate --json`, or the demo's
results.json) like the paper's tables:

  Table 1   GT-known / Top-1 Loc of every method on CUB-200-2011 and Tiny-ImageNet
  Table 3   CUB-200-2011: GT Loc, Top-1 Loc, Top-1 / Top-5 Cls
  Table 4   Tiny-ImageNet: the same
  Table 5   the ablation (region R x subtraction term; needs `evaluate --ablation`)
  ablation  the same grid for every run evaluated with --ablation, whatever its model and data
  runs      every run and method, whatever its model and dataset, with each row's R and
            box threshold (and the rows chosen on a selection split, `evaluate --select-on`)

Two evaluations of one setting (e.g. eval_val.json and eval_test.json of one
model) each get their own block of the paper's tables, labelled by file.

A run's row comes from its JSON's "config" (model vgg16_gap / resnet50, adl,
dataset cub / tiny-imagenet, region). Tables print as markdown; with --out
DIR each is also written as DIR/table1.md and DIR/table1.csv.

examples:
  infocam tables runs/*/eval_test.json --with-paper
  infocam tables runs/cub_vgg/eval.json runs/cub_resnet/eval.json --out tables/
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN_JSON", help="evaluation JSON files")
    p.add_argument("--with-paper", action="store_true", help="put the paper's number after each of ours")
    p.add_argument("--out", metavar="DIR", help="also write tableN.md and tableN.csv here")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")


def build_tables(
    runs: list[tuple[str, dict]], *, with_paper: bool = False
) -> dict[str, tuple[list[str], list[list]]]:
    """Every table for ``runs`` (``(name, result)`` pairs): the paper's, the ablation grid, then ``runs``.

    Two evaluations of one setting (a validation and a test split, or two
    thresholds) each get their own block of the paper's tables, keyed
    ``table1@<name>`` (:func:`~infocam.viz.tables.table_title`).
    """
    from pathlib import PurePath

    from infocam.viz.tables import BACKBONES, ablation_table, paper_tables, run_key, runs_table

    blocks: list[list[tuple[str, dict]]] = []
    for name, run in runs:  # the k-th evaluation of a setting goes to block k
        key = run_key(run)
        for block in blocks:
            if all(run_key(r) != key or key[0] == "?" or key[2] == "?" for _, r in block):
                block.append((name, run))
                break
        else:
            blocks.append([(name, run)])
    tables: dict[str, tuple[list[str], list[list]]] = {}
    for block in blocks:
        label = "" if len(blocks) == 1 else "@" + ", ".join(PurePath(n).name for n, _ in block)
        for key, table in paper_tables([r for _, r in block], with_paper=with_paper).items():
            tables[key + label] = table
    # the paper's backbones on CUB have Table 5 itself; every other run with the ablation gets its grid
    grid = ablation_table([(n, r) for n, r in runs if not (run_key(r)[0] in BACKBONES and run_key(r)[2] == "cub")])
    if grid[1]:
        tables["ablation"] = grid
    tables["runs"] = runs_table(runs)
    return tables


def render_markdown(tables: dict[str, tuple[list[str], list[list]]]) -> dict[str, str]:
    """``{name: "### title\\n\\n| markdown |"}`` for each table."""
    from infocam.viz.tables import markdown_table, table_title

    return {name: f"### {table_title(name)}\n\n{markdown_table(*t)}\n" for name, t in tables.items()}


def run(args: argparse.Namespace) -> int:
    import re
    import sys
    from pathlib import Path

    from infocam.fileio import atomic_write_text, prepare_output_dir
    from infocam.viz.tables import csv_table, load_runs

    runs: list[tuple[str, dict]] = []
    for arg in args.runs:
        found = load_runs(arg)
        runs += [(f"{arg}:{name.split(':', 1)[1]}" if ":" in name else arg, r) for name, r in found]
    tables = build_tables(runs, with_paper=args.with_paper)
    paper = [n for n in tables if n not in ("runs", "ablation")]
    if not paper:
        print(
            "note: no run fits the paper's tables (they need config.model vgg16_gap / resnet50 and "
            "config.dataset cub / tiny-imagenet); showing every run instead",
            file=sys.stderr,
        )
    texts = render_markdown(tables)
    print("\n".join(texts.values()), end="")
    if args.out:
        out = prepare_output_dir(args.out, overwrite=args.overwrite)
        for name, (header, rows) in tables.items():
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
            atomic_write_text(Path(out) / f"{stem}.md", texts[name])
            atomic_write_text(Path(out) / f"{stem}.csv", csv_table(header, rows))
        print(f"wrote {len(tables)} tables (markdown and CSV) to {out}", file=sys.stderr)
    return 0
