"""The one trainer: :func:`fit` serves the CLI, the demo and the benchmarks.

One process per device; under ``torchrun`` the model is wrapped in
DistributedDataParallel, each process reads its shard of the data
(``DistributedSampler``, ``set_epoch`` every epoch) and the validation
counts are summed over the processes (never averaged percentages). Only
rank 0 writes files and prints. The run directory is described in
:mod:`infocam.engine.rundir`.

Checkpoints are written atomically (``best.pt`` before ``last.pt``, so a
crash between the two never loses the best one), and ``resume=True``
continues exactly: model, optimizer, lr schedule, AMP scaler, every
process's RNG states, epoch and best score come back, and the data order
is a function of (seed, epoch). ``train.batch_size`` is the global batch: N
processes each take ``batch_size / N``, so the optimisation is the same on
1 or 8 GPUs.

Validation runs after every ``train.val_every``-th epoch and after the
last one; the other epochs' log rows have no ``val_*`` keys and a null
``score``, and ``best.pt`` is the best of the validated epochs.

The training step is lean: no host-device synchronisation per step (the
loss is summed on the device; the progress bar reads it every
``train.log_every`` steps, and only on a terminal).
"""

from __future__ import annotations

import contextlib
import gc
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from infocam.engine import distributed as D
from infocam.engine.build import (
    ShardSampler,
    build_datasets,
    build_model_from_cfg,
    build_optimizer,
    lr_at_epoch,
    make_loader,
    make_loss,
    per_rank_batch,
    select_metric,
    workers_stopped_on_error,
)
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
from infocam.engine.rundir import append_log, check_run_dir, create_run_dir, read_log, write_log
from infocam.engine.seed import (
    derive_seed,
    draw_seed,
    get_rng_state,
    loader_generator,
    restore_deterministic,
    seed_everything,
    set_deterministic,
    set_rng_state,
)
from infocam.errors import InputError

__all__ = ["TrainResult", "build_optimizer", "fit", "lr_at_epoch"]


@dataclass
class TrainResult:
    """What :func:`fit` returns (on every process; only rank 0 wrote the files)."""

    out_dir: Path
    model: nn.Module  # the final (last-epoch) weights, unwrapped, in eval mode
    cfg: dict[str, Any]  # the resolved config (seed and num_classes filled in)
    best_path: Path
    last_path: Path
    best_score: float
    best_epoch: int
    epochs: int  # epochs completed in total (including those before a resume)
    select_metric: str
    history: list[dict[str, Any]] = field(default_factory=list)  # metrics.jsonl rows

    def load_best(self, device: str | torch.device = "cpu") -> nn.Module:
        """The model of ``best.pt`` (the checkpoint the evaluator should test)."""
        return load_checkpoint(self.best_path, device)[0]


@dataclass
class _Run:
    """Everything one training run needs, built once by :func:`_setup`."""

    cfg: dict[str, Any]
    ctx: D.DistContext
    out: Path
    model: nn.Module  # DDP-wrapped under torchrun
    raw_model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.MultiStepLR
    scaler: torch.amp.GradScaler
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    amp_dtype: torch.dtype | None
    memory_format: torch.memory_format
    multi: bool
    select: str
    num_classes: int
    train_set: Dataset
    sampler: DistributedSampler
    batch: int
    val_loader: DataLoader
    say: Callable[[str], None]
    progress: bool
    start: int = 0
    best_score: float = -math.inf
    best_epoch: int = 0

    def autocast(self) -> Any:
        """Mixed precision on GPUs when ``train.amp`` asks for it."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.ctx.device.type, dtype=self.amp_dtype)


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
        out_dir: the run directory. A directory holding a previous run is
            refused unless ``resume`` or ``overwrite``.
        model: a model to train instead of building ``cfg.model`` (it must be
            what ``cfg.model`` describes for :func:`load_checkpoint` to rebuild it).
        train_set, val_set: datasets instead of building ``cfg.data``.
        resume: continue from ``out_dir/last.pt`` up to ``cfg.train.epochs``.
        overwrite: delete a previous run in ``out_dir`` first.
        progress: progress bar (on a terminal) and one line per epoch, rank 0 only.

    Runs under ``torchrun`` as well (every process calls it).
    """
    cfg = resolve_config(cfg)
    ctx = D.init_distributed(cfg["device"])
    det = cfg["train"]["deterministic"]
    det = ctx.device.type == "cpu" if det == "auto" else bool(det)
    prev_det = set_deterministic(det, ctx.device.type)
    try:
        run = _setup(cfg, Path(out_dir), ctx, model, train_set, val_set, resume, overwrite,
                     progress)
        result = _train(run)
        if ctx.owns_group:
            # Let go of DDP and loaders (they hold the process group) before the group
            # goes, and leave together: a gloo peer that vanishes mid-teardown can abort.
            del run
            gc.collect()
            D.barrier()
        return result
    finally:
        restore_deterministic(prev_det)
        D.cleanup(ctx)


# --------------------------------------------------------------------------- setup


def _on_main(ctx: D.DistContext, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on rank 0 and share its result (or its error) with every rank."""
    result: tuple[str, Any] = ("ok", None)
    if ctx.is_main:
        try:
            result = ("ok", fn())
        except (InputError, OSError) as exc:  # every rank must learn of it, or they hang
            result = ("error", str(exc))
    result = D.broadcast_object(result)
    if result[0] == "error":
        raise InputError(result[1])
    return result[1]


def _resolve_classes(cfg: dict[str, Any], train_set: Dataset) -> int:
    m = cfg["model"]["num_classes"]
    ds_m = getattr(train_set, "num_classes", None)
    if m is None:
        m = ds_m
    elif ds_m is not None and ds_m != m:
        raise InputError(f"model.num_classes: {m}, but the dataset has {ds_m} classes")
    if m is None:
        raise InputError("model.num_classes: required (the dataset does not say)")
    cfg["model"]["num_classes"] = m
    return m


def _setup(cfg: dict[str, Any], out: Path, ctx: D.DistContext, model: nn.Module | None,
           train_set: Dataset | None, val_set: Dataset | None, resume: bool, overwrite: bool,
           progress: bool) -> _Run:
    dev, t = ctx.device, cfg["train"]

    def say(msg: str) -> None:
        if progress and ctx.is_main:
            tqdm.write(msg, file=sys.stderr)

    # nothing is written until the config, the data and the model are known to be good
    ckpt_path = _on_main(ctx, lambda: check_run_dir(out, resume, overwrite))
    ckpt = read_checkpoint(ckpt_path) if ckpt_path is not None else None
    if ckpt is not None and cfg["seed"] is None:
        cfg["seed"] = ckpt["cfg"]["seed"]
    if cfg["seed"] is None:
        cfg["seed"] = D.broadcast_object(draw_seed())
    seed = cfg["seed"]
    seed_everything(seed)  # the same model initialisation on every process

    if train_set is None or val_set is None:
        built = build_datasets(cfg)
        train_set = train_set if train_set is not None else built[0]
        val_set = val_set if val_set is not None else built[1]
    m = _resolve_classes(cfg, train_set)
    if ckpt is not None:
        check_model_cfg(ckpt["cfg"]["model"], cfg["model"], ckpt_path)
        changed = config_diff(ckpt["cfg"], cfg)
        if changed:
            say(f"resuming with changed settings: {'; '.join(changed)}")
    select = select_metric(cfg)
    every = t["val_every"]
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise InputError(f"train.val_every must be an integer >= 1 (epochs between validations); got {every!r}")
    if model is None:
        model = build_model_from_cfg(cfg)
    loss_fn = make_loss(cfg, train_set, m)

    cuda = dev.type == "cuda"
    # channels-last: on a GPU by default; on the CPU only when asked (it speeds up
    # small CNNs there, but slows ResNet50's CPU convolutions by ~5-15%)
    want_cl = cuda if t["channels_last"] == "auto" else bool(t["channels_last"])
    mf = torch.channels_last if want_cl else torch.preserve_format
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

    start, best_score, best_epoch = 0, -math.inf, 0
    if ckpt is not None:
        load_model_state(model, ckpt["model"], ckpt_path)
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        sched.milestones = type(sched.milestones)(t["milestones"])  # the config wins
        sched.gamma = t["gamma"]
        scaler.load_state_dict(ckpt["scaler"])
        start, best_score, best_epoch = ckpt["epoch"], ckpt["best_score"], ckpt["best_epoch"]
    wrapped = model
    if ctx.distributed:
        wrapped = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if cuda else None)

    vkey = "train.val_batch_size" if t["val_batch_size"] else "train.batch_size"
    vbatch = per_rank_batch(t["val_batch_size"] or t["batch_size"], ctx.world_size, vkey)
    run = _Run(
        cfg=cfg, ctx=ctx, out=out, model=wrapped, raw_model=model, opt=opt, sched=sched,
        scaler=scaler, loss_fn=loss_fn, amp_dtype=amp_dtype, memory_format=mf,
        multi=t["loss"] in MULTI_LABEL_LOSSES, select=select, num_classes=m,
        train_set=train_set,
        sampler=DistributedSampler(train_set, num_replicas=ctx.world_size, rank=ctx.rank,
                                   shuffle=True, seed=seed),
        batch=per_rank_batch(t["batch_size"], ctx.world_size, "train.batch_size"),
        val_loader=make_loader(val_set, vbatch, ShardSampler(len(val_set), ctx.rank,
                                                             ctx.world_size),
                               cfg, dev, loader_generator(seed, -1, ctx.rank)),
        say=say, progress=progress, start=start, best_score=best_score, best_epoch=best_epoch,
    )

    _on_main(ctx, lambda: create_run_dir(out, resume))
    if ctx.is_main:
        save_config(cfg, out / "config.yaml")
        log = out / "metrics.jsonl"
        if ckpt is not None or log.exists():
            write_log(log, read_log(log, start))  # drop epochs that a crash lost
    if ckpt is None:
        seed_everything(derive_seed(seed, ctx.rank, 1))  # per-process training randomness
    elif len(ckpt["rng"]) == ctx.world_size:
        set_rng_state(ckpt["rng"][ctx.rank])  # last: nothing above may draw after this
    else:
        say(f"resuming on {ctx.world_size} processes, saved on {len(ckpt['rng'])}: the "
            "random streams restart from the seed (the run is not bit-identical)")
        seed_everything(derive_seed(seed, start, ctx.rank, 1))
    if ckpt is not None:
        say(f"resumed {ckpt_path} at epoch {start} (best {select} {best_score:.2f} at "
            f"epoch {best_epoch})")
    return run


# --------------------------------------------------------------------------- epochs


def _train(run: _Run) -> TrainResult:
    cfg, ctx, out = run.cfg, run.ctx, run.out
    history = read_log(out / "metrics.jsonl", run.start) if ctx.is_main else []
    epochs = cfg["train"]["epochs"]
    for epoch in range(run.start, epochs):
        t0 = time.perf_counter()
        loss_sum, seen = _train_epoch(run, epoch)
        train_s = time.perf_counter() - t0
        totals = D.all_reduce_sum(torch.stack([loss_sum.double(), seen.double()]))
        lr = min(g["lr"] for g in run.opt.param_groups)
        # every val_every-th epoch and the last; best.pt is chosen among these
        validated = (epoch + 1) % cfg["train"]["val_every"] == 0 or epoch + 1 == epochs
        val = _validate(run) if validated else {}
        run.sched.step()
        score = val.get(f"val_{run.select}")
        is_best = score is not None and score > run.best_score
        if is_best:
            run.best_score, run.best_epoch = score, epoch + 1
        images = float(totals[1])
        row = {
            "epoch": epoch + 1,
            "train_loss": float(totals[0]) / max(images, 1.0),
            **val,
            "score": score,
            "best": is_best,
            "lr": lr,
            "seconds": time.perf_counter() - t0,
            "train_seconds": train_s,
            "images_per_s": images / train_s if train_s > 0 else 0.0,
            "train_images": int(images),
            "world_size": ctx.world_size,
        }
        rngs = D.all_gather_object(get_rng_state())
        if ctx.is_main:
            state = _checkpoint(run, epoch + 1, row, rngs)
            if is_best:
                atomic_torch_save(state, out / "best.pt")
            atomic_torch_save(state, out / "last.pt")
            append_log(out / "metrics.jsonl", row)
        history.append(row)
        run.say(_summary(row, run.select, run.best_score, run.best_epoch, epochs))
    run.raw_model.eval()
    return TrainResult(
        out, run.raw_model, cfg, out / "best.pt", out / "last.pt", run.best_score,
        run.best_epoch, max(run.start, epochs), run.select, history,
    )


def _train_epoch(run: _Run, epoch: int) -> tuple[Tensor, Tensor]:
    """One pass over this process's shard; returns (summed loss, images) on the device."""
    t, dev, mf = run.cfg["train"], run.ctx.device, run.memory_format
    model, opt, scaler, loss_fn = run.model, run.opt, run.scaler, run.loss_fn
    model.train()
    run.sampler.set_epoch(epoch)
    loader = make_loader(run.train_set, run.batch, run.sampler, run.cfg, dev,
                         loader_generator(run.cfg["seed"], epoch, run.ctx.rank))
    steps = len(loader)
    if t["max_steps_per_epoch"] is not None:
        steps = min(steps, t["max_steps_per_epoch"])
    bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{t['epochs']}", leave=False, unit="step",
               disable=None if run.progress and run.ctx.is_main else True, file=sys.stderr)
    log_every, clip = max(1, t["log_every"]), t["grad_clip"]
    loss_sum = torch.zeros((), dtype=torch.float32, device=dev)
    seen = 0
    batches = iter(loader)
    with workers_stopped_on_error(batches):
        for step, batch in enumerate(batches):
            if step >= steps:
                break
            images = batch["image"].to(dev, non_blocking=True, memory_format=mf)
            labels = batch["label"].to(dev, non_blocking=True)
            if step == 0 and run.multi != (labels.ndim == 2):
                raise InputError(
                    f"train.loss={t['loss']} needs {'multi-hot' if run.multi else 'class-index'}"
                    f" labels; this dataset's labels have shape {tuple(labels.shape[1:])} per image"
                )
            with run.autocast():
                loss = loss_fn(model(images), labels)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if clip is not None:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            scaler.step(opt)
            scaler.update()
            loss_sum.add_(loss.detach().float(), alpha=images.shape[0])
            seen += images.shape[0]
            if not bar.disable:
                bar.update(1)
                if (step + 1) % log_every == 0:
                    bar.set_postfix(loss=f"{loss.item():.4f}")  # the only sync, on a terminal
    bar.close()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return loss_sum, torch.tensor(seen, dtype=torch.float64, device=dev)


@torch.no_grad()
def _validate(run: _Run) -> dict[str, Any]:
    """Counts summed over all processes -> top-1/top-5 (or per-label) accuracy in percent.

    Runs the unwrapped model: DDP's forward would synchronise buffers, and the
    processes may have different numbers of validation batches.
    """
    model, dev, m, multi = run.raw_model, run.ctx.device, run.num_classes, run.multi
    model.eval()
    counts = torch.zeros(m + 2 if multi else 4, dtype=torch.float64, device=dev)
    batches = iter(run.val_loader)
    with workers_stopped_on_error(batches):
        for batch in batches:
            images = batch["image"].to(dev, non_blocking=True, memory_format=run.memory_format)
            labels = batch["label"].to(dev, non_blocking=True)
            with run.autocast():
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
            counts[-1] += run.loss_fn(logits, labels).double() * n
    D.all_reduce_sum(counts)
    total = float(counts[-2])
    if total == 0:
        raise InputError("data: the validation split is empty")
    out: dict[str, Any] = {"val_images": int(total), "val_loss": float(counts[-1]) / total}
    if multi:
        per_label = counts[:m] / total * 100
        out["val_label_acc"] = float(per_label.mean())
        out["val_per_label_acc"] = [round(float(v), 4) for v in per_label]
    else:
        out["val_top1"] = float(counts[0]) / total * 100
        out["val_top5"] = float(counts[1]) / total * 100
    return out


def _checkpoint(run: _Run, epoch: int, row: Mapping[str, Any], rngs: list) -> dict[str, Any]:
    """The checkpoint dict: tensors and plain containers only (``weights_only``)."""
    import infocam

    cfg = run.cfg
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": run.raw_model.state_dict(),
        "optimizer": run.opt.state_dict(),
        "scheduler": run.sched.state_dict(),
        "scaler": run.scaler.state_dict(),
        "rng": rngs,
        "epoch": epoch,
        "best_score": run.best_score,
        "best_epoch": run.best_epoch,
        "cfg": cfg,
        "meta": {
            "model_name": cfg["model"]["name"],
            "num_classes": cfg["model"]["num_classes"],
            "select_metric": run.select,
            "metrics": dict(row),
            "seed": cfg["seed"],
            "world_size": run.ctx.world_size,
            "device": run.ctx.device.type,
            "infocam_version": infocam.__version__,
            "torch_version": str(torch.__version__),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    }


def _summary(row: Mapping[str, Any], select: str, best: float, best_epoch: int,
             epochs: int) -> str:
    val = f"val {select} {row[f'val_{select}']:.2f}" if row["score"] is not None else "not validated"
    return (
        f"epoch {row['epoch']}/{epochs}  loss {row['train_loss']:.4f}  "
        f"{val}  (best {best:.2f} @ {best_epoch})  "
        f"lr {row['lr']:.3g}  {row['seconds']:.1f} s  {row['images_per_s']:.0f} img/s"
    )
