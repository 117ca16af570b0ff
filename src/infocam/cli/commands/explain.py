"""``infocam explain``: top-k classes of any image with CAM / infoCAM / infoCAM+ maps and boxes."""

from __future__ import annotations

import argparse

NAME = "explain"
ORDER = 35
HELP = "explain images with any GAP + linear classifier: top-k classes, their maps and boxes"
DESCRIPTION = """\
For each image: the model's top-k classes, and for each class the CAM,
infoCAM and infoCAM+ maps with the box of the largest component at
--threshold. Writes one PNG per image (rows: the top-k classes; columns: the
image, then one overlay per method, green box) and explain.json with, per
image, the classes, their softmax scores and, per method, the box and the
map's peak in original-image pixels.

The model is any classifier ending in global average pooling + one linear
layer: ours (vgg16_gap, resnet50, small_cnn), torchvision (tv:resnet50,
tv:efficientnet_b0, tv:mobilenet_v2, tv:regnet_y_400mf, ...), timm
(timm:<name>), with --weights FILE, or a checkpoint of `infocam train`.
1000-class models are labelled with torchvision's ImageNet class names.

Resize convention: the image is resized (no crop, aspect not kept) to
--size x --size; a box (x0, y0, x1, y1) there maps back to the W x H original
as (x0 W/S, y0 H/S, x1 W/S, y1 H/S). `cam` is the paper's CAM (R = 1);
infocam and infocam+ use --region R (suffix _rN fixes R per method).

--model without --weights builds the network with random weights: it runs
(to try the command), but says loudly that its maps mean nothing.

--curves also draws, per image, the deletion and insertion curves of the
top-1 class (<image>_curves.png): the class probability as the pixels each
method's map ranks highest are removed (set to zero after normalisation) or
revealed on a blurred copy, in --curves-steps chunks (RISE); explain.json
gets the curves and their AUCs (deletion lower, insertion higher is better).

examples:
  infocam explain cat.jpg dog.png --model tv:resnet50 --weights resnet50.pth
  infocam explain cat.jpg --model tv:resnet50 --weights resnet50.pth --curves
  infocam explain photos/ --checkpoint runs/cub_resnet50/best.pt --topk 5 --out cub_explain
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any format PIL reads) or folders of them")
    src = p.add_argument_group("model (give --model or --checkpoint)")
    src.add_argument("--model", metavar="NAME", help="vgg16_gap, resnet50, small_cnn, tv:<name>, timm:<name>")
    src.add_argument("--weights", metavar="PATH", help="weights file for --model (state dict or checkpoint)")
    src.add_argument("--checkpoint", metavar="CKPT", help="a best.pt / last.pt written by infocam train")
    src.add_argument("--num-classes", type=int, default=1000, help="outputs of --model's classifier [1000]")
    p.add_argument("--topk", type=int, default=3, help="classes explained per image [3]")
    p.add_argument("--methods", default="cam,infocam,infocam+", help="comma-separated [cam,infocam,infocam+]")
    p.add_argument("--region", type=int, default=None, help="region R of infoCAM/infoCAM+ (default: the checkpoint's, else 1)")
    p.add_argument("--threshold", type=float, default=0.2, help="box threshold on the normalised map [0.2]")
    p.add_argument("--size", type=int, default=None, help="network input side S (default: the checkpoint's image size, else 224)")
    p.add_argument("--out", default="explain_out", metavar="DIR", help="output folder [explain_out/]")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N [auto]")
    p.add_argument("--curves", action="store_true", help="also draw the deletion / insertion curves of the top-1 class")
    p.add_argument("--curves-steps", type=int, default=50, help="steps of those curves [50]")


def _load_model(args: argparse.Namespace) -> tuple[object, str, dict]:
    """(model, label, settings) from --model/--weights or --checkpoint."""
    import warnings

    from infocam.errors import InputError

    if bool(args.model) == bool(args.checkpoint):
        raise InputError("give exactly one of --model NAME and --checkpoint CKPT")
    if args.checkpoint:
        if args.weights:
            raise InputError("--weights goes with --model; a --checkpoint holds its own weights")
        from infocam.engine.checkpoint import load_checkpoint

        model, cfg, meta = load_checkpoint(args.checkpoint)
        data = cfg.get("data") or {}
        settings = {
            "region": (cfg.get("evaluate") or {}).get("region", 1),
            "size": data.get("image_size"),
            "channels": cfg["model"].get("in_channels", 3),
            "normalize": data.get("normalize", True) is not False and data.get("format") != "synthetic",
            "class_names": meta.get("class_names") or _dataset_class_names(data),
        }
        return model, f"{cfg['model']['name']} ({args.checkpoint})", settings
    from infocam.models import WeightsWarning, build_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", WeightsWarning)
        model = build_model(args.model, args.num_classes, weights=args.weights)
    for w in caught:
        if issubclass(w.category, WeightsWarning) and "head" in str(w.message).lower():
            msg = " ".join(str(w.message).split())
            raise InputError(f"--weights {args.weights}: {msg} (pass --num-classes to match the file's head)")
    return model, args.model, {"region": 1, "size": None, "channels": 3, "normalize": True, "class_names": None}


def _dataset_class_names(data: dict) -> list[str] | None:
    """Class names from the checkpoint's dataset when it is still where the config says (else None)."""
    from infocam.errors import InputError

    if data.get("format") not in ("cub", "tiny-imagenet", "csv", "wsol") or not data.get("root"):
        return None
    try:
        from infocam.data.factory import read_annotations, validate_config

        cfg = validate_config({k: v for k, v in data.items() if v is not None})
        names = read_annotations(cfg, "test").class_names
    except (InputError, OSError):
        return None
    return list(names) or None


def _unique_name(stem: str, used: set[str]) -> str:
    name, k = f"{stem}.png", 2
    while name in used:
        name, k = f"{stem}_{k}.png", k + 1
    used.add(name)
    return name


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    import torch

    from infocam.cli.commands.visualize import resolve_device
    from infocam.errors import InputError
    from infocam.extract import CAMExtractor
    from infocam.fileio import atomic_write_json, prepare_output_dir
    from infocam.viz.curves import curves_png
    from infocam.viz.explain import (
        expand_image_paths,
        explain_curves,
        explain_image,
        imagenet_class_names,
        open_image,
        preprocess_for,
        render_explanation,
    )
    from infocam.viz.gallery import parse_methods

    if args.topk < 1:
        raise InputError(f"--topk must be at least 1; got {args.topk}")
    if not 0.0 <= args.threshold <= 1.0:
        raise InputError(f"--threshold must lie in [0, 1]; got {args.threshold}")
    if args.size is not None and args.size < 8:
        raise InputError(f"--size must be at least 8 pixels; got {args.size}")
    if args.curves_steps < 1:
        raise InputError(f"--curves-steps must be at least 1; got {args.curves_steps}")
    if args.num_classes < 1:
        raise InputError(f"--num-classes must be at least 1; got {args.num_classes}")
    paths = expand_image_paths(args.images)
    for path in paths:  # every image readable before anything is written
        open_image(path)
    out_dir = Path(args.out)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not args.overwrite:
        raise InputError(f"--out {out_dir} is not empty; pass --overwrite to replace its results")
    device = resolve_device(args.device)
    model, label, settings = _load_model(args)
    region = args.region if args.region is not None else int(settings["region"] or 1)
    variants = parse_methods(args.methods, region)
    size = args.size or int(settings["size"] or 224)
    model = model.to(device).eval()
    fc_out = None
    extractor = CAMExtractor(model)
    pre = preprocess_for(model, size, channels=int(settings["channels"]), normalize=bool(settings["normalize"]))
    try:
        with torch.no_grad():
            probe = extractor(pre(open_image(paths[0])).to(device), methods=())
        fc_out = int(probe.logits.shape[1])
    except ValueError as exc:
        msg = " ".join(str(exc).split())
        raise InputError(f"model {label} cannot give class activation maps: {msg}") from None
    if args.model and not args.weights:
        print(
            f"WARNING: --model {args.model} without --weights has RANDOM weights: its classes and maps mean "
            "nothing. Pass --weights FILE (a state dict or checkpoint) to explain a trained model.",
            file=sys.stderr,
        )
    names = settings["class_names"]
    if names is None and fc_out == 1000:
        names = imagenet_class_names()
    out_dir = prepare_output_dir(out_dir, overwrite=args.overwrite)
    used: set[str] = {"explain.json"}
    results = []
    for path in paths:
        image = open_image(path)
        entry, maps = explain_image(
            extractor, pre(image).to(device), image.size, variants,
            topk=args.topk, threshold=args.threshold, class_names=names,
        )
        figure = _unique_name(path.stem, used)
        render_explanation(image, entry, maps, list(variants), out_dir / figure)
        extra = {}
        if args.curves:
            top = entry["topk"][0]
            curves = explain_curves(extractor, pre(image).to(device), variants, top["class"], steps=args.curves_steps)
            extra = {"curves": curves, "curves_figure": _unique_name(f"{path.stem}_curves", used)}
            curves_png(curves["fractions"], {n: (m["deletion"], m["insertion"]) for n, m in curves["methods"].items()},
                       title=f"{path.name}: {top['name']}", out=out_dir / extra["curves_figure"])
        results.append({"file": str(path), **entry, "figure": figure, **extra})
        top = entry["topk"][0]
        print(f"{path}: {top['name']} ({top['score']:.3f}) -> {out_dir / figure}")
    atomic_write_json(out_dir / "explain.json", {
        "model": label,
        "weights": args.weights if args.model else args.checkpoint,
        "random_weights": bool(args.model and not args.weights),
        "num_classes": fc_out,
        "input_size": size,
        "resize": "resize to input_size x input_size (bilinear, no crop); box = input box * (W/S, H/S)",
        "box_convention": "half-open pixel edges (x0, y0, x1, y1) in original-image pixels; (0,0,0,0) = no box",
        "threshold": args.threshold,
        "methods": {name: {"method": m, "region": r} for name, (m, r) in variants.items()},
        "images": results,
    })
    print(f"wrote {len(results)} figure(s) and explain.json to {out_dir}", file=sys.stderr)
    return 0
