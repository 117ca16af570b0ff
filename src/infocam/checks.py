"""Argument checks shared by the core modules: one rule, one message each.

Every check raises :class:`ValueError` naming the argument (``name``) and
returns the value in its canonical form (a ``float``, an ``int``, a tuple).
Library functions call these; the command line maps a ``ValueError`` about an
argument to the flag the user typed (``docs/decisions.md``, "Errors").
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from torch import Tensor

__all__ = [
    "check_choice",
    "check_fraction",
    "check_region",
    "check_size",
    "check_step",
    "check_tensor",
    "check_threshold",
    "shape_or_type",
]


def shape_or_type(x: object) -> str:
    """What a wrong argument was, for a message: a tensor's shape, else its type name."""
    return str(tuple(x.shape)) if isinstance(x, Tensor) else type(x).__name__


def check_tensor(x: object, name: str, dim: int, expected: str) -> Tensor:
    """``x`` must be a tensor with ``dim`` dimensions; ``expected`` says what in words.

    ``check_tensor(torch.zeros(2), "maps", 3, "a 3-D tensor (B, h, w)")`` raises
    ``ValueError: maps must be a 3-D tensor (B, h, w); got (2,)``.
    """
    if not isinstance(x, Tensor) or x.dim() != dim:
        raise ValueError(f"{name} must be {expected}; got {shape_or_type(x)}")
    return x


def _is_number(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def check_threshold(threshold: object, name: str = "threshold") -> float:
    """A number in [0, 1] (``True`` and NaN are not), as a float."""
    if not _is_number(threshold) or not 0.0 <= float(threshold) <= 1.0:  # type: ignore[arg-type]  # NaN fails too
        raise ValueError(f"{name} must lie in [0, 1]; got {threshold!r}")
    return float(threshold)  # type: ignore[arg-type]


def check_fraction(value: object, name: str) -> float:
    """:func:`check_threshold` under another name (an IoU level, a ratio)."""
    return check_threshold(value, name)


def check_step(step: object, name: str = "cam_curve_step") -> float:
    """A threshold step in (0, 1] (``True`` and NaN are not), as a float."""
    if not _is_number(step) or not 0.0 < float(step) <= 1.0:  # type: ignore[arg-type]
        raise ValueError(f"{name} must lie in (0, 1]; got {step!r}")
    return float(step)  # type: ignore[arg-type]


def check_region(region: object, name: str = "region") -> int:
    """The region side R: an integer >= 1 (1 means no region)."""
    if not isinstance(region, (int, np.integer)) or isinstance(region, bool) or region < 1:
        raise ValueError(f"{name} must be an integer >= 1 (1 means no region); got {region!r}")
    return int(region)


def check_size(size: object, name: str = "size") -> tuple[int, int] | None:
    """An (H, W) pair of positive ints, or None."""
    if size is None:
        return None
    if not (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size)
    ):
        raise ValueError(f"{name} must be a pair (H, W) of positive ints; got {size!r}")
    return int(size[0]), int(size[1])


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """One of ``choices`` (compared exactly)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}")
    return value
