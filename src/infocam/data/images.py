"""Opening images robustly: every readable image becomes 8-bit RGB.

* Grayscale (``L``, ``1``), CMYK, YCbCr and palette images are converted to
  RGB (a palette with transparency goes through RGBA first).
* Alpha (``RGBA``, ``LA``, ``PA``) is dropped: the colour channels are kept
  as stored, as PIL's ``convert("RGB")`` does.
* 16-bit grayscale (``I;16*``) is scaled to 8 bits (``v / 257``, rounded);
  32-bit ``I`` images are scaled the same way when they hold values above
  255, and ``F`` images holding values in [0, 1] are scaled by 255.
* EXIF orientation is **not** applied: annotations refer to the pixels as
  stored.
* A missing, empty, truncated or corrupt file raises
  :class:`~infocam.errors.InputError` naming the file (and, when given, the
  ``file:line`` that listed it).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from infocam.errors import InputError

_READ_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def _listed(listed_at: str | None) -> str:
    return f" (listed at {listed_at})" if listed_at else ""


def _missing(path: Path, listed_at: str | None) -> InputError:
    return InputError(f"{path}: image file not found{_listed(listed_at)}")


def _unreadable(path: Path, exc: BaseException, listed_at: str | None) -> InputError:
    if isinstance(exc, UnidentifiedImageError):
        reason = "empty file" if path.stat().st_size == 0 else "not an image PIL can identify"
    else:
        reason = str(exc) or type(exc).__name__
    return InputError(f"{path}: cannot read image: {reason}{_listed(listed_at)}")


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL image to 8-bit RGB following the rules of this module."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(image).astype(np.float64)
        if mode.startswith("I;16") or (arr.size and arr.max() > 255):
            arr = arr / 257.0
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if mode == "F":
        arr = np.asarray(image).astype(np.float64)
        arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
        if arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        return image.convert("RGBA").convert("RGB")
    return image.convert("RGB")


def open_rgb(path: str | Path, *, listed_at: str | None = None) -> Image.Image:
    """Open and fully decode an image as 8-bit RGB.

    ``listed_at`` (``"file:line"``) is added to error messages so users can
    find the annotation that names a missing or broken file.
    """
    path = Path(path)
    if not path.is_file():
        raise _missing(path, listed_at)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                return to_rgb(im)
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc, listed_at) from None


def image_size(path: str | Path, *, listed_at: str | None = None) -> tuple[int, int]:
    """``(width, height)`` from the image header, without decoding the pixels."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path, listed_at)
    try:
        with Image.open(path) as im:
            return im.size
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc, listed_at) from None


def open_mask(path: str | Path, *, listed_at: str | None = None) -> np.ndarray:
    """A binary mask file as a bool array (H, W): any non-zero pixel is set."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: mask file not found{_listed(listed_at)}")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("1", "L", "I", "F") or im.mode.startswith("I;16"):
                arr = np.asarray(im)
            else:
                arr = np.asarray(im.convert("L"))
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc, listed_at) from None
    return arr > 0
