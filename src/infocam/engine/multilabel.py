"""Multi-label evaluation: per-label classification and per-label localisation.

Used by the double-digit MNIST experiment (paper section 3.3). Each present
label of each image is one localisation *trial*: the map of that label
(CAM, or infoCAM = that label's map minus the mean of the other labels'
maps) gives a box (largest component at a threshold) and a peak.

* **IoU hit**: the box reaches IoU >= ``iou`` with a GT box of that label
  (if the digit appears twice, either box counts).
* **Peak in slot**: the map's maximum (after resizing to the image) falls in
  the horizontal slot of a digit of that label.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from infocam.boxes import boxes_at_thresholds
from infocam.extract import CAMExtractor
from infocam.iou import box_hits
from infocam.maps import cam_maps, resize_maps


@torch.no_grad()
def multilabel_classification(model: nn.Module, loader: Iterable[dict], *, progress: bool = False) -> dict:
    """Per-label counts with the raw-logit decision ``f_j > 0``.

    Returns percentages per label: ``recall`` (images holding the label that
    are predicted to hold it), ``accuracy`` (all images, present or not),
    ``precision``, and ``exact_match`` (every label right).
    """
    tp = fp = fn = correct = None
    n = exact = 0
    was_training = model.training
    model.eval()
    try:
        for batch in tqdm(loader, desc="classify", unit="batch", disable=None if progress else True,
                          leave=False, file=sys.stderr):
            y = batch["label"].bool()
            pred = model(batch["image"]) > 0
            if tp is None:
                tp = torch.zeros(y.shape[1])
                fp, fn, correct = tp.clone(), tp.clone(), tp.clone()
            tp += (pred & y).sum(0)
            fp += (pred & ~y).sum(0)
            fn += (~pred & y).sum(0)
            correct += (pred == y).sum(0)
            exact += int((pred == y).all(1).sum())
            n += y.shape[0]
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("the evaluation set is empty")

    def pct(num: Tensor, den: Tensor) -> list[float]:
        return [round(100.0 * float(a) / float(b), 2) if b > 0 else float("nan") for a, b in zip(num, den)]

    return {
        "recall": pct(tp, tp + fn),
        "accuracy": pct(correct, torch.full_like(correct, n)),
        "precision": pct(tp, tp + fp),
        "exact_match": round(100.0 * exact / n, 2),
        "count": n,
    }


@torch.no_grad()
def multilabel_localisation(
    model: nn.Module,
    loader: Iterable[dict],
    *,
    slot_ranges: Sequence[tuple[int, int]],
    methods: Sequence[str] = ("cam", "infocam"),
    regions: Sequence[int] = (1,),
    thresholds: Sequence[float] = (0.2,),
    iou: float = 0.5,
    progress: bool = False,
) -> dict:
    """Hit rates (percent) over all (image, present label) trials.

    Returns ``{"iou_hit": {f"{m}_r{R}": {f"{t:g}": pct}}, "peak_in_slot":
    {f"{m}_r{R}": pct}, "trials": n}``. Batches need ``box_labels`` and
    ``slots`` (lists per image, from :class:`~infocam.data.digits.DoubleDigitMNIST`).
    """
    ex = CAMExtractor(model)
    names = [(m, r, f"{m}_r{r}") for m in methods for r in regions]
    hits = {name: torch.zeros(len(thresholds)) for *_, name in names}
    peaks = dict.fromkeys((name for *_, name in names), 0)
    trials = 0
    for batch in tqdm(loader, desc="localise", unit="batch", disable=None if progress else True,
                          leave=False, file=sys.stderr):
        images = batch["image"]
        res = ex(images, methods=())
        img_idx, labels, gts, slots = [], [], [], []
        for i, (box_labels, boxes, sl) in enumerate(zip(batch["box_labels"], batch["boxes"], batch["slots"])):
            for j in torch.unique(box_labels).tolist():
                sel = box_labels == j
                img_idx.append(i)
                labels.append(j)
                gts.append(boxes[sel])
                slots.append(set(sl[sel].tolist()))
        if not img_idx:
            continue
        idx = torch.tensor(img_idx)
        target = torch.tensor(labels)
        size = tuple(images.shape[-2:])
        trials += len(img_idx)
        for m, r, name in names:
            maps = cam_maps(res.features[idx], ex.fc.weight, target, method=m, region=r, logits=res.logits[idx])
            big = resize_maps(maps, size)
            peak_x = big.flatten(1).argmax(1) % size[1]
            for k, x in enumerate(peak_x.tolist()):
                slot = next((s for s, (lo, hi) in enumerate(slot_ranges) if lo <= x < hi), -1)
                peaks[name] += int(slot in slots[k])
            for ti, boxes in enumerate(boxes_at_thresholds(big, thresholds)):
                hits[name][ti] += float(box_hits(boxes, gts, iou).sum())
    if trials == 0:
        raise ValueError("no labelled digit to localise")
    return {
        "iou_hit": {
            name: {f"{t:g}": round(100.0 * float(h) / trials, 2) for t, h in zip(thresholds, hits[name])}
            for *_, name in names
        },
        "peak_in_slot": {name: round(100.0 * peaks[name] / trials, 2) for *_, name in names},
        "trials": trials,
    }
