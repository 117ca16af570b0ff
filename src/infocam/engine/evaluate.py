"""The one evaluator: one forward pass per batch serves every map variant.

A *variant* is a (method, region) pair; each variant's GT-class maps are
scored at one or more box thresholds by streaming :class:`WSOLMeter`s. The
CLI ``infocam evaluate``, the demo and the benchmarks all call
:func:`evaluate`.

Naming: with ``region=R`` the main variants are ``cam`` (R = 1, the paper's
CAM), ``infocam`` and ``infocam+`` (both at R). ``ablation=True`` adds the
paper's Table 5 corners: ``cam_r{R}`` (region, no subtraction) and
``infocam_r1`` / ``infocam+_r1`` (subtraction, no region).
"""

from __future__ import annotations

import numbers
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from infocam.baselines import BASELINES, DEFAULT_WIDTH, baseline_maps
from infocam.boxes import boxes_at_thresholds
from infocam.checks import check_region, check_step, check_threshold
from infocam.engine.build import workers_stopped_on_error
from infocam.errors import InputError
from infocam.extract import CAMExtractor
from infocam.faithfulness import FaithfulnessMeter
from infocam.maps import METHODS, cam_maps, resize_maps
from infocam.metrics import CheckedBoxes, WSOLMeter, check_gt_boxes

if TYPE_CHECKING:
    from infocam.engine.distributed import DistContext
    from infocam.engine.score import MapSaver

__all__ = ["Variant", "baseline_variants", "evaluate", "evaluation_loader", "main_variants"]


@dataclass(frozen=True)
class Variant:
    """One map recipe: a method, a region size and, optionally, its own box threshold.

    A variant with ``threshold=None`` is scored at every threshold passed to
    :func:`evaluate`; one with a threshold only at that one.
    """

    name: str
    method: str
    region: int
    threshold: float | None = None
    #: the centre Gaussian's width (:mod:`infocam.baselines`); None for the other maps
    width: float | None = None


def main_variants(methods: Iterable[str], region: int, *, ablation: bool = False) -> list[Variant]:
    """The variants reported for ``methods`` at region ``region`` (see module doc)."""
    region = check_region(region)
    out: list[Variant] = []
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"methods: unknown method {m!r}; choose from {', '.join(METHODS)}")
        out.append(Variant(m, m, 1 if m == "cam" else region))
    if ablation and region > 1:
        out.append(Variant(f"cam_r{region}", "cam", region))
        out += [Variant(f"{m}_r1", m, 1) for m in ("infocam", "infocam+") if m in methods]
    return out


def baseline_variants(names: Iterable[str], width: float = DEFAULT_WIDTH) -> list[Variant]:
    """Variants of the model-free baselines ``names`` (the centre Gaussian at ``width``)."""
    out = []
    for name in names:
        if name not in BASELINES:
            raise ValueError(f"baselines: unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
        out.append(Variant(name, name, 1, width=width if name == "center_gaussian" else None))
    return out


def variant_maps(method: str, region: int, width: float | None, images: Tensor, res: object,
                 fc_weight: Tensor, labels: Tensor, padding: str) -> Tensor:
    """The GT-class maps of one recipe at the image size: a CAM method's or a baseline's."""
    if method in BASELINES:
        return baseline_maps(method, images, width)
    maps = cam_maps(res.features, fc_weight, labels, method=method, region=region,  # type: ignore[attr-defined]
                    logits=res.logits, padding=padding)  # type: ignore[attr-defined]
    return resize_maps(maps, tuple(images.shape[-2:]))


def _iter_thresholds(thresholds: float | Sequence[float]) -> list[float]:
    ts = [thresholds] if isinstance(thresholds, numbers.Real) else list(thresholds)
    return [check_threshold(t) for t in ts]


def check_cpu_workers(cpu_workers: object) -> int:
    """``cpu_workers`` as an int >= 0; ValueError naming the argument otherwise."""
    if isinstance(cpu_workers, bool) or not isinstance(cpu_workers, numbers.Integral) or cpu_workers < 0:
        raise ValueError(f"cpu_workers must be an integer >= 0 (0: score in this process); got {cpu_workers!r}")
    return int(cpu_workers)


def _score_batch(meters: dict[tuple[str, float], WSOLMeter], recipe: dict[str, tuple],
                 recipe_thresholds: dict[tuple, list[float]], by_recipe: dict[tuple, Tensor], gts: list[Tensor],
                 logits: Tensor, labels: Tensor, masks: Tensor | None) -> None:
    """A batch's CPU work: each recipe's maps boxed at all of its thresholds in one call, then every meter updated."""
    boxes = {
        (key, t): b
        for key, ts_ in recipe_thresholds.items()
        for t, b in zip(ts_, boxes_at_thresholds(by_recipe[key], ts_))
    }
    for (name, t), meter in meters.items():
        meter.update(by_recipe[recipe[name]], gts, logits=logits, labels=labels, masks=masks,
                     boxes=boxes[(recipe[name], t)])


# -- the worker processes of ``cpu_workers`` -----------------------------------

_WORKER: dict = {}


def _init_cpu_worker(meters: dict, recipe: dict, recipe_thresholds: dict) -> None:
    torch.set_num_threads(1)  # one core per worker
    _WORKER.update(meters=meters, recipe=recipe, recipe_thresholds=recipe_thresholds)


def _worker_batch(by_recipe: dict[tuple, Tensor], gts: list[Tensor], logits: Tensor, labels: Tensor,
                  masks: Tensor | None) -> tuple:
    """What a worker needs of a batch: the maps (and masks) as CPU tensors, which travel through shared
    memory (one file descriptor each), and the small rest as NumPy arrays, which travel by value."""
    return ({k: m.cpu() for k, m in by_recipe.items()}, [g.numpy() for g in gts], logits.cpu().numpy(),
            labels.cpu().numpy(), masks)


def _cpu_task(args: tuple) -> dict[tuple[str, float], object]:
    """One batch (:func:`_worker_batch`) scored in a worker by fresh meters: their integer counts."""
    by_recipe, gts, logits, labels, masks = args
    meters = _WORKER["meters"]
    for meter in meters.values():
        meter.reset()
    checked = CheckedBoxes(torch.from_numpy(g) for g in gts)  # checked by the main process
    _score_batch(meters, _WORKER["recipe"], _WORKER["recipe_thresholds"], by_recipe, checked,
                 torch.from_numpy(logits), torch.from_numpy(labels), masks)
    return {key: meter.counts() for key, meter in meters.items()}


def _add_counts(meters: dict[tuple[str, float], WSOLMeter], counts: dict) -> None:
    for key, meter in meters.items():
        meter.load_counts(meter.counts() + counts[key])  # exact int64 sums


def _check_labels(labels: Tensor, num_classes: int, batch: dict) -> None:
    """Class indices outside the model's classes are a data error, named with the image id."""
    if labels.is_floating_point() or labels.dim() != 1 or not labels.numel():
        return
    bad = (labels < 0) | (labels >= num_classes)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        ids = batch.get("id")
        name = f"image {ids[i]}" if isinstance(ids, (list, tuple)) and i < len(ids) else f"item {i} of a batch"
        raise InputError(
            f"{name} has label {int(labels[i])}, out of range for a model with {num_classes} "
            f"classes (0..{num_classes - 1}): the dataset does not match the model"
        )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable[dict],
    *,
    variants: Sequence[Variant],
    thresholds: float | Sequence[float] = 0.2,
    padding: str = "same",
    max_box_acc: bool = True,
    cam_curve_step: float = 0.01,
    iou: float = 0.5,
    pxap: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = True,
    reduce: Callable[[Tensor], Tensor] | None = None,
    on_batch: Callable[[dict, object, dict[str, Tensor]], None] | None = None,
    extractor: CAMExtractor | None = None,
    faithfulness: int | None = None,
    faithfulness_images: int | None = None,
    cpu_workers: int = 0,
    timings: dict | None = None,
) -> dict:
    """Score every variant at every threshold over ``loader``.

    Batches are dicts from :func:`infocam.data.collate`: ``image`` (B, C, H, W),
    ``label`` (B,), ``boxes`` (list of (N_i, 4) in pixels of the image).
    Maps are resized to the image size before boxes are taken.

    Returns ``{"classification": {"top1", "top5"}, "methods": {name: metrics
    at the first threshold}, "thresholds": {name: {t: metrics}}, "count": N}``
    (the per-threshold table only when more than one threshold is given).
    ``reduce`` (e.g. an all-reduce sum across ranks) is applied to each
    meter's raw counts before computing percentages. ``on_batch(batch,
    result, maps)`` sees each batch's extractor result and GT-class maps
    (used for galleries).

    ``faithfulness=S`` adds, per (method, region), deletion / insertion AUC
    with S steps, Average Drop and Increase in Confidence of the GT-class
    maps (:class:`infocam.faithfulness.FaithfulnessMeter`) under
    ``methods[name]["faithfulness"]``; ``faithfulness_images=N`` scores only
    the first N images with them (the curves cost 2 S forward passes per image).

    ``cpu_workers=N`` (N >= 1) scores each batch (boxes at every threshold,
    the sweeps, PxAP) in a pool of N worker processes while this process
    runs the next batches' forward passes; at most N + 1 batches are in
    flight, and the workers' integer counts are summed exactly, so the
    numbers equal those of ``cpu_workers=0`` (all in this process). The
    maps, ``on_batch`` and faithfulness stay in this process. ``timings``,
    a dict, is filled with the seconds spent waiting for the loader
    (``data_s``), in the forward pass, the maps, ``on_batch`` and
    faithfulness (``forward_s``), on the CPU scoring (``cpu_s``: the work
    itself, or the wait for the workers) and in all (``wall_s``).
    """
    t_start = time.perf_counter()
    ts = _iter_thresholds(thresholds)
    cpu_workers = check_cpu_workers(cpu_workers)
    cam_curve_step = check_step(cam_curve_step)
    if not variants:
        raise ValueError("variants must name at least one method: no method to evaluate")
    extractor = extractor or CAMExtractor(model)
    per_variant = {v.name: ts if v.threshold is None else _iter_thresholds(v.threshold) for v in variants}
    if len(per_variant) != len(variants):
        raise ValueError("variants must have unique names")
    # Variants with the same (method, region) share their maps, and the
    # threshold-free sweep (MaxBoxAccV2) and PxAP run once for them: on the
    # first meter of the first such variant (its "owner").
    recipe = {v.name: (v.method, v.region, v.width) for v in variants}
    owner: dict[tuple[str, int, float | None], str] = {}
    for v in variants:
        owner.setdefault(recipe[v.name], v.name)
    recipe_thresholds: dict[tuple[str, int, float | None], list[float]] = {}
    for v in variants:
        have = recipe_thresholds.setdefault(recipe[v.name], [])
        have += [t for t in per_variant[v.name] if t not in have]
    meters: dict[tuple[str, float], WSOLMeter] = {}
    for v in variants:
        sweeps = owner[recipe[v.name]] == v.name
        for i, t in enumerate(per_variant[v.name]):
            first = sweeps and i == 0
            meters[(v.name, t)] = WSOLMeter(
                threshold=t, iou=iou, max_box_acc=max_box_acc and first, cam_curve_step=cam_curve_step,
                pxap=pxap and first,
            )
    faith = _faithfulness_meters(owner, faithfulness, faithfulness_images)
    spent = dict.fromkeys(("data_s", "forward_s", "cpu_s"), 0.0)
    pool = None
    pending: deque = deque()

    def collect(keep: int) -> None:
        """Merge finished batches' counts until at most ``keep`` are in flight."""
        t = time.perf_counter()
        while len(pending) > keep:
            _add_counts(meters, pending.popleft().get())
        spent["cpu_s"] += time.perf_counter() - t

    count = 0
    try:
        total = len(loader)  # type: ignore[arg-type]
    except TypeError:  # an iterable without a length
        total = None
    try:
        if cpu_workers:  # started before the loader's workers, whose threads a fork must not copy
            from infocam.engine.pool import process_pool

            pool = process_pool(cpu_workers, _init_cpu_worker, (meters, recipe, recipe_thresholds))
        batches = iter(loader)
        # a bar only on a terminal: no carriage-return noise in logs
        bar = tqdm(batches, total=total, desc="evaluate", unit="batch", disable=None if progress else True,
                   leave=False, file=sys.stderr)
        with workers_stopped_on_error(batches):
            t = time.perf_counter()
            for batch in bar:
                t_batch = time.perf_counter()
                spent["data_s"] += t_batch - t
                images = batch["image"].to(device, non_blocking=True)
                given = torch.as_tensor(batch["label"])
                labels = given.to(device)
                res = extractor(images, methods=(), targets=labels)
                _check_labels(given, int(res.logits.shape[1]), batch)
                # each recipe's maps are made at the image size once, then shared by its meters
                by_recipe = {
                    key: variant_maps(*key, images, res, extractor.fc.weight, labels, padding) for key in owner
                }
                maps = {v.name: by_recipe[recipe[v.name]] for v in variants}
                masks = batch.get("mask")
                gts = check_gt_boxes(batch["boxes"], images.shape[0])  # checked once, shared by every meter
                if pool is None:
                    if timings is not None and images.is_cuda:  # the device's work counts as the forward's
                        torch.cuda.synchronize(images.device)
                    t = time.perf_counter()
                    spent["forward_s"] += t - t_batch
                    _score_batch(meters, recipe, recipe_thresholds, by_recipe, gts, res.logits, labels, masks)
                    spent["cpu_s"] += time.perf_counter() - t
                else:  # the maps go to the CPU (this waits for the device), then to a worker
                    work = _worker_batch(by_recipe, gts, res.logits, labels, masks)
                    spent["forward_s"] += time.perf_counter() - t_batch
                    pending.append(pool.apply_async(_cpu_task, (work,)))
                    collect(cpu_workers + 1)
                t_rest = time.perf_counter()
                if faith:
                    take = images.shape[0] if faithfulness_images is None else max(0, faithfulness_images - count)
                    for key, meter in faith.items():
                        meter.update(model, images[:take], by_recipe[key][:take], labels[:take])
                if on_batch is not None:
                    on_batch(batch, res, maps)
                count += images.shape[0]
                t = time.perf_counter()
                spent["forward_s"] += t - t_rest
            collect(0)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    if timings is not None:
        timings.update(spent, wall_s=time.perf_counter() - t_start)
    if count == 0:
        raise InputError("the evaluation set is empty: no image to evaluate")
    if reduce is not None:
        for meter in (*meters.values(), *faith.values()):
            meter.load_counts(reduce(meter.to_tensor()))
    results = {v.name: meters[(v.name, per_variant[v.name][0])].compute() for v in variants}
    shared = ("max_box_acc", "best_threshold", "max_box_acc_v2", "pxap")
    for v in variants:  # the owner's sweep and PxAP, for the variants that share its maps
        from_owner = results[owner[recipe[v.name]]]
        results[v.name].update({k: from_owner[k] for k in shared if k in from_owner})
        if faith:
            results[v.name]["faithfulness"] = faith[recipe[v.name]].compute()
    any_result = next(iter(results.values()))
    out = {
        "classification": {"top1": any_result["top1_cls"], "top5": any_result["top5_cls"]},
        "methods": {
            name: {k: r[k] for k in r if k not in ("top1_cls", "top5_cls")} for name, r in results.items()
        },
        "count": int(any_result.get("count", count)),
    }
    sweeps = {
        v.name: {f"{t:g}": meters[(v.name, t)].compute()["gt_known_loc"] for t in per_variant[v.name]}
        for v in variants
        if len(per_variant[v.name]) > 1
    }
    if sweeps:
        out["thresholds"] = sweeps
    return out


def _model_and_config(checkpoint, model_name, weights, num_classes, device) -> tuple[nn.Module, dict, str]:
    """(model, its config, a label for messages) from a checkpoint or from a model name and weights."""
    from infocam.engine.checkpoint import load_checkpoint
    from infocam.models import build_model, load_weights

    if (checkpoint is None) == (model_name is None):
        raise InputError("give exactly one of --checkpoint CKPT and --model NAME")
    if checkpoint is not None:
        if weights is not None or num_classes is not None:
            raise InputError("--weights and --num-classes go with --model; a --checkpoint holds its own")
        model, cfg, _meta = load_checkpoint(checkpoint, device)
        return model, cfg, str(checkpoint)
    if weights is None:
        raise InputError(f"--model {model_name} needs --weights FILE: evaluating random weights says nothing")
    m = 1000 if num_classes is None else num_classes
    model = build_model(model_name, m)
    try:
        load_weights(model, weights, require_head=True)  # the classifier too: it picks the maps' classes
    except InputError as exc:
        raise InputError(f"--weights {weights}: {exc} (does --num-classes {m} match the file's classifier?)") from None
    model = model.to(device).eval()
    # wsolevaluation's test transform: a plain resize to 224 x 224, no crop
    cfg = {"model": {"name": model_name, "num_classes": m}, "data": {"image_size": 224, "resize_size": 224, "crop": False}}
    return model, cfg, f"--model {model_name}"


def data_config_for(
    saved: dict, data_root: str | None, data_format: str | None, checkpoint: str
) -> tuple[dict, str | None]:
    """The data config to evaluate on: the checkpoint's, with ``--data`` / ``--format`` applied.

    A ``--format`` other than the checkpoint's keeps only the keys every
    format takes (the image size and such) and needs ``--data``; the second
    value then says so, to prefix the errors of the new format's keys.
    """
    from infocam.data.factory import DATA_KEYS

    data_cfg = dict(saved)
    switched = None
    saved_fmt = data_cfg.get("format")
    if data_format is not None and saved_fmt and str(saved_fmt).lower() != data_format.lower():
        switched = f"--format {data_format} does not match the checkpoint's data (format {saved_fmt})"
        if data_root is None:
            raise InputError(f"{switched}: pass --data ROOT of the {data_format} data set as well")
        data_cfg = {k: v for k, v in data_cfg.items() if k in DATA_KEYS and DATA_KEYS[k].formats is None}
    if data_root is not None:
        data_cfg["root"] = data_root
    if data_format is not None:
        data_cfg["format"] = data_format
    if not data_cfg.get("format") or not data_cfg.get("root"):
        raise InputError(f"{checkpoint}: its config names no dataset; pass --data ROOT and --format")
    return data_cfg, switched


def evaluation_loader(dataset: Dataset, batch_size: int, workers: int, device: str | torch.device, *,
                      rank: int = 0, world_size: int = 1) -> DataLoader:
    """The DataLoader :func:`evaluate_checkpoint` evaluates a dataset with: in order, ``workers`` processes
    decoding and transforming the images (0: in this process), :func:`infocam.data.collate`, memory pinned
    for a GPU; under ``torchrun`` each rank takes every ``world_size``-th image (no padding)."""
    from infocam.data import collate

    if world_size > 1:
        dataset = Subset(dataset, range(rank, len(dataset), world_size))  # type: ignore[arg-type]
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate,
                      pin_memory=torch.device(device).type == "cuda")


def _map_saver(save_maps: str, overwrite: bool, ctx: DistContext) -> MapSaver:
    """The ``--save-maps`` hook; the first rank prepares the folder before any rank writes into it.

    Under torchrun the other ranks wait for the first one's verdict (a
    broadcast): a map written early would make the folder look non-empty,
    and a refusal must stop every rank, not leave them waiting.
    """
    from infocam.engine import distributed as D
    from infocam.engine.score import MapSaver

    saver: MapSaver | None = None
    refusal: InputError | None = None
    if ctx.is_main:
        try:
            saver = MapSaver(save_maps, overwrite=overwrite, create=True)
        except InputError as exc:
            refusal = exc
    if ctx.world_size > 1:
        verdict = D.broadcast_object(None if refusal is None else str(refusal))
        if verdict is not None and refusal is None:
            raise InputError(verdict)
    if refusal is not None:
        raise refusal
    return saver if saver is not None else MapSaver(save_maps, overwrite=overwrite, create=False)


def _faithfulness_meters(
    owners: Iterable[tuple], steps: int | None, images: int | None
) -> dict[tuple, FaithfulnessMeter]:
    """One :class:`FaithfulnessMeter` per map recipe (method, region, width), or none when ``steps`` is None."""
    if steps is None:
        return {}
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"faithfulness must be an integer >= 1 (the deletion / insertion steps); got {steps!r}")
    if images is not None and (isinstance(images, bool) or not isinstance(images, int) or images < 1):
        raise ValueError(f"faithfulness_images must be an integer >= 1; got {images!r}")
    return {key: FaithfulnessMeter(steps=steps) for key in owners}


#: suffix of the variants at the setting chosen on the selection split (moved to ``result["selected"]``)
SELECTED = "@selected"


def _selected_block(result: dict, selection: dict) -> dict:
    """``result["selected"]``: each method's metrics at its chosen setting, the setting and its score."""
    rows = {}
    for m, c in selection["choices"].items():
        row = result["methods"].pop(f"{m}{SELECTED}")
        row.update({"method": c.method, "region": c.region, "threshold": c.threshold, "width": c.width,
                    "selection_gt_known_loc": c.score})
        rows[m] = row
    return {"split": selection["split"], "regions": selection["regions"], "thresholds": selection["thresholds"],
            "methods": rows, "grid": selection["grid"]}


def evaluate_checkpoint(
    checkpoint: str | None = None,
    *,
    model_name: str | None = None,
    weights: str | None = None,
    num_classes: int | None = None,
    metadata_root: str | None = None,
    dataset_name: str | None = None,
    data_root: str | None = None,
    data_format: str | None = None,
    split: str = "test",
    methods: Sequence[str] = METHODS,
    region: int | None = None,
    padding: str = "same",
    threshold: float = 0.2,
    max_box_acc: bool = False,
    cam_curve_step: float = 0.01,
    ablation: bool = False,
    baselines: Sequence[str] = (),
    select_on: str | None = None,
    select_thresholds: Sequence[float] | None = None,
    select_regions: Sequence[int] | None = None,
    batch_size: int = 64,
    workers: int = 2,
    cpu_workers: int = 0,
    device: str = "auto",
    progress: bool = True,
    json_out: str | None = None,
    faithfulness: int | None = None,
    faithfulness_images: int | None = None,
    pxap: bool = False,
    save_maps: str | None = None,
    overwrite: bool = False,
) -> dict | None:
    """Evaluate a checkpoint of ``infocam train``, or any GAP + linear model, on a split of a dataset.

    Give ``checkpoint``, or ``model_name`` (as :func:`infocam.models.build_model`
    takes it) with its ``weights`` file and ``num_classes`` (1000 by
    default); such a model sees the images resized to 224 x 224 without a
    crop, ImageNet-normalised, and needs ``data_root`` and ``data_format``
    (and, for ``wsol``, ``metadata_root`` and ``dataset_name``, which also
    override a checkpoint's).
    ``pxap`` adds PxAP (the data must have masks). ``save_maps`` writes each
    variant's normalised GT-class maps as float64 ``<save_maps>/<variant>/<image_id>.npy``
    (what ``infocam score`` reads; an existing non-empty folder needs ``overwrite``).

    ``methods`` are scored as the paper does (CAM at R = 1, infoCAM and
    infoCAM+ at ``region``, all at ``threshold``; ``cpu_workers`` processes
    score the batches while the next forward passes run, see :func:`evaluate`); ``baselines`` (model-free
    maps, :mod:`infocam.baselines`) beside them. With ``select_on`` (a split,
    e.g. ``val``) each method's threshold and R (the centre Gaussian's width)
    are also chosen on that split among ``select_thresholds`` x
    ``select_regions`` (:mod:`infocam.engine.select`), and the evaluated split
    is scored at the choice too: ``result["selected"]``.

    Runs under ``torchrun`` too: each rank takes every ``world``-th image (no
    padding, so no image is counted twice) and the raw counts are summed
    across ranks. Returns the result on rank 0 (after writing ``json_out``
    atomically) and ``None`` on the other ranks.
    """
    from infocam.data import build_dataset
    from infocam.engine import distributed as D
    from infocam.fileio import atomic_write_json, check_writable_file

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    if workers < 0:
        raise ValueError(f"workers must be >= 0; got {workers}")
    check_cpu_workers(cpu_workers)
    if not methods:
        raise ValueError("methods must name at least one method; got none")
    if region is not None:
        main_variants(methods, region)  # validates region and methods
    _iter_thresholds(threshold)
    check_step(cam_curve_step)
    _faithfulness_meters((), faithfulness, faithfulness_images)  # validates the options
    baseline_variants(baselines)  # validates baselines
    if select_on is not None:
        select_thresholds = _iter_thresholds(select_thresholds if select_thresholds is not None else
                                             [round(0.05 * i, 2) for i in range(1, 20)])
        if select_on == split:
            raise ValueError(f"select_on {select_on}: choose on another split than the one evaluated (split {split})")
    if json_out:
        check_writable_file(json_out, what="--json")  # before the work, not after it
    ctx = D.init_distributed(device)
    try:
        model, cfg, label = _model_and_config(checkpoint, model_name, weights, num_classes, ctx.device)
        data_cfg, switched = data_config_for(cfg.get("data") or {}, data_root, data_format, label)
        for key, value in (("metadata_root", metadata_root), ("dataset_name", dataset_name)):
            if value is not None:  # wsolevaluation metadata for a --model (a checkpoint's config names its own)
                data_cfg[key] = value
        try:
            dataset = build_dataset(data_cfg, split, train=False)
            chooser = build_dataset(data_cfg, select_on, train=False) if select_on is not None else None
        except InputError as exc:
            if not switched:
                raise
            raise InputError(f"{switched}: {exc}") from None
        m = cfg.get("model", {}).get("num_classes")
        if m is not None and getattr(dataset, "num_classes", m) > m:
            raise InputError(
                f"{label}: the model has {m} classes but the {data_cfg.get('format')} dataset at "
                f"{data_cfg.get('root')} has {dataset.num_classes}: evaluate it on the data it was trained for"
            )
        if pxap and not getattr(dataset, "has_masks", False):
            raise ValueError(f"pxap needs masks: the {data_cfg.get('format')} data at {data_cfg.get('root')} has none")
        on_batch = _map_saver(save_maps, overwrite, ctx) if save_maps else None

        def loader_of(ds):
            return evaluation_loader(ds, batch_size, workers, ctx.device, rank=ctx.rank, world_size=ctx.world_size)

        extractor = CAMExtractor(model)
        common = {"padding": padding, "device": ctx.device, "progress": progress and ctx.is_main,
                  "reduce": D.all_reduce_sum if ctx.world_size > 1 else None, "extractor": extractor,
                  "cpu_workers": cpu_workers}
        r = region if region is not None else int((cfg.get("evaluate") or {}).get("region", 1))
        variants = main_variants(methods, r, ablation=ablation) + baseline_variants(baselines)
        selection = None
        try:
            if chooser is not None:
                from infocam.engine.select import chosen_variants, select_on_split

                regions = tuple(select_regions) if select_regions else tuple(sorted({1, r}))
                choices, sweep = select_on_split(model, loader_of(chooser), methods=methods, regions=regions,
                                                 thresholds=select_thresholds, baselines=baselines, **common)
                variants += chosen_variants(choices, suffix=SELECTED)
                selection = {"split": select_on, "regions": list(regions), "thresholds": list(select_thresholds),
                             "choices": choices, "grid": sweep}
            result = evaluate(
                model, loader_of(dataset), variants=variants, thresholds=threshold, max_box_acc=max_box_acc,
                cam_curve_step=cam_curve_step, faithfulness=faithfulness, faithfulness_images=faithfulness_images,
                pxap=pxap, on_batch=on_batch, **common,
            )
        except ValueError as exc:
            if isinstance(exc, InputError) or extractor.fc_layer_name is not None:
                raise
            # the model gives no maps (e.g. NaN weights): the file's fault
            raise InputError(f"{label}: the model cannot give class activation maps: {exc}") from None
        if selection is not None:
            result["selected"] = _selected_block(result, selection)
        model_cfg = cfg.get("model", {})
        result["config"] = {
            "checkpoint": None if checkpoint is None else str(checkpoint),
            "weights": None if weights is None else str(weights),
            "model": model_cfg.get("name"),
            "adl": bool(model_cfg.get("adl", False)),
            "num_classes": model_cfg.get("num_classes"),
            "dataset": data_cfg.get("format"),
            "data_root": str(data_cfg.get("root")),
            "split": split,
            "region": r,
            "padding": padding,
            "threshold": threshold,
            "max_box_acc": max_box_acc,
            "cam_curve_step": cam_curve_step,
            "ablation": ablation,
            "pxap": pxap,
            "saved_maps": None if save_maps is None else str(save_maps),
            "baselines": list(baselines),
            "select_on": select_on,
            "world_size": ctx.world_size,
            "cpu_workers": cpu_workers,
            # each row's recipe, for the tables
            "variants": {v.name: {"method": v.method, "region": v.region, "width": v.width,
                                  "threshold": v.threshold if v.threshold is not None else threshold}
                         for v in variants if not v.name.endswith(SELECTED)},
        }
        if faithfulness is not None:
            result["config"]["faithfulness_steps"] = faithfulness
            result["config"]["faithfulness_images"] = faithfulness_images
        if not ctx.is_main:
            return None
        if json_out:
            atomic_write_json(json_out, result)
        return result
    finally:
        D.cleanup(ctx)
