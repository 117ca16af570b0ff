"""Seeds, deterministic settings and RNG states that fit in a weights-only checkpoint.

The trainer's randomness comes from four places, each handled here:

* the global RNGs of Python, NumPy and torch (+ CUDA): seeded by
  :func:`seed_everything`, saved and restored with :func:`get_rng_state` /
  :func:`set_rng_state` (tensors and lists only, so ``weights_only`` loads
  them);
* the shuffling order: ``DistributedSampler(seed)`` with ``set_epoch``, a
  function of (seed, epoch) alone;
* DataLoader workers: each epoch's loader gets a generator seeded from
  (seed, epoch, rank) by :func:`loader_generator`, and :func:`worker_init_fn`
  seeds NumPy and ``random`` in each worker from torch's worker seed;
* nondeterministic kernels: :func:`set_deterministic`.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

__all__ = [
    "derive_seed",
    "draw_seed",
    "get_rng_state",
    "loader_generator",
    "restore_deterministic",
    "seed_everything",
    "set_deterministic",
    "set_rng_state",
    "worker_init_fn",
]

_MASK = 2**31 - 1


def derive_seed(seed: int, *parts: int) -> int:
    """A seed in [0, 2**31) derived from ``seed`` and integers (epoch, rank, ...)."""
    x = seed & 0xFFFFFFFFFFFF
    for p in parts:
        x = (x * 1_000_003 + p + 0x9E3779B9) & 0xFFFFFFFFFFFF
    return x & _MASK


def draw_seed() -> int:
    """A fresh random seed from the OS (for ``seed: null``)."""
    return int.from_bytes(os.urandom(4), "little") & _MASK


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.manual_seed(seed)  # also seeds every CUDA device


def worker_init_fn(worker_id: int) -> None:
    """Seed NumPy and ``random`` in a DataLoader worker from torch's per-worker seed."""
    s = torch.initial_seed() & 0xFFFFFFFF
    np.random.seed(s)
    random.seed(s)


def loader_generator(seed: int, epoch: int, rank: int) -> torch.Generator:
    """The generator for one epoch's DataLoader: worker seeds depend on (seed, epoch, rank)."""
    g = torch.Generator()
    g.manual_seed(derive_seed(seed, epoch, rank))
    return g


def set_deterministic(enabled: bool, device_type: str) -> tuple[bool, bool, bool, bool, bool]:
    """Switch deterministic kernels on or off; returns the previous settings.

    On: ``torch.use_deterministic_algorithms(True, warn_only=True)`` (an op
    without a deterministic kernel warns instead of failing), cuDNN
    deterministic, no cuDNN benchmark, and ``CUBLAS_WORKSPACE_CONFIG`` on GPU.
    Off on GPU: cuDNN benchmark on (fastest convolutions for fixed shapes).
    Deterministic mode would also fill every new tensor with NaN
    (``fill_uninitialized_memory``), a debugging aid that cost 19% of a CPU
    training step and changes no result: it stays off.
    """
    fill = torch.utils.deterministic
    prev = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        fill.fill_uninitialized_memory,
    )
    fill.fill_uninitialized_memory = False
    if enabled:
        if device_type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    else:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
        torch.backends.cudnn.benchmark = device_type == "cuda"
    return prev


def restore_deterministic(prev: tuple[bool, bool, bool, bool, bool]) -> None:
    """Undo :func:`set_deterministic` (the process-wide switches are put back)."""
    enabled, warn_only, cudnn_det, cudnn_bench, fill = prev
    torch.utils.deterministic.fill_uninitialized_memory = fill
    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
    torch.backends.cudnn.deterministic = cudnn_det
    torch.backends.cudnn.benchmark = cudnn_bench


def get_rng_state() -> dict[str, Any]:
    """This process's RNG states as tensors and primitives (``weights_only``-loadable)."""
    version, internal, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {
            "version": int(version),
            "internal": torch.tensor(internal, dtype=torch.int64),
            "gauss": gauss,
        },
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": [],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states saved by :func:`get_rng_state`."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["internal"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            npy["keys"].numpy().astype(np.uint32),
            npy["pos"],
            npy["has_gauss"],
            npy["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
