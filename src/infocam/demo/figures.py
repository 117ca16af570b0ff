"""The demo's figures, laid out like the paper's Figure 2 and Figure 4."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from infocam.boxes import boxes_from_maps
from infocam.extract import CAMExtractor
from infocam.maps import cam_maps, normalize_maps, resize_maps
from infocam.viz.overlay import Panel, figure_grid


@torch.no_grad()
def _panels(model: nn.Module, items: list[dict], targets: list[int], settings: dict[str, dict]) -> list[Panel]:
    images = torch.stack([it["image"] for it in items])
    size = tuple(images.shape[-2:])
    y = torch.tensor(targets)
    with CAMExtractor(model) as ex:
        res = ex(images, methods=())
        maps, boxes = {}, {}
        for m, c in settings.items():
            raw = cam_maps(res.features, ex.fc.weight, y, method=m, region=c["region"], logits=res.logits)
            big = resize_maps(raw, size)
            maps[m] = normalize_maps(big).numpy()
            boxes[m] = boxes_from_maps(big, threshold=c["threshold"]).numpy()
    panels = []
    for i, it in enumerate(items):
        sel = it["box_labels"] == targets[i] if "box_labels" in it else slice(None)
        panels.append(Panel(
            image=it["image"].numpy(),
            maps={m: maps[m][i] for m in settings},
            gt_boxes=it["boxes"][sel].numpy(),
            pred_boxes={m: boxes[m][i:i + 1] for m in settings},
            title=f"digit {targets[i]}",
        ))
    return panels


def figure_single_object(model: nn.Module, test_set: Dataset, chosen: dict[str, dict], out: Path, n: int) -> list[Path]:
    """Figure 2 style: test canvases, then CAM / infoCAM / infoCAM+ with their boxes."""
    items = [test_set[i] for i in range(min(n, len(test_set)))]
    panels = _panels(model, items, [int(it["label"]) for it in items], chosen)
    return figure_grid(panels, list(chosen), [out / "figure2_single_object.png"])


def figure_multi_label(model: nn.Module, test_set: Dataset, chosen: dict[str, dict], out: Path, n: int,
                       digit: int = 0) -> list[Path]:
    """Figure 4 style: canvases holding ``digit``, then its CAM and infoCAM."""
    items = []
    for i in range(len(test_set)):
        it = test_set[i]
        if bool((it["box_labels"] == digit).any()):
            items.append(it)
        if len(items) == n:
            break
    if not items:
        return []
    panels = _panels(model, items, [digit] * len(items), chosen)
    return figure_grid(panels, list(chosen), [out / f"figure4_multi_label_digit{digit}.png"])
