"""``infocam data download``: fetch, verify and extract CUB-200-2011 or Tiny-ImageNet.

* The official URLs and MD5 checksums are in :data:`SOURCES`; ``url`` and
  ``md5`` override them for mirrors.
* The archive is downloaded to ``ROOT/<name>.part`` with a tqdm progress bar.
  An interrupted download resumes with an HTTP ``Range`` request; a server
  that ignores ranges makes it start over.
* The MD5 is verified before anything is extracted; on a mismatch the
  download is deleted and nothing is extracted.
* Extraction goes to a temporary folder inside ROOT and is then moved into
  place. Tar members pass ``tarfile``'s ``filter="data"`` (no absolute paths,
  no ``..``, no links leaving the folder, no device files); zip members
  with an absolute path or ``..`` are refused.
* ROOT must be empty (apart from this download's own archive and ``.part``
  file) unless ``overwrite`` is set, which then replaces folders of the same
  names. The archive is deleted after extraction unless ``keep_archive``.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import shutil
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlparse
from urllib.request import Request, urlopen

from infocam.errors import InputError


@dataclass(frozen=True)
class Source:
    """An official dataset archive."""

    url: str
    md5: str
    folder: str


SOURCES: dict[str, Source] = {
    "cub": Source(
        url="https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz",
        md5="97eceeb196236b17998738112f37df78",
        folder="CUB_200_2011",
    ),
    "tiny-imagenet": Source(
        url="http://cs231n.stanford.edu/tiny-imagenet-200.zip",
        md5="90528d7ca1a48142e341f4ef8d21d0de",
        folder="tiny-imagenet-200",
    ),
}

_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
CHUNK = 1 << 20


def archive_name(url: str) -> str:
    """The file name an URL downloads to (its last path component)."""
    name = PurePosixPath(unquote(urlparse(url).path)).name
    return name if name and name not in (".", "..") else "download.bin"


def file_md5(path: Path) -> str:
    """Hex MD5 of a file, read in chunks."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def download_dataset(
    name: str,
    root: str | Path,
    *,
    url: str | None = None,
    md5: str | None = None,
    overwrite: bool = False,
    keep_archive: bool = False,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download, verify and extract dataset ``name`` into ``root``; returns the dataset folder."""
    if name not in SOURCES:
        raise InputError(f"dataset: unknown dataset {name!r}; expected one of {', '.join(SOURCES)}")
    source = SOURCES[name]
    url = url or source.url
    if urlparse(url).scheme not in ("http", "https"):
        raise InputError(f"--url: only http and https URLs are supported; got {url!r}")
    md5 = md5 or source.md5
    if not _MD5.match(md5):
        raise InputError(f"--md5: expected 32 hexadecimal digits; got {md5!r}")
    md5 = md5.lower()
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InputError(f"--root: {root} exists and is not a folder")
    fname = archive_name(url)
    archive = root / fname
    part = root / f"{fname}.part"
    if root.exists() and not overwrite:
        others = sorted(p.name for p in root.iterdir() if p.name not in (archive.name, part.name))
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise InputError(f"--root: {root} is not empty ({shown}); refusing to extract into it (use --overwrite)")
    root.mkdir(parents=True, exist_ok=True)

    if archive.exists() and file_md5(archive) != md5:
        if not overwrite:
            raise InputError(f"{archive}: already exists with a different MD5; remove it or use --overwrite")
        archive.unlink()
    if not archive.exists():
        fetch(url, part, progress=progress, timeout=timeout, desc=fname)
        got = file_md5(part)
        if got != md5:
            part.unlink()
            raise InputError(
                f"{url}: checksum mismatch: MD5 is {got}, expected {md5} (--md5); the download was deleted, nothing was extracted"
            )
        part.replace(archive)
    extract_archive(archive, root, overwrite=overwrite)
    if not keep_archive:
        archive.unlink()
    folder = root / source.folder
    return folder if folder.is_dir() else root


def fetch(url: str, part: Path, *, progress: bool = True, timeout: float = 60.0, desc: str = "") -> None:
    """Download ``url`` into ``part``, resuming from its current size with HTTP Range.

    Raises :class:`InputError` naming the URL on HTTP or network errors; the
    partial file is kept so a second call resumes.
    """
    from tqdm import tqdm

    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "infocam-downloader"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        resp = urlopen(Request(url, headers=headers), timeout=timeout)
    except HTTPError as exc:
        if exc.code == 416 and start:
            return  # nothing left to fetch: the .part file is complete; the MD5 decides
        raise InputError(f"{url}: HTTP error {exc.code} {exc.reason}") from None
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(f"{url}: cannot download: {reason}") from None
    with resp:
        resuming = start > 0 and resp.status == 206 and _range_start(resp.headers.get("Content-Range")) == start
        if not resuming:
            start = 0
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        written = start
        try:
            with open(part, "ab" if resuming else "wb") as f, tqdm(
                total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
                desc=desc or part.name, disable=not progress, file=sys.stderr, leave=False,
            ) as bar:
                while chunk := resp.read(CHUNK):
                    f.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as exc:
            raise InputError(f"{url}: download interrupted after {written} bytes ({exc}); run again to resume") from None
    if total is not None and written != total:
        raise InputError(f"{url}: connection closed after {written} of {total} bytes; run again to resume")


def _range_start(content_range: str | None) -> int | None:
    m = re.match(r"bytes (\d+)-\d+/(\d+|\*)", content_range or "")
    return int(m.group(1)) if m else None


def extract_archive(archive: Path, dest: Path, *, overwrite: bool = False) -> list[Path]:
    """Extract a tar (any compression) or zip archive into ``dest`` safely; returns the top-level entries."""
    archive, dest = Path(archive), Path(dest)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, tmp)
        else:
            raise InputError(f"{archive}: not a tar or zip archive")
        moved = []
        for entry in sorted(tmp.iterdir()):
            target = dest / entry.name
            if target.exists() or target.is_symlink():
                if not overwrite:
                    raise InputError(f"{target}: already exists; refusing to overwrite it (use --overwrite)")
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()
            entry.rename(target)
            moved.append(target)
        return moved
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_tar(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    except tarfile.FilterError as exc:
        member = getattr(getattr(exc, "tarinfo", None), "name", "?")
        raise InputError(f"{archive}: unsafe member {member!r} refused ({exc}); nothing was extracted") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputError(f"{archive}: cannot extract: {exc}") from None


def _extract_zip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = info.filename.replace("\\", "/")
                parts = PurePosixPath(name).parts
                if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                    raise InputError(f"{archive}: unsafe member {info.filename!r} refused; nothing was extracted")
            zf.extractall(dest)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{archive}: cannot extract: {exc}") from None
