"""A CUB-200-2011 tree of generated JPEG photos, for timing the data path with decoding.

:func:`write_cub_jpegs` writes ``<root>/CUB_200_2011`` in the official
layout (:mod:`infocam.data.cub`): every image in the official test set, so
the split ``all_test`` holds them all, labels cycling over the classes, one
GT box each. Each image is a sum of smooth random colour fields at four
scales (cells of about 125, 31, 8 and 2 pixels, the finer the fainter, so
the picture has the gradients and fine texture of a photo and compresses
like one, unlike white noise), with one textured ellipse of another colour,
its edge softened, whose bounding box is the GT box. Images are a pure
function of (``seed``, index) and are encoded by OpenCV's JPEG writer in
threads; at 500 x 375 and quality 95 a file holds about 78 KiB.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

__all__ = ["write_cub_jpegs"]

#: (pixels per cell, amplitude in grey levels) of the colour fields added to a background
OCTAVES = ((125, 55.0), (31, 22.0), (8, 14.0), (2, 10.0))


def _field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth random colour fields at the scales of :data:`OCTAVES`, summed: (h, w, 3) float32 around 0."""
    out = np.zeros((h, w, 3), np.float32)
    for cell, amp in OCTAVES:
        small = rng.normal(0.0, amp, (max(2, round(h / cell)), max(2, round(w / cell)), 3)).astype(np.float32)
        out += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return out


def render(index: int, size: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Image ``index``: a (h, w, 3) uint8 BGR picture (module doc) and its half-open GT box ``x0, y0, x1, y1``."""
    w, h = size
    rng = np.random.default_rng([seed, index])
    image = _field(rng, h, w) + rng.uniform(60, 190, 3).astype(np.float32)
    axes = (int(rng.uniform(0.12, 0.35) * w), int(rng.uniform(0.12, 0.35) * h))
    centre = (int(rng.uniform(axes[0] + 1, w - axes[0] - 1)), int(rng.uniform(axes[1] + 1, h - axes[1] - 1)))
    hard = np.zeros((h, w), np.uint8)
    cv2.ellipse(hard, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, thickness=-1)
    mask = cv2.GaussianBlur(hard.astype(np.float32), (0, 0), 2.0)[..., None]
    thing = _field(rng, h, w) * 0.6 + rng.uniform(30, 220, 3).astype(np.float32)
    image = image * (1 - mask) + thing * mask
    ys, xs = np.nonzero(hard)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return np.clip(image, 0, 255).astype(np.uint8), box


def write_cub_jpegs(root: str | Path, images: int, *, size: tuple[int, int] = (500, 375), classes: int = 200,
                    seed: int = 0, quality: int = 95, threads: int = 4) -> Path:
    """Write ``images`` JPEGs of ``size`` = (w, h) in the CUB layout under ``root``; returns ``root/CUB_200_2011``.

    Image ``i`` (image id ``i + 1``) has label ``i % classes`` and the box of
    :func:`render`; ``threads`` encode and write them.
    """
    for name, value, lo in (("images", images, 1), ("classes", classes, 1), ("threads", threads, 1),
                            ("quality", quality, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise ValueError(f"{name} must be an integer >= {lo}; got {value!r}")
    if quality > 100:
        raise ValueError(f"quality must be at most 100; got {quality!r}")
    if len(size) != 2 or not all(isinstance(s, int) and s >= 16 for s in size):
        raise ValueError(f"size must be (width, height), integers >= 16; got {size!r}")
    base = Path(root) / "CUB_200_2011"
    names = [f"{c + 1:03d}.Kind_{c + 1:03d}" for c in range(classes)]
    for c in {i % classes for i in range(images)}:
        (base / "images" / names[c]).mkdir(parents=True, exist_ok=True)

    def one(i: int) -> tuple[str, tuple[int, int, int, int]]:
        picture, box = render(i, size, seed)
        name = names[i % classes]
        rel = f"{name}/{name.split('.', 1)[1]}_{i + 1:05d}.jpg"
        ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR image
            raise RuntimeError(f"OpenCV could not encode image {i}")
        (base / "images" / rel).write_bytes(data.tobytes())
        return rel, box

    with ThreadPoolExecutor(threads) as pool:
        made = list(pool.map(one, range(images)))
    lines: dict[str, list[str]] = {f: [] for f in ("images", "labels", "split", "boxes")}
    for i, (rel, (x0, y0, x1, y1)) in enumerate(made, start=1):
        lines["images"].append(f"{i} {rel}")
        lines["labels"].append(f"{i} {(i - 1) % classes + 1}")
        lines["split"].append(f"{i} 0")
        lines["boxes"].append(f"{i} {x0:.1f} {y0:.1f} {x1 - x0:.1f} {y1 - y0:.1f}")
    files = {"classes.txt": [f"{c + 1} {n}" for c, n in enumerate(names)], "images.txt": lines["images"],
             "image_class_labels.txt": lines["labels"], "train_test_split.txt": lines["split"],
             "bounding_boxes.txt": lines["boxes"]}
    for file, rows in files.items():
        (base / file).write_text("".join(f"{r}\n" for r in rows), encoding="utf-8")
    return base
