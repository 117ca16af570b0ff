"""``build_dataset(cfg, split, train)``: the one way the trainer and evaluator get data.

The ``cfg`` mapping (a config file's ``data:`` section) takes these keys:

===============  ======================  ==============================================
key              type                    meaning
===============  ======================  ==============================================
``format``       str                     ``cub`` | ``tiny-imagenet`` | ``wsol`` | ``csv``
``root``         path                    dataset folder (see below)
``image_size``   int                     network input side (224; Tiny-ImageNet 64)
``resize_size``  int                     resize before cropping (256; Tiny-ImageNet 64)
``crop``         bool                    crop (True; Tiny-ImageNet False = resize only)
``normalize``    bool                    ImageNet mean/std normalisation (True)
``metadata_root`` path                   wsol only: the metadata folder (required)
``dataset_name`` str                     wsol only: sub-folder of ``metadata_root``
``mask_root``    path                    wsol only: where mask paths point (``root``)
``num_classes``  int                     wsol only: override the inferred class count
``csv``          path                    csv only: the CSV (``<root>/annotations.csv``)
===============  ======================  ==============================================

``root`` is ``CUB_200_2011/`` for cub, ``tiny-imagenet-200/`` for
tiny-imagenet (the folder above either also works), the image root the
metadata paths are relative to for wsol, and the image folder for csv.
Relative paths are relative to the working directory. A key set to null
(``None``) counts as absent, so a config with every key listed works.

Splits (:mod:`infocam.data.split`): ``train``, ``val``, ``test``, ``all_test``.
For wsol the split names the metadata sub-folder (``train``, ``val``,
``test`` or any other present).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from infocam.data.csv_format import DEFAULT_CSV_NAME, read_csv_annotations
from infocam.data.cub import read_cub
from infocam.data.dataset import BoxDataset
from infocam.data.records import Annotations
from infocam.data.split import SPLITS, select_split
from infocam.data.tiny_imagenet import read_tiny_imagenet
from infocam.data.transforms import build_transforms
from infocam.data.wsol_metadata import list_splits, metadata_dir, no_splits_message, read_wsol_split
from infocam.errors import InputError

FORMATS: tuple[str, ...] = ("cub", "tiny-imagenet", "wsol", "csv")

_PATH = (str, os.PathLike)
_COMMON_KEYS: dict[str, tuple[type, ...]] = {
    "format": (str,),
    "root": _PATH,
    "image_size": (int,),
    "resize_size": (int,),
    "crop": (bool,),
    "normalize": (bool,),
}
_FORMAT_KEYS: dict[str, dict[str, tuple[type, ...]]] = {
    "cub": {},
    "tiny-imagenet": {},
    "wsol": {"metadata_root": _PATH, "dataset_name": (str,), "mask_root": _PATH, "num_classes": (int,)},
    "csv": {"csv": _PATH},
}
_DEFAULTS: dict[str, dict] = {
    "cub": {"image_size": 224, "resize_size": 256, "crop": True},
    "tiny-imagenet": {"image_size": 64, "resize_size": 64, "crop": False},
    "wsol": {"image_size": 224, "resize_size": 256, "crop": True},
    "csv": {"image_size": 224, "resize_size": 256, "crop": True},
}
_LAYOUT_MARKERS = {"cub": ("CUB_200_2011", "images.txt"), "tiny-imagenet": ("tiny-imagenet-200", "wnids.txt")}


def validate_config(cfg: Mapping) -> dict:
    """Check a dataset config and fill in the defaults; InputError names the bad key."""
    if not isinstance(cfg, Mapping):
        raise InputError(f"dataset config must be a mapping of keys to values; got {type(cfg).__name__}")
    cfg = {k: v for k, v in cfg.items() if v is not None}  # null (YAML ~) means "the default"
    fmt = cfg.get("format")
    if fmt is None:
        raise InputError(f"dataset config: missing key 'format' (one of {', '.join(FORMATS)})")
    if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
        raise InputError(f"dataset config: key 'format' must be one of {', '.join(FORMATS)}; got {fmt!r}")
    fmt = fmt.lower()
    allowed = {**_COMMON_KEYS, **_FORMAT_KEYS[fmt]}
    for key, value in cfg.items():
        if key not in allowed:
            others = [f for f, keys in _FORMAT_KEYS.items() if key in keys]
            hint = f" (only for format {others[0]})" if others else f" (known keys: {', '.join(sorted(allowed))})"
            raise InputError(f"dataset config: unknown key {key!r}{hint}")
        types = allowed[key]
        ok = isinstance(value, types) and not (bool not in types and isinstance(value, bool))
        if not ok:
            names = " or ".join("path" if t is os.PathLike else t.__name__ for t in types)
            raise InputError(f"dataset config: key {key!r} must be {names}; got {value!r}")
    if "root" not in cfg:
        raise InputError("dataset config: missing key 'root'")
    if fmt == "wsol" and "metadata_root" not in cfg:
        raise InputError("dataset config: missing key 'metadata_root' (required for format wsol)")
    for key in ("image_size", "resize_size", "num_classes"):
        if key in cfg and cfg[key] < 1:
            raise InputError(f"dataset config: key {key!r} must be a positive integer; got {cfg[key]!r}")
    out = {**_DEFAULTS[fmt], "normalize": True, **cfg, "format": fmt}
    if out["crop"] and out["resize_size"] < out["image_size"]:
        raise InputError(
            f"dataset config: key 'resize_size' ({out['resize_size']}) must be at least image_size ({out['image_size']}) when crop is true"
        )
    return out


def resolve_root(fmt: str, root: str | Path) -> Path:
    """The dataset folder: ``root`` itself, or its ``CUB_200_2011`` / ``tiny-imagenet-200`` child."""
    root = Path(root)
    if fmt in _LAYOUT_MARKERS:
        child, marker = _LAYOUT_MARKERS[fmt]
        if not (root / marker).exists() and (root / child / marker).exists():
            return root / child
    return root


def check_command(fmt: str, root: object, images: object = None) -> str:
    """The ``infocam data check`` command line for a dataset (used in error messages)."""
    extra = f" --images {images}" if images is not None else ""
    return f"infocam data check {root} --format {fmt}{extra}"


def read_annotations(cfg: Mapping, split: str | None = None) -> Annotations:
    """Read a validated config's annotations (for wsol: those of ``split``); never raises for content."""
    fmt = cfg["format"]
    root = resolve_root(fmt, cfg["root"])
    if not root.exists():
        raise InputError(f"dataset config: key 'root': {root} does not exist")
    if fmt in _LAYOUT_MARKERS and not (root / _LAYOUT_MARKERS[fmt][1]).is_file():
        child, marker = _LAYOUT_MARKERS[fmt]
        raise InputError(f"root {root}: not a {fmt} folder (no {marker}, nor {child}/{marker})")
    if fmt == "cub":
        return read_cub(root)
    if fmt == "tiny-imagenet":
        return read_tiny_imagenet(root)
    if fmt == "csv":
        return read_csv_annotations(csv_path(cfg), root)
    meta = metadata_dir(cfg["metadata_root"], cfg.get("dataset_name"))
    available = list_splits(meta)
    if not available:
        raise InputError(f"dataset config: key 'metadata_root': {no_splits_message(meta)}")
    if split not in available:
        raise InputError(f"split: {split!r} is not a folder of {meta}; available: {', '.join(available)}")
    return read_wsol_split(
        meta / split, root, num_classes=cfg.get("num_classes"), mask_root=cfg.get("mask_root")
    )


def csv_path(cfg: Mapping) -> Path:
    """The CSV of a csv-format config: ``cfg['csv']`` or ``<root>/annotations.csv``."""
    return Path(cfg["csv"]) if "csv" in cfg else Path(cfg["root"]) / DEFAULT_CSV_NAME


def build_dataset(cfg: Mapping, split: str, train: bool) -> BoxDataset:
    """A :class:`BoxDataset` for ``split`` with the training or test transform.

    Raises :class:`InputError` for a bad config or the first problem in the
    annotations (``infocam data check`` lists all of them).
    """
    cfg = validate_config(cfg)
    fmt = cfg["format"]
    if not isinstance(split, str):
        raise InputError(f"split must be a string; got {split!r}")
    if fmt != "wsol" and split not in SPLITS:
        raise InputError(f"split: unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    ann = read_annotations(cfg, split)
    if fmt == "wsol":
        hint = check_command(fmt, metadata_dir(cfg["metadata_root"], cfg.get("dataset_name")), cfg["root"])
    elif fmt == "csv":
        hint = f"{check_command(fmt, cfg['root'])} --csv {csv_path(cfg)}"
    else:
        hint = check_command(fmt, cfg["root"])
    ann.raise_if_problems(hint)
    records = ann.records if fmt == "wsol" else select_split(ann.records, split)
    if not records:
        raise InputError(f"split {split!r} of the {fmt} dataset at {cfg['root']} has no images")
    transform = build_transforms(
        bool(train),
        size=cfg["image_size"],
        resize=cfg["resize_size"],
        crop=cfg["crop"],
        normalize=cfg["normalize"],
    )
    return BoxDataset(records, ann.class_names, transform, has_masks=ann.has_masks, name=f"{fmt}:{split}")
