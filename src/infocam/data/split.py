"""The validation / test halves (``docs/conventions.md``), selectable by name.

The official test (CUB) or validation (Tiny-ImageNet) images are grouped per
class, in image-id order; within each class the images at even positions
(0, 2, 4, ...) form the **validation** half (model selection) and those at
odd positions the **test** half (final numbers). CUB gives 2916 / 2878
images, Tiny-ImageNet 5000 / 5000.

Split names (:data:`SPLITS`):

* ``train``: the official training images;
* ``val``: the even half of the official test/validation images;
* ``test``: the odd half;
* ``all_test``: the whole official test/validation set.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from infocam.data.records import Record
from infocam.errors import InputError

SPLITS: tuple[str, ...] = ("train", "val", "test", "all_test")


def split_even_odd(ids: Sequence[str], labels: Sequence[Hashable]) -> tuple[list[str], list[str]]:
    """Split ids per class into (validation, test) = (even, odd) positions.

    ``ids`` must be in image-id order (the order of the official list); each
    class keeps that order. Both outputs keep the input order too. Pure: no
    I/O, no randomness.

    >>> split_even_odd(["1", "2", "3", "4", "5"], [0, 1, 0, 0, 1])
    (['1', '2', '4'], ['3', '5'])
    """
    ids = list(ids)
    labels = list(labels)
    if len(ids) != len(labels):
        raise InputError(f"ids and labels must have the same length; got {len(ids)} ids and {len(labels)} labels")
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise InputError(f"ids: duplicate id {i!r}")
        seen.add(i)
    position: dict[Hashable, int] = {}
    val: list[str] = []
    test: list[str] = []
    for image_id, label in zip(ids, labels):
        k = position.get(label, 0)
        position[label] = k + 1
        (val if k % 2 == 0 else test).append(image_id)
    return val, test


def select_split(records: Sequence[Record], split: str) -> list[Record]:
    """The records of a named split (:data:`SPLITS`), in image-id order.

    Records whose ``subset`` is None (a format without an official split)
    belong to both ``train`` and the test set.
    """
    if split not in SPLITS:
        raise InputError(f"split: unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if split == "train":
        return [r for r in records if r.subset in ("train", None)]
    pool = [r for r in records if r.subset in ("test", None)]
    if split == "all_test":
        return pool
    val_ids, test_ids = split_even_odd([r.id for r in pool], [r.label for r in pool])
    keep = set(val_ids if split == "val" else test_ids)
    return [r for r in pool if r.id in keep]
