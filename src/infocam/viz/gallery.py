"""Examples for figures and reports: maps, boxes and IoUs of chosen dataset images.

:func:`collect_examples` runs a model on chosen items of a dataset (sample
dicts, ``docs/conventions.md``) and returns one :class:`Example` per image:
the display image, the ground-truth class and the prediction, and for each
method its normalised map at the image size, its box and that box's IoU.
:func:`top_gain_indices` scans a whole dataset in one light pass (bounded
memory: only the best N are kept) for the images where the second method's
box beats the first one's the most, as in the paper's Figures 2, 3 and 5.

Maps follow the evaluator (``infocam.engine.evaluate``): the map of the
ground-truth class, resized to the image (bicubic), min-max normalised, and
the box of the largest component at ``threshold`` (``infocam.boxes``). A
method name is ``cam``, ``infocam`` or ``infocam+``; ``cam`` is the paper's
CAM (R = 1) and the other two use ``region``. A suffix ``_rN`` fixes the
region instead (``cam_r4``: CAM summed over 4 x 4 windows; ``infocam_r1``:
no region), as in the evaluator's ablation names.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from infocam.boxes import boxes_from_maps
from infocam.checks import check_region, check_threshold
from infocam.data.collate import collate
from infocam.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from infocam.errors import InputError
from infocam.extract import CAMExtractor
from infocam.iou import box_iou
from infocam.maps import METHODS, cam_maps, normalize_maps, resize_maps
from infocam.viz.overlay import METHOD_TITLES, Panel, to_rgb

__all__ = [
    "Example",
    "class_label",
    "collect_examples",
    "display_image",
    "method_title",
    "parse_methods",
    "spread_indices",
    "top_gain_indices",
]

_VARIANT = re.compile(r"^(cam|infocam\+?)(?:_r(\d+))?$")


@dataclass
class Example:
    """One image with every method's map, box and IoU (boxes: half-open pixel edges)."""

    index: int
    id: str
    image: np.ndarray  # (H, W, 3) float in [0, 1], for display
    label: int  # the class whose maps are shown (the ground truth)
    pred: int  # the top-1 predicted class
    gt_boxes: np.ndarray  # (N, 4) ground-truth boxes of ``label``
    maps: dict[str, np.ndarray] = field(default_factory=dict)  # (H, W) in [0, 1]
    boxes: dict[str, np.ndarray] = field(default_factory=dict)  # (4,) predicted box
    iou: dict[str, float] = field(default_factory=dict)  # best IoU with a GT box
    label_name: str = ""
    pred_name: str = ""

    def gain(self, first: str, second: str) -> float:
        """IoU of ``second`` minus IoU of ``first``."""
        return self.iou[second] - self.iou[first]

    def panel(self, methods: Sequence[str] | None = None, title: str | None = None) -> Panel:
        """This example as a column of :func:`infocam.viz.overlay.figure_grid`."""
        methods = list(methods or self.maps)
        if title is None:
            title = self.label_name or f"class {self.label}"
            if len(methods) >= 2:
                title += f"\nIoU {self.iou[methods[0]]:.2f} -> {self.iou[methods[-1]]:.2f}"
        return Panel(
            image=self.image,
            maps={m: self.maps[m] for m in methods},
            gt_boxes=self.gt_boxes,
            pred_boxes={m: self.boxes[m][None] for m in methods},
            title=title,
        )


def parse_methods(methods: str | Sequence[str], region: int, what: str = "--methods") -> dict[str, tuple[str, int]]:
    """``{name: (method, R)}`` for method names (see the module docstring)."""
    names = [m.strip().lower() for m in methods.split(",")] if isinstance(methods, str) else list(methods)
    names = [n for n in names if n]
    if not names:
        raise InputError(f"{what}: give at least one of {', '.join(METHODS)}")
    region = check_region(region)
    out: dict[str, tuple[str, int]] = {}
    for name in names:
        match = _VARIANT.match(name)
        if match is None or (match.group(2) is not None and int(match.group(2)) < 1):
            raise InputError(
                f"{what}: unknown method {name!r}; choose from {', '.join(METHODS)} "
                "(optionally with _rN for a fixed region, e.g. cam_r4)"
            )
        method, r = match.group(1), match.group(2)
        out[name] = (method, int(r) if r is not None else (1 if method == "cam" else region))
    return out


def method_title(name: str) -> str:
    """``infocam+`` -> ``infoCAM+``, ``cam_r4`` -> ``CAM (R=4)``."""
    match = _VARIANT.match(name)
    if match is None:
        return name
    base = METHOD_TITLES.get(match.group(1), match.group(1))
    return f"{base} (R={match.group(2)})" if match.group(2) else base


def display_image(image: Tensor | np.ndarray) -> np.ndarray:
    """A dataset image (C, H, W) as (H, W, 3) floats in [0, 1] for display.

    A 3-channel image with values outside [0, 1] is taken as ImageNet-
    normalised and un-normalised (then clipped); anything else goes through
    :func:`infocam.viz.overlay.to_rgb`.
    """
    x = image.detach().float().cpu().numpy() if isinstance(image, Tensor) else np.asarray(image, np.float32)
    if x.ndim == 3 and x.shape[0] == 3 and (x.min() < 0.0 or x.max() > 1.0):
        mean = np.asarray(IMAGENET_MEAN, np.float32)[:, None, None]
        std = np.asarray(IMAGENET_STD, np.float32)[:, None, None]
        return np.clip(np.transpose(x * std + mean, (1, 2, 0)), 0.0, 1.0)
    return to_rgb(x)


def _target_and_boxes(sample_label: object, boxes: Tensor, box_labels: Tensor | None) -> tuple[int, Tensor]:
    """The class to explain and its GT boxes (multi-hot labels: the first present class)."""
    label = torch.as_tensor(sample_label)
    if label.dim() == 0:
        target = int(label)
    else:
        present = torch.nonzero(label > 0.5).flatten()
        target = int(present[0]) if present.numel() else 0
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    if box_labels is not None and label.dim() != 0:
        boxes = boxes[torch.as_tensor(box_labels).reshape(-1) == target]
    return target, boxes


@dataclass
class _Scored:
    logits: Tensor  # (B, M)
    targets: Tensor  # (B,)
    gt: list[Tensor]  # (N_i, 4)
    maps: dict[str, Tensor]  # (B, H, W) normalised, image size
    boxes: dict[str, Tensor]  # (B, 4)
    iou: dict[str, Tensor]  # (B,)


@torch.no_grad()
def _score(
    extractor: CAMExtractor,
    batch: Mapping,
    variants: Mapping[str, tuple[str, int]],
    threshold: float,
    device: str | torch.device,
    padding: str,
    keep_maps: bool,
) -> _Scored:
    images = batch["image"].to(device)
    labels = batch["label"]
    n = images.shape[0]
    box_labels = batch.get("box_labels") or [None] * n
    pairs = [_target_and_boxes(labels[i], batch["boxes"][i], box_labels[i]) for i in range(n)]
    targets = torch.tensor([t for t, _ in pairs], dtype=torch.long, device=images.device)
    gt = [b for _, b in pairs]
    res = extractor(images, methods=(), targets=targets)
    size = tuple(images.shape[-2:])
    maps, boxes, ious = {}, {}, {}
    for name, (method, region) in variants.items():
        raw = cam_maps(
            res.features, extractor.fc.weight, targets, method=method, region=region,
            logits=res.logits, padding=padding,
        )
        big = resize_maps(raw, size)
        boxes[name] = boxes_from_maps(big, threshold=threshold).float().cpu()
        if keep_maps:
            maps[name] = normalize_maps(big).cpu()
        ious[name] = torch.tensor([
            float(box_iou(boxes[name][i:i + 1], g).max()) if g.numel() else 0.0 for i, g in enumerate(gt)
        ])
    return _Scored(res.logits.float().cpu(), targets.cpu(), gt, maps, boxes, ious)


def class_label(names: Sequence[str] | None, k: int) -> str:
    """Class ``k``'s name for a figure; ``class 8`` when there is none (or it is just the number)."""
    name = names[k] if names is not None and 0 <= k < len(names) else ""
    return name if name and name != str(k) else f"class {k}"



def collect_examples(
    model: nn.Module,
    dataset: Dataset,
    indices: Sequence[int],
    methods: str | Sequence[str] = ("cam", "infocam"),
    region: int = 1,
    threshold: float = 0.2,
    device: str | torch.device = "cpu",
    *,
    batch_size: int = 16,
    padding: str = "same",
    class_names: Sequence[str] | None = None,
) -> list[Example]:
    """Maps, boxes and IoUs of ``dataset[i]`` for each ``i`` in ``indices`` (in that order).

    ``model`` must already be on ``device``. ``class_names`` defaults to
    ``dataset.class_names`` when the dataset has them.
    """
    variants = parse_methods(methods, region)
    threshold = check_threshold(threshold)
    indices = [int(i) for i in indices]
    for i in indices:
        if not 0 <= i < len(dataset):
            raise InputError(f"--indices: {i} is out of range: the split has {len(dataset)} images (0..{len(dataset) - 1})")
    names = class_names if class_names is not None else getattr(dataset, "class_names", None)
    extractor = CAMExtractor(model)
    examples: list[Example] = []
    for start in range(0, len(indices), batch_size):
        chunk = indices[start:start + batch_size]
        items = [dataset[i] for i in chunk]
        scored = _score(extractor, collate(items), variants, threshold, device, padding, keep_maps=True)
        preds = scored.logits.argmax(dim=1)
        for j, (idx, item) in enumerate(zip(chunk, items)):
            target, pred = int(scored.targets[j]), int(preds[j])
            examples.append(Example(
                index=idx,
                id=str(item.get("id", idx)),
                image=display_image(item["image"]),
                label=target,
                pred=pred,
                gt_boxes=scored.gt[j].numpy(),
                maps={m: scored.maps[m][j].numpy() for m in variants},
                boxes={m: scored.boxes[m][j].numpy() for m in variants},
                iou={m: float(scored.iou[m][j]) for m in variants},
                label_name=class_label(names, target),
                pred_name=class_label(names, pred),
            ))
    return examples


def top_gain_indices(
    model: nn.Module,
    dataset: Dataset,
    n: int,
    methods: str | Sequence[str] = ("cam", "infocam"),
    region: int = 1,
    threshold: float = 0.2,
    device: str | torch.device = "cpu",
    *,
    batch_size: int = 32,
    num_workers: int = 0,
    padding: str = "same",
    worst: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[int]:
    """The ``n`` images where the last method's IoU gains most over the first's.

    One pass over ``dataset`` in batches; only ``n`` (gain, index) pairs are
    kept at any time. Returns indices, largest gain first (ties: lower index
    first). ``worst=True`` returns the largest losses instead.
    ``on_progress(done, total)`` is called after each batch.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"--top-gains must be a positive integer; got {n!r}")
    variants = parse_methods(methods, region)
    if len(variants) < 2:
        raise InputError("--top-gains needs two methods in --methods (the gain of the last over the first)")
    threshold = check_threshold(threshold)
    names = list(variants)
    first, last = names[0], names[-1]
    scan = {first: variants[first], last: variants[last]}
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=collate)
    extractor = CAMExtractor(model)
    heap: list[tuple[float, int]] = []  # min-heap of (key, -index): the n best so far
    seen = 0
    for batch in loader:
        scored = _score(extractor, batch, scan, threshold, device, padding, keep_maps=False)
        gains = scored.iou[last] - scored.iou[first]
        for j, g in enumerate(gains.tolist()):
            item = ((-g if worst else g), -(seen + j))
            if len(heap) < n:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
        seen += len(gains)
        if on_progress is not None:
            on_progress(seen, len(dataset))
    return [-neg for _, neg in sorted(heap, reverse=True)]


def spread_indices(total: int, n: int) -> list[int]:
    """``n`` indices spread evenly over ``range(total)`` (all of them when ``n >= total``)."""
    if total <= 0 or n <= 0:
        return []
    if n >= total:
        return list(range(total))
    return sorted({round(i * (total - 1) / (n - 1)) if n > 1 else 0 for i in range(n)})
