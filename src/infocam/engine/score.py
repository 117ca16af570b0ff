"""Score saved maps against ground truth: the engine of ``infocam score``.

:func:`score_maps` reads each image's map (:mod:`infocam.data.scoremaps`),
brings it to the evaluation size, and feeds it to one streaming
:class:`~infocam.metrics.WSOLMeter` per worker process; the meters' integer
counts are summed exactly. Only a chunk of maps is in memory at a time.

Each map, in its own dtype (float64 maps are scored in float64):

1. checked: 2-D, floating point, finite, within [0, 1] unless ``normalize``;
2. a map whose size is not the evaluation size is resized with
   ``cv2.resize(INTER_CUBIC)`` and then min-max normalised, as
   wsolevaluation's inference does with its own maps; otherwise, with
   ``normalize``, min-max normalised (``docs/conventions.md``);
3. scored: the first MaxBoxAcc and MaxBoxAccV2 by the sweep that reproduces
   wsolevaluation (:mod:`infocam.sweep`), PxAP where masks exist, GT-known
   Loc at ``threshold`` by infocam's box rule (:func:`infocam.boxes.boxes_from_maps`),
   Top-1 / Top-5 Loc and Cls with predictions.

GT boxes are scaled to the evaluation size as wsolevaluation scales them
(:func:`infocam.data.scoremaps.scale_boxes`); ``size="original"`` scores
each map at its image's size with the boxes as annotated.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from infocam.checks import check_choice, check_step, check_threshold
from infocam.data.scoremaps import (
    GroundTruth,
    Truth,
    check_map,
    first_few,
    normalize_scoremap,
    open_maps,
    read_ground_truth,
    read_predictions,
    read_truth_mask,
    scale_boxes,
)
from infocam.engine.pool import process_pool, usable_cores
from infocam.errors import InputError
from infocam.metrics import V1_IOU, WSOLMeter, best_iou, check_gt_boxes
from infocam.sweep import IOU_THRESHOLDS

__all__ = ["MapSaver", "score_maps"]

_STATS = ("resized", "constant_zero", "constant_nonzero", "float16", "float32", "float64", "other_float")


@dataclass(frozen=True)
class _Settings:
    size: int | None  # None: each image's own size
    normalize: bool
    threshold: float
    cam_curve_step: float
    iou_thresholds: tuple[float, ...]
    has_boxes: bool
    has_masks: bool
    sweep: str
    baselines: tuple[str, ...] = ()


# ----------------------------------------------------------------------------
# One image
# ----------------------------------------------------------------------------


def _target(t: Truth, s: _Settings) -> tuple[int, int]:
    """(w, h) at which the image is scored."""
    return t.size if s.size is None else (s.size, s.size)


def _prepare(raw: np.ndarray, name: str, to: tuple[int, int], s: _Settings, stats: dict) -> np.ndarray:
    """Steps 1-2 of the module doc: the map as scored, in its own dtype."""
    import cv2

    arr = check_map(raw, name, normalize=s.normalize)
    stats[arr.dtype.name if arr.dtype.name in _STATS else "other_float"] += 1
    if (arr.shape[1], arr.shape[0]) != tuple(to):
        work = arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float32)
        arr = normalize_scoremap(cv2.resize(work, tuple(to), interpolation=cv2.INTER_CUBIC)).astype(arr.dtype)
        stats["resized"] += 1
    elif s.normalize:
        arr = normalize_scoremap(arr)
    lo, hi = arr.min(), arr.max()
    if lo == hi:
        stats["constant_zero" if hi == 0 else "constant_nonzero"] += 1
    return np.ascontiguousarray(arr)


def _single(scoremap: np.ndarray) -> torch.Tensor:
    """(1, H, W) float32 for the GT-known box (cast by NumPy: torch's cast wakes its thread pool per map)."""
    return torch.from_numpy(scoremap.astype(np.float32, copy=False))[None]


def _correct(t: Truth, top: list[int] | None) -> torch.Tensor | None:
    if top is None:
        return None
    return torch.tensor([[bool(top) and top[0] == t.label, t.label in top[:5]]], dtype=torch.bool)


# ----------------------------------------------------------------------------
# Worker processes
# ----------------------------------------------------------------------------

_STATE: dict = {}


def _init_worker(maps_path: str, settings: _Settings, predictions: dict | None, threads: int | None) -> None:
    if threads is not None:
        torch.set_num_threads(threads)
    _STATE.update(source=open_maps(maps_path), settings=settings, predictions=predictions)


def _new_meter(s: _Settings) -> WSOLMeter:
    return WSOLMeter(
        threshold=s.threshold, iou=0.5, max_box_acc=s.has_boxes, max_box_acc_v1=s.has_boxes,
        iou_thresholds=s.iou_thresholds, cam_curve_step=s.cam_curve_step, pxap=s.has_masks, sweep=s.sweep,
    )


def _baseline_map(name: str, to: tuple[int, int]) -> np.ndarray:
    """A model-free baseline's map at (w, h), normalised as the evaluator normalises a CAM (float32, then float64)."""
    key = (name, to)
    cache = _STATE.setdefault("baselines", {})
    if key not in cache:
        from infocam.baselines import baseline_maps
        from infocam.maps import normalize_maps

        m = baseline_maps(name, torch.zeros(1, 1, to[1], to[0]))
        cache[key] = normalize_maps(m.float())[0].numpy().astype(np.float64)
    return cache[key]


def _score_chunk(chunk: list[Truth]) -> tuple[dict[str, np.ndarray], dict]:
    """Counts (:meth:`WSOLMeter.counts`) of the maps (key ``""``) and of each baseline, and map statistics."""
    s: _Settings = _STATE["settings"]
    source = _STATE["source"]
    predictions = _STATE["predictions"]
    meters = {key: _new_meter(s) for key in ("", *s.baselines)}
    stats = dict.fromkeys(_STATS, 0)
    for t in chunk:
        to = _target(t, s)
        scoremap = _prepare(source.load(t.id), source.name(t.id), to, s, stats)
        gts = check_gt_boxes([torch.from_numpy(scale_boxes(t.boxes, t.size, to))], 1)
        masks = torch.from_numpy(read_truth_mask(t, to))[None] if s.has_masks else None
        correct = _correct(t, predictions.get(t.id)) if predictions is not None else None
        for key, meter in meters.items():
            m = _baseline_map(key, to) if key else scoremap
            meter.update(_single(m), gts, masks=masks, scores=[m], correct=correct)
    return {key: meter.counts() for key, meter in meters.items()}, stats


def _rows_chunk(args: tuple[list[Truth], dict]) -> list[list]:
    """Per-image rows at the best thresholds (see :func:`_row_header`)."""
    from infocam.boxes import boxes_from_maps
    from infocam.iou import box_hits, box_iou

    chunk, best = args
    s: _Settings = _STATE["settings"]
    source = _STATE["source"]
    predictions = _STATE["predictions"]
    rows = []
    stats = dict.fromkeys(_STATS, 0)
    for t in chunk:
        to = _target(t, s)
        scoremap = _prepare(source.load(t.id), source.name(t.id), to, s, stats)
        row: list = [t.id]
        if s.has_boxes:
            gt = scale_boxes(t.boxes, t.size, to)
            iou = best_iou(scoremap, gt, best["v1"], multi_contour=False)
            row += [_fmt(iou), int(iou >= V1_IOU / 100)]
            for d in s.iou_thresholds:
                iou = best_iou(scoremap, gt, best["v2"][d])
                row += [_fmt(iou), int(iou >= d / 100)]
            box = boxes_from_maps(_single(scoremap), threshold=s.threshold)
            gts = check_gt_boxes([torch.from_numpy(gt)], 1)
            hit = bool(box_hits(box, gts, 0.5)[0])
            iou_known = float(box_iou(box.double(), gts[0]).max()) if gt.shape[0] else 0.0
            row += [_fmt(iou_known), int(hit)]
            if predictions is not None:
                c = _correct(t, predictions.get(t.id))[0]
                row += [int(c[0]), int(c[1]), int(c[0] and hit), int(c[1] and hit)]
        elif predictions is not None:
            c = _correct(t, predictions.get(t.id))[0]
            row += [int(c[0]), int(c[1])]
        rows.append(row)
    return rows


def _fmt(x: float) -> str:
    return f"{x:.6f}"


def _row_header(s: _Settings, with_predictions: bool) -> list[str]:
    head = ["image_id"]
    if s.has_boxes:
        head += ["iou_v1_at_best", f"hit_v1_iou{V1_IOU}"]
        for d in s.iou_thresholds:
            head += [f"iou_v2_at_best_iou{d:g}", f"hit_v2_iou{d:g}"]
        head += ["iou_gt_known", "hit_gt_known"]
        if with_predictions:
            head += ["top1_cls", "top5_cls", "top1_loc", "top5_loc"]
    elif with_predictions:
        head += ["top1_cls", "top5_cls"]
    return head


class _Runner:
    """Runs chunk tasks in this process (``workers == 1``) or in one pool of ``workers`` processes."""

    def __init__(self, workers: int, init_args: tuple, progress: bool) -> None:
        self.workers, self.init_args, self.progress = workers, init_args, progress
        self.pool = None

    def __enter__(self) -> _Runner:
        if self.workers <= 1:
            _init_worker(*self.init_args[:3], None)
        else:  # the workers run torch with one thread
            self.pool = process_pool(self.workers, _init_worker, self.init_args)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
        else:
            _STATE.pop("source").close()
            _STATE.clear()  # the settings, the predictions, the baselines' maps

    def map(self, fn, tasks: list, sizes: list[int], desc: str, ordered: bool):
        """Yield ``fn(task)`` for every task (in order when ``ordered``), with a progress bar of maps."""
        from tqdm.auto import tqdm

        with tqdm(total=sum(sizes), desc=desc, unit="map", disable=not self.progress, leave=False) as bar:
            if self.pool is None:
                results = map(fn, tasks)
            else:
                results = (self.pool.imap if ordered else self.pool.imap_unordered)(fn, tasks)
            for n, out in results:
                yield out
                bar.update(n)


def _count_task(chunk: list[Truth]) -> tuple[int, tuple[dict[str, np.ndarray], dict]]:
    return len(chunk), _score_chunk(chunk)


def _rows_task(args: tuple[list[Truth], dict]) -> tuple[int, list[list]]:
    return len(args[0]), _rows_chunk(args)


class MapSaver:
    """The ``on_batch`` hook of :func:`infocam.engine.evaluate.evaluate` that saves maps for :func:`score_maps`.

    Each variant's GT-class maps, min-max normalised exactly as the
    evaluator's meters score them (float32, then float64), are written in
    wsolevaluation's layout: ``<root>/<variant>/<image_id>.npy``.
    ``create``: make ``root`` (empty, or any with ``overwrite``) now; ranks
    other than the first pass False.
    """

    def __init__(self, root: str | Path, *, overwrite: bool = False, create: bool = True) -> None:
        from infocam.fileio import prepare_output_dir

        self.root = prepare_output_dir(root, overwrite=overwrite, what="--save-maps") if create else Path(root)

    def path(self, variant: str, image_id: str) -> Path:
        """Where one map goes; InputError for an id that is not a relative path inside the folder."""
        rel = Path(f"{image_id}.npy")
        if rel.is_absolute() or ".." in rel.parts:
            raise InputError(f"--save-maps: image id {image_id!r} is not a relative path, so it cannot name a map file")
        return self.root / variant / rel

    def __call__(self, batch: dict, _result, maps: dict[str, torch.Tensor]) -> None:
        from infocam.maps import normalize_maps

        ids = batch["id"]
        for name, m in maps.items():
            scores = normalize_maps(m.float()).cpu().numpy().astype(np.float64)
            for image_id, scoremap in zip(ids, scores):
                p = self.path(name, image_id)
                p.parent.mkdir(parents=True, exist_ok=True)
                np.save(p, scoremap)


# ----------------------------------------------------------------------------
# The public function
# ----------------------------------------------------------------------------


#: the baselines of :mod:`infocam.baselines` that need only the image size (no pixel)
SIZE_ONLY_BASELINES: tuple[str, ...] = ("center_gaussian", "full_image")


def _check_baselines(baselines: Sequence[str]) -> tuple[str, ...]:
    names = (baselines,) if isinstance(baselines, str) else tuple(baselines)
    for name in names:
        if name not in SIZE_ONLY_BASELINES:
            why = " (it needs the images, which scoring never reads)" if name == "image_intensity" else ""
            raise ValueError(f"baselines: {name!r} is not one of {', '.join(SIZE_ONLY_BASELINES)}{why}")
    if len(set(names)) != len(names):
        raise ValueError(f"baselines must be distinct; got {baselines!r}")
    return names


def _check_args(size, threshold, cam_curve_step, iou_thresholds, workers, sweep) -> tuple:
    """The settings in canonical form; ValueError naming the argument (the CLI names the flag)."""
    if size == "original" or size is None:
        size = None
    elif isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"size must be a positive integer or 'original'; got {size!r}")
    threshold = check_threshold(threshold)
    cam_curve_step = check_step(cam_curve_step)
    d = tuple(iou_thresholds)
    if not d or any(isinstance(x, bool) or not isinstance(x, numbers.Real) or not 0 <= x <= 100 for x in d):
        raise ValueError(f"iou_thresholds must be percentages in [0, 100]; got {iou_thresholds!r}")
    if len(set(d)) != len(d):
        raise ValueError(f"iou_thresholds must be distinct; got {iou_thresholds!r}")
    if workers is None:
        workers = usable_cores()
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1; got {workers!r}")
    check_choice(sweep, "sweep", ("fast", "reference"))
    return (None if size is None else int(size)), threshold, cam_curve_step, d, int(workers)


def score_maps(
    maps: str | Path,
    *,
    metadata: str | Path | None = None,
    dataset: str | None = None,
    split: str = "test",
    mask_root: str | Path | None = None,
    data: str | Path | None = None,
    data_format: str | None = None,
    csv_file: str | Path | None = None,
    predictions: str | Path | None = None,
    size: int | str = 224,
    normalize: bool = False,
    threshold: float = 0.2,
    cam_curve_step: float = 0.001,
    iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
    workers: int | None = None,
    per_image: str | Path | None = None,
    json_out: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
    sweep: str = "fast",
    baselines: Sequence[str] = (),
) -> dict:
    """Score a folder (or ``.npz``) of saved maps, as wsolevaluation's ``evaluation.py`` does and more.

    Args:
        maps: a folder of ``<image_id>.npy`` files or an ``.npz`` keyed by image id.
        metadata, dataset, split, mask_root: a wsolevaluation metadata root,
            its dataset key (``CUB``, ``ILSVRC``, ``OpenImages``), the split
            folder, and the root the mask paths are relative to (OpenImages).
        data, data_format, csv_file: instead, a dataset in another format
            infocam reads (``cub``, ``tiny-imagenet``, ``csv``) and its split.
        predictions: optional CSV / JSON of top classes or logits per image.
        size: the evaluation size (square side, 224), or ``"original"``.
        normalize: min-max normalise each map (for raw maps); otherwise maps
            must lie in [0, 1].
        threshold: the box threshold of GT-known / Top-k Loc.
        cam_curve_step: the sweep's threshold step (wsolevaluation's
            ``cam_curve_interval``).
        iou_thresholds: MaxBoxAccV2's IoU levels in percent.
        workers: processes (default: the cores this process may use).
        per_image: write a CSV with one row per image here.
        json_out: write the result here (atomically; an existing file needs
            ``overwrite``).
        progress: show a progress bar (on a terminal).
        sweep: ``"fast"`` or ``"reference"`` (identical numbers).
        baselines: model-free baselines scored beside the maps against the
            same ground truth (:mod:`infocam.baselines`; those that need only
            the image size: ``center_gaussian``, ``full_image``).

    Returns:
        ``{"metrics": {...}, "count": N, "maps": {...}, "settings": {...}}``;
        ``metrics`` holds ``max_box_acc_v1`` / ``best_threshold_v1`` (IoU 50),
        ``max_box_acc`` / ``best_threshold`` ({IoU: value}),
        ``max_box_acc_v2``, ``gt_known_loc`` (with boxes), ``pxap`` (with
        masks), ``top1_loc`` ... ``top5_cls`` (with predictions); with
        ``baselines``, ``"baselines": {name: the same metrics}``; ``notes``
        says what was ignored (maps or predictions of unknown images).

    Raises:
        InputError: for a bad file, naming it; ValueError for a bad argument,
        naming it. Nothing is written then.
    """
    from infocam.fileio import atomic_write, atomic_write_json, check_writable_file

    size_, threshold, cam_curve_step, d, workers = _check_args(
        size, threshold, cam_curve_step, iou_thresholds, workers, sweep
    )
    baselines = _check_baselines(baselines)
    for path, what in ((json_out, "--json"), (per_image, "--per-image")):
        if path is not None:
            if Path(path).exists() and not overwrite:
                raise InputError(f"{what} {path} exists; pass --overwrite to replace it")
            check_writable_file(path, what=what)
    if json_out is not None and per_image is not None and Path(json_out).resolve() == Path(per_image).resolve():
        raise InputError("--json and --per-image must be different files")
    source = open_maps(maps)
    truth: GroundTruth = read_ground_truth(
        metadata=metadata, dataset=dataset, split=split, mask_root=mask_root, data=data,
        data_format=data_format, csv_file=csv_file,
    )
    known = {t.id for t in truth.images}
    missing = [t.id for t in truth.images if not source.has(t.id)]
    if missing:
        raise InputError(
            f"maps {source.where}: {len(missing)} of {len(truth.images)} images have no map "
            f"(expected <image_id>.npy): {first_few(missing)}"
        )
    unknown = sorted(set(source.ids()) - known)
    source.close()
    notes = []
    if unknown:
        notes.append(f"ignored {len(unknown)} maps of images not in the ground truth: {first_few(unknown)}")
    preds = None
    if predictions is not None:
        preds = read_predictions(predictions, truth.class_names)
        lacking = [t.id for t in truth.images if t.id not in preds]
        if lacking:
            raise InputError(f"--predictions {predictions}: {len(lacking)} images have no prediction: {first_few(lacking)}")
        extra = len(set(preds) - known)
        if extra:
            notes.append(f"ignored {extra} predictions of images not in the ground truth")
        preds = {k: v for k, v in preds.items() if k in known}
    settings = _Settings(
        size_, bool(normalize), threshold, cam_curve_step, d, truth.has_boxes, truth.has_masks, sweep, baselines
    )

    n = len(truth.images)
    workers = min(workers, n)
    per_chunk = max(1, min(64, math.ceil(n / (workers * 8))))
    chunks = [truth.images[i : i + per_chunk] for i in range(0, n, per_chunk)]
    sizes = [len(c) for c in chunks]
    threads = 1 if workers > 1 else None
    init_args = (str(maps), settings, preds, threads)
    meters = {key: _new_meter(settings) for key in ("", *settings.baselines)}
    stats = dict.fromkeys(_STATS, 0)
    with _Runner(workers, init_args, progress) as runner:
        for counts, st in runner.map(_count_task, chunks, sizes, "score", ordered=False):
            for key, meter in meters.items():
                meter.load_counts(meter.counts() + counts[key])  # exact int64 sums
            for k in _STATS:
                stats[k] += st[k]
        computed = meters[""].compute()
        result = _result(computed, settings, truth, stats, maps, len(unknown), notes, predictions, workers, n)
        if settings.baselines:
            result["baselines"] = {
                key: _metrics(meters[key].compute(), settings, preds is not None) for key in settings.baselines
            }
            result["settings"]["baselines"] = list(settings.baselines)
        if per_image is not None:
            best = {"v1": computed.get("best_threshold_v1"), "v2": computed.get("best_threshold", {})}
            head = _row_header(settings, preds is not None)

            def write(f) -> None:
                text = io.TextIOWrapper(f, encoding="utf-8", newline="")
                w = csv.writer(text)
                w.writerow(head)
                tasks = [(c, best) for c in chunks]
                for rows in runner.map(_rows_task, tasks, sizes, "per-image", ordered=True):
                    w.writerows(rows)
                text.flush()
                text.detach()

            atomic_write(per_image, write)
            result["settings"]["per_image"] = str(per_image)
    if json_out is not None:
        atomic_write_json(json_out, result)
    return result


def _result(computed, settings: _Settings, truth: GroundTruth, stats, maps, n_unknown, notes, predictions, workers, n) -> dict:
    return {
        "metrics": _metrics(computed, settings, predictions is not None),
        "count": n,
        "maps": {
            "source": str(maps),
            "resized": stats["resized"],
            "constant_zero": stats["constant_zero"],
            "constant_nonzero": stats["constant_nonzero"],
            "dtypes": {k: stats[k] for k in ("float16", "float32", "float64", "other_float") if stats[k]},
            "unknown_ignored": n_unknown,
        },
        "settings": {
            "ground_truth": truth.description,
            "size": "original" if settings.size is None else settings.size,
            "normalize": settings.normalize,
            "threshold": settings.threshold,
            "cam_curve_step": settings.cam_curve_step,
            "iou_thresholds": list(settings.iou_thresholds),
            "max_box_acc_v1_iou": V1_IOU if truth.has_boxes else None,
            "gt_known_iou": 0.5,
            "predictions": None if predictions is None else str(predictions),
            "workers": workers,
        },
        "notes": notes,
    }


def _metrics(r: dict, s: _Settings, with_predictions: bool) -> dict:
    out: dict = {}
    if s.has_boxes:
        out["max_box_acc_v1"] = r["max_box_acc_v1"]
        out["best_threshold_v1"] = r["best_threshold_v1"]
        out["max_box_acc_v2"] = r["max_box_acc_v2"]
        out["max_box_acc"] = {f"{k:g}": v for k, v in r["max_box_acc"].items()}
        out["best_threshold"] = {f"{k:g}": v for k, v in r["best_threshold"].items()}
        out["gt_known_loc"] = r["gt_known_loc"]
    if s.has_masks:
        out["pxap"] = r["pxap"]
    if with_predictions:
        keys = ("top1_loc", "top5_loc", "top1_cls", "top5_cls") if s.has_boxes else ("top1_cls", "top5_cls")
        out.update({k: r[k] for k in keys})
    return out
