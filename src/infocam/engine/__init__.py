"""The engine: the one trainer, the one evaluator, checkpoints and distributed helpers.

* :func:`fit` / :class:`TrainResult` - :mod:`infocam.engine.trainer`
* :func:`load_config`, :func:`resolve_config` - :mod:`infocam.engine.config`
* :func:`load_checkpoint`, :func:`read_checkpoint` - :mod:`infocam.engine.checkpoint`
* :mod:`infocam.engine.distributed` - torchrun process groups, all-reduce helpers
* :mod:`infocam.engine.seed` - seeds, deterministic switches, RNG states
* :mod:`infocam.engine.build` - the trainer's parts (optimizer, data, loss, loaders)
* :mod:`infocam.engine.rundir` - the run directory guard and ``metrics.jsonl``

Names are imported lazily, so ``import infocam.engine.config`` (the CLI's
``--help``) does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "fit": "infocam.engine.trainer",
    "TrainResult": "infocam.engine.trainer",
    "build_optimizer": "infocam.engine.trainer",
    "load_config": "infocam.engine.config",
    "resolve_config": "infocam.engine.config",
    "save_config": "infocam.engine.config",
    "load_checkpoint": "infocam.engine.checkpoint",
    "read_checkpoint": "infocam.engine.checkpoint",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'infocam.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
