"""Image transforms that move the ground-truth boxes (and masks) with the pixels.

Built from torchvision transforms v2: call the result with an image (PIL or
tensor), a :class:`torchvision.tv_tensors.BoundingBoxes` in ``XYXY`` format
(half-open pixel edges, ``canvas_size=(H, W)``) and optionally a
:class:`torchvision.tv_tensors.Mask`; each output is transformed with the
same random parameters. Resizing scales box edges by exactly ``new/old``;
crops shift them and clamp them to the crop (a box cropped away entirely
becomes zero-area and scores IoU 0); a horizontal flip maps ``x`` to
``W - x``. (The reference code instead rescales with ``255 / W`` and a shift
of 15, one pixel off.)

Settings (the paper's, ``docs/training.md``):

* train: ``Resize((resize, resize))``, ``RandomCrop(size)``,
  ``RandomHorizontalFlip()``, float in [0, 1], ImageNet normalisation;
* test: ``Resize((resize, resize))``, ``CenterCrop(size)``, float, normalisation;
* ``crop=False``: ``Resize((size, size))`` only (plus the flip for training),
  as used for Tiny-ImageNet at 64 px.
"""

from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from infocam.errors import InputError

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer; got {value!r}")
    return value


def build_transforms(
    train: bool,
    *,
    size: int = 224,
    resize: int = 256,
    crop: bool = True,
    normalize: bool = True,
) -> v2.Compose:
    """The training or test transform, applied to ``(image, BoundingBoxes[, Mask])``.

    ``size`` is the network input side, ``resize`` the side the image is
    first resized to when ``crop`` is True (``resize >= size``).
    """
    size = _positive_int(size, "size")
    resize = _positive_int(resize, "resize")
    if crop and resize < size:
        raise InputError(f"resize ({resize}) must be at least size ({size}) when cropping")
    ops: list = [v2.ToImage()]
    if crop:
        ops.append(v2.Resize((resize, resize), antialias=True))
        ops.append(v2.RandomCrop(size) if train else v2.CenterCrop(size))
    else:
        ops.append(v2.Resize((size, size), antialias=True))
    if train:
        ops.append(v2.RandomHorizontalFlip())
    ops.append(v2.ToDtype(torch.float32, scale=True))
    if normalize:
        ops.append(v2.Normalize(list(IMAGENET_MEAN), list(IMAGENET_STD)))
    return v2.Compose(ops)


def to_float_image() -> v2.Compose:
    """No geometric change: just an (image, boxes) pair to a float image in [0, 1]."""
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def make_boxes(boxes: torch.Tensor, height: int, width: int) -> tv_tensors.BoundingBoxes:
    """Wrap an (N, 4) half-open ``x0, y0, x1, y1`` tensor for an H x W image."""
    return tv_tensors.BoundingBoxes(
        boxes.to(torch.float32).reshape(-1, 4), format="XYXY", canvas_size=(height, width)
    )
