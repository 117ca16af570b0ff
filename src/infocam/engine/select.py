"""Choosing each method's box threshold and region R on a selection split (one rule for all).

The paper scores every method at one fixed box threshold (0.2). On other
data the best threshold differs, and so can the ranking of the methods; the
fair comparison chooses each method's threshold (and its region R, and the
centre Gaussian's width) on a selection split, by GT-known Loc, and reports
the evaluated split at that choice. ``infocam evaluate --select-on`` and
both experiments of ``infocam demo`` call :func:`best_setting`: one rule.

One forward pass over the selection split serves every candidate (the
evaluator's variants share one extraction and box every threshold at once).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from torch import nn

from infocam.baselines import BASELINES, WIDTHS
from infocam.engine.evaluate import Variant, evaluate
from infocam.errors import InputError
from infocam.maps import METHODS

__all__ = [
    "FIXED_THRESHOLD",
    "Choice",
    "best_setting",
    "candidate_grid",
    "chosen_variants",
    "parse_regions",
    "parse_thresholds",
    "select_on_split",
]

#: the paper's box threshold; ties between candidates go to the threshold nearest it
FIXED_THRESHOLD = 0.2


@dataclass(frozen=True)
class Choice:
    """One method's setting chosen on the selection split, and its score there."""

    method: str
    region: int
    threshold: float
    score: float
    width: float | None = None


def parse_thresholds(text: str, flag: str = "--thresholds") -> tuple[float, ...]:
    """``START:STOP:STEP`` (both ends included) or a comma list, each in [0, 1]."""
    text = str(text).strip()
    try:
        if ":" in text:
            start, stop, step = (float(p) for p in text.split(":"))
            if not step > 0 or stop < start:
                raise ValueError
            n = math.floor((stop - start) / step + 1e-9) + 1
            values = [round(start + i * step, 10) for i in range(n)]
        else:
            values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"{flag}: expected START:STOP:STEP (e.g. 0.05:0.95:0.05) or a comma list; got {text!r}") from None
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise InputError(f"{flag}: thresholds must lie in [0, 1]; got {text!r}")
    return tuple(sorted(set(values)))


def parse_regions(text: str, flag: str = "--regions") -> tuple[int, ...]:
    """A comma list of regions R >= 1 (``1,3,5``)."""
    try:
        values = [int(p) for p in str(text).split(",") if p.strip()]
    except ValueError:
        raise InputError(f"{flag}: expected a comma list of integers >= 1 (e.g. 1,3,5); got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise InputError(f"{flag}: regions must be integers >= 1 (1 means no region); got {text!r}")
    return tuple(sorted(set(values)))


def best_setting(sweep: Mapping[str, Mapping[str, float]], candidates: Sequence[tuple[str, float]]) -> tuple[float, float, float]:
    """The ``(parameter, threshold, score)`` of the best candidate: the one selection rule.

    ``candidates`` are ``(variant name, parameter)`` pairs in order (the
    parameter is R for a CAM method, the width for the centre Gaussian);
    ``sweep[name][f"{t:g}"]`` is the score at threshold ``t`` on the
    selection split. The highest score wins; ties go to the smaller
    parameter, then to the threshold nearest 0.2, then to the first seen.
    """
    best = None
    for name, param in candidates:
        for t_str, score in sweep[name].items():
            t = float(t_str)
            key = (score, -param, -abs(t - FIXED_THRESHOLD))
            if best is None or key > best[0]:
                best = (key, param, t, score)
    if best is None:
        raise ValueError(f"no selection result among {[n for n, _ in candidates]}")
    return best[1], best[2], best[3]


def candidate_grid(methods: Iterable[str], regions: Sequence[int], baselines: Iterable[str] = (),
                   widths: Sequence[float] = WIDTHS) -> dict[str, list[Variant]]:
    """Per method (and baseline), its candidate variants: every R (every width), named ``{m}_r{R}``."""
    grid: dict[str, list[Variant]] = {}
    for m in methods:
        if m not in METHODS:
            raise InputError(f"--methods: unknown method {m!r}; choose from {', '.join(METHODS)}")
        grid[m] = [Variant(f"{m}_r{r}", m, r) for r in regions]
    for b in baselines:
        if b not in BASELINES:
            raise InputError(f"--baselines: unknown baseline {b!r}; choose from {', '.join(BASELINES)}")
        grid[b] = ([Variant(f"{b}_w{w:g}", b, 1, width=w) for w in widths] if b == "center_gaussian"
                   else [Variant(b, b, 1)])
    return grid


def _param(v: Variant) -> float:
    return v.width if v.width is not None else v.region


def select_on_split(model: nn.Module, loader: Iterable[dict], *, methods: Iterable[str], regions: Sequence[int],
                    thresholds: Sequence[float], baselines: Iterable[str] = (), widths: Sequence[float] = WIDTHS,
                    **evaluate_kwargs) -> tuple[dict[str, Choice], dict[str, dict[str, float]]]:
    """Score every candidate at every threshold on ``loader`` in one pass; choose per method.

    Returns ``(choices, sweep)``: the :class:`Choice` per method and the
    GT-known Loc of every candidate at every threshold (``sweep[name][t]``).
    ``evaluate_kwargs`` go to :func:`~infocam.engine.evaluate.evaluate`.
    """
    grid = candidate_grid(methods, regions, baselines, widths)
    flat = [v for vs in grid.values() for v in vs]
    result = evaluate(model, loader, variants=flat, thresholds=list(thresholds), max_box_acc=False,
                      **evaluate_kwargs)
    sweep = dict(result.get("thresholds", {}))
    for v in flat:  # a single threshold has no per-threshold table
        sweep.setdefault(v.name, {f"{thresholds[0]:g}": result["methods"][v.name]["gt_known_loc"]})
    choices = {}
    for m, vs in grid.items():
        param, t, score = best_setting(sweep, [(v.name, _param(v)) for v in vs])
        v = next(v for v in vs if _param(v) == param)
        choices[m] = Choice(m, v.region, t, score, v.width)
    return choices, sweep


def chosen_variants(choices: Mapping[str, Choice], *, suffix: str = "",
                    fixed_threshold: float | None = None) -> list[Variant]:
    """The chosen settings as variants named ``{m}{suffix}``; with ``fixed_threshold``,
    also each at that threshold, named ``{m}@{fixed_threshold:g}``."""
    out = [Variant(f"{m}{suffix}", c.method, c.region, c.threshold, c.width) for m, c in choices.items()]
    if fixed_threshold is not None:
        out += [Variant(f"{m}@{fixed_threshold:g}", c.method, c.region, fixed_threshold, c.width)
                for m, c in choices.items()]
    return out
