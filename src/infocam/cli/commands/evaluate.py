"""``infocam evaluate``: every WSOL metric of a trained checkpoint, all methods in one pass."""

from __future__ import annotations

import argparse

from infocam.cli.commands import SPLIT_HELP

NAME = "evaluate"
ORDER = 20
HELP = "evaluate a model: GT-known/Top-1/Top-5 Loc, Cls, MaxBoxAccV2, PxAP for CAM, infoCAM, infoCAM+"
DESCRIPTION = """\
Evaluate a checkpoint written by `infocam train`, or any classifier ending in
global average pooling + one linear layer (--model NAME --weights FILE
--num-classes M, as `infocam explain` takes them; its images are resized to
224 x 224 without a crop), on a dataset split.

One forward pass per batch serves every method: the maps of CAM, infoCAM and
infoCAM+ all come from the same features. CAM is the paper's plain CAM
(R = 1); infoCAM and infoCAM+ use --region R (paper: 5 VGG/CUB, 4 ResNet/CUB,
3 Tiny-ImageNet). --ablation adds the paper's Table 5 corners.

The paper scores every method at one box threshold (--threshold, 0.2).
--select-on val also chooses each method's threshold (among --thresholds)
and R (among --regions; CAM too: a CAM row with R = 3 is "CAM (R=3)") on
the validation split by GT-known Loc, and scores the evaluated split at that
choice, beside the fixed-threshold rows. --baselines adds maps that need no
model (center_gaussian, full_image, image_intensity): how far is each
method above what a trivial map scores? The centre Gaussian's width is
chosen on the selection split too (0.25 of the side without one).

--faithfulness adds, for every method and variant, how well its map points
at what the model uses: deletion and insertion AUC (RISE; pixels ranked by
the map removed or revealed in --faithfulness-steps chunks; lower deletion,
higher insertion is better), Average Drop and Increase in Confidence
(Grad-CAM++). The curves cost 2 x steps forward passes per image:
--faithfulness-images N scores only the first N images with them.

--cpu-workers N scores each batch (boxes, the MaxBoxAccV2 sweeps, PxAP) in N
worker processes while the next batches' forward passes run: the numbers are
exactly those of the default (scoring in the main process); on a GPU give it
the spare cores, e.g. --cpu-workers 12 beside --workers 4 on 16 cores.

--pxap adds pixel average precision for data with masks. --save-maps DIR
writes the maps that were scored, as `infocam score` reads them.

examples:
  infocam evaluate --checkpoint runs/cub_resnet50/best.pt --data /data/CUB_200_2011 \\
      --region 4 --max-box-acc --json runs/cub_resnet50/eval_test.json
  infocam evaluate --checkpoint best.pt --region 4 --faithfulness --faithfulness-images 500
  infocam evaluate --model tv:resnet50 --weights my_cub_resnet50.pth --num-classes 200 \\
      --data /data/CUB_200_2011 --format cub --max-box-acc --save-maps maps/
  infocam evaluate --checkpoint runs/mine/best.pt --select-on val --thresholds 0.05:0.95:0.05 \\
      --regions 1,3,5 --baselines all --max-box-acc --json runs/mine/eval_test.json
  infocam evaluate --checkpoint best.pt --device cuda --batch-size 128 --workers 4 \\
      --cpu-workers 12 --max-box-acc --cam-curve-step 0.001
  torchrun --nproc-per-node 8 -m infocam evaluate --checkpoint best.pt --region 4 --json eval.json
"""


#: Library arguments of :func:`infocam.engine.evaluate.evaluate_checkpoint`
#: named otherwise than their flags (for the one-line errors).
ARGUMENT_FLAGS = {
    "faithfulness": "--faithfulness-steps",
    "model_name": "--model",
}

def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("model (give --checkpoint, or --model with --weights)")
    src.add_argument("--checkpoint", help="a best.pt / last.pt written by infocam train")
    src.add_argument("--model", metavar="NAME", help="any GAP + linear classifier: vgg16_gap, resnet50, small_cnn, tv:<name>, timm:<name>")
    src.add_argument("--weights", metavar="FILE", help="weights file for --model (state dict or checkpoint)")
    src.add_argument("--num-classes", type=int, default=None, help="outputs of --model's classifier [1000]")
    p.add_argument("--data", metavar="ROOT", help="dataset root (default: the root in the checkpoint's config)")
    p.add_argument("--format", choices=["cub", "tiny-imagenet", "wsol", "csv"], help="dataset format (default: from the checkpoint)")
    p.add_argument("--metadata-root", metavar="DIR", help="--format wsol: the wsolevaluation metadata folder (--data is the image root)")
    p.add_argument("--dataset-name", metavar="NAME", help="--format wsol: its sub-folder (CUB, ILSVRC, OpenImages)")
    p.add_argument("--split", default="test", help=SPLIT_HELP)
    p.add_argument("--methods", default="cam,infocam,infocam+", help="comma-separated methods [cam,infocam,infocam+]")
    p.add_argument("--region", type=int, default=None, help="region R for infoCAM/infoCAM+ (default: the config's evaluate.region, else 1)")
    p.add_argument("--region-padding", choices=["same", "full"], default="same", help="'full' reproduces the reference code's map alignment [same]")
    p.add_argument("--threshold", type=float, default=0.2, help="box threshold on the min-max normalised map [0.2]")
    p.add_argument("--max-box-acc", action="store_true", help="also compute MaxBoxAccV2 (IoU 30/50/70 over a threshold sweep)")
    p.add_argument("--cam-curve-step", type=float, default=0.01, help="threshold step of the MaxBoxAccV2 sweep [0.01]; wsolevaluation's default is 0.001")
    p.add_argument("--pxap", action="store_true", help="also PxAP, pixel average precision (data with masks)")
    p.add_argument("--save-maps", metavar="DIR", help="save each method's normalised maps as DIR/<method>/<image_id>.npy, for infocam score")
    p.add_argument("--ablation", action="store_true", help="also the paper's Table 5 grid: region on/off x subtraction on/off")
    p.add_argument("--faithfulness", action="store_true", help="also deletion/insertion AUC, Average Drop and Increase in Confidence")
    p.add_argument("--faithfulness-steps", type=int, default=50, help="deletion/insertion steps [50]")
    p.add_argument("--faithfulness-images", type=int, default=None, metavar="N", help="score only the first N images for faithfulness [all]")
    p.add_argument("--baselines", metavar="LIST", help="comma-separated model-free maps beside the methods: center_gaussian, full_image, image_intensity, or all")
    p.add_argument("--select-on", metavar="SPLIT", help="also choose each method's threshold and R on this split (e.g. val) and score --split at the choice")
    p.add_argument("--thresholds", default="0.05:0.95:0.05", help="thresholds --select-on chooses among: START:STOP:STEP or a comma list [0.05:0.95:0.05]")
    p.add_argument("--regions", default=None, help="regions R --select-on chooses among, e.g. 1,3,5 [1 and --region]")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=2, help="data-loading worker processes [2]")
    p.add_argument("--cpu-workers", type=int, default=0, metavar="N",
                   help="processes that score batches (boxes, sweeps, PxAP) while the next forward passes run, "
                        "e.g. --cpu-workers 12; same numbers [0: in the main process]")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N [auto]")
    p.add_argument("--json", metavar="OUT", help="write the results here (atomically)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file and write into a non-empty --save-maps")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def parse_names(text: str) -> list[str]:
    """A comma list, lower-cased, blanks dropped."""
    return [m.strip().lower() for m in text.split(",") if m.strip()]


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from infocam.engine.evaluate import evaluate_checkpoint
    from infocam.engine.select import parse_regions, parse_thresholds
    from infocam.errors import InputError
    from infocam.viz.tables import format_eval_table

    if args.json and Path(args.json).exists() and not args.overwrite:
        raise InputError(f"--json {args.json} exists; pass --overwrite to replace it")
    methods = [m.strip().lower() for m in args.methods.split(",") if m.strip()]
    baselines = parse_names(args.baselines) if args.baselines else []
    if "all" in baselines:
        from infocam.baselines import BASELINES

        baselines = list(BASELINES)
    if args.select_on is None and args.regions is not None:
        raise InputError("--regions goes with --select-on SPLIT (the split R is chosen on)")
    result = evaluate_checkpoint(
        args.checkpoint,
        model_name=args.model,
        weights=args.weights,
        num_classes=args.num_classes,
        pxap=args.pxap,
        metadata_root=args.metadata_root,
        dataset_name=args.dataset_name,
        save_maps=args.save_maps,
        overwrite=args.overwrite,
        data_root=args.data,
        data_format=args.format,
        split=args.split,
        methods=methods,
        region=args.region,
        padding=args.region_padding,
        threshold=args.threshold,
        max_box_acc=args.max_box_acc,
        cam_curve_step=args.cam_curve_step,
        ablation=args.ablation,
        baselines=baselines,
        select_on=args.select_on,
        select_thresholds=parse_thresholds(args.thresholds) if args.select_on else None,
        select_regions=parse_regions(args.regions) if args.regions else None,
        batch_size=args.batch_size,
        workers=args.workers,
        cpu_workers=args.cpu_workers,
        device=args.device,
        progress=not args.no_progress,
        json_out=args.json,
        faithfulness=args.faithfulness_steps if args.faithfulness else None,
        faithfulness_images=args.faithfulness_images if args.faithfulness else None,
    )
    if result is not None:  # rank 0
        print(format_eval_table(result))
    return 0
