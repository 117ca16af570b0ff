"""Batching sample dicts: stack what has a fixed shape, list what does not."""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: Keys stacked into one tensor (every sample's value has the same shape).
STACKED = ("image", "label", "mask")
#: Keys kept as Python lists (one entry per sample).
LISTED = ("boxes", "box_labels", "id")


def collate(batch: Sequence[dict]) -> dict:
    """Collate sample dicts (``docs/conventions.md``) for a DataLoader.

    ``image``, ``label`` (int -> long tensor, or multi-hot tensors stacked)
    and ``mask`` are stacked; ``boxes``, ``box_labels`` and ``id`` stay lists.
    Any other key is stacked when every value is a same-shape tensor, else
    kept as a list. Keys must be the same in every sample.
    """
    if len(batch) == 0:
        raise ValueError("collate: empty batch")
    keys = list(batch[0])
    for i, sample in enumerate(batch):
        if list(sample) != keys and set(sample) != set(keys):
            raise ValueError(f"collate: sample {i} has keys {sorted(sample)}, sample 0 has {sorted(keys)}")
    out: dict = {}
    for key in keys:
        values = [s[key] for s in batch]
        if key in LISTED:
            out[key] = values
        elif key == "label" and all(isinstance(v, int) for v in values):
            out[key] = torch.tensor(values, dtype=torch.long)
        elif all(isinstance(v, torch.Tensor) for v in values) and len({v.shape for v in values}) == 1:
            out[key] = torch.stack(values)
        elif key in STACKED:
            shapes = sorted({tuple(v.shape) for v in values if isinstance(v, torch.Tensor)})
            raise ValueError(f"collate: cannot stack {key!r}: shapes differ {shapes}")
        else:
            out[key] = values
    return out
