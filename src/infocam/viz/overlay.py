"""Heat-map overlays and paper-style figure grids (matplotlib, no display needed).

Colours follow the paper: ground-truth boxes red, predicted boxes green.
Boxes are half-open pixel edges (``docs/conventions.md``), drawn on the
pixel edges they describe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

GT_COLOR = "red"
PRED_COLOR = "lime"
METHOD_TITLES = {"cam": "CAM", "infocam": "infoCAM", "infocam+": "infoCAM+"}


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1|3) or (C, H, W) array -> (H, W, 3) float in [0, 1]."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = np.transpose(img, (1, 2, 0))
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    lo, hi = float(img.min()), float(img.max())
    if lo < 0.0 or hi > 1.0:  # e.g. ImageNet-normalised tensors
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return img


def heat_overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a [0, 1] heat map (H, W) over an image: (H, W, 3) float in [0, 1]."""
    rgb = to_rgb(image)
    heat = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
    if heat.shape != rgb.shape[:2]:
        raise ValueError(f"heat must have the image's size {rgb.shape[:2]}; got {heat.shape}")
    colored = matplotlib.colormaps[cmap](heat)[..., :3]
    return (1 - alpha) * rgb + alpha * colored


def box_legend() -> list[Patch]:
    """Legend entries for the box colours: red ground truth, green predicted."""
    return [Patch(fill=False, edgecolor=GT_COLOR, linewidth=2, label="ground-truth box"),
            Patch(fill=False, edgecolor=PRED_COLOR, linewidth=2, label="predicted box")]


def draw_boxes(ax, boxes, color: str, linewidth: float = 2.0) -> None:
    """Draw half-open boxes (N, 4) on a matplotlib axis showing the image in pixel units."""
    for x0, y0, x1, y1 in np.asarray(boxes, dtype=np.float32).reshape(-1, 4):
        if x1 <= x0 or y1 <= y0:
            continue
        # pixel (i, j) is drawn from i-0.5 to i+0.5 by imshow
        ax.add_patch(
            Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=color, linewidth=linewidth)
        )


@dataclass
class Panel:
    """One image column of a figure grid."""

    image: np.ndarray
    maps: Mapping[str, np.ndarray] = field(default_factory=dict)  # normalised [0, 1], image size
    gt_boxes: np.ndarray | None = None
    pred_boxes: Mapping[str, np.ndarray] = field(default_factory=dict)
    title: str = ""


def figure_grid(
    panels: Sequence[Panel],
    methods: Sequence[str],
    out: str | Path | Sequence[str | Path],
    *,
    cell: float = 2.2,
    show_image_row: bool = True,
    row_titles: Mapping[str, str] | None = None,
) -> list[Path]:
    """The paper's Figures 2, 3 and 5: one column per image; rows: the image,
    then one overlay row per method, with red GT and green predicted boxes.

    ``out`` is one path or several (e.g. ``fig.png`` and ``fig.pdf``); the
    format follows the suffix. Returns the written paths.
    """
    if not panels:
        raise ValueError("panels must not be empty")
    outs = [Path(out)] if isinstance(out, (str, Path)) else [Path(p) for p in out]
    rows = (["image"] if show_image_row else []) + list(methods)
    titles = {**METHOD_TITLES, "image": "image", **(row_titles or {})}
    # Cells take the images' shape (a 32 x 64 canvas gets a wide, low cell: no empty bands),
    # and a band at the bottom holds the legend of the box colours.
    h, w = to_rgb(panels[0].image).shape[:2]
    aspect = h / w if w else 1.0
    legend_h = 0.35
    height = cell * aspect * len(rows) + legend_h + (0.3 if any(p.title for p in panels) else 0.0)
    # The object API (no pyplot): no global figure state, no display backend needed.
    fig = Figure(figsize=(cell * len(panels), height))
    axes = fig.subplots(len(rows), len(panels), squeeze=False)
    for c, panel in enumerate(panels):
        for r, row in enumerate(rows):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if row == "image":
                ax.imshow(to_rgb(panel.image), interpolation="nearest")
            else:
                ax.imshow(heat_overlay(panel.image, panel.maps[row]), interpolation="nearest")
                if row in panel.pred_boxes:
                    draw_boxes(ax, panel.pred_boxes[row], PRED_COLOR)
            if panel.gt_boxes is not None:
                draw_boxes(ax, panel.gt_boxes, GT_COLOR)
            if r == 0 and panel.title:
                ax.set_title(panel.title, fontsize=8)
            if c == 0:
                ax.set_ylabel(titles.get(row, row), fontsize=10)
    fig.legend(handles=box_legend(), loc="lower center", ncol=2, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, legend_h / height, 1, 1))
    written = []
    for path in outs:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        written.append(path)
    return written
