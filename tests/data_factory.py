"""Tiny datasets in the exact on-disk layouts, for tests (any test may reuse these).

Every image is a dark background with each ground-truth box drawn as a
solid bright rectangle, so a test can find a box in the pixels. Each
``make_*`` function returns a :class:`MadeDataset`: its ``root`` (what a
config's ``root`` key takes), and ``images``, one :class:`MadeImage` per
image with the id, label, official subset and half-open boxes the loaders
must produce. A :class:`MadeDataset` also works as a path
(``os.fspath(made)``, ``made / "images.txt"``).

    made = make_cub(tmp_path)                     # tmp_path/CUB_200_2011
    cfg = {"format": "cub", "root": str(made)}
    made.subset("test")                           # official test images, image-id order
"""

from __future__ import annotations

import os
import random
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

DARK = 20
BRIGHT = 235


@dataclass
class MadeImage:
    """One generated image and the ground truth a loader must report."""

    id: str
    path: Path
    label: int
    subset: str
    size: tuple[int, int]
    boxes: list[tuple[int, int, int, int]]
    order: int = 0


@dataclass
class MadeDataset:
    """A generated dataset: where it is and what it holds."""

    root: Path
    images: list[MadeImage]
    class_names: list[str]
    metadata_root: Path | None = None
    csv: Path | None = None
    extra: dict = field(default_factory=dict)

    def __fspath__(self) -> str:
        return os.fspath(self.root)

    def __truediv__(self, other: str) -> Path:
        return self.root / other

    def __str__(self) -> str:
        return str(self.root)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, name: str) -> list[MadeImage]:
        """Images of an official subset (``train``/``test``, or a wsol split), in image-id order."""
        return sorted((m for m in self.images if m.subset == name), key=lambda m: m.order)

    def by_id(self) -> dict[str, MadeImage]:
        return {m.id: m for m in self.images}


def draw(size: tuple[int, int], boxes, *, mode: str = "RGB", dark: int = DARK, bright: int = BRIGHT) -> Image.Image:
    """A ``size`` = (w, h) image: dark, with each half-open box filled bright."""
    w, h = size
    arr = np.full((h, w), dark, dtype=np.uint8)
    for x0, y0, x1, y1 in boxes:
        arr[int(y0):int(y1), int(x0):int(x1)] = bright
    img = Image.fromarray(arr, mode="L")
    return img if mode == "L" else img.convert(mode)


def random_box(rng: random.Random, size: tuple[int, int], *, min_frac: float = 0.3) -> tuple[int, int, int, int]:
    """A half-open box inside an image, at least ``min_frac`` of each side, not touching the border."""
    w, h = size
    bw = rng.randint(max(2, int(w * min_frac)), max(2, int(w * 0.7)))
    bh = rng.randint(max(2, int(h * min_frac)), max(2, int(h * 0.7)))
    x0 = rng.randint(1, w - bw - 1)
    y0 = rng.randint(1, h - bh - 1)
    return (x0, y0, x0 + bw, y0 + bh)


def two_boxes(rng: random.Random, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Two disjoint half-open boxes: one in the left half, one in the right half."""
    w, h = size
    half = w // 2
    a = random_box(rng, (half, h), min_frac=0.4)
    b = random_box(rng, (w - half, h), min_frac=0.4)
    return [a, (b[0] + half, b[1], b[2] + half, b[3])]


def _save(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        img.save(path, format="JPEG", quality=95)
    else:
        img.save(path)


def make_cub(
    root: str | Path,
    n_classes: int = 3,
    n_train_per_class: int = 2,
    n_test_per_class: int = 4,
    size: tuple[int, int] = (64, 48),
    seed: int = 0,
) -> MadeDataset:
    """``root/CUB_200_2011`` in the official layout (space-separated, 1-based labels).

    Within a class, train and test images interleave in image-id order and
    file names are not in id order (as in the real ``images.txt``).
    """
    rng = random.Random(seed)
    base = Path(root) / "CUB_200_2011"
    names = [f"{c + 1:03d}.Bird_{chr(65 + c % 26)}{c}" for c in range(n_classes)]
    images: list[MadeImage] = []
    lines = {k: [] for k in ("images", "labels", "split", "boxes")}
    image_id = 0
    for c, cname in enumerate(names):
        subsets = ["train"] * n_train_per_class + ["test"] * n_test_per_class
        rng.shuffle(subsets)
        numbers = list(range(1, len(subsets) + 1))
        rng.shuffle(numbers)
        for subset, number in zip(subsets, numbers):
            image_id += 1
            rel = f"{cname}/{cname.split('.', 1)[1]}_{number:04d}_{700 + image_id}.jpg"
            box = random_box(rng, size)
            _save(draw(size, [box]), base / "images" / rel)
            x0, y0, x1, y1 = box
            lines["images"].append(f"{image_id} {rel}")
            lines["labels"].append(f"{image_id} {c + 1}")
            lines["split"].append(f"{image_id} {1 if subset == 'train' else 0}")
            lines["boxes"].append(f"{image_id} {x0:.1f} {y0:.1f} {x1 - x0:.1f} {y1 - y0:.1f}")
            images.append(MadeImage(rel, base / "images" / rel, c, subset, size, [box], order=image_id))
    _write(base / "classes.txt", [f"{i + 1} {n}" for i, n in enumerate(names)])
    _write(base / "images.txt", lines["images"])
    _write(base / "image_class_labels.txt", lines["labels"])
    _write(base / "train_test_split.txt", lines["split"])
    _write(base / "bounding_boxes.txt", lines["boxes"])
    return MadeDataset(base, images, names)


def make_tiny_imagenet(
    root: str | Path,
    n_classes: int = 3,
    n_train_per_class: int = 2,
    n_val_per_class: int = 2,
    size: tuple[int, int] = (64, 64),
    seed: int = 0,
) -> MadeDataset:
    """``root/tiny-imagenet-200`` in the official layout (tab-separated, inclusive corners).

    ``wnids.txt`` is not sorted (the class index is the sorted position);
    validation classes are shuffled over ``val_0 ...``; one training image
    per class is grayscale, as some real ones are.
    """
    rng = random.Random(seed)
    base = Path(root) / "tiny-imagenet-200"
    wnids = [f"n{1000000 + 37 * (c + 1):08d}" for c in range(n_classes)]
    listed = wnids[:]
    rng.shuffle(listed)
    class_names = sorted(wnids)
    index = {w: i for i, w in enumerate(class_names)}
    _write(base / "wnids.txt", listed)
    _write(base / "words.txt", [f"{w}\tthing number {i}" for i, w in enumerate(listed)])
    images: list[MadeImage] = []
    order = 0
    for wnid in class_names:
        rows = []
        for k in range(n_train_per_class):
            name = f"{wnid}_{k}.JPEG"
            box = random_box(rng, size)
            _save(draw(size, [box], mode="L" if k == 0 else "RGB"), base / "train" / wnid / "images" / name)
            rows.append(f"{name}\t{box[0]}\t{box[1]}\t{box[2] - 1}\t{box[3] - 1}")
            order += 1
            rel = f"train/{wnid}/images/{name}"
            images.append(MadeImage(rel, base / rel, index[wnid], "train", size, [box], order=order))
        _write(base / "train" / wnid / f"{wnid}_boxes.txt", rows)
    val_labels = [w for w in class_names for _ in range(n_val_per_class)]
    rng.shuffle(val_labels)
    rows = []
    for k, wnid in enumerate(val_labels):
        name = f"val_{k}.JPEG"
        box = random_box(rng, size)
        _save(draw(size, [box]), base / "val" / "images" / name)
        rows.append(f"{name}\t{wnid}\t{box[0]}\t{box[1]}\t{box[2] - 1}\t{box[3] - 1}")
        rel = f"val/images/{name}"
        images.append(MadeImage(rel, base / rel, index[wnid], "test", size, [box], order=10_000 + k))
    _write(base / "val" / "val_annotations.txt", rows)
    _save(draw(size, []), base / "test" / "images" / "test_0.JPEG")
    return MadeDataset(base, images, class_names)


def make_wsol(
    root: str | Path,
    n_classes: int = 3,
    per_class: dict[str, int] | None = None,
    size: tuple[int, int] = (60, 40),
    masks: bool = False,
    seed: int = 0,
    dataset_name: str = "TOY",
) -> MadeDataset:
    """wsolevaluation metadata ``root/metadata/<dataset_name>/<split>/`` and PNG images under ``root/images``.

    Every third image has two boxes (left and right half). With ``masks``,
    ``localization.txt`` lists masks instead (OpenImages style): one mask per
    box, the ignore mask (a 2-pixel frame around the first box) on the
    first line only; ``extra["masks"][id]`` is the expected uint8 mask
    (0/1/255).
    """
    rng = random.Random(seed)
    per_class = per_class or {"train": 2, "val": 2, "test": 2}
    image_root = Path(root) / "images"
    meta = Path(root) / "metadata" / dataset_name
    images: list[MadeImage] = []
    expected_masks: dict[str, np.ndarray] = {}
    order = 0
    for split, n in per_class.items():
        ids, labels, sizes, loc = [], [], [], []
        for c in range(n_classes):
            for k in range(n):
                order += 1
                rel = f"{split}/class{c}/img_{k}.png"
                boxes = two_boxes(rng, size) if order % 3 == 0 else [random_box(rng, size)]
                _save(draw(size, boxes), image_root / rel)
                ids.append(rel)
                labels.append(f"{rel},{c}")
                sizes.append(f"{rel},{size[0]},{size[1]}")
                if masks:
                    w, h = size
                    fg = np.zeros((h, w), dtype=bool)
                    for j, (x0, y0, x1, y1) in enumerate(boxes):
                        m = np.zeros((h, w), dtype=np.uint8)
                        m[y0:y1, x0:x1] = 255
                        fg[y0:y1, x0:x1] = True
                        mrel = f"masks/{split}/class{c}/img_{k}_m{j}.png"
                        _save(Image.fromarray(m), image_root / mrel)
                        ignore = ""
                        if j == 0:
                            ig = np.zeros((h, w), dtype=np.uint8)
                            x0, y0, x1, y1 = boxes[0]
                            ig[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2] = 255
                            ignore = f"masks/{split}/class{c}/img_{k}_ignore.png"
                            _save(Image.fromarray(ig), image_root / ignore)
                            ig_bool = ig > 0
                        loc.append(f"{rel},{mrel},{ignore}")
                    expected = fg.astype(np.uint8)
                    expected[ig_bool & ~fg] = 255
                    expected_masks[rel] = expected
                else:
                    loc.extend(f"{rel},{x0},{y0},{x1 - 1},{y1 - 1}" for x0, y0, x1, y1 in boxes)
                images.append(MadeImage(rel, image_root / rel, c, split, size, boxes, order=order))
        _write(meta / split / "image_ids.txt", ids)
        _write(meta / split / "class_labels.txt", labels)
        _write(meta / split / "image_sizes.txt", sizes)
        _write(meta / split / "localization.txt", loc)
    return MadeDataset(
        image_root, images, [str(c) for c in range(n_classes)], metadata_root=meta,
        extra={"masks": expected_masks, "dataset_name": dataset_name, "metadata_parent": meta.parent},
    )


def make_csv(
    root: str | Path,
    n_classes: int = 3,
    n_train_per_class: int = 2,
    n_test_per_class: int = 2,
    size: tuple[int, int] = (50, 40),
    *,
    header: bool = True,
    names: bool = True,
    split_column: bool = True,
    seed: int = 0,
) -> MadeDataset:
    """An image folder ``root/photos`` and ``root/photos/annotations.csv`` (one row per box).

    Every third image has two boxes; labels are class names (``names``) or
    integer indices; images alternate between PNG and JPEG.
    """
    rng = random.Random(seed)
    base = Path(root) / "photos"
    class_names = [f"kind{c}" for c in range(n_classes)] if names else [str(c) for c in range(n_classes)]
    rows = ["path,label,x0,y0,x1,y1" + (",split" if split_column else "")] if header else []
    images: list[MadeImage] = []
    order = 0
    for c in range(n_classes):
        subsets = ["train"] * n_train_per_class + ["test"] * n_test_per_class
        for k, subset in enumerate(subsets):
            order += 1
            rel = f"c{c}/im{k}.{'png' if order % 2 else 'jpg'}"
            boxes = two_boxes(rng, size) if order % 3 == 0 else [random_box(rng, size)]
            _save(draw(size, boxes), base / rel)
            for x0, y0, x1, y1 in boxes:
                rows.append(f"{rel},{class_names[c]},{x0},{y0},{x1},{y1}" + (f",{subset}" if split_column else ""))
            images.append(MadeImage(rel, base / rel, c, subset if split_column else "all", size, boxes, order=order))
    csv = base / "annotations.csv"
    _write(csv, rows)
    return MadeDataset(base, images, class_names, csv=csv)


def make_archive(src: str | Path, archive: str | Path) -> Path:
    """Pack folder ``src`` (with its own name as the top entry) into a ``.tgz``/``.tar.gz`` or ``.zip``."""
    src, archive = Path(src), Path(archive)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for p in sorted(src.rglob("*")):
                zf.write(p, p.relative_to(src.parent).as_posix())
    else:
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(src, arcname=src.name)
    return archive


def rewrite_line(path: str | Path, line: int, text: str | None) -> None:
    """Replace 1-based ``line`` of a text file (``None`` deletes it)."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    if text is None:
        del lines[line - 1]
    else:
        lines[line - 1] = text
    path.write_text("\n".join(lines), encoding="utf-8")


def append_line(path: str | Path, text: str) -> int:
    """Append a line to a text file; returns its 1-based line number."""
    path = Path(path)
    body = path.read_text(encoding="utf-8")
    if body and not body.endswith("\n"):
        body += "\n"
    body += text + "\n"
    path.write_text(body, encoding="utf-8")
    return body.count("\n")


def read_line(path: str | Path, line: int) -> str:
    """The 1-based ``line`` of a text file."""
    return Path(path).read_text(encoding="utf-8").split("\n")[line - 1]


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
