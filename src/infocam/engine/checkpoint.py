"""Checkpoints: written atomically, read weights-only, checked against the model.

A checkpoint is a plain dict of tensors and primitive containers (no
pickled Python objects), so it loads with ``torch.load(weights_only=True)``:

=============  ====================================================
``format``     ``"infocam-checkpoint"``; ``version``: 1
``model``      the model's ``state_dict`` (never DDP-wrapped)
``optimizer``  ``optimizer.state_dict()``; ``scheduler``, ``scaler`` likewise
``rng``        one RNG state per process (see :mod:`infocam.engine.seed`)
``epoch``      completed epochs; ``best_score``, ``best_epoch``
``cfg``        the resolved config (a plain dict)
``meta``       model name, class count, metrics of that epoch, versions, ...
=============  ====================================================

A file that needs code to unpickle is refused with an :class:`InputError`
(it might be a malicious pickle). A checkpoint for another architecture or
class count is refused with an :class:`InputError` naming the file and the
mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from infocam.errors import InputError
from infocam.fileio import atomic_write, load_untrusted_torch_file

__all__ = [
    "FORMAT",
    "VERSION",
    "atomic_torch_save",
    "atomic_write",
    "check_model_cfg",
    "load_checkpoint",
    "load_model_state",
    "read_checkpoint",
]

FORMAT = "infocam-checkpoint"
VERSION = 1
#: the model settings that change the architecture (and hence the state dict)
ARCH_KEYS = ("name", "num_classes", "in_channels", "adl")


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save(obj, path)``, atomically (see :func:`atomic_write`)."""
    atomic_write(Path(path), lambda f: torch.save(obj, f))


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load an infocam checkpoint onto the CPU with ``weights_only=True``.

    Raises:
        InputError: the file is missing, truncated or not a checkpoint, or it
            holds pickled objects that would run code when loaded.
    """
    ckpt = load_untrusted_torch_file(path, "checkpoint")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputError(f"{path}: not an infocam checkpoint (no format={FORMAT!r} entry)")
    if ckpt.get("version") != VERSION:
        raise InputError(
            f"{path}: checkpoint version {ckpt.get('version')!r}; this infocam reads {VERSION}"
        )
    return ckpt


def _describe(model_cfg: Mapping[str, Any]) -> str:
    adl = " + ADL" if model_cfg.get("adl") else ""
    return (
        f"{model_cfg.get('name')}{adl}, {model_cfg.get('num_classes')} classes, "
        f"{model_cfg.get('in_channels', 3)} input channels"
    )


def check_model_cfg(
    saved: Mapping[str, Any], wanted: Mapping[str, Any], path: str | Path
) -> None:
    """Refuse a checkpoint whose architecture settings differ from ``wanted``.

    ``num_classes=None`` in ``wanted`` (not yet known) matches anything.
    """
    diffs = [
        k
        for k in ARCH_KEYS
        if not (k == "num_classes" and wanted.get(k) is None) and saved.get(k) != wanted.get(k)
    ]
    if diffs:
        raise InputError(
            f"{path}: checkpoint is for {_describe(saved)}, but the config asks for "
            f"{_describe(wanted)} (differs in model.{', model.'.join(diffs)})"
        )


def load_model_state(model: nn.Module, state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """``model.load_state_dict(state)``, strict, with an :class:`InputError` on mismatch."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} in the file vs {tuple(own[k].shape)} in the model"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append("shape mismatch: " + "; ".join(shapes[:3]))
        if missing:
            parts.append(f"{len(missing)} missing key(s), e.g. {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s), e.g. {', '.join(unexpected[:3])}")
        raise InputError(
            f"{path}: checkpoint does not fit the model (another architecture or "
            f"class count?): {' | '.join(parts)}"
        )
    model.load_state_dict(state, strict=True)


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """Rebuild the model of a checkpoint from its saved config and weights.

    Returns:
        ``(model, cfg, meta)``: the model in eval mode on ``device`` (no
        pretrained download: the state dict provides every weight), the
        resolved config it was trained with, and the checkpoint's ``meta``
        plus ``epoch``, ``best_score`` and ``best_epoch``.
    """
    from infocam.models import build_model

    ckpt = read_checkpoint(path)
    cfg = ckpt["cfg"]
    m = cfg["model"]
    if m.get("num_classes") is None:
        raise InputError(f"{path}: the saved config has no model.num_classes")
    model = build_model(
        m["name"],
        m["num_classes"],
        adl=m.get("adl", False),
        adl_drop_rate=m.get("adl_drop_rate"),
        adl_gamma=m.get("adl_gamma"),
        pretrained=False,
        weights=None,
        in_channels=m.get("in_channels", 3),
    )
    load_model_state(model, ckpt["model"], path)
    model.to(device).eval()
    meta = dict(ckpt.get("meta", {}))
    for key in ("epoch", "best_score", "best_epoch"):
        meta[key] = ckpt.get(key)
    return model, cfg, meta
