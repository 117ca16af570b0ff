"""Streaming WSOL and classification metrics.

:class:`WSOLMeter` accumulates integer counts only, so its memory does not
grow with the number of images, and every accuracy is the final
``hits / count`` in percent (0-100), never an average of per-batch numbers.
For distributed evaluation, sum the raw counts of all ranks before
:meth:`WSOLMeter.compute`::

    t = meter.to_tensor().to(device)
    torch.distributed.all_reduce(t)          # SUM
    meter.load_counts(t)
    result = meter.compute()

Metrics (``docs/conventions.md``, "Metrics"):

* ``gt_known_loc``: the single-threshold box (:func:`infocam.boxes.boxes_from_maps`
  of the ground-truth class map) has IoU >= ``iou`` with some GT box.
* ``top1_loc`` / ``top5_loc``: the label is the top-1 / among the top-k
  (k = min(5, M)) logits AND the GT-known hit. ``top1_cls`` / ``top5_cls``:
  plain classification accuracy. Present when logits were given.
* ``max_box_acc``: {d: max over t of the hit rate} for d in ``iou_thresholds``,
  the sweep reproducing wsolevaluation (:mod:`infocam.sweep`);
  ``best_threshold``: {d: the first t reaching it}; ``max_box_acc_v2``: the
  mean over d. Thresholds ``np.arange(0, 1, cam_curve_step)``.
* ``pxap``: pixel average precision (see :class:`PxAPCounter`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor

from infocam.boxes import LARGEST, boxes_from_maps, maps_at_size
from infocam.checks import (
    check_choice,
    check_fraction,
    check_size,
    check_step,
    check_threshold,
    shape_or_type,
)
from infocam.iou import box_hits, inclusive_iou
from infocam.maps import normalize_maps
from infocam.sweep import (
    IOU_THRESHOLDS,
    contour_boxes,
    fast_sweep,
    fast_sweeps,
    gt_boxes_inclusive,
    reference_sweep,
    scoremap_to_uint8,
)

__all__ = [
    "SWEEPS",
    "CheckedBoxes",
    "PxAPCounter",
    "WSOLMeter",
    "best_iou",
    "check_gt_boxes",
    "topk_correct",
]

SWEEPS = {"fast": fast_sweep, "reference": reference_sweep}
#: The IoU level (percent) of wsolevaluation's first MaxBoxAcc.
V1_IOU = 50


def topk_correct(logits: Tensor, labels: Tensor, ks: Sequence[int] = (1, 5)) -> Tensor:
    """(B, len(ks)) bool: is ``labels[i]`` among the top-k logits of row i (k capped at M)?"""
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[1] == 0:
        raise ValueError(f"logits must be a (B, M) tensor; got {shape_or_type(logits)}")
    b, m = logits.shape
    if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.shape[0] != b:
        raise ValueError(f"labels must be a (B,) tensor with B={b}; got {shape_or_type(labels)}")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices; got dtype {labels.dtype}")
    if b and (int(labels.min()) < 0 or int(labels.max()) >= m):
        raise ValueError(f"labels must lie in [0, {m - 1}] (M={m} logits)")
    kmax = min(max(ks), m)
    top = logits.float().topk(kmax, dim=1).indices.cpu()
    hit = top == labels.cpu().long()[:, None]  # (B, kmax)
    return torch.stack([hit[:, : min(k, m)].any(dim=1) for k in ks], dim=1)


class PxAPCounter:
    """Streaming PxAP, exactly as wsolevaluation's ``MaskEvaluator``.

    Thresholds ``t = np.arange(0, 1, step)``; bin edges are those plus
    ``[1, 2, 3]`` (so a score of exactly 1 falls in ``[1, 2)``); per bin, the
    counts of positive (mask == 1) and negative (mask == 0) pixels of the
    normalised map (other mask values, e.g. wsolevaluation's 255 "ignore",
    are left out), summed over images (``np.histogram`` semantics). At
    compute, from the highest bin down: ``tp`` / ``fp`` = cumulative
    positives / negatives scoring at or above the bin's left edge,
    ``precision = tp / (tp + fp)``, ``recall = tp / P`` and

        PxAP = 100 * sum((precision[1:] * diff(recall))[(tp + fp)[1:] != 0])

    (bins with no pixel at or above them are skipped, as wsolevaluation
    does). Where wsolevaluation raises (no positive pixel, or no pixel at
    all), this returns NaN.
    """

    def __init__(self, step: float = 0.01) -> None:
        step = check_step(step)
        self.thresholds = np.arange(0, 1, step)
        self.edges = np.append(self.thresholds, [1.0, 2.0, 3.0])
        self.n_bins = self.edges.size - 1
        self.positive = np.zeros(self.n_bins, dtype=np.int64)
        self.negative = np.zeros(self.n_bins, dtype=np.int64)

    def update(self, normalized: np.ndarray, masks: np.ndarray) -> None:
        """Add (B, H, W) normalised maps in [0, 1] with masks of the same shape."""
        bins = np.searchsorted(self.edges, normalized.astype(np.float64).ravel(), side="right") - 1
        bins = np.minimum(bins, self.n_bins - 1)
        m = masks.ravel()
        self.positive += np.bincount(bins[m == 1], minlength=self.n_bins)
        self.negative += np.bincount(bins[m == 0], minlength=self.n_bins)

    def compute(self) -> float:
        """PxAP in percent; NaN when no positive pixel was seen."""
        tp = self.positive[::-1].cumsum().astype(np.float64)
        fp = self.negative[::-1].cumsum().astype(np.float64)
        total = tp[-1]
        if total <= 0:
            return float("nan")
        denom = tp + fp
        nonzero = denom != 0
        precision = np.divide(tp, denom, out=np.zeros_like(tp), where=nonzero)
        recall = tp / total
        return float((precision[1:] * np.diff(recall))[nonzero[1:]].sum() * 100)


class WSOLMeter:
    """Streaming WSOL accumulator: GT-known / Top-1 / Top-5 Loc, Cls, MaxBoxAccV2, PxAP.

    Args:
        size: (H, W) at which maps are scored (e.g. 224 x 224); maps are
            resized to it (bicubic) before normalisation. ``None``: as given.
        threshold: the single map threshold for the GT-known box (0.2).
        iou: the IoU needed for a GT-known hit (0.5).
        max_box_acc: run the MaxBoxAccV2 sweep.
        iou_thresholds: the sweep's IoU levels in percent (30, 50, 70).
        cam_curve_step: the sweep's / PxAP's threshold step (wsolevaluation's
            ``cam_curve_interval``; its default is 0.001).
        pxap: accumulate PxAP (needs ``masks`` in every update).
        sweep: ``"fast"`` or ``"reference"`` (identical numbers; the
            reference is the plain ``findContours`` loop).
        largest: single-box rule, ``"pixels"`` or ``"contour_area"``
            (see :mod:`infocam.boxes`).
        max_box_acc_v1: also run wsolevaluation's first MaxBoxAcc (one box
            per threshold, the largest contour by area; IoU 50).
    """

    _SCALARS = ("count", "cls_count", "gt_known", "top1_loc", "top5_loc", "top1_cls", "top5_cls")

    def __init__(
        self,
        *,
        size: Sequence[int] | None = None,
        threshold: float = 0.2,
        iou: float = 0.5,
        max_box_acc: bool = True,
        iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
        cam_curve_step: float = 0.01,
        pxap: bool = False,
        sweep: str = "fast",
        largest: str = "pixels",
        max_box_acc_v1: bool = False,
    ) -> None:
        self.size = check_size(size)
        self.threshold = check_threshold(threshold)
        self.iou = check_fraction(iou, "iou")
        self.sweep = check_choice(sweep, "sweep", tuple(SWEEPS))
        self.largest = check_choice(largest, "largest", LARGEST)
        d = tuple(iou_thresholds)
        if not d or not all(isinstance(x, (int, float)) and 0 <= x <= 100 for x in d):
            raise ValueError(f"iou_thresholds must be percentages in [0, 100]; got {iou_thresholds!r}")
        self.iou_thresholds = d
        self.cam_curve_step = check_step(cam_curve_step)
        self.max_box_acc = bool(max_box_acc)
        self.max_box_acc_v1 = bool(max_box_acc_v1)
        self.thresholds = np.arange(0, 1, self.cam_curve_step)
        self.pxap = PxAPCounter(self.cam_curve_step) if pxap else None
        self.reset()

    # -- state ---------------------------------------------------------------

    def reset(self) -> None:
        """Zero every count."""
        self.scalars = dict.fromkeys(self._SCALARS, 0)
        self.sweep_hits = np.zeros((self.thresholds.size, len(self.iou_thresholds)), dtype=np.int64)
        self.sweep_hits_v1 = np.zeros(self.thresholds.size if self.max_box_acc_v1 else 0, dtype=np.int64)
        if self.pxap is not None:
            self.pxap.positive[:] = 0
            self.pxap.negative[:] = 0

    def _arrays(self) -> list[np.ndarray]:
        arrays = [
            np.array([self.scalars[k] for k in self._SCALARS], dtype=np.int64),
            self.sweep_hits.ravel(),
            self.sweep_hits_v1,
        ]
        if self.pxap is not None:
            arrays += [self.pxap.positive, self.pxap.negative]
        return arrays

    def to_tensor(self) -> Tensor:
        """Every count in one float64 CPU tensor (exact below 2**53), to all-reduce with SUM.

        Layout: the scalars ``count, cls_count, gt_known, top1_loc, top5_loc,
        top1_cls, top5_cls``, then the sweep hits (thresholds x IoU levels,
        row-major), then the first MaxBoxAcc's hits per threshold (with
        ``max_box_acc_v1``), then the PxAP positive and negative histograms.
        """
        return torch.from_numpy(np.concatenate(self._arrays()).astype(np.float64))

    def load_counts(self, counts: Tensor) -> None:
        """Set every count from a tensor laid out as :meth:`to_tensor` (e.g. after all-reduce)."""
        flat = counts.detach().cpu().double().numpy().ravel() if isinstance(counts, Tensor) else np.ravel(counts)
        expected = sum(a.size for a in self._arrays())
        if flat.size != expected:
            raise ValueError(f"counts must hold {expected} values for this meter's settings; got {flat.size}")
        values = flat.astype(np.int64) if flat.dtype.kind in "iu" else np.rint(flat).astype(np.int64)
        n = len(self._SCALARS)
        self.scalars = dict(zip(self._SCALARS, values[:n].tolist()))
        k = self.sweep_hits.size
        self.sweep_hits = values[n : n + k].reshape(self.sweep_hits.shape).copy()
        n += k
        k = self.sweep_hits_v1.size
        self.sweep_hits_v1 = values[n : n + k].copy()
        if self.pxap is not None:
            nb = self.pxap.n_bins
            self.pxap.positive = values[n + k : n + k + nb].copy()
            self.pxap.negative = values[n + k + nb :].copy()

    def counts(self) -> np.ndarray:
        """Every count as one int64 array, laid out as :meth:`to_tensor` (exact at any size)."""
        return np.concatenate(self._arrays())

    def settings(self) -> tuple[object, ...]:
        """What two meters must share for their counts to add up."""
        return (
            self.size, self.threshold, self.iou, self.iou_thresholds, self.cam_curve_step, self.max_box_acc,
            self.max_box_acc_v1, self.pxap is not None, self.sweep, self.largest,
        )

    def merge(self, other: WSOLMeter) -> None:
        """Add the counts of a meter with the same settings, in exact integer arithmetic."""
        if not isinstance(other, WSOLMeter) or other.settings() != self.settings():
            raise ValueError("other must be a WSOLMeter with the same settings")
        self.load_counts(self.counts() + other.counts())

    # -- accumulation --------------------------------------------------------

    def update(
        self,
        maps: Tensor,
        gt_boxes: Sequence[Tensor] | Tensor,
        logits: Tensor | None = None,
        labels: Tensor | None = None,
        masks: Tensor | None = None,
        boxes: Tensor | None = None,
        scores: Sequence[np.ndarray] | None = None,
        correct: Tensor | None = None,
    ) -> None:
        """Add a batch.

        Args:
            maps: (B, h, w) raw maps of the ground-truth class (any float
                dtype / device); resized to ``size`` and normalised here.
            gt_boxes: B tensors (N_i, 4) (or a (B, N, 4) tensor) of half-open
                GT boxes in pixels of ``size``; a hit needs any one of them.
            logits: (B, M) class scores, for Top-k Loc and Cls.
            labels: (B,) ground-truth classes (needed with ``logits``).
            masks: (B, H, W) GT masks at ``size`` for PxAP: 1 / True
                foreground, 0 background, any other value ignored.
            boxes: (B, 4) the maps' boxes at this meter's threshold, when the
                caller has them already (:func:`infocam.boxes.boxes_at_thresholds`
                serves many meters at once); taken as given.
            scores: B normalised 2-D numpy maps in [0, 1], scored as given
                (in their own dtype) by the sweeps and PxAP instead of the
                float32 normalisation of ``maps`` (``infocam score`` passes
                the maps as read from disk). Each must have ``maps``' size.
            correct: (B, 2) bool, is the label among the top-1 / top-5
                predictions, when the caller has class lists instead of
                logits (then ``logits`` and ``labels`` stay None).
        """
        resized = maps_at_size(maps, self.size)  # validates maps
        b, height, width = resized.shape
        gts = check_gt_boxes(gt_boxes, b)
        if correct is not None:
            if logits is not None or labels is not None:
                raise ValueError("give either correct or logits and labels, not both")
            if not isinstance(correct, Tensor) or tuple(correct.shape) != (b, 2) or correct.dtype != torch.bool:
                shape = tuple(correct.shape) if isinstance(correct, Tensor) else type(correct).__name__
                raise ValueError(f"correct must be a (B, 2) = ({b}, 2) bool tensor; got {shape}")
        if scores is not None and (
            len(scores) != b
            or any(not isinstance(x, np.ndarray) or x.shape != (height, width) or x.dtype.kind != "f" for x in scores)
        ):
            raise ValueError(f"scores must be B={b} floating numpy maps of shape ({height}, {width})")
        if logits is not None or labels is not None:
            if logits is None or labels is None:
                raise ValueError("logits and labels must be given together")
            if isinstance(logits, Tensor) and logits.dim() == 2 and logits.shape[0] != b:
                raise ValueError(f"logits must have B={b} rows (one per map); got {tuple(logits.shape)}")
            correct = topk_correct(logits, labels, (1, 5))
        if self.pxap is not None:
            if masks is None:
                raise ValueError("masks are required for PxAP (the meter was built with pxap=True)")
            if not isinstance(masks, Tensor) or tuple(masks.shape) != (b, height, width):
                raise ValueError(f"masks must be a (B, H, W) = ({b}, {height}, {width}) tensor; got {shape_or_type(masks)}")

        if boxes is None:
            boxes = boxes_from_maps(resized, threshold=self.threshold, largest=self.largest)
        elif not isinstance(boxes, Tensor) or tuple(boxes.shape) != (b, 4):
            raise ValueError(f"boxes must be a (B, 4) = ({b}, 4) tensor, one box per map; got {shape_or_type(boxes)}")
        boxes = boxes.cpu()
        hit = box_hits(boxes, gts, self.iou)
        # float64, as wsolevaluation's score maps: u8 = trunc(exact score * 255)
        need = self.max_box_acc or self.max_box_acc_v1 or self.pxap is not None
        if scores is None:
            scores = list(normalize_maps(resized).cpu().numpy().astype(np.float64)) if need else []
        sweep_hits = np.zeros_like(self.sweep_hits)
        sweep_hits_v1 = np.zeros_like(self.sweep_hits_v1)
        run = SWEEPS[self.sweep]
        both = self.max_box_acc and self.max_box_acc_v1 and self.sweep == "fast"
        for i in range(b):
            gt = gts[i].numpy()
            if both:  # one pass over the pixels serves both versions; V1_IOU rides as an extra column
                v2, v1 = fast_sweeps(scores[i], gt, self.thresholds, (*self.iou_thresholds, V1_IOU))
                sweep_hits += v2[:, :-1]
                sweep_hits_v1 += v1[:, -1]
                continue
            if self.max_box_acc:
                sweep_hits += run(scores[i], gt, self.thresholds, self.iou_thresholds)
            if self.max_box_acc_v1:
                sweep_hits_v1 += run(scores[i], gt, self.thresholds, (V1_IOU,), multi_contour=False)[:, 0]

        s = self.scalars
        s["count"] += b
        s["gt_known"] += int(hit.sum())
        if correct is not None:
            s["cls_count"] += b
            s["top1_cls"] += int(correct[:, 0].sum())
            s["top5_cls"] += int(correct[:, 1].sum())
            s["top1_loc"] += int((correct[:, 0] & hit).sum())
            s["top5_loc"] += int((correct[:, 1] & hit).sum())
        self.sweep_hits += sweep_hits
        self.sweep_hits_v1 += sweep_hits_v1
        if self.pxap is not None and masks is not None:
            m = masks.detach().cpu().numpy()
            for i in range(b):
                self.pxap.update(scores[i], m[i])

    # -- results -------------------------------------------------------------

    def compute(self) -> dict[str, Any]:
        """Percentages (0-100) of everything accumulated so far, and ``count``.

        Keys: ``count``, ``gt_known_loc``; with logits ``top1_loc``,
        ``top5_loc``, ``top1_cls``, ``top5_cls``; with the sweep
        ``max_box_acc`` ({d: %}), ``best_threshold`` ({d: t}),
        ``max_box_acc_v2``; with PxAP ``pxap``. NaN when nothing was counted.
        """
        s = self.scalars
        n = s["count"]

        def pct(hits: int, count: int) -> float:
            return 100.0 * hits / count if count else float("nan")

        out: dict[str, Any] = {"count": n, "gt_known_loc": pct(s["gt_known"], n)}
        if s["cls_count"]:
            c = s["cls_count"]
            out.update(
                top1_loc=pct(s["top1_loc"], c),
                top5_loc=pct(s["top5_loc"], c),
                top1_cls=pct(s["top1_cls"], c),
                top5_cls=pct(s["top5_cls"], c),
            )
        if self.max_box_acc:
            acc = self.sweep_hits * 100.0 / n if n else np.full(self.sweep_hits.shape, np.nan)
            best = acc.argmax(axis=0) if n else np.zeros(acc.shape[1], dtype=np.int64)
            out["max_box_acc"] = {d: float(acc[best[j], j]) for j, d in enumerate(self.iou_thresholds)}
            out["best_threshold"] = {d: float(self.thresholds[best[j]]) for j, d in enumerate(self.iou_thresholds)}
            out["max_box_acc_v2"] = float(np.mean(list(out["max_box_acc"].values())))
        if self.max_box_acc_v1:
            acc = self.sweep_hits_v1 * 100.0 / n if n else np.full(self.sweep_hits_v1.shape, np.nan)
            best = int(acc.argmax()) if n else 0
            out["max_box_acc_v1"] = float(acc[best])
            out["best_threshold_v1"] = float(self.thresholds[best])
        if self.pxap is not None:
            out["pxap"] = self.pxap.compute()
        return out


def best_iou(scoremap: np.ndarray, gt_boxes: Sequence[Sequence[float]] | np.ndarray, threshold: float, *, multi_contour: bool = True) -> float:
    """One map's best inclusive IoU with its GT boxes at one threshold, as the sweeps score it.

    The mask ``u8 > int(threshold * u8.max())`` of ``u8`` =
    :func:`infocam.sweep.scoremap_to_uint8`; the boxes of every contour
    (``multi_contour``, MaxBoxAccV2) or of the largest by ``contourArea``
    (the first MaxBoxAcc); the largest inclusive IoU over (box, GT box)
    pairs, 0.0 without GT boxes. A threshold counts as a hit at IoU level d
    exactly when this is >= d / 100 (the per-image rows of ``infocam score``).
    """
    u8 = scoremap_to_uint8(scoremap)
    gt = gt_boxes_inclusive(gt_boxes)
    if gt.shape[0] == 0:
        return 0.0
    _, mask = cv2.threshold(u8, int(threshold * np.max(u8)), 255, cv2.THRESH_BINARY)
    return float(inclusive_iou(contour_boxes(mask, multi_contour), gt).max())


class CheckedBoxes(list[Tensor]):
    """What :func:`check_gt_boxes` returns: checking it again is free (evaluate checks a batch once for every meter)."""


def check_gt_boxes(gt_boxes: Sequence[Tensor] | Tensor, batch: int) -> list[Tensor]:
    """B float64 CPU tensors (N_i, 4), checked; a list of such tensors passes through without a copy."""
    if isinstance(gt_boxes, CheckedBoxes) and len(gt_boxes) == batch:
        return gt_boxes
    if isinstance(gt_boxes, Tensor):
        if gt_boxes.dim() != 3 or gt_boxes.shape[-1] != 4:
            raise ValueError(f"gt_boxes as a tensor must be (B, N, 4); got {tuple(gt_boxes.shape)}")
        gt_boxes = list(gt_boxes)
    if not isinstance(gt_boxes, (list, tuple)) or len(gt_boxes) != batch:
        n = len(gt_boxes) if isinstance(gt_boxes, (list, tuple)) else type(gt_boxes).__name__
        raise ValueError(f"gt_boxes must be a list of B={batch} tensors (N_i, 4); got {n}")
    out = []
    for i, g in enumerate(gt_boxes):
        ready = isinstance(g, Tensor) and g.dtype == torch.float64 and g.dim() == 2 and g.shape[1] == 4
        if not (ready and g.device.type == "cpu" and not g.requires_grad):
            g = torch.as_tensor(g).detach().cpu().double()
            if g.numel() == 0:
                g = g.reshape(0, 4)
            if g.dim() == 1 and g.shape[0] == 4:
                g = g[None]
            if g.dim() != 2 or g.shape[1] != 4:
                raise ValueError(f"gt_boxes[{i}] must have shape (N, 4) (x0, y0, x1, y1); got {tuple(g.shape)}")
        out.append(g)
    if out and not bool(torch.isfinite(torch.cat(out)).all()):  # one check for the batch
        bad = next(i for i, g in enumerate(out) if not bool(torch.isfinite(g).all()))
        raise ValueError(f"gt_boxes[{bad}] must be finite")
    return CheckedBoxes(out)
