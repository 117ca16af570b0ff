"""``infocam score``: score saved maps of any method, as wsolevaluation's evaluation.py does and more."""

from __future__ import annotations

import argparse

NAME = "score"
ORDER = 22
HELP = "score saved maps of any method: MaxBoxAcc, MaxBoxAccV2, PxAP, GT-known / Top-k Loc"
DESCRIPTION = """\
Score a folder of saved score maps (one <image_id>.npy per image, the image
id keeping its extension, as wsolevaluation's inference.py writes them) or
one .npz holding every map keyed by image id, against wsolevaluation
metadata (CUB, ILSVRC, OpenImages) or any dataset format infocam reads.
Only image sizes, boxes and masks are read: no image is decoded.

Reported: MaxBoxAcc (wsolevaluation's first version: the largest contour,
IoU 50), MaxBoxAccV2 (all contours, IoU 30/50/70 and their mean), the best
threshold of each, PxAP where masks exist, GT-known Loc at --threshold, and
Top-1 / Top-5 Loc and Cls with --predictions. The numbers are those of
wsolevaluation's BoxEvaluator / MaskEvaluator on the same maps.
--baselines center_gaussian,full_image scores those model-free maps beside
yours, against the same ground truth.

Maps must hold values in [0, 1] (--normalize min-max normalises raw maps)
and are scored in their own dtype at --size (224: GT boxes are scaled as
wsolevaluation scales them; a map of another size is resized bicubic and
normalised). --size original scores each map at its image's size.

examples:
  # what wsolevaluation's `python evaluation.py --scoremap_root=... --dataset_name=CUB` scores
  infocam score train_log/scoremaps/test --metadata-root metadata --dataset-name CUB --split test
  infocam score cams.npz --metadata-root metadata --dataset-name OpenImages \\
      --mask-root dataset --json scores.json
  # CUB's official test set (all_test; `test` is its odd half, the paper's protocol)
  infocam score maps/ --data /data/CUB_200_2011 --format cub --split all_test \\
      --predictions top5.csv --per-image per_image.csv --workers 8
  infocam score maps/ --metadata-root metadata --dataset-name CUB --baselines center_gaussian,full_image
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("maps", metavar="MAPS", help="a folder of <image_id>.npy maps, or an .npz keyed by image id")
    gt = p.add_argument_group("ground truth (give --metadata-root, or --data and --format)")
    gt.add_argument("--metadata-root", metavar="DIR", help="wsolevaluation metadata root (or one split folder of it)")
    gt.add_argument("--dataset-name", metavar="NAME", help="CUB, ILSVRC or OpenImages: the sub-folder of --metadata-root")
    gt.add_argument("--split", default="test", help="split folder (metadata) or split (other formats) [test]")
    gt.add_argument("--mask-root", metavar="DIR", help="folder the mask paths of localization.txt are relative to (OpenImages)")
    gt.add_argument("--data", metavar="ROOT", help="a dataset in another format infocam reads")
    gt.add_argument("--format", choices=["cub", "tiny-imagenet", "csv"], help="format of --data")
    gt.add_argument("--csv", metavar="FILE", help="the CSV of --format csv [ROOT/annotations.csv]")
    p.add_argument("--predictions", metavar="FILE", help="CSV or JSON of each image's top-5 classes or logits (Top-k Loc, Cls)")
    p.add_argument("--size", default="224", help="evaluation size (square side), or 'original' [224]")
    p.add_argument("--normalize", action="store_true", help="min-max normalise each map (for raw maps; default: maps must lie in [0, 1])")
    p.add_argument("--threshold", type=float, default=0.2, help="box threshold of GT-known / Top-k Loc [0.2]")
    p.add_argument("--cam-curve-step", type=float, default=0.001, help="threshold step of the sweeps and PxAP [0.001]")
    p.add_argument("--iou-thresholds", default="30,50,70", help="IoU levels (%%) of MaxBoxAccV2 [30,50,70]")
    p.add_argument("--baselines", metavar="NAMES", default="",
                   help="also score model-free baselines against the same ground truth: center_gaussian,full_image")
    p.add_argument("--workers", type=int, default=None, help="processes (default: every core this process may use)")
    p.add_argument("--per-image", metavar="FILE.csv", help="write one row per image: IoU and hit at each best threshold")
    p.add_argument("--json", metavar="OUT", help="write the results and every setting here (atomically)")
    p.add_argument("--overwrite", action="store_true", help="replace existing --json / --per-image files")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _size(text: str) -> int | str:
    return int(text) if text.strip().lstrip("+-").isdigit() else text  # the library checks it


def _ious(text: str) -> list[float]:
    from infocam.errors import InputError

    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--iou-thresholds must be comma-separated percentages; got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    import sys

    from infocam.engine.score import score_maps
    from infocam.viz.score_table import format_score_table

    result = score_maps(
        args.maps,
        metadata=args.metadata_root,
        dataset=args.dataset_name,
        split=args.split,
        mask_root=args.mask_root,
        data=args.data,
        data_format=args.format,
        csv_file=args.csv,
        predictions=args.predictions,
        size=_size(args.size),
        normalize=args.normalize,
        threshold=args.threshold,
        cam_curve_step=args.cam_curve_step,
        iou_thresholds=_ious(args.iou_thresholds),
        workers=args.workers,
        per_image=args.per_image,
        json_out=args.json,
        overwrite=args.overwrite,
        progress=not args.no_progress and sys.stderr.isatty(),
        baselines=[b.strip() for b in args.baselines.split(",") if b.strip()],
    )
    for note in result["notes"]:
        print(f"warning: {note}", file=sys.stderr)
    print(format_score_table(result))
    return 0
