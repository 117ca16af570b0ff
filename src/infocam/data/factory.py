"""``build_dataset(cfg, split, train)``: the one way the trainer and evaluator get data.

The ``cfg`` mapping (a config file's ``data:`` section) takes the keys of
:data:`DATA_KEYS` (listed with their meaning in docs/training.md, which
:func:`data_keys_markdown` writes).

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

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class DataKey:
    """One key of a ``data:`` section: its types, the formats that take it, and what it means."""

    types: tuple[type, ...]
    formats: tuple[str, ...] | None  # None: every format
    doc: str


#: Every ``data:`` key of the file formats, in the order docs/training.md lists them
#: (:func:`data_keys_markdown` writes that list; a test keeps the two in step).
DATA_KEYS: dict[str, DataKey] = {
    "format": DataKey((str,), None, "cub, tiny-imagenet, wsol or csv"),
    "root": DataKey(
        _PATH, None,
        "cub: CUB_200_2011/; tiny-imagenet: tiny-imagenet-200/ (the folder above either works too); "
        "wsol: the image root the metadata paths are relative to; csv: the image folder",
    ),
    "image_size": DataKey((int,), None, "network input side (224; tiny-imagenet 64)"),
    "resize_size": DataKey((int,), None, "resize to this side before cropping (256; tiny-imagenet 64)"),
    "crop": DataKey((bool,), None, "random crop for training, centre crop for testing (true; tiny-imagenet false)"),
    "normalize": DataKey((bool,), None, "ImageNet mean/std normalisation (true)"),
    "metadata_root": DataKey(
        _PATH, ("wsol",), "required: the metadata folder, holding one folder per split (train/, val/, test/)"
    ),
    "dataset_name": DataKey(
        (str,), ("wsol",), "sub-folder of metadata_root holding the split folders (e.g. CUB), when there is one"
    ),
    "mask_root": DataKey(_PATH, ("wsol",), "where the mask paths of localization.txt point (default: root)"),
    "num_classes": DataKey(
        (int,), ("wsol",), "override the class count (default: class_names.txt, else the largest label + 1)"
    ),
    "csv": DataKey(_PATH, ("csv",), "the annotation CSV (default: <root>/annotations.csv)"),
}
_COMMON_KEYS: dict[str, tuple[type, ...]] = {k: d.types for k, d in DATA_KEYS.items() if d.formats is None}
_FORMAT_KEYS: dict[str, dict[str, tuple[type, ...]]] = {
    f: {k: d.types for k, d in DATA_KEYS.items() if d.formats is not None and f in d.formats} for f in FORMATS
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
        why = data_key_problem(key, fmt)
        if why:
            raise InputError(f"dataset config: {why}")
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


def data_key_problem(key: str, fmt: str | None = None, extra: Iterable[str] = ()) -> str | None:
    """Why ``key`` is not a data key (of format ``fmt`` when given), or None when it is.

    ``extra`` adds keys known elsewhere (the generated ``synthetic`` format's).
    The message suggests the closest known key (``did you mean``).
    """
    extra = tuple(extra)
    if key in DATA_KEYS and (fmt is None or key in _COMMON_KEYS or key in _FORMAT_KEYS.get(fmt, {})):
        return None
    if fmt is None and key in extra:
        return None
    if key in DATA_KEYS:
        owners = ", ".join(DATA_KEYS[key].formats or ())
        return f"unknown key {key!r} (only for format {owners}), not for format {fmt}"
    known = sorted({*DATA_KEYS, *extra} if fmt is None else {*_COMMON_KEYS, *_FORMAT_KEYS.get(fmt, {})})
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (known keys: {', '.join(known)})"


def data_keys_markdown() -> str:
    """The ``data:`` keys of every file format as a markdown table (docs/training.md holds this text)."""
    lines = ["| key | formats | type | meaning |", "|---|---|---|---|"]
    for key, d in DATA_KEYS.items():
        kinds = "path" if d.types == _PATH else " or ".join(t.__name__ for t in d.types)
        lines.append(f"| `{key}` | {', '.join(d.formats) if d.formats else 'all'} | {kinds} | {d.doc} |")
    return "\n".join(lines) + "\n"


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

    ``format: synthetic`` gives the generated squares of
    :mod:`infocam.data.synthetic` instead.

    Raises :class:`InputError` for a bad config or the first problem in the
    annotations (``infocam data check`` lists all of them).
    """
    if isinstance(cfg, Mapping) and cfg.get("format") == "synthetic":
        from infocam.data.synthetic import build_synthetic

        return build_synthetic(cfg, split, train)  # type: ignore[return-value]
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
