"""The one trainer: :func:`fit` serves the CLI, the demo and the benchmarks.

One process per device; under ``torchrun`` the model is wrapped in
DistributedDataParallel, each process reads its shard of the data
(``DistributedSampler``, ``set_epoch`` every epoch) and the validation
counts are summed over the processes (never averaged percentages). Only
rank 0 writes files and prints. Run directory::

    config.yaml     the resolved config (seed included)
    metrics.jsonl   one JSON line per epoch
    last.pt         after every epoch (resume from here)
    best.pt         the epoch with the best validation score

Checkpoints are written atomically (``best.pt`` before ``last.pt``, so a
crash between the two never loses the best one), and ``resume=True``
continues exactly: model, optimizer, lr schedule, AMP scaler, every
process's RNG states, epoch and best score come back, and the data order
is a function of (seed, epoch). ``train.batch_size`` is the global batch: N
processes each take ``batch_size / N``, so the optimisation is the same on
1 or 8 GPUs.

The training step is lean: no host-device synchronisation per step (the
loss is summed on the device; the progress bar reads it every
``train.log_every`` steps, and only on a terminal).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from tqdm.auto import tqdm

from infocam.engine import distributed as D
from infocam.engine.checkpoint import (
    FORMAT,
    VERSION,
    atomic_torch_save,
    check_model_cfg,
    load_checkpoint,
    load_model_state,
    read_checkpoint,
)
from infocam.engine.config import MULTI_LABEL_LOSSES, config_diff, resolve_config, save_config
from infocam.engine.seed import (
    derive_seed,
    draw_seed,
    get_rng_state,
    loader_generator,
    restore_deterministic,
    seed_everything,
    set_deterministic,
    set_rng_state,
    worker_init_fn,
)
from infocam.errors import InputError

__all__ = ["RUN_FILES", "TrainResult", "build_optimizer", "fit", "lr_at_epoch"]

RUN_FILES = ("config.yaml", "metrics.jsonl", "last.pt", "best.pt")


@dataclass
class TrainResult:
    """What :func:`fit` returns (on every process; only rank 0 wrote the files)."""

    out_dir: Path
    model: nn.Module  # the final (last-epoch) weights, unwrapped, in eval mode
    cfg: dict[str, Any]
    best_path: Path
    last_path: Path
    best_score: float
    best_epoch: int
    epochs: int  # epochs completed in total (including those before a resume)
    select_metric: str
    history: list[dict[str, Any]] = field(default_factory=list)

    def load_best(self, device: str | torch.device = "cpu") -> nn.Module:
        """The model of ``best.pt`` (the checkpoint the evaluator should test)."""
        return load_checkpoint(self.best_path, device)[0]


# --------------------------------------------------------------------------- helpers


def lr_at_epoch(base_lr: float, epoch: int, milestones: list[int], gamma: float) -> float:
    """The step schedule: ``base_lr * gamma ** (number of milestones <= epoch)``."""
    return base_lr * gamma ** sum(1 for m in milestones if m <= epoch)


def build_optimizer(
    model: nn.Module, cfg: Mapping[str, Any]
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.MultiStepLR]:
    """SGD (momentum, Nesterov, weight decay) with new layers at ``new_layer_lr_mult x`` lr.

    The groups come from :func:`infocam.models.param_groups` (call before DDP).
    The schedule multiplies every group's lr by ``gamma`` at each milestone.
    """
    from infocam.models import param_groups

    t = cfg["train"]
    groups = param_groups(model, t["lr"], t["new_layer_lr_mult"])
    opt = torch.optim.SGD(
        groups,
        lr=t["lr"],
        momentum=t["momentum"],
        nesterov=t["nesterov"],
        weight_decay=t["weight_decay"],
    )
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=t["milestones"], gamma=t["gamma"])
    return opt, sched


class _ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...``: an exact partition (no padding) for evaluation."""

    def __init__(self, n: int, rank: int, world: int) -> None:
        self.n, self.rank, self.world = n, rank, world

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world))


def _collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    from infocam.data.collate import collate

    return collate(batch)


def _build_datasets(cfg: dict[str, Any]) -> tuple[Dataset, Dataset]:
    data = {k: v for k, v in cfg["data"].items() if v is not None}
    fmt = data.get("format")
    if fmt is None:
        raise InputError("data.format: required (cub, tiny-imagenet, wsol, csv or synthetic)")
    if fmt == "synthetic":
        from infocam.engine.synthetic import build_synthetic

        return build_synthetic(data, "train", True), build_synthetic(data, "val", False)
    from infocam.data import build_dataset

    return build_dataset(data, "train", True), build_dataset(data, "val", False)


def _build_model(cfg: dict[str, Any]) -> nn.Module:
    from infocam.models import build_model

    m = cfg["model"]
    return build_model(
        m["name"],
        m["num_classes"],
        adl=m["adl"],
        adl_drop_rate=m["adl_drop_rate"],
        adl_gamma=m["adl_gamma"],
        pretrained=m["pretrained"],
        weights=m["weights"],
        in_channels=m["in_channels"],
    )


def _labels_of(ds: Dataset) -> Tensor:
    """Every training label, for the class priors (without decoding images when possible)."""
    labels = getattr(ds, "labels", None)
    if labels is None:
        labels = [ds[i]["label"] for i in range(len(ds))]  # type: ignore[arg-type]
    if len(labels) and isinstance(labels[0], Tensor) and labels[0].ndim > 0:
        return torch.stack([torch.as_tensor(v) for v in labels])
    return torch.as_tensor(labels)


def _make_loss(cfg: dict[str, Any], train_set: Dataset, m: int) -> Callable[[Tensor, Tensor], Tensor]:
    kind = cfg["train"]["loss"]
    if kind == "ce":
        return F.cross_entropy
    if kind == "bce":
        return lambda logits, y: F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype))
    from infocam import losses

    labels = _labels_of(train_set)
    if kind == "pc_softmax":
        priors = losses.class_priors(labels.long(), m)
        return lambda logits, y: losses.pc_softmax_cross_entropy(logits, y, priors)
    priors = losses.label_priors(labels)
    return lambda logits, y: losses.pc_sigmoid_bce(logits, y, priors)


def _select_metric(cfg: dict[str, Any]) -> str:
    sel = cfg["train"]["select_metric"]
    multi = cfg["train"]["loss"] in MULTI_LABEL_LOSSES
    if sel == "auto":
        return "label_acc" if multi else "top1"
    if multi != (sel == "label_acc"):
        raise InputError(
            f"train.select_metric: {sel} does not apply to train.loss={cfg['train']['loss']} "
            f"({'multi' if multi else 'single'}-label); use auto"
        )
    return sel


def _per_rank(total: int, world: int, key: str) -> int:
    if total % world:
        raise InputError(
            f"{key}: {total} is the global batch and must divide evenly over the "
            f"{world} processes (e.g. --set {key}={math.ceil(total / world) * world})"
        )
    return total // world


def _loader(ds: Dataset, batch: int, sampler: Sampler, cfg: dict, dev: torch.device,
            generator: torch.Generator | None = None) -> DataLoader:
    workers = cfg["train"]["num_workers"]
    return DataLoader(
        ds,
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=dev.type == "cuda",
        worker_init_fn=worker_init_fn if workers else None,
        generator=generator,
        persistent_workers=False,  # fresh workers per epoch: seeds follow the epoch (resume)
    )


def _prepare_run_dir(out: Path, resume: bool, overwrite: bool) -> Path | None:
    """Check ``out`` (rank 0); returns the checkpoint to resume from, if any."""
    if resume and overwrite:
        raise InputError("--resume and --overwrite: give one of them, not both")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    for tmp in out.glob(".*.tmp") if out.is_dir() else ():
        if any(tmp.name.startswith(f".{n}.") for n in RUN_FILES):
            tmp.unlink(missing_ok=True)  # a write that a crash interrupted
    found = [n for n in RUN_FILES if (out / n).exists()]
    if resume:
        if (out / "last.pt").is_file():
            return out / "last.pt"
        if not found:
            raise InputError(f"{out}: --resume: no previous run here (no last.pt)")
        return None  # started, but no epoch finished: start from the beginning
    if found and not overwrite:
        raise InputError(
            f"{out}: holds a previous run ({', '.join(found)}); pass --resume to continue "
            "it or --overwrite to replace it"
        )
    for n in found:
        (out / n).unlink()
    out.mkdir(parents=True, exist_ok=True)
    return None


def _on_main(ctx: D.DistContext, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on rank 0 and share its result (or its InputError) with every rank."""
    result: tuple[str, Any] = ("ok", None)
    if ctx.is_main:
        try:
            result = ("ok", fn())
        except InputError as exc:
            result = ("error", str(exc))
    result = D.broadcast_object(result)
    if result[0] == "error":
        raise InputError(result[1])
    return result[1]


def _read_log(path: Path, upto_epoch: int) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("epoch", 0) <= upto_epoch]


def _write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    from infocam.engine.checkpoint import atomic_write

    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    atomic_write(path, lambda f: f.write(data))


def _append_log(path: Path, row: Mapping[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


# --------------------------------------------------------------------------- one epoch


@torch.no_grad()
def _validate(model: nn.Module, loader: DataLoader, loss_fn: Callable, multi: bool,
              m: int, dev: torch.device, autocast: Callable[[], Any], mf: torch.memory_format
              ) -> dict[str, float]:
    """Summed counts over all processes -> top-1/top-5 (or per-label) accuracy in percent."""
    model.eval()
    width = m + 2 if multi else 4
    counts = torch.zeros(width, dtype=torch.float64, device=dev)
    for batch in loader:
        images = batch["image"].to(dev, non_blocking=True, memory_format=mf)
        labels = batch["label"].to(dev, non_blocking=True)
        with autocast():
            logits = model(images)
        logits = logits.float()
        n = images.shape[0]
        if multi:
            counts[:m] += ((logits > 0) == (labels > 0.5)).sum(0)
        else:
            top = logits.topk(min(5, m), dim=1).indices == labels[:, None]
            counts[0] += top[:, 0].sum()
            counts[1] += top.any(1).sum()
        counts[-2] += n
        counts[-1] += loss_fn(logits, labels).double() * n
    D.all_reduce_sum(counts)
    total = float(counts[-2])
    if total == 0:
        raise InputError("data: the validation split is empty")
    out = {"val_images": int(total), "val_loss": float(counts[-1]) / total}
    if multi:
        per_label = counts[:m] / total * 100
        out["val_label_acc"] = float(per_label.mean())
        out["val_per_label_acc"] = [round(float(v), 4) for v in per_label]
    else:
        out["val_top1"] = float(counts[0]) / total * 100
        out["val_top5"] = float(counts[1]) / total * 100
    return out


# --------------------------------------------------------------------------- fit


def fit(
    cfg: Mapping[str, Any],
    out_dir: str | Path,
    *,
    model: nn.Module | None = None,
    train_set: Dataset | None = None,
    val_set: Dataset | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train ``cfg``'s model, select by validation score, write the run to ``out_dir``.

    Args:
        cfg: a config (see :mod:`infocam.engine.config`); partial dicts are
            completed with the defaults.
        out_dir: the run directory (see the module docstring). A directory
            holding a previous run is refused unless ``resume`` or ``overwrite``.
        model: a model to train instead of building ``cfg.model`` (it must be
            what ``cfg.model`` describes for :func:`load_checkpoint` to rebuild it).
        train_set, val_set: datasets instead of building ``cfg.data``.
        resume: continue from ``out_dir/last.pt`` up to ``cfg.train.epochs``.
        overwrite: delete a previous run in ``out_dir`` first.
        progress: progress bar (on a terminal) and one line per epoch, rank 0 only.

    Runs under ``torchrun`` as well (one call per process).
    """
    cfg = resolve_config(cfg)
    out = Path(out_dir)
    ctx = D.init_distributed(cfg["device"])
    det = cfg["train"]["deterministic"]
    det = ctx.device.type == "cpu" if det == "auto" else bool(det)
    prev_det = set_deterministic(det, ctx.device.type)
    try:
        result = _fit(cfg, out, ctx, model, train_set, val_set, resume, overwrite, progress)
        D.barrier()  # tear the group down together: gloo aborts if a peer leaves mid-way
        return result
    finally:
        restore_deterministic(prev_det)
        D.cleanup(ctx)


def _fit(cfg: dict[str, Any], out: Path, ctx: D.DistContext, model: nn.Module | None,
         train_set: Dataset | None, val_set: Dataset | None, resume: bool, overwrite: bool,
         progress: bool) -> TrainResult:
    dev, t = ctx.device, cfg["train"]
    say = (lambda msg: tqdm.write(msg, file=sys.stderr)) if progress and ctx.is_main else (
        lambda msg: None)
    ckpt_path = _on_main(ctx, lambda: _prepare_run_dir(out, resume, overwrite))
    ckpt = read_checkpoint(ckpt_path) if ckpt_path is not None else None
    if ckpt is not None and cfg["seed"] is None:
        cfg["seed"] = ckpt["cfg"]["seed"]
    if cfg["seed"] is None:
        cfg["seed"] = D.broadcast_object(draw_seed())
    seed = cfg["seed"]
    seed_everything(seed)  # the same model initialisation on every process

    if train_set is None or val_set is None:
        built = _build_datasets(cfg)
        train_set = train_set if train_set is not None else built[0]
        val_set = val_set if val_set is not None else built[1]
    m = cfg["model"]["num_classes"]
    ds_m = getattr(train_set, "num_classes", None)
    if m is None:
        m = ds_m
    elif ds_m is not None and ds_m != m:
        raise InputError(f"model.num_classes: {m}, but the dataset has {ds_m} classes")
    if m is None:
        raise InputError("model.num_classes: required (the dataset does not say)")
    cfg["model"]["num_classes"] = m
    if ckpt is not None:
        check_model_cfg(ckpt["cfg"]["model"], cfg["model"], ckpt_path)
        changed = config_diff(ckpt["cfg"], cfg)
        if changed:
            say(f"resuming with changed settings: {'; '.join(changed)}")
    if model is None:
        model = _build_model(cfg)
    multi = t["loss"] in MULTI_LABEL_LOSSES
    select = _select_metric(cfg)
    loss_fn = _make_loss(cfg, train_set, m)

    cuda = dev.type == "cuda"
    mf = torch.channels_last if cuda and t["channels_last"] else torch.preserve_format
    if ctx.distributed and t["sync_bn"]:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if mf is torch.channels_last:
        model.to(dev, memory_format=mf)
    else:
        model.to(dev)
    opt, sched = build_optimizer(model, cfg)
    amp_dtype = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[t["amp"]]
    if amp_dtype is not None and not cuda:
        say(f"train.amp={t['amp']}: mixed precision is for GPUs; training in float32 on CPU")
        amp_dtype = None
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype is torch.float16)

    def autocast() -> Any:
        if amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(dev.type, dtype=amp_dtype)

    start, best_score, best_epoch = 0, -math.inf, 0
    if ckpt is not None:
        load_model_state(model, ckpt["model"], ckpt_path)
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        sched.milestones = type(sched.milestones)(t["milestones"])  # the config wins
        sched.gamma = t["gamma"]
        scaler.load_state_dict(ckpt["scaler"])
        start, best_score, best_epoch = ckpt["epoch"], ckpt["best_score"], ckpt["best_epoch"]
    raw_model = model
    if ctx.distributed:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if cuda else None
        )

    batch = _per_rank(t["batch_size"], ctx.world_size, "train.batch_size")
    vbatch = _per_rank(t["val_batch_size"] or t["batch_size"], ctx.world_size,
                       "train.val_batch_size" if t["val_batch_size"] else "train.batch_size")
    sampler = DistributedSampler(train_set, num_replicas=ctx.world_size, rank=ctx.rank,
                                 shuffle=True, seed=seed)
    val_loader = _loader(val_set, vbatch, _ShardSampler(len(val_set), ctx.rank, ctx.world_size),
                         cfg, dev)

    history: list[dict[str, Any]] = []
    if ctx.is_main:
        save_config(cfg, out / "config.yaml")
        history = _read_log(out / "metrics.jsonl", start)
        if ckpt is not None or (out / "metrics.jsonl").exists():
            _write_log(out / "metrics.jsonl", history)  # drop epochs the crash lost
    if ckpt is not None:
        rngs = ckpt["rng"]
        if len(rngs) == ctx.world_size:
            set_rng_state(rngs[ctx.rank])
        else:
            say(f"resuming on {ctx.world_size} processes, saved on {len(rngs)}: the random "
                "streams restart from the seed (the run is not bit-identical)")
            seed_everything(derive_seed(seed, start, ctx.rank, 1))
        say(f"resumed {ckpt_path} at epoch {start} (best {select} {best_score:.2f} at "
            f"epoch {best_epoch})")
    else:
        seed_everything(derive_seed(seed, ctx.rank, 1))  # per-process training randomness

    epochs, log_every = t["epochs"], max(1, t["log_every"])
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        model.train()
        sampler.set_epoch(epoch)
        loader = _loader(train_set, batch, sampler, cfg, dev,
                         loader_generator(seed, epoch, ctx.rank))
        steps = len(loader) if t["max_steps_per_epoch"] is None else min(
            len(loader), t["max_steps_per_epoch"])
        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", leave=False, unit="step",
                   disable=None if progress and ctx.is_main else True, file=sys.stderr)
        loss_sum = torch.zeros((), dtype=torch.float32, device=dev)
        seen = 0
        for step, b in enumerate(loader):
            if step >= steps:
                break
            images = b["image"].to(dev, non_blocking=True, memory_format=mf)
            labels = b["label"].to(dev, non_blocking=True)
            if step == 0 and multi != (labels.ndim == 2):
                raise InputError(
                    f"train.loss={t['loss']} needs {'multi-hot' if multi else 'class-index'} "
                    f"labels; this dataset's labels have shape {tuple(labels.shape[1:])} per image"
                )
            with autocast():
                loss = loss_fn(model(images), labels)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if t["grad_clip"] is not None:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
            scaler.step(opt)
            scaler.update()
            loss_sum.add_(loss.detach().float(), alpha=images.shape[0])
            seen += images.shape[0]
            if not bar.disable:
                bar.update(1)
                if (step + 1) % log_every == 0:
                    bar.set_postfix(loss=f"{loss.item():.4f}")
        bar.close()
        if cuda:
            torch.cuda.synchronize(dev)
        train_s = time.perf_counter() - t0
        totals = D.all_reduce_sum(torch.stack([loss_sum.double(),
                                               torch.tensor(float(seen), device=dev,
                                                            dtype=torch.float64)]))
        lr = min(g["lr"] for g in opt.param_groups)
        val = _validate(raw_model, val_loader, loss_fn, multi, m, dev, autocast, mf)
        sched.step()
        score = val[f"val_{select}"]
        is_best = score > best_score
        if is_best:
            best_score, best_epoch = score, epoch + 1
        row = {
            "epoch": epoch + 1,
            "train_loss": float(totals[0] / max(totals[1], 1)),
            **{k: v for k, v in val.items()},
            "score": score,
            "best": is_best,
            "lr": lr,
            "seconds": time.perf_counter() - t0,
            "train_seconds": train_s,
            "images_per_s": float(totals[1]) / train_s if train_s > 0 else 0.0,
            "train_images": int(totals[1]),
            "world_size": ctx.world_size,
        }
        rngs = D.all_gather_object(get_rng_state())
        if ctx.is_main:
            state = {
                "format": FORMAT,
                "version": VERSION,
                "model": raw_model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": rngs,
                "epoch": epoch + 1,
                "best_score": best_score,
                "best_epoch": best_epoch,
                "cfg": cfg,
                "meta": _meta(cfg, ctx, select, row),
            }
            if is_best:
                atomic_torch_save(state, out / "best.pt")
            atomic_torch_save(state, out / "last.pt")
            _append_log(out / "metrics.jsonl", row)
        history.append(row)
        say(_summary(row, select, best_score, best_epoch, epochs))
    raw_model.eval()
    return TrainResult(out, raw_model, cfg, out / "best.pt", out / "last.pt", best_score,
                       best_epoch, max(start, epochs), select, history)


def _meta(cfg: dict, ctx: D.DistContext, select: str, row: Mapping[str, Any]) -> dict:
    import infocam

    return {
        "model_name": cfg["model"]["name"],
        "num_classes": cfg["model"]["num_classes"],
        "select_metric": select,
        "metrics": dict(row),
        "seed": cfg["seed"],
        "world_size": ctx.world_size,
        "device": ctx.device.type,
        "infocam_version": infocam.__version__,
        "torch_version": str(torch.__version__),
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _summary(row: Mapping[str, Any], select: str, best: float, best_epoch: int,
             epochs: int) -> str:
    return (
        f"epoch {row['epoch']}/{epochs}  loss {row['train_loss']:.4f}  "
        f"val {select} {row[f'val_{select}']:.2f}  (best {best:.2f} @ {best_epoch})  "
        f"lr {row['lr']:.3g}  {row['seconds']:.1f} s  {row['images_per_s']:.0f} img/s"
    )
