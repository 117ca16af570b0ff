"""Map overhead: a plain ResNet50 forward pass vs the same pass with every map.

Side A is ``model(x)``; side B is :class:`infocam.extract.CAMExtractor` on
the same model and batch with CAM, infoCAM and infoCAM+ (R = 4, one
extractor call: one forward pass, the three maps from the captured
features), each map resized to the input size (bicubic) and min-max
normalised. Both sides run under ``torch.inference_mode``; the ratio is the
median of the per-round ratios B / A. When torch-cam is installed, its
``CAM`` extractor (top-1 class, its own normalisation, resized to the input
size) runs on an identical copy of the model as a third side.

The model is ``build_model("resnet50", 1000)`` with random weights
(torchvision ResNet50 with layer4 at stride 1: 14 x 14 maps at 224 px).
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch

from infocam.bench.common import (
    BenchContext,
    goal,
    interleaved,
    make_entry,
    median,
    paired_ratios,
    timed,
)

NAME = "maps"
TITLE = "map overhead: ResNet50 forward vs forward + CAM, infoCAM, infoCAM+ (R=4) at 224"
GOAL = goal("ratio", "<=", 1.03, "forward + 3 maps resized and normalised <= 1.03 x plain forward")
IMAGE_SIZE = 224
REGION = 4


def torchcam_version() -> str | None:
    """torch-cam's version, or None when it is not installed (a benchmark-only extra)."""
    try:
        import torchcam
    except ImportError:
        return None
    return str(getattr(torchcam, "__version__", "unknown"))


def build_resnet(device: torch.device) -> torch.nn.Module:
    from infocam.models import build_model

    torch.manual_seed(0)
    return build_model("resnet50", 1000).eval().to(device)


def measure(ctx: BenchContext) -> dict[str, Any]:
    from infocam.extract import CAMExtractor
    from infocam.maps import METHODS, normalize_maps, resize_maps

    t_start = time.perf_counter()
    dev = ctx.device
    batch = 2 if ctx.quick else 32
    reps = ctx.reps(5, 3)
    size = (IMAGE_SIZE, IMAGE_SIZE)
    model = build_resnet(dev)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, *size, generator=g).to(dev)
    extractor = CAMExtractor(model)

    def plain() -> Any:
        return model(x)

    def with_maps() -> dict[str, torch.Tensor]:
        res = extractor(x, methods=METHODS, region=REGION)
        return {m: normalize_maps(resize_maps(v, size)) for m, v in res.maps.items()}

    sides = {"plain": plain, "with_maps": with_maps}
    tc_version = torchcam_version()
    tc_extractor = None
    notes = [
        f"{len(METHODS)} maps per image from one CAMExtractor call (one forward pass), "
        f"R={REGION} for all three, each resized to {IMAGE_SIZE} (bicubic) and normalised",
        "torch.inference_mode on every side; sides interleaved ABBA; medians",
    ]
    try:
        if tc_version is not None:
            from torchcam.methods import CAM

            twin = copy.deepcopy(model)  # torch-cam's hook stays on its own copy only
            with torch.inference_mode():
                extractor(x[:1], methods=("cam",))  # find the layers (untimed)
            tc_extractor = CAM(
                twin, target_layer=extractor.feature_layer_name, fc_layer=extractor.fc_layer_name
            )

            def torchcam_side() -> torch.Tensor:
                scores = twin(x)
                cams = tc_extractor(class_idx=scores.argmax(dim=1).tolist())
                return resize_maps(cams[0], size)

            sides["torchcam"] = torchcam_side
        ctx.log(f"maps: ResNet50, batch {batch} at {IMAGE_SIZE} px, {reps} interleaved rounds")
        with torch.inference_mode():
            times = interleaved(sides, reps, dev)
            # The maps alone, from features captured once: a low-noise view of the overhead.
            res = extractor(x, methods=(), region=REGION)
            targets = res.logits.argmax(dim=1)

            def maps_only() -> None:
                from infocam.maps import cam_maps

                for m in METHODS:
                    raw = cam_maps(
                        res.features,
                        extractor.fc.weight,
                        targets,
                        method=m,
                        region=REGION,
                        logits=res.logits,
                    )
                    normalize_maps(resize_maps(raw, size))

            maps_only()
            iso = [timed(maps_only, dev) for _ in range(max(3, reps))]
    finally:
        if tc_extractor is not None:
            tc_extractor.remove_hooks()

    plain_s, maps_s = median(times["plain"]), median(times["with_maps"])
    ratio = median(paired_ratios(times["with_maps"], times["plain"]))
    measured: dict[str, Any] = {
        "model": "resnet50 (infocam build_model, random weights, layer4 stride 1, 14x14 maps)",
        "batch": batch,
        "image_size": IMAGE_SIZE,
        "methods": list(METHODS),
        "region": REGION,
        "repeats": reps,
        "plain_s": plain_s,
        "with_maps_s": maps_s,
        "plain_images_per_s": batch / plain_s,
        "with_maps_images_per_s": batch / maps_s,
        "plain_s_all": times["plain"],
        "with_maps_s_all": times["with_maps"],
        "ratio_of_medians": maps_s / plain_s,
        "maps_only_s": median(iso),
        "maps_only_fraction_of_forward": median(iso) / plain_s,
    }
    if tc_version is None:
        measured["torchcam"] = {
            "installed": False,
            "status": "not installed (pip install torchcam)",
        }
    else:
        tc_s = median(times["torchcam"])
        measured["torchcam"] = {
            "installed": True,
            "status": "measured",
            "version": tc_version,
            "what": "torchcam.methods.CAM, top-1 class, torch-cam's normalisation, resized to the input",
            "s": tc_s,
            "s_all": times["torchcam"],
            "ratio_vs_plain": median(paired_ratios(times["torchcam"], times["plain"])),
            "ours_vs_torchcam": median(paired_ratios(times["with_maps"], times["torchcam"])),
        }
    return make_entry(
        NAME,
        TITLE,
        measured=measured,
        ratio=ratio,
        ratio_meaning="time of forward + maps / time of the plain forward (median of paired rounds)",
        goal_=GOAL,
        ctx=ctx,
        seconds=time.perf_counter() - t_start,
        notes=notes,
    )


def summary(m: dict[str, Any]) -> str:
    text = f"forward {m['plain_s']:.3g} s; +3 maps {m['with_maps_s']:.3g} s"
    tc = m.get("torchcam", {})
    if tc.get("installed"):
        text += f"; torch-cam CAM {tc['s']:.3g} s (x{tc['ratio_vs_plain']:.3f})"
    else:
        text += "; torch-cam not installed"
    return text
