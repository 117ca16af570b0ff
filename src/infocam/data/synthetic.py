"""``data.format: synthetic``: a tiny generated WSOL dataset for trials and tests.

Each image is noise with one filled square; the class decides the square's
colour, so a small CNN learns it in a few epochs, and the square is the
ground-truth box (half-open, see ``docs/conventions.md``). Items are a pure
function of (seed, split, index), so every process and every run sees the
same data. Training items are flipped horizontally (box too) with
probability 1/2, drawn from torch's global RNG: that is the randomness a
resumed run must reproduce.

Settings (``data:`` section): ``num_classes`` (4), ``num_train`` (64),
``num_eval`` (64: the official-test stand-in, split even -> ``val``,
odd -> ``test`` as for the real data sets, ``docs/conventions.md``;
``all_test`` is all of it),
``image_size`` (32), ``seed`` (0), ``delay_s`` (0: sleep per item, to
simulate slow image decoding in tests).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch
from torch.utils.data import Dataset

from infocam.errors import InputError

__all__ = ["SYNTHETIC_KEYS", "SyntheticSquares", "build_synthetic"]

SPLITS = ("train", "val", "test", "all_test")
SYNTHETIC_KEYS = {
    "format": None,
    "num_classes": 4,
    "num_train": 64,
    "num_eval": 64,
    "image_size": 32,
    "seed": 0,
    "delay_s": 0.0,
}


class SyntheticSquares(Dataset):
    """Coloured squares on noise; see the module docstring."""

    def __init__(
        self,
        split: str = "train",
        *,
        train: bool = False,
        num_classes: int = 4,
        num_train: int = 64,
        num_eval: int = 64,
        image_size: int = 32,
        seed: int = 0,
        delay_s: float = 0.0,
    ) -> None:
        if split not in SPLITS:
            raise InputError(f"data: split must be one of {', '.join(SPLITS)}, got {split!r}")
        for name, v, lo in (
            ("num_classes", num_classes, 2),
            ("num_train", num_train, 1),
            ("num_eval", num_eval, 2),
            ("image_size", image_size, 8),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise InputError(f"data.{name}: must be an integer >= {lo}, got {v!r}")
        self.split, self.train = split, train
        self.num_classes, self.image_size = num_classes, image_size
        self.seed, self.delay_s = seed, float(delay_s)
        pool = range(num_train) if split == "train" else range(num_eval)
        if split == "val":
            pool = pool[0::2]
        elif split == "test":
            pool = pool[1::2]
        self._indices = list(pool)
        self._pool = 0 if split == "train" else 1
        g = torch.Generator().manual_seed(seed)
        self._colours = torch.rand(num_classes, 3, generator=g) * 2 - 1
        #: class of every item, without rendering any image (for the class priors)
        self.labels = [self._label(i) for i in self._indices]

    def __len__(self) -> int:
        return len(self._indices)

    def _gen(self, i: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + self._pool * 100_003 + i)

    def _label(self, i: int) -> int:
        return int(torch.randint(self.num_classes, (1,), generator=self._gen(i)))

    def __getitem__(self, index: int) -> dict[str, Any]:
        i = self._indices[index]
        g = self._gen(i)
        label = int(torch.randint(self.num_classes, (1,), generator=g))
        s = self.image_size
        side = int(torch.randint(s // 4, s // 2 + 1, (1,), generator=g))
        x0 = int(torch.randint(0, s - side + 1, (1,), generator=g))
        y0 = int(torch.randint(0, s - side + 1, (1,), generator=g))
        image = torch.randn(3, s, s, generator=g) * 0.3
        image[:, y0 : y0 + side, x0 : x0 + side] = self._colours[label][:, None, None]
        box = [x0, y0, x0 + side, y0 + side]
        if self.train and bool(torch.rand(()) < 0.5):  # global RNG: the augmentation
            image = image.flip(-1)
            box = [s - box[2], box[1], s - box[0], box[3]]
        if self.delay_s:
            time.sleep(self.delay_s)
        return {
            "image": image,
            "label": label,
            "boxes": torch.tensor([box], dtype=torch.float32),
            "box_labels": torch.tensor([label], dtype=torch.long),
            "id": f"synthetic/{self.split}/{i:05d}",
        }


def build_synthetic(cfg: Mapping[str, Any], split: str, train: bool) -> SyntheticSquares:
    """The ``synthetic`` dataset of a ``data:`` config section."""
    unknown = sorted(k for k, v in cfg.items() if k not in SYNTHETIC_KEYS and v is not None)
    if unknown:
        raise InputError(
            f"data: unknown key(s) for format synthetic: {', '.join(unknown)} "
            f"(known: {', '.join(k for k in SYNTHETIC_KEYS if k != 'format')})"
        )
    kwargs = {k: cfg[k] for k in SYNTHETIC_KEYS if k != "format" and cfg.get(k) is not None}
    return SyntheticSquares(split, train=train, **kwargs)
