"""infocam data download against a local HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from data_factory import make_archive, make_cub, make_tiny_imagenet
from infocam.cli import main
from infocam.data import build_dataset, download_dataset
from infocam.data.download import SOURCES, archive_name
from infocam.errors import InputError


class _Handler(BaseHTTPRequestHandler):
    timeout = 10

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        rng = self.headers.get("Range")
        start = 0
        if rng and srv.honour_range:
            start = int(re.match(r"bytes=(\d+)-$", rng).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.cut_after is not None:  # simulate a dropped connection, once
            body, srv.cut_after = body[: srv.cut_after], None
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.requests, srv.honour_range, srv.cut_after = {}, [], True, None
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def cub_archive(tmp_path):
    made = make_cub(tmp_path / "src")
    data = make_archive(made.root, tmp_path / "CUB_200_2011.tgz").read_bytes()
    return made, data


def _serve(server, name, data):
    server.files[f"/files/{name}"] = data
    return f"{server.base}/files/{name}"


def test_download_verify_extract_cub(tmp_path, server, cub_archive):
    made, data = cub_archive
    url = _serve(server, "CUB_200_2011.tgz", data)
    root = tmp_path / "datasets"
    folder = download_dataset("cub", root, url=url, md5=_md5(data), progress=True)
    assert folder == root / "CUB_200_2011"
    assert sorted(p.name for p in root.iterdir()) == ["CUB_200_2011"]  # archive and .part gone
    ds = build_dataset({"format": "cub", "root": str(root)}, "all_test", train=False)
    assert len(ds) == len(made.subset("test"))
    assert (folder / "images.txt").read_bytes() == (made.root / "images.txt").read_bytes()
    assert server.requests == [("/files/CUB_200_2011.tgz", None)]


def test_download_zip_tiny_imagenet_keep_archive(tmp_path, server):
    made = make_tiny_imagenet(tmp_path / "src")
    data = make_archive(made.root, tmp_path / "tiny-imagenet-200.zip").read_bytes()
    url = _serve(server, "tiny-imagenet-200.zip", data)
    folder = download_dataset("tiny-imagenet", tmp_path / "d", url=url, md5=_md5(data).upper(), keep_archive=True, progress=False)
    assert folder == tmp_path / "d" / "tiny-imagenet-200"
    assert (tmp_path / "d" / "tiny-imagenet-200.zip").read_bytes() == data
    assert len(build_dataset({"format": "tiny-imagenet", "root": str(folder)}, "train", train=True)) == 6


def test_resume_from_a_partial_file(tmp_path, server, cub_archive):
    _made, data = cub_archive
    url = _serve(server, "CUB_200_2011.tgz", data)
    root = tmp_path / "d"
    root.mkdir()
    n = len(data) // 3
    (root / "CUB_200_2011.tgz.part").write_bytes(data[:n])
    download_dataset("cub", root, url=url, md5=_md5(data), progress=False)
    assert server.requests == [("/files/CUB_200_2011.tgz", f"bytes={n}-")]
    assert (root / "CUB_200_2011" / "images.txt").is_file()


def test_dropped_connection_then_resume(tmp_path, server, cub_archive):
    _made, data = cub_archive
    url = _serve(server, "CUB_200_2011.tgz", data)
    server.cut_after = len(data) // 2
    root = tmp_path / "d"
    with pytest.raises(InputError, match="run again to resume"):
        download_dataset("cub", root, url=url, md5=_md5(data), progress=False)
    part = root / "CUB_200_2011.tgz.part"
    assert part.read_bytes() == data[: len(data) // 2]
    assert not (root / "CUB_200_2011").exists()
    download_dataset("cub", root, url=url, md5=_md5(data), progress=False)
    assert server.requests[-1] == ("/files/CUB_200_2011.tgz", f"bytes={len(data) // 2}-")
    assert (root / "CUB_200_2011" / "images.txt").is_file() and not part.exists()


def test_server_ignoring_range_restarts(tmp_path, server, cub_archive):
    _made, data = cub_archive
    url = _serve(server, "CUB_200_2011.tgz", data)
    server.honour_range = False
    root = tmp_path / "d"
    root.mkdir()
    (root / "CUB_200_2011.tgz.part").write_bytes(b"garbage that must not be kept")
    download_dataset("cub", root, url=url, md5=_md5(data), progress=False)
    assert server.requests[0][1] == "bytes=29-"
    assert (root / "CUB_200_2011" / "images.txt").is_file()


def test_complete_partial_file_gets_416(tmp_path, server, cub_archive):
    _made, data = cub_archive
    url = _serve(server, "CUB_200_2011.tgz", data)
    root = tmp_path / "d"
    root.mkdir()
    (root / "CUB_200_2011.tgz.part").write_bytes(data)
    download_dataset("cub", root, url=url, md5=_md5(data), progress=False)
    assert (root / "CUB_200_2011" / "images.txt").is_file()


def test_checksum_mismatch_extracts_nothing(tmp_path, server, cub_archive):
    _made, data = cub_archive
    url = _serve(server, "CUB_200_2011.tgz", data)
    root = tmp_path / "d"
    with pytest.raises(InputError, match="checksum mismatch") as info:
        download_dataset("cub", root, url=url, md5="0" * 32, progress=False)
    assert url in str(info.value) and _md5(data) in str(info.value)
    assert list(root.iterdir()) == []


def test_refuses_non_empty_root_unless_overwrite(tmp_path, server, cub_archive):
    _made, data = cub_archive
    url = _serve(server, "CUB_200_2011.tgz", data)
    root = tmp_path / "d"
    root.mkdir()
    (root / "mine.txt").write_text("keep")
    with pytest.raises(InputError, match=r"--root: .* is not empty \(mine.txt\); refusing"):
        download_dataset("cub", root, url=url, md5=_md5(data), progress=False)
    assert server.requests == []
    (root / "CUB_200_2011").mkdir()
    (root / "CUB_200_2011" / "old.txt").write_text("old")
    download_dataset("cub", root, url=url, md5=_md5(data), overwrite=True, progress=False)
    assert (root / "mine.txt").read_text() == "keep"
    assert not (root / "CUB_200_2011" / "old.txt").exists()
    assert (root / "CUB_200_2011" / "images.txt").is_file()


def _tar_with(member: tarfile.TarInfo, payload: bytes = b"x") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        ok = tarfile.TarInfo("CUB_200_2011/ok.txt")
        ok.size = 1
        tf.addfile(ok, io.BytesIO(b"1"))
        if member.isreg():
            member.size = len(payload)
            tf.addfile(member, io.BytesIO(payload))
        else:
            tf.addfile(member)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["dotdot", "symlink-out"])
def test_tar_path_traversal_is_refused(tmp_path, server, kind):
    if kind == "dotdot":
        member = tarfile.TarInfo("CUB_200_2011/../../evil.txt")
    else:
        member = tarfile.TarInfo("CUB_200_2011/link")
        member.type, member.linkname = tarfile.SYMTYPE, "../../../evil.txt"
    data = _tar_with(member)
    url = _serve(server, "CUB_200_2011.tgz", data)
    root = tmp_path / "a" / "b"
    with pytest.raises(InputError, match="unsafe member"):
        download_dataset("cub", root, url=url, md5=_md5(data), progress=False)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "a" / "evil.txt").exists()
    assert not (root / "CUB_200_2011").exists()


def test_tar_absolute_member_stays_inside_root(tmp_path, server):
    outside = tmp_path / "outside" / "evil.txt"
    data = _tar_with(tarfile.TarInfo(str(outside)))  # filter="data" strips the leading "/"
    url = _serve(server, "CUB_200_2011.tgz", data)
    root = tmp_path / "d"
    download_dataset("cub", root, url=url, md5=_md5(data), progress=False)
    assert not outside.exists()
    assert (root / str(outside).lstrip("/")).read_bytes() == b"x"


def test_zip_path_traversal_is_refused(tmp_path, server):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tiny-imagenet-200/ok.txt", "1")
        zf.writestr("../evil.txt", "x")
    data = buf.getvalue()
    url = _serve(server, "tiny-imagenet-200.zip", data)
    root = tmp_path / "d"
    with pytest.raises(InputError, match=r"unsafe member '\.\./evil\.txt'"):
        download_dataset("tiny-imagenet", root, url=url, md5=_md5(data), progress=False)
    assert not (tmp_path / "evil.txt").exists() and not (root / "tiny-imagenet-200").exists()


def test_http_errors_name_the_url(tmp_path, server):
    url = f"{server.base}/files/missing.tgz"
    with pytest.raises(InputError, match=re.escape(url) + ": HTTP error 404"):
        download_dataset("cub", tmp_path / "d", url=url, md5="0" * 32, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"md5": "xyz"}, "--md5"), ({"url": "ftp://x/y.tgz"}, "--url"), ({"url": "file:///etc/passwd"}, "--url")],
)
def test_bad_arguments(tmp_path, kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        download_dataset("cub", tmp_path / "d", progress=False, **kwargs)


def test_official_sources():
    assert SOURCES["cub"].url == "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz"
    assert SOURCES["cub"].md5 == "97eceeb196236b17998738112f37df78"
    assert SOURCES["tiny-imagenet"].url == "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
    assert SOURCES["tiny-imagenet"].md5 == "90528d7ca1a48142e341f4ef8d21d0de"
    assert archive_name(SOURCES["cub"].url) == "CUB_200_2011.tgz"


def test_cli_download(tmp_path, server, cub_archive, capsys):
    _made, data = cub_archive
    url = _serve(server, "CUB_200_2011.tgz", data)
    root = tmp_path / "d"
    args = ["data", "download", "cub", "--root", str(root), "--url", url, "--md5", _md5(data), "--no-progress"]
    assert main(args) == 0
    assert f"cub ready at {root / 'CUB_200_2011'}" in capsys.readouterr().out
    assert main(args) == 2  # now the folder is not empty
    assert "refusing" in capsys.readouterr().err
