"""The trainer's parts: optimizer and schedule, data, model, loss, loaders.

Each is built from the resolved config (:mod:`infocam.engine.config`);
:mod:`infocam.engine.trainer` puts them together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler

from infocam.engine.config import MULTI_LABEL_LOSSES
from infocam.engine.seed import worker_init_fn
from infocam.errors import InputError

__all__ = [
    "ShardSampler",
    "build_datasets",
    "build_model_from_cfg",
    "build_optimizer",
    "lr_at_epoch",
    "make_loader",
    "make_loss",
    "per_rank_batch",
    "select_metric",
    "workers_stopped_on_error",
]


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


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...``: an exact partition (no padding) for evaluation."""

    def __init__(self, n: int, rank: int, world: int) -> None:
        self.n, self.rank, self.world = n, rank, world

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world))


def build_datasets(cfg: dict[str, Any]) -> tuple[Dataset, Dataset]:
    """The training split (train transforms) and the validation half (test transforms)."""
    data = {k: v for k, v in cfg["data"].items() if v is not None}
    fmt = data.get("format")
    if fmt is None:
        raise InputError("data.format: required (cub, tiny-imagenet, wsol, csv or synthetic)")
    from infocam.data import build_dataset

    return build_dataset(data, "train", True), build_dataset(data, "val", False)


def build_model_from_cfg(cfg: dict[str, Any]) -> nn.Module:
    """:func:`infocam.models.build_model` with the ``model:`` section (num_classes resolved)."""
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


def make_loss(cfg: dict[str, Any], train_set: Dataset, m: int) -> Callable[[Tensor, Tensor], Tensor]:
    """``loss(logits, labels)`` for ``train.loss``; PC losses take priors from ``train_set``."""
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


def select_metric(cfg: dict[str, Any]) -> str:
    """The validation metric that picks ``best.pt`` (``auto``: top1, or label_acc if multi-label)."""
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


def per_rank_batch(total: int, world: int, key: str) -> int:
    """Each process's share of the global batch ``total`` (must divide evenly)."""
    if total % world:
        raise InputError(
            f"{key}: {total} is the global batch and must divide evenly over the "
            f"{world} processes (e.g. --set {key}={math.ceil(total / world) * world})"
        )
    return total // world


def make_loader(
    ds: Dataset,
    batch: int,
    sampler: Sampler,
    cfg: dict,
    dev: torch.device,
    generator: torch.Generator | None = None,
) -> DataLoader:
    """A DataLoader with infocam's collate, seeded workers and pinned memory on GPUs."""
    from infocam.data import collate

    workers = cfg["train"]["num_workers"]
    return DataLoader(
        ds,
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=dev.type == "cuda",
        worker_init_fn=worker_init_fn if workers else None,
        generator=generator,
        persistent_workers=False,  # fresh workers per epoch: seeds follow the epoch (resume)
    )


@contextmanager
def workers_stopped_on_error(batches: Iterator) -> Iterator[None]:
    """On an error, stop a DataLoader iterator's worker processes at once.

    An error raised in a worker comes back inside a reference cycle, so the
    iterator and its workers would otherwise live until a later garbage
    collection, which then stalls for seconds joining them.
    """
    try:
        yield
    except BaseException:
        stop = getattr(batches, "_shutdown_workers", None)
        if callable(stop) and not getattr(batches, "_persistent_workers", False):
            with suppress(Exception):
                stop()
        raise
