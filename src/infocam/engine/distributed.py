"""Distributed helpers: one process per device, started by ``torchrun``.

``torchrun`` (single or multi node) sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed`
reads them and starts the process group: NCCL when the process drives a GPU,
gloo on CPU. Without them (or with ``WORLD_SIZE=1``) everything runs in one
process and the collective helpers are no-ops, so the trainer has one code
path. Use :func:`distributed` (a context manager) to be sure that the group
is destroyed, even on error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from infocam.errors import InputError

__all__ = [
    "DistContext",
    "all_gather_object",
    "all_reduce_sum",
    "barrier",
    "broadcast_object",
    "cleanup",
    "distributed",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_dist",
    "is_main",
    "resolve_device",
]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank, world size, local rank and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None = None
    owns_group: bool = False  # True when init_distributed started the group

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise InputError(f"environment variable {name}={text!r} is not an integer") from None


def resolve_device(pref: str, local_rank: int = 0) -> torch.device:
    """The device of this process.

    ``auto``: GPU ``local_rank`` if there is a GPU, else the CPU; ``cuda``: that
    GPU or an error; ``cuda:N``: GPU N (one process only); ``cpu``.
    """
    index = None
    if isinstance(pref, str) and pref.startswith("cuda:") and pref[5:].isdigit():
        index = int(pref[5:])
        pref = "cuda"
    if pref not in ("auto", "cpu", "cuda"):
        raise InputError(f"device: must be auto, cpu, cuda or cuda:N, got {pref!r}")
    if pref == "cpu":
        return torch.device("cpu")
    if index is not None:
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise InputError(f"device: cuda:{index} was asked for, but that GPU is not visible")
        if _env_int("WORLD_SIZE", 1) > 1:
            raise InputError("device: cuda:N is for one process; under torchrun use cuda or auto")
        return torch.device("cuda", index)
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        if local_rank >= n:
            raise InputError(
                f"LOCAL_RANK={local_rank} but only {n} GPU(s) are visible: start at most "
                f"{n} processes per node (torchrun --nproc-per-node {n})"
            )
        return torch.device("cuda", local_rank)
    if pref == "cuda":
        raise InputError("device: cuda was asked for, but no GPU is visible to torch")
    return torch.device("cpu")


def is_dist() -> bool:
    """True when a process group is running."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """This process's global rank (0 without a process group)."""
    return dist.get_rank() if is_dist() else 0


def get_world_size() -> int:
    """The number of processes (1 without a process group)."""
    return dist.get_world_size() if is_dist() else 1


def is_main() -> bool:
    """True on rank 0 (and in a single process)."""
    return get_rank() == 0


def init_distributed(device: str = "auto", timeout_s: float = 1800.0) -> DistContext:
    """Start the process group from torchrun's environment (or reuse a running one)."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if is_dist():
        rank, world = dist.get_rank(), dist.get_world_size()
        dev = resolve_device(device, local_rank)
        return DistContext(rank, world, local_rank, dev, dist.get_backend(), owns_group=False)
    if world < 1 or not 0 <= rank < world:
        raise InputError(f"bad torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    dev = resolve_device(device, local_rank)
    if world == 1:
        return DistContext(0, 1, local_rank, dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return DistContext(rank, world, local_rank, dev, backend, owns_group=True)


def cleanup(ctx: DistContext) -> None:
    """Destroy the process group if :func:`init_distributed` started it."""
    if ctx.owns_group and is_dist():
        dist.destroy_process_group()


@contextmanager
def distributed(device: str = "auto") -> Iterator[DistContext]:
    """``with distributed("auto") as ctx:`` - init from the environment, clean up in finally."""
    ctx = init_distributed(device)
    try:
        yield ctx
    finally:
        cleanup(ctx)


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all processes, in place; returns it (no-op in one process).

    Reduce counts, never percentages: the accuracy is ``sum(hits) / sum(count)``.
    """
    if is_dist():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier() -> None:
    """Wait for every process (no-op in one process)."""
    if is_dist():
        dist.barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every process (picklable, small objects only)."""
    if not is_dist():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_object(obj: Any) -> list[Any]:
    """Every process's ``obj``, in rank order (picklable, small objects only)."""
    if not is_dist():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
