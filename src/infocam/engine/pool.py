"""The worker processes of scoring: one pool, forked where the OS allows.

:func:`infocam.engine.score.score_maps` and :func:`infocam.engine.evaluate.evaluate`
(with ``cpu_workers``) run :class:`~infocam.metrics.WSOLMeter` updates in
such a pool and sum the meters' integer counts exactly in the parent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from multiprocessing.pool import Pool

import numpy as np

__all__ = ["process_pool", "usable_cores"]


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _warm_sweeps() -> None:
    """Run both sweeps once on a tiny map, so that their compiled kernels are loaded in this process."""
    from infocam.sweep import fast_sweep

    m = np.zeros((4, 4))
    m[1:3, 1:3] = 1.0
    for multi in (True, False):
        fast_sweep(m, [[1, 1, 3, 3]], [0.0, 0.5], (50,), multi_contour=multi)


def process_pool(workers: int, initializer: Callable[..., None], initargs: tuple) -> Pool:
    """A pool of ``workers`` processes, each set up by ``initializer(*initargs)``.

    Fork, as torch's DataLoader does on Linux: the workers start at once and
    inherit the compiled sweep kernels (warmed here first); elsewhere spawn
    (each worker imports anew). Tensors sent to the workers travel through
    shared memory (torch's multiprocessing reductions). The caller
    terminates the pool.
    """
    import multiprocessing as mp

    import torch.multiprocessing  # noqa: F401  (registers the shared-memory tensor reductions)

    fork = "fork" in mp.get_all_start_methods()
    if fork:
        _warm_sweeps()
    ctx = mp.get_context("fork" if fork else "spawn")
    return ctx.Pool(workers, initializer=initializer, initargs=initargs)
