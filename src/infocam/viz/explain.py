"""Explain any image with any GAP + linear classifier: top-k classes, their maps and boxes.

**Resize convention.** An image of W x H pixels is resized, without
cropping or keeping the aspect ratio, to the S x S network input
(``PIL`` bilinear, antialiased). Maps are resized to S x S (bicubic),
min-max normalised, thresholded, and the box of the largest component is
taken there (``docs/conventions.md``). A half-open box ``(x0, y0, x1, y1)``
on the S x S input maps back to the original image exactly by scaling its
pixel edges::

    (x0 * W / S, y0 * H / S, x1 * W / S, y1 * H / S)

so the box covers the same part of the picture (edges need not be whole
pixels). The peak is the centre of the input pixel where the map is largest,
in original-image coordinates: ``((px + 0.5) * W / S, (py + 0.5) * H / S)``.
An empty box ``(0, 0, 0, 0)`` means no component (e.g. an infoCAM+ map of
the least likely class itself, which is all zeros).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from infocam.boxes import boxes_from_maps
from infocam.data.images import open_rgb
from infocam.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from infocam.errors import InputError
from infocam.extract import CAMExtractor
from infocam.maps import cam_maps, normalize_maps, resize_maps
from infocam.viz.gallery import class_label, method_title
from infocam.viz.overlay import PRED_COLOR, draw_boxes, heat_overlay

__all__ = [
    "IMAGE_SUFFIXES",
    "Preprocess",
    "expand_image_paths",
    "explain_curves",
    "explain_image",
    "imagenet_class_names",
    "map_box_to_original",
    "open_image",
    "preprocess_for",
    "render_explanation",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")
DISPLAY_SIDE = 320  # longest side of each panel in the PNG, in pixels


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes the network input: S x S, channels, normalisation."""

    size: int = 224
    channels: int = 3
    mean: tuple[float, ...] | None = IMAGENET_MEAN
    std: tuple[float, ...] | None = IMAGENET_STD

    def __call__(self, image: Image.Image) -> Tensor:
        """(1, C, S, S) float tensor of an RGB PIL image."""
        img = image.convert("L") if self.channels == 1 else image
        img = img.resize((self.size, self.size), Image.BILINEAR)
        arr = np.asarray(img, dtype=np.float32) / 255.0
        x = torch.from_numpy(arr.copy())
        x = x[None] if x.dim() == 2 else x.permute(2, 0, 1)
        if self.mean is not None and self.std is not None:
            mean = torch.tensor(self.mean[: x.shape[0]], dtype=torch.float32)[:, None, None]
            std = torch.tensor(self.std[: x.shape[0]], dtype=torch.float32)[:, None, None]
            x = (x - mean) / std
        return x[None]


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names from torchvision's weights metadata (no network)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def expand_image_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given; a directory gives its image files (by suffix, sorted). Missing -> InputError."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputError(f"{p}: directory holds no image file ({', '.join(IMAGE_SUFFIXES)})")
            out += found
        elif not p.exists():
            raise InputError(f"{p}: image file not found")
        else:
            out.append(p)
    if not out:
        raise InputError("IMAGE: give at least one image file")
    return out


def map_box_to_original(box: Sequence[float], size: int, width: int, height: int) -> list[float]:
    """A half-open box on the S x S input -> the W x H original image (see the module docstring)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    sx, sy = width / size, height / size
    return [x0 * sx, y0 * sy, x1 * sx, y1 * sy]


@torch.no_grad()
def explain_image(
    extractor: CAMExtractor,
    x: Tensor,
    original_size: tuple[int, int],
    variants: Mapping[str, tuple[str, int]],
    *,
    topk: int = 3,
    threshold: float = 0.2,
    class_names: Sequence[str] | None = None,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Top-k classes of one (1, C, S, S) input with each method's box and peak.

    ``variants`` maps a method name to ``(method, R)``
    (:func:`infocam.viz.gallery.parse_methods`). Returns the JSON entry
    (``topk``: rank, class, name, score = softmax probability, and per
    method ``box`` and ``peak`` in original-image pixels and ``peak_value``)
    and the normalised S x S maps keyed ``"<rank>/<method>"`` for drawing.
    """
    width, height = original_size
    size = int(x.shape[-1])
    res = extractor(x, methods=())
    probs = torch.softmax(res.logits.float(), dim=1)[0]
    k = min(int(topk), probs.numel())
    scores, classes = probs.topk(k)
    entries, drawn = [], {}
    for rank, (score, cls) in enumerate(zip(scores.tolist(), classes.tolist()), start=1):
        target = torch.tensor([cls], device=res.features.device)
        per_method = {}
        for name, (method, region) in variants.items():
            try:
                raw = cam_maps(res.features, extractor.fc.weight, target, method=method, region=region,
                               logits=res.logits)
            except ValueError as exc:
                raise InputError(f"--methods {name}: {exc}") from None
            big = resize_maps(raw, (size, size))
            norm = normalize_maps(big)[0].cpu()
            box = boxes_from_maps(big, threshold=threshold)[0].tolist()
            big0 = big[0].float().cpu()
            constant = bool(norm.max() <= 0)
            flat = int(big0.argmax())
            py, px = divmod(flat, size)
            per_method[name] = {
                "box": map_box_to_original(box, size, width, height),
                "box_input": [float(v) for v in box],
                "peak": None if constant else [(px + 0.5) * width / size, (py + 0.5) * height / size],
                "peak_value": None if constant or not math.isfinite(float(big0.max())) else float(big0.max()),
            }
            drawn[f"{rank}/{name}"] = norm.numpy()
        entries.append({
            "rank": rank,
            "class": int(cls),
            "name": class_label(class_names, int(cls)),
            "score": float(score),
            "methods": per_method,
        })
    return {"size": [width, height], "input_size": size, "topk": entries}, drawn


@torch.no_grad()
def explain_curves(
    extractor: CAMExtractor,
    x: Tensor,
    variants: Mapping[str, tuple[str, int]],
    target: int,
    *,
    steps: int = 50,
) -> dict:
    """Deletion and insertion curves of one (1, C, S, S) input for class ``target``, per method.

    Each method's map of ``target`` ranks the pixels
    (:func:`infocam.faithfulness.deletion_insertion`, RISE's baselines).
    Returns the JSON entry: ``class``, ``steps``, ``fractions`` and per
    method ``deletion`` / ``insertion`` (probabilities) and their AUCs.
    """
    from infocam.faithfulness import deletion_insertion

    res = extractor(x, methods=())
    y = torch.tensor([int(target)], device=res.features.device)
    out: dict = {"class": int(target), "steps": int(steps), "methods": {}}
    for name, (method, region) in variants.items():
        try:
            raw = cam_maps(res.features, extractor.fc.weight, y, method=method, region=region, logits=res.logits)
        except ValueError as exc:
            raise InputError(f"--methods {name}: {exc}") from None
        c = deletion_insertion(extractor.model, x, raw, y, steps=steps)
        out["fractions"] = [round(float(f), 6) for f in c.fractions]
        out["methods"][name] = {
            "deletion_auc": float(c.deletion_auc[0]),
            "insertion_auc": float(c.insertion_auc[0]),
            "deletion": [float(v) for v in c.deletion[0]],
            "insertion": [float(v) for v in c.insertion[0]],
        }
    return out


def _display(image: Image.Image) -> tuple[np.ndarray, float, float]:
    """The image scaled to at most DISPLAY_SIDE, as floats, and the x / y scale from the original."""
    w, h = image.size
    scale = min(1.0, DISPLAY_SIDE / max(w, h))
    dw, dh = max(1, round(w * scale)), max(1, round(h * scale))
    shown = image.resize((dw, dh), Image.BILINEAR) if (dw, dh) != (w, h) else image
    return np.asarray(shown.convert("RGB"), dtype=np.float32) / 255.0, dw / w, dh / h


def render_explanation(
    image: Image.Image, entry: Mapping, maps: Mapping[str, np.ndarray], methods: Sequence[str], out: str | Path
) -> Path:
    """One PNG: a row per top-k class (the image, then each method's overlay with its green box)."""
    shown, sx, sy = _display(image)
    dh, dw = shown.shape[:2]
    rows = entry["topk"]
    cols = ["image", *methods]
    cell = 2.4
    aspect = dw / dh
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(cell * aspect * len(cols), cell * len(rows) + 0.3), squeeze=False
    )
    for r, row in enumerate(rows):
        for c, col in enumerate(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if col == "image":
                ax.imshow(shown, interpolation="nearest")
                ax.set_ylabel(f"#{row['rank']} {row['name']}\np = {row['score']:.3f}", fontsize=8)
            else:
                heat = np.asarray(
                    Image.fromarray(maps[f"{row['rank']}/{col}"].astype(np.float32), mode="F").resize(
                        (dw, dh), Image.BILINEAR
                    )
                )
                ax.imshow(heat_overlay(shown, heat), interpolation="nearest")
                x0, y0, x1, y1 = row["methods"][col]["box"]
                draw_boxes(ax, [[x0 * sx, y0 * sy, x1 * sx, y1 * sy]], PRED_COLOR)
            if r == 0:
                ax.set_title(method_title(col) if col != "image" else "image", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def open_image(path: Path) -> Image.Image:
    """Any PIL-readable image as 8-bit RGB (InputError naming the file otherwise)."""
    return open_rgb(path)


def preprocess_for(model: nn.Module, size: int, channels: int = 3, normalize: bool = True) -> Preprocess:
    """The :class:`Preprocess` for ``model``: timm's mean/std when the model states them, else ImageNet's."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    mean, std = tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(cfg.get("std", IMAGENET_STD))
    if not normalize:
        return Preprocess(size=size, channels=channels, mean=None, std=None)
    return Preprocess(size=size, channels=channels, mean=mean, std=std)
