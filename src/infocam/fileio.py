"""Small file-safety helpers: atomic writes and output-directory checks.

A file written with :func:`atomic_write_text` / :func:`atomic_write_json` is
either the old version or the complete new one, never a half-written mix:
the data goes to a temporary file in the same directory, is flushed and
fsynced, then renamed over the target (``os.replace`` is atomic on POSIX).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from infocam.errors import InputError

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_writable_file",
    "load_untrusted_torch_file",
    "prepare_output_dir",
    "unpickler_reason",
]

def atomic_write(path: str | Path, writer: Callable[[BinaryIO], Any]) -> Path:
    """Write ``path`` via ``writer(file)`` so that it is the old file or the new one, never half.

    The data goes to a temporary file in the same directory, is flushed and
    fsynced, then ``os.replace``-d over ``path``, and the directory is
    fsynced. On any error (a full disk, an interrupt) the temporary file is
    removed and ``path`` is untouched; an ``OSError`` that names no file
    (``write`` and ``fsync`` errors do not) is re-raised naming ``path``. A
    process killed outright (SIGKILL, power loss) can leave the hidden
    temporary ``.NAME.XXXX.tmp`` beside ``path``, never a half-written ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files; give the result the usual umask-based mode
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (best effort: not every filesystem allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def check_writable_file(path: str | Path, *, what: str = "--json") -> Path:
    """Fail early, before any long work, if ``path`` cannot be written later.

    Checks, without creating anything that stays: ``path`` is not a folder;
    its nearest existing ancestor is a folder (not a regular file); a file
    can be created there (a probe file is made and removed at once, which
    also catches a read-only filesystem and a root user, for whom the
    permission bits alone say nothing). Raises :class:`InputError` naming
    ``what`` and the path.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {path} is a directory, not a file")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{what} {path} cannot be created: {ancestor} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=ancestor)
    except OSError as exc:
        raise InputError(
            f"{what} {path} cannot be written: {ancestor}: {exc.strerror or exc}"
        ) from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
    return path


def prepare_output_dir(path: str | Path, *, overwrite: bool = False, what: str = "--out") -> Path:
    """Create ``path`` or accept it empty; a non-empty one needs ``overwrite``.

    With ``overwrite`` the directory's files are left in place and replaced
    one by one as the new run writes them (nothing is deleted wholesale).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise InputError(f"{what} {path} is not empty; pass --overwrite to replace its results")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # permission denied, a regular file on the way, a read-only disk
        raise InputError(f"{what} {path} cannot be created: {exc.strerror or exc}") from None
    try:  # a probe, not os.access: the permission bits say nothing for root or a read-only mount
        fd, probe = tempfile.mkstemp(prefix=".infocam.", suffix=".probe", dir=path)
    except OSError as exc:
        raise InputError(f"{what} {path} is not writable: {exc.strerror or exc}") from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
    return path


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def unpickler_reason(exc: BaseException) -> str:
    """The useful part of torch's weights-only error (``Unsupported global: GLOBAL os.system ...``)."""
    text = _ANSI.sub("", str(exc))
    _, found, rest = text.partition("WeightsUnpickler error:")
    if not found:
        return " ".join(text.split()[:12]) or type(exc).__name__
    rest = rest.split("Check the documentation")[0]
    words = " ".join(rest.split())
    return words.split(". ")[0] or type(exc).__name__


def _runs_code(exc: BaseException) -> bool:
    """Did the weights-only unpickler stop at a global (a class or function to call)?"""
    return "Unsupported global" in str(exc) or "GLOBAL" in unpickler_reason(exc)


def load_untrusted_torch_file(path: str | Path, what: str) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, with one-line errors naming ``path``.

    A file whose pickle would call code is *refused* (and says so); a file
    that is not a PyTorch file at all, or is truncated, is *unreadable*.
    ``what`` names the kind of file in messages (``"checkpoint"``, ``"weights"``).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if _runs_code(exc):
            raise InputError(
                f"{path}: refused: the file holds pickled Python objects that could run code "
                f"when loaded, so it is untrusted; infocam reads {what} files with "
                f"torch.load(weights_only=True) only ({unpickler_reason(exc)})"
            ) from None
        raise InputError(
            f"{path}: not a readable {what} (not a PyTorch file, or a corrupt one): {unpickler_reason(exc)}"
        ) from None
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a readable {what} (truncated or corrupt?): {reason}") from None
