"""Deletion and insertion curves as one PNG (for ``explain --curves`` and the HTML report)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from infocam.viz.gallery import method_title

__all__ = ["curves_png", "faithfulness_curves"]


def curves_png(
    fractions: Sequence[float],
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str = "",
    ylabel: str = "probability of the class",
    out: str | Path | None = None,
) -> bytes:
    """Two panels, deletion then insertion, one line per method; the AUC in each legend entry.

    ``curves[method] = (deletion, insertion)``, each with one value per
    fraction. Returns the PNG bytes (and writes them to ``out`` when given).
    """
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.3), sharey=True)
    x = [float(f) for f in fractions]
    for name, (deletion, insertion) in curves.items():
        for ax, ys in zip(axes, (deletion, insertion)):
            ys = [float(v) for v in ys]
            auc = sum((x[i + 1] - x[i]) * (ys[i] + ys[i + 1]) / 2 for i in range(len(x) - 1))
            ax.plot(x, ys, marker="." if len(x) <= 30 else None, label=f"{method_title(name)} (AUC {auc:.4f})")
    for ax, what, how in zip(axes, ("deletion", "insertion"), ("removed", "revealed")):
        ax.set_title(f"{what} ({'lower' if what == 'deletion' else 'higher'} is better)", fontsize=10)
        ax.set_xlabel(f"fraction of pixels {how}, highest-ranked first")
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel(ylabel)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    data = buf.getvalue()
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_bytes(data)
    return data


def faithfulness_curves(result: Mapping) -> tuple[list[float], dict[str, tuple[list[float], list[float]]]] | None:
    """The mean curves of an evaluation result with faithfulness (``evaluate --faithfulness``), or None."""
    found = {
        name: m["faithfulness"]
        for name, m in (result.get("methods") or {}).items()
        if isinstance(m, Mapping) and isinstance(m.get("faithfulness"), Mapping)
        and "deletion_curve" in m["faithfulness"]
    }
    if not found:
        return None
    fractions = next(iter(found.values()))["fractions"]
    return fractions, {n: (f["deletion_curve"], f["insertion_curve"]) for n, f in found.items()}
