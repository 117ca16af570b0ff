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
  runs      every run and method, whatever its model and dataset

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
    """Every table for ``runs`` (``(name, result)`` pairs): the paper's, then ``runs``."""
    from infocam.errors import InputError
    from infocam.viz.tables import paper_tables, run_key, runs_table

    seen: dict[tuple[str, bool, str], str] = {}
    for name, run in runs:
        key = run_key(run)
        if key[0] != "?" and key[2] != "?" and key in seen:
            raise InputError(
                f"{name} and {seen[key]} are both {key[0]}{' + ADL' if key[1] else ''} on {key[2]}: "
                "give one evaluation per backbone, ADL setting and dataset"
            )
        seen[key] = name
    tables = paper_tables([r for _, r in runs], with_paper=with_paper)
    tables["runs"] = runs_table(runs)
    return tables


def render_markdown(tables: dict[str, tuple[list[str], list[list]]]) -> dict[str, str]:
    """``{name: "### title\\n\\n| markdown |"}`` for each table."""
    from infocam.viz.tables import TABLE_TITLES, markdown_table

    return {name: f"### {TABLE_TITLES.get(name, name)}\n\n{markdown_table(*t)}\n" for name, t in tables.items()}


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from infocam.fileio import atomic_write_text, prepare_output_dir
    from infocam.viz.tables import csv_table, load_runs

    runs: list[tuple[str, dict]] = []
    for arg in args.runs:
        found = load_runs(arg)
        runs += [(f"{arg}:{name.split(':', 1)[1]}" if ":" in name else arg, r) for name, r in found]
    tables = build_tables(runs, with_paper=args.with_paper)
    paper = [n for n in tables if n != "runs"]
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
            atomic_write_text(Path(out) / f"{name}.md", texts[name])
            atomic_write_text(Path(out) / f"{name}.csv", csv_table(header, rows))
        print(f"wrote {len(tables)} tables (markdown and CSV) to {out}", file=sys.stderr)
    return 0
