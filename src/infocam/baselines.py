"""Maps that need no model: how far is a method above what a trivial map scores?

Each baseline is a pure function of the input batch (B, C, H, W) giving
(B, H, W) maps at the image size, scored exactly like a CAM (min-max
normalisation, a box threshold, MaxBoxAccV2). Choe et al., "Evaluating
Weakly Supervised Object Localization Methods Right" (CVPR 2020), report
the centre Gaussian as the floor every WSOL method should clear.

* :func:`center_gaussian`: a Gaussian centred in the image, its width a
  fraction of the image side (chosen on a selection split, like a CAM's
  threshold).
* :func:`full_image`: a map whose box is the whole image at every threshold.
* :func:`image_intensity`: the image's brightness (the mean over channels of
  the input as the model sees it).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from infocam.checks import check_tensor

__all__ = ["BASELINES", "DEFAULT_WIDTH", "WIDTHS", "baseline_maps", "center_gaussian", "full_image",
           "image_intensity"]

#: the baselines, by the name used wherever methods are named
BASELINES: tuple[str, ...] = ("center_gaussian", "full_image", "image_intensity")
#: the centre Gaussian's width (sigma as a fraction of the image side) without a selection split
DEFAULT_WIDTH = 0.25
#: the widths a selection split chooses among
WIDTHS: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0)


def _check_images(images: Tensor) -> tuple[int, int, int]:
    b, _, h, w = check_tensor(images, "images", 4, "a (B, C, H, W) tensor").shape
    return b, h, w


def center_gaussian(images: Tensor, width: float = DEFAULT_WIDTH) -> Tensor:
    """A Gaussian centred in the image: ``exp(-(dx^2 / (2 (s W)^2) + dy^2 / (2 (s H)^2)))``.

    ``dx``, ``dy`` are the distances of a pixel's centre ``(j + 0.5, i + 0.5)``
    from the image centre ``(W / 2, H / 2)``; ``s = width`` (sigma as a
    fraction of the side). The same map for every image of the batch
    (Choe et al., CVPR 2020, the centre-Gaussian baseline).
    """
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
        raise ValueError(f"width must be a positive number (sigma as a fraction of the image side); got {width!r}")
    b, h, w = _check_images(images)
    ys = (torch.arange(h, dtype=torch.float64) + 0.5 - h / 2) / (width * h)
    xs = (torch.arange(w, dtype=torch.float64) + 0.5 - w / 2) / (width * w)
    g = torch.exp(-0.5 * (ys[:, None] ** 2 + xs[None, :] ** 2)).float()
    return g.to(images.device).expand(b, h, w).clone()


def full_image(images: Tensor) -> Tensor:
    """Ones with the top-left pixel at zero: the box is the whole image at every threshold in (0, 1].

    A constant map normalises to all zeros (no box), so one corner pixel is
    0; thresholding keeps every other pixel, one component whose bounding box
    is ``(0, 0, W, H)``. Its GT-known Loc is the share of images with a GT
    box covering at least half the image (IoU = box area / image area).
    """
    b, h, w = _check_images(images)
    if h * w < 2:
        raise ValueError(f"images must have at least 2 pixels; got {h} x {w}")
    out = torch.ones(b, h, w, device=images.device)
    out[:, 0, 0] = 0.0
    return out


def image_intensity(images: Tensor) -> Tensor:
    """The mean over channels of the input: bright objects on a dark background score well."""
    _check_images(images)
    return images.float().mean(dim=1)


def baseline_maps(name: str, images: Tensor, width: float | None = None) -> Tensor:
    """The (B, H, W) maps of baseline ``name`` (``width``: the centre Gaussian's)."""
    if name == "center_gaussian":
        return center_gaussian(images, DEFAULT_WIDTH if width is None else width)
    if name == "full_image":
        return full_image(images)
    if name == "image_intensity":
        return image_intensity(images)
    raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
