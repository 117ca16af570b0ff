"""``infocam data convert``: CUB or Tiny-ImageNet to the wsolevaluation metadata layout.

Writes ``OUT/train``, ``OUT/val`` and ``OUT/test`` (the even/odd halves of the
official test set, :mod:`infocam.data.split`), each with ``image_ids.txt``,
``class_labels.txt``, ``image_sizes.txt`` and ``localization.txt``, plus
``OUT/class_names.txt``. Image paths are relative to the image root:
``CUB_200_2011/images`` for CUB (as in wsolevaluation), ``tiny-imagenet-200``
for Tiny-ImageNet. Boxes are written as inclusive corners (``x1 - 1``), so
reading them back gives exactly the same half-open boxes.

Nothing is overwritten: ``OUT`` must not exist or be an empty folder. The
files are written to a temporary sibling folder and renamed into place.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infocam.data.factory import check_command, read_annotations, resolve_root, validate_config
from infocam.data.images import image_size
from infocam.data.split import select_split
from infocam.data.wsol_metadata import CLASS_NAMES_FILE, write_wsol_split
from infocam.errors import InputError

CONVERTIBLE: tuple[str, ...] = ("cub", "tiny-imagenet")
OUT_SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass
class ConvertResult:
    """Where the metadata went and what a config needs to read it back."""

    metadata_root: Path
    image_root: Path
    counts: dict[str, int]

    def config(self) -> dict:
        """A ``data:`` config for :func:`infocam.data.build_dataset`."""
        return {"format": "wsol", "root": str(self.image_root), "metadata_root": str(self.metadata_root)}


def convert_to_wsol(fmt: str, root: str | Path, out: str | Path, *, progress: bool = False) -> ConvertResult:
    """Convert a CUB or Tiny-ImageNet folder to wsolevaluation metadata under ``out``."""
    fmt = str(fmt).lower()
    if fmt not in CONVERTIBLE:
        raise InputError(f"--format: can convert {', '.join(CONVERTIBLE)}; got {fmt!r}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out: {out} already exists and is not an empty folder; refusing to overwrite it")
    cfg = validate_config({"format": fmt, "root": str(root)})
    ann = read_annotations(cfg)
    ann.raise_if_problems(check_command(fmt, root))
    data_root = resolve_root(fmt, root)
    image_root = data_root / "images" if fmt == "cub" else data_root

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        counts = {}
        for split in OUT_SPLITS:
            records = select_split(ann.records, split)
            iterator = records
            if progress:
                from tqdm import tqdm

                iterator = tqdm(records, desc=f"{split}: image sizes", unit="img", file=sys.stderr, leave=False)
            sizes = [image_size(r.path, listed_at=r.source) for r in iterator]
            write_wsol_split(tmp / split, records, image_root, sizes)
            counts[split] = len(records)
        (tmp / CLASS_NAMES_FILE).write_text("".join(f"{n}\n" for n in ann.class_names), encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty, checked above
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ConvertResult(metadata_root=out, image_root=image_root, counts=counts)
