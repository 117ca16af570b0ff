"""Saved score maps, predictions and ground truth for ``infocam score``, read without decoding images.

**Maps** come in wsolevaluation's layout, a folder holding one ``.npy`` per
image at ``<root>/<image_id>.npy`` (the image id keeps its extension:
``001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg.npy``), or
one ``.npz`` holding every map under its image id (``np.savez(out,
**{image_id: map})``). Map files are untrusted: they are read with
``allow_pickle=False``, so a file holding Python objects is refused, never
run. Every problem raises :class:`InputError` naming the file (and the key,
for an ``.npz``).

**Predictions** (optional, for Top-1 / Top-5 Loc and Cls): a CSV or JSON of
each image's top classes, best first (1 to 5 of them, class indices or class
names), or of its logits (one score per class):

* CSV, one row per image: ``image_id,c1,c2,c3,c4,c5`` or
  ``image_id,logit_0,...,logit_{M-1}``. An optional header names the columns
  (first field ``image_id``; ``top1`` ... ``top5`` for classes, anything else
  for logits). Without one, up to five integers or names are classes, and M
  numbers with M the number of classes are logits.
* JSON, an object keyed by image id: ``{"a.jpg": [3, 17, 5, 0, 9]}``, or
  ``{"a.jpg": {"top5": [...]}}``, or ``{"a.jpg": {"logits": [...]}}``.

Logits become their top-5 class indices at once (``torch.topk``, as
:func:`infocam.metrics.topk_correct` ranks them), so memory does not grow
with the number of classes.

**Ground truth** is a wsolevaluation metadata folder (``CUB``, ``ILSVRC``,
``OpenImages``) or any dataset format infocam reads; see
:func:`read_ground_truth`.
"""

from __future__ import annotations

import csv
import json
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from infocam.errors import InputError

MAP_SUFFIX = ".npy"
#: wsolevaluation's dataset keys (its ImageNet is ``ILSVRC``).
WSOL_DATASETS: tuple[str, ...] = ("CUB", "ILSVRC", "OpenImages")
_SHOW = 5  # ids listed in an error message
_LAST_PIXEL = np.array([0.0, 0.0, 1.0, 1.0])  # half-open (x1, y1) = inclusive + 1


def first_few(ids: Sequence[str], n: int = _SHOW) -> str:
    """``a, b, c`` or ``a, b, c, ... (N in all)`` for an error message."""
    shown = ", ".join(ids[:n])
    return shown if len(ids) <= n else f"{shown}, ... ({len(ids)} in all)"


# ----------------------------------------------------------------------------
# Maps
# ----------------------------------------------------------------------------


def load_untrusted_array(source, name: str) -> np.ndarray:
    """One ``.npy`` array (a path or an open binary file) with ``allow_pickle=False``.

    Raises :class:`InputError` naming ``name`` for a file that holds Python
    objects, is truncated, or is not an ``.npy`` array.
    """
    try:
        arr = np.load(source, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{name}: file not found") from None
    except ValueError as exc:
        text = str(exc)
        if "pickle" in text.lower() or "object arrays" in text.lower():
            raise InputError(
                f"{name}: holds pickled Python objects, which are never loaded (they could run code); "
                "save each map as a plain float array"
            ) from None
        raise InputError(f"{name}: not a readable .npy array (truncated or corrupt?): {text}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise InputError(f"{name}: cannot be read (truncated or corrupt?): {exc}") from None
    if not isinstance(arr, np.ndarray):  # an .npz archive under an .npy name
        if hasattr(arr, "close"):
            arr.close()
        raise InputError(f"{name}: holds an .npz archive, not one map array")
    return arr


class MapFolder:
    """wsolevaluation's layout: ``<root>/<image_id>.npy``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.where = str(self.root)

    def ids(self) -> Iterable[str]:
        """Every image id with a map file (for the unknown-id warning)."""
        for dirpath, _dirs, files in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            for f in files:
                if f.endswith(MAP_SUFFIX):
                    key = f[: -len(MAP_SUFFIX)]
                    yield key if rel == "." else f"{Path(rel).as_posix()}/{key}"

    def has(self, image_id: str) -> bool:
        return (self.root / (image_id + MAP_SUFFIX)).is_file()

    def name(self, image_id: str) -> str:
        return str(self.root / (image_id + MAP_SUFFIX))

    def load(self, image_id: str) -> np.ndarray:
        return load_untrusted_array(self.root / (image_id + MAP_SUFFIX), self.name(image_id))

    def close(self) -> None:
        """Nothing to release."""


class MapArchive:
    """One ``.npz`` holding every map, keyed by image id (opened lazily, once per process)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self._zip: zipfile.ZipFile | None = None
        self._names: set[str] | None = None

    def _open(self) -> zipfile.ZipFile:
        if self._zip is None:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except FileNotFoundError:
                raise InputError(f"{self.path}: file not found") from None
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise InputError(f"{self.path}: not a readable .npz archive (truncated or corrupt?): {exc}") from None
            self._names = set(self._zip.namelist())
        return self._zip

    def ids(self) -> Iterable[str]:
        self._open()
        return sorted(n[: -len(MAP_SUFFIX)] for n in self._names if n.endswith(MAP_SUFFIX))

    def has(self, image_id: str) -> bool:
        self._open()
        return image_id + MAP_SUFFIX in self._names

    def name(self, image_id: str) -> str:
        return f"{self.path}[{image_id}]"

    def load(self, image_id: str) -> np.ndarray:
        z = self._open()
        try:
            with z.open(image_id + MAP_SUFFIX) as f:
                data = f.read()
        except KeyError:
            raise InputError(f"{self.name(image_id)}: no such map in the archive") from None
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{self.name(image_id)}: cannot be read (truncated or corrupt?): {exc}") from None
        import io

        return load_untrusted_array(io.BytesIO(data), self.name(image_id))

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __getstate__(self) -> dict:  # each process opens its own handle
        return {"path": self.path, "where": self.where, "_zip": None, "_names": None}


def open_maps(path: str | Path) -> MapFolder | MapArchive:
    """A map folder or an ``.npz`` archive; InputError when ``path`` is neither."""
    p = Path(path)
    if p.is_dir():
        return MapFolder(p)
    if p.is_file():
        if p.suffix.lower() != ".npz" and not zipfile.is_zipfile(p):
            raise InputError(f"maps {p}: expected a folder of .npy maps or an .npz archive")
        return MapArchive(p)
    raise InputError(f"maps {p}: no such folder or file")


def check_map(arr: np.ndarray, name: str, *, normalize: bool) -> np.ndarray:
    """A map as read: 2-D, floating point, finite and (unless ``normalize``) within [0, 1]."""
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(f"{name}: a score map must be a non-empty 2-D array (H, W); got shape {arr.shape}")
    if arr.dtype.kind != "f":
        raise InputError(f"{name}: a score map must be floating point; got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise InputError(f"{name}: the map holds {bad}")
    if not normalize:
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 1:
            raise InputError(
                f"{name}: values outside [0, 1] (min {lo:.6g}, max {hi:.6g}); "
                "pass --normalize to min-max normalise raw maps"
            )
    return arr


def normalize_scoremap(arr: np.ndarray) -> np.ndarray:
    """wsolevaluation's ``normalize_scoremap`` in the map's own dtype: ``x - min``, then ``/ max``; constant -> zeros."""
    lo, hi = arr.min(), arr.max()
    if lo == hi:
        return np.zeros_like(arr)
    out = arr - lo
    out /= out.max()
    return out


# ----------------------------------------------------------------------------
# Predictions
# ----------------------------------------------------------------------------

_INT = re.compile(r"^[+-]?\d+$")


def _is_number(x: str) -> bool:
    try:
        float(x)
    except ValueError:
        return False
    return True


class _Classes:
    """Class tokens (indices or names) -> indices, with the file and line for errors."""

    def __init__(self, class_names: Sequence[str]) -> None:
        self.names = {n: i for i, n in enumerate(class_names)}
        self.m = len(class_names)

    def index(self, token, where: str) -> int:
        if isinstance(token, bool):
            raise InputError(f"{where}: {token!r} is not a class")
        if isinstance(token, int) or (isinstance(token, str) and _INT.match(token.strip())):
            k = int(token)
            if not 0 <= k < self.m:
                raise InputError(f"{where}: unknown class {k} (the ground truth has classes 0..{self.m - 1})")
            return k
        if isinstance(token, str) and token.strip() in self.names:
            return self.names[token.strip()]
        raise InputError(f"{where}: unknown class {token!r} (neither an index 0..{self.m - 1} nor a class name)")


def _top_of_logits(rows: list[list[float]], wheres: list[str], m: int) -> list[list[int]]:
    import torch

    for r, w in zip(rows, wheres):
        if len(r) != m:
            raise InputError(f"{w}: {len(r)} logits, but the ground truth has {m} classes")
        if not all(np.isfinite(r)):
            raise InputError(f"{w}: logits must be finite")
    if not rows:
        return []
    t = torch.tensor(rows, dtype=torch.float64).float()
    return t.topk(min(5, m), dim=1).indices.tolist()


def read_predictions(path: str | Path, class_names: Sequence[str]) -> dict[str, list[int]]:
    """Each image id's top classes (indices, best first, at most 5) from a CSV or JSON file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--predictions {path}: file not found")
    classes = _Classes(class_names)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--predictions {path}: cannot be read: {exc}") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        return _predictions_json(path, text, classes)
    return _predictions_csv(path, text, classes)


def _predictions_json(path: Path, text: str, classes: _Classes) -> dict[str, list[int]]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a JSON object keyed by image id")
    out: dict[str, list[int]] = {}
    logit_ids, logit_rows, logit_wheres = [], [], []
    for image_id, value in obj.items():
        where = f"{path}: image {image_id}"
        kind = "auto"
        if isinstance(value, dict):
            keys = [k for k in ("top5", "topk", "classes", "logits") if k in value]
            if len(keys) != 1:
                raise InputError(f"{where}: expected one of the keys top5, logits")
            kind = "logits" if keys[0] == "logits" else "classes"
            value = value[keys[0]]
        if not isinstance(value, list) or not value:
            raise InputError(f"{where}: expected a non-empty list of classes or logits")
        is_logits = kind == "logits" or (
            kind == "auto" and (len(value) > 5 or any(isinstance(v, float) for v in value))
        )
        if is_logits:
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise InputError(f"{where}: logits must be numbers")
            logit_ids.append(image_id)
            logit_rows.append([float(v) for v in value])
            logit_wheres.append(where)
        else:
            if len(value) > 5:
                raise InputError(f"{where}: at most 5 top classes; got {len(value)}")
            out[image_id] = [classes.index(v, where) for v in value]
    out.update(zip(logit_ids, _top_of_logits(logit_rows, logit_wheres, classes.m)))
    return out


def _predictions_csv(path: Path, text: str, classes: _Classes) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    seen: dict[str, int] = {}
    kind = "auto"
    logit_ids, logit_rows, logit_wheres = [], [], []
    for line, fields in enumerate(csv.reader(text.splitlines()), start=1):
        fields = [f.strip() for f in fields]
        if not fields or not any(fields):
            continue
        if line == 1 and fields[0].lower() in ("image_id", "id", "path"):
            cols = [c.lower() for c in fields[1:]]
            kind = "classes" if cols and all(re.fullmatch(r"top\d", c) for c in cols) else "logits"
            continue
        where = f"{path}:{line}"
        image_id, values = fields[0], fields[1:]
        if not values or any(v == "" for v in values):
            raise InputError(f"{where}: expected image_id followed by classes or logits, with no empty field")
        if image_id in seen:
            raise InputError(f"{where}: image {image_id} listed twice (also at line {seen[image_id]})")
        seen[image_id] = line
        row_kind = kind
        if row_kind == "auto":
            if len(values) <= 5 and (all(_INT.match(v) for v in values) or not any(_is_number(v) for v in values)):
                row_kind = "classes"
            elif all(_is_number(v) for v in values):
                row_kind = "logits"
            else:
                raise InputError(f"{where}: expected 1-5 top classes or {classes.m} logits")
        if row_kind == "classes":
            if len(values) > 5:
                raise InputError(f"{where}: at most 5 top classes; got {len(values)}")
            out[image_id] = [classes.index(v, where) for v in values]
        else:
            if not all(_is_number(v) for v in values):
                raise InputError(f"{where}: logits must be numbers")
            logit_ids.append(image_id)
            logit_rows.append([float(v) for v in values])
            logit_wheres.append(where)
    out.update(zip(logit_ids, _top_of_logits(logit_rows, logit_wheres, classes.m)))
    return out


# ----------------------------------------------------------------------------
# Ground truth
# ----------------------------------------------------------------------------


@dataclass(slots=True)
class Truth:
    """One image's ground truth: id, size ``(w, h)``, half-open boxes in its pixels, masks, label."""

    id: str
    size: tuple[int, int]
    boxes: np.ndarray
    label: int
    mask_paths: list[str] = field(default_factory=list)
    ignore_path: str | None = None
    source: str = ""


@dataclass
class GroundTruth:
    """Every image of the evaluated split, in order, and what kind of ground truth it has."""

    images: list[Truth]
    class_names: list[str]
    has_boxes: bool
    has_masks: bool
    description: str


def scale_boxes(boxes: np.ndarray, size: tuple[int, int], to: tuple[int, int]) -> np.ndarray:
    """Half-open boxes at image ``size`` (w, h) -> at ``to`` (w, h), as wsolevaluation's ``resize_bbox``.

    Each inclusive corner ``(x0, y0, x1 - 1, y1 - 1)`` becomes
    ``int(x * to_w / w)`` (truncated; the same for y), and the result is
    half-open again. ``to == size`` leaves integer boxes unchanged.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if tuple(to) == tuple(size):
        return b.copy()
    inclusive = b - _LAST_PIXEL
    scale_num = np.array([to[0], to[1], to[0], to[1]], dtype=np.float64)
    scale_den = np.array([size[0], size[1], size[0], size[1]], dtype=np.float64)
    return np.trunc(inclusive * scale_num / scale_den) + _LAST_PIXEL


def _wsol_split_dir(metadata: Path, dataset: str | None, split: str) -> Path:
    if dataset is not None and dataset not in WSOL_DATASETS:
        hint = " (wsolevaluation's key for ImageNet is ILSVRC)" if dataset.lower() in ("imagenet", "ilsvrc") else ""
        raise InputError(f"--dataset-name must be one of {', '.join(WSOL_DATASETS)}; got {dataset!r}{hint}")
    from infocam.data.wsol_metadata import list_splits, metadata_dir, no_splits_message

    if not metadata.is_dir():
        raise InputError(f"--metadata-root {metadata}: no such folder")
    if (metadata / "image_ids.txt").is_file():  # the split folder itself
        return metadata
    meta = metadata_dir(metadata, dataset)
    available = list_splits(meta)
    if not available:
        raise InputError(f"--metadata-root {metadata}: {no_splits_message(meta)}")
    if split not in available:
        raise InputError(f"--split {split!r} is not a folder of {meta}; available: {', '.join(available)}")
    return meta / split


def _mask_base(mask_root: Path, dataset: str | None) -> Path:
    """Where mask paths point: ``<mask_root>/<dataset>/`` when that folder exists (wsolevaluation's OpenImages), else ``mask_root``."""
    if dataset and (mask_root / dataset).is_dir():
        return mask_root / dataset
    return mask_root


def read_ground_truth(
    *,
    metadata: str | Path | None = None,
    dataset: str | None = None,
    split: str = "test",
    mask_root: str | Path | None = None,
    data: str | Path | None = None,
    data_format: str | None = None,
    csv_file: str | Path | None = None,
) -> GroundTruth:
    """The ground truth of one split, without decoding any image.

    Either ``metadata`` (a wsolevaluation metadata root with ``dataset`` =
    ``CUB`` / ``ILSVRC`` / ``OpenImages`` and ``split``, or a split folder
    itself; sizes from ``image_sizes.txt``; masks, when ``localization.txt``
    lists them, under ``mask_root``), or ``data`` + ``data_format`` (any
    format of :mod:`infocam.data`; an image's size comes from its metadata
    or, when there is none, from its file's header).
    """
    if (metadata is None) == (data is None):
        raise InputError("give the ground truth as --metadata-root DIR or as --data ROOT --format FORMAT (one of them)")
    if metadata is not None:
        return _wsol_truth(Path(metadata), dataset, split, mask_root)
    return _dataset_truth(Path(data), data_format, split, csv_file)


def _wsol_truth(metadata: Path, dataset: str | None, split: str, mask_root) -> GroundTruth:
    from infocam.data.records import raise_problems
    from infocam.data.wsol_metadata import read_wsol_split

    split_dir = _wsol_split_dir(metadata, dataset, split)
    for name in ("class_labels.txt", "localization.txt"):
        if not (split_dir / name).is_file():
            raise InputError(
                f"{split_dir}: no {name}: a wsolevaluation metadata split holds image_ids.txt, "
                "class_labels.txt, image_sizes.txt and localization.txt"
            )
    base = _mask_base(Path(mask_root), dataset) if mask_root is not None else split_dir
    ann = read_wsol_split(split_dir, split_dir, mask_root=base)
    raise_problems(ann.problems, f"run `infocam data check {split_dir.parent} --format wsol` for the full list")
    if ann.has_masks and mask_root is None:
        raise InputError(f"{split_dir / 'localization.txt'}: lists masks; pass --mask-root (the folder the mask paths are relative to)")
    if not ann.has_masks and not (split_dir / "image_sizes.txt").is_file():
        raise InputError(f"{split_dir}: no image_sizes.txt: the image sizes scale the boxes to the evaluation size")
    images = []
    for rec in ann.records:
        size = rec.size
        if size is None and ann.has_masks and rec.mask_paths:  # masks without image_sizes.txt: the first mask's size
            size = _header_size(rec, rec.mask_paths[0])
        if size is None:
            raise InputError(f"{split_dir / 'image_sizes.txt'}: no size for image {rec.id}")
        images.append(_truth(rec, size))
    return _ground_truth(images, ann.class_names, ann.has_masks, f"wsolevaluation metadata {split_dir}")


def _dataset_truth(root: Path, data_format: str | None, split: str, csv_file) -> GroundTruth:
    from infocam.data.factory import check_command, read_annotations, validate_config
    from infocam.data.split import SPLITS, select_split

    if data_format is None:
        raise InputError("--data needs --format (cub, tiny-imagenet, csv, wsol)")
    cfg = {"format": data_format, "root": str(root)}
    if csv_file is not None:
        cfg["csv"] = str(csv_file)
    if data_format == "wsol":
        raise InputError("for wsolevaluation metadata pass --metadata-root (and --dataset-name)")
    cfg = validate_config(cfg)
    if split not in SPLITS:
        raise InputError(f"--split: unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    ann = read_annotations(cfg, split)
    ann.raise_if_problems(check_command(cfg["format"], root))
    records = select_split(ann.records, split)
    images = [_truth(rec, rec.size if rec.size is not None else _header_size(rec)) for rec in records]
    return _ground_truth(images, ann.class_names, ann.has_masks, f"{data_format} {root} ({split})")


def _header_size(rec, path=None) -> tuple[int, int]:
    """(w, h) from the header of the image (or of ``path``): PIL reads the header only, no pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    path = rec.path if path is None else path
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise InputError(f"{rec.source}: {path} not found (its size is needed to scale the ground truth)") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{path}: cannot read the header for its size: {exc}") from None


def _truth(rec, size: tuple[int, int]) -> Truth:
    boxes = np.asarray(rec.boxes, dtype=np.float64).reshape(-1, 4)
    return Truth(
        id=rec.id, size=(int(size[0]), int(size[1])), boxes=boxes, label=int(rec.label),
        mask_paths=[str(p) for p in rec.mask_paths],
        ignore_path=None if rec.ignore_path is None else str(rec.ignore_path), source=rec.source,
    )


def _ground_truth(images: list[Truth], class_names, has_masks: bool, description: str) -> GroundTruth:
    if not images:
        raise InputError(f"{description}: no image to score")
    has_boxes = any(t.boxes.shape[0] for t in images)
    if not has_boxes and not has_masks:
        raise InputError(f"{description}: no box and no mask: nothing to score the maps against")
    return GroundTruth(images, list(class_names), has_boxes, has_masks, description)


def read_truth_mask(t: Truth, to: tuple[int, int]) -> np.ndarray:
    """One image's mask at ``to`` (w, h), as wsolevaluation's ``get_mask``: 1 foreground, 255 ignored, 0 background.

    Each mask PNG must have the image's size; each is resized with
    nearest-neighbour interpolation and its non-zero pixels are foreground
    (the union over the image's masks); the ignore PNG, likewise, minus the
    foreground.
    """
    import cv2

    from infocam.data.images import open_mask

    def one(path: str, what: str) -> np.ndarray:
        m = open_mask(path, listed_at=t.source)
        if (m.shape[1], m.shape[0]) != t.size:
            raise InputError(
                f"{path}: {what} is {m.shape[1]}x{m.shape[0]} but the metadata says image {t.id} is {t.size[0]}x{t.size[1]}"
            )
        m = m.astype(np.uint8)
        if tuple(to) != t.size:
            m = cv2.resize(m, tuple(to), interpolation=cv2.INTER_NEAREST)
        return m != 0

    fg = np.zeros((to[1], to[0]), dtype=bool)
    for p in t.mask_paths:
        fg |= one(p, "mask")
    out = fg.astype(np.uint8)
    if t.ignore_path is not None:
        out[one(t.ignore_path, "ignore mask") & ~fg] = 255
    return out
