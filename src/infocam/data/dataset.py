"""The one torch Dataset every format uses: records in, sample dicts out.

An item is (``docs/conventions.md``)::

    {"image": float Tensor (3, H, W), "label": int,
     "boxes": float32 Tensor (N, 4), half-open, in the transformed image,
     "id": str}

plus ``"mask"``, a uint8 Tensor (H, W), for formats with masks: 0 background,
1 foreground, 255 ignore (wsolevaluation's encoding: pixels to leave out of
PxAP).

Images are opened when an item is read (:func:`infocam.data.images.open_rgb`),
so a missing or broken file raises an :class:`InputError` naming it and the
annotation line that lists it. A box reaching past the image by at most
:data:`~infocam.data.records.BORDER_TOLERANCE` pixel is clamped; further
than that raises, naming the annotation ``file:line``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from infocam.data.images import open_mask, open_rgb
from infocam.data.records import Record, box_problem
from infocam.data.transforms import make_boxes, to_float_image
from infocam.errors import InputError


class BoxDataset(Dataset):
    """Images with a class label, every ground-truth box and optional masks.

    Attributes: ``records``, ``class_names``, ``num_classes``, ``has_masks``,
    ``transform``, ``name``.
    """

    def __init__(
        self,
        records: Sequence[Record],
        class_names: Sequence[str],
        transform: Callable | None = None,
        *,
        has_masks: bool = False,
        name: str = "",
    ) -> None:
        self.records = list(records)
        self.class_names = list(class_names)
        self.transform = transform if transform is not None else to_float_image()
        self.has_masks = has_masks
        self.name = name

    @property
    def num_classes(self) -> int:
        """Number of classes (the classifier's output size)."""
        return len(self.class_names)

    @property
    def ids(self) -> list[str]:
        """Image ids, in item order."""
        return [r.id for r in self.records]

    @property
    def labels(self) -> list[int]:
        """Class indices, in item order (no image is opened)."""
        return [r.label for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"BoxDataset({self.name or 'unnamed'}: {len(self)} images, {self.num_classes} classes)"

    def __getitem__(self, index: int) -> dict:
        rec = self.records[index]
        image = open_rgb(rec.path, listed_at=rec.source)
        w, h = image.size
        if rec.size is not None and rec.size != (w, h):
            raise InputError(
                f"{rec.size_source}: declared size {rec.size[0]}x{rec.size[1]} but {rec.path} is {w}x{h}"
            )
        boxes = make_boxes(self._boxes(rec, w, h), h, w)
        inputs: list = [image, boxes]
        if self.has_masks:
            inputs.append(tv_tensors.Mask(torch.from_numpy(self._mask(rec, w, h))))
        out = self.transform(*inputs)
        sample = {
            "image": out[0].as_subclass(torch.Tensor),
            "label": int(rec.label),
            "boxes": out[1].as_subclass(torch.Tensor).to(torch.float32),
            "id": rec.id,
        }
        if self.has_masks:
            sample["mask"] = out[2].as_subclass(torch.Tensor)
        return sample

    @staticmethod
    def _boxes(rec: Record, w: int, h: int) -> torch.Tensor:
        rows = []
        for box, source in zip(rec.boxes, rec.box_sources):
            why = box_problem(box, (w, h))
            if why:
                raise InputError(f"{source}: {why} ({rec.path})")
            x0, y0, x1, y1 = box
            rows.append((x0, y0, min(x1, w), min(y1, h)))
        return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)

    @staticmethod
    def _mask(rec: Record, w: int, h: int) -> np.ndarray:
        fg = np.zeros((h, w), dtype=bool)
        for path in rec.mask_paths:
            m = open_mask(path, listed_at=rec.source)
            if m.shape != (h, w):
                raise InputError(f"{path}: mask is {m.shape[1]}x{m.shape[0]} but image {rec.path} is {w}x{h}")
            fg |= m
        out = fg.astype(np.uint8)
        if rec.ignore_path is not None:
            ig = open_mask(rec.ignore_path, listed_at=rec.source)
            if ig.shape != (h, w):
                raise InputError(f"{rec.ignore_path}: ignore mask is {ig.shape[1]}x{ig.shape[0]} but image {rec.path} is {w}x{h}")
            out[ig & ~fg] = 255
        return out
