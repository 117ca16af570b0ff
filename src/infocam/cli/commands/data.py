"""``infocam data check|download|convert``: look after the datasets on disk."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infocam.errors import InputError

NAME = "data"
HELP = "check, download or convert datasets (CUB, Tiny-ImageNet, wsolevaluation metadata, CSV)"
DESCRIPTION = """\
Look after the datasets on disk.

  infocam data check ROOT --format cub|tiny-imagenet|wsol|csv [--json OUT]
      counts, classes, boxes per image and every problem, with file:line;
      exit 0 if clean, 1 if problems were found.
  infocam data download cub|tiny-imagenet --root DIR
      the official archive, with a progress bar, MD5 check, resume and
      safe extraction (--url/--md5 for mirrors).
  infocam data convert --format cub|tiny-imagenet ROOT --out METADATA_DIR
      to the wsolevaluation metadata layout (train/val/test).
"""
ORDER = 60

FORMATS = ("cub", "tiny-imagenet", "wsol", "csv")
DOWNLOADABLE = ("cub", "tiny-imagenet")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``check``, ``download`` and ``convert`` sub-commands."""
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = sub.add_parser(
        "check",
        help="count a dataset and list every problem (exit 1 if any)",
        description="Count a dataset and list every problem with file:line. Exit 0 if clean, 1 if problems were found.",
    )
    p.add_argument("root", metavar="ROOT", help="dataset folder (csv: image folder or the CSV file; wsol: metadata folder)")
    p.add_argument("--format", required=True, choices=FORMATS, help="dataset layout")
    p.add_argument("--csv", metavar="FILE", help="csv: the CSV file (default ROOT/annotations.csv)")
    p.add_argument("--images", metavar="DIR", help="wsol: the image root the metadata paths are relative to")
    p.add_argument("--dataset-name", metavar="NAME", help="wsol: sub-folder of ROOT (e.g. CUB)")
    p.add_argument("--quick", action="store_true", help="read image headers only (misses truncated files)")
    p.add_argument("--json", metavar="OUT", help="also write the full report as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--max-listed", type=int, default=50, metavar="N", help="problems printed (default 50; all in --json)")

    p = sub.add_parser(
        "download",
        help="download, verify and extract CUB-200-2011 or Tiny-ImageNet",
        description="Download the official archive (resumable), verify its MD5 and extract it into --root.",
    )
    p.add_argument("dataset", choices=DOWNLOADABLE, help="which dataset")
    p.add_argument("--root", required=True, metavar="DIR", help="folder to download and extract into (must be empty)")
    p.add_argument("--url", help="download from this mirror instead of the official URL")
    p.add_argument("--md5", help="expected MD5 of the archive (default: the official one)")
    p.add_argument("--overwrite", action="store_true", help="extract into a non-empty --root, replacing same-named folders")
    p.add_argument("--keep-archive", action="store_true", help="keep the archive after extraction")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="network timeout in seconds (default 60)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "convert",
        help="convert CUB or Tiny-ImageNet to the wsolevaluation metadata layout",
        description="Write wsolevaluation metadata (train, val = even half, test = odd half of the official test set).",
    )
    p.add_argument("root", metavar="ROOT", help="CUB_200_2011/ or tiny-imagenet-200/ folder")
    p.add_argument("--format", required=True, choices=DOWNLOADABLE, help="layout of ROOT")
    p.add_argument("--out", required=True, metavar="METADATA_DIR", help="new folder for the metadata (must not exist or be empty)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    return {"check": _check, "download": _download, "convert": _convert}[args.data_command](args)


def _check(args: argparse.Namespace) -> int:
    from infocam.data.check import check_dataset

    out = Path(args.json) if args.json else None
    if out is not None and out.exists() and not args.overwrite:
        raise InputError(f"--json: {out} already exists; refusing to overwrite it (use --overwrite)")
    report = check_dataset(
        args.format,
        args.root,
        csv=args.csv,
        images=args.images,
        dataset_name=args.dataset_name,
        decode=not args.quick,
        progress=sys.stderr.isatty(),
    )
    print(report.to_text(max_listed=max(args.max_listed, 0)))
    if out is not None:
        from infocam.fileio import atomic_write_json

        atomic_write_json(out, report.to_dict())
        print(f"report written to {out}")
    return 0 if report.ok else 1


def _download(args: argparse.Namespace) -> int:
    from infocam.data.download import download_dataset

    folder = download_dataset(
        args.dataset,
        args.root,
        url=args.url,
        md5=args.md5,
        overwrite=args.overwrite,
        keep_archive=args.keep_archive,
        progress=not args.no_progress,
        timeout=args.timeout,
    )
    print(f"{args.dataset} ready at {folder}")
    print(f"config:  data: {{format: {args.dataset}, root: {folder}}}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from infocam.data.convert import convert_to_wsol

    result = convert_to_wsol(args.format, args.root, args.out, progress=not args.no_progress and sys.stderr.isatty())
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    print(f"wrote wsolevaluation metadata to {result.metadata_root} ({counts} images)")
    cfg = result.config()
    print(f"config:  data: {{format: wsol, root: {cfg['root']}, metadata_root: {cfg['metadata_root']}}}")
    return 0
