"""Faults while writing results: a full disk, an interrupt, a SIGKILL.

A result file is the previous good version or the complete new one, never a
half-written mix: :mod:`infocam.fileio` writes a hidden temporary file in the
same folder, fsyncs it and renames it over the target. Training's own
kill-and-resume tests live in ``tests/test_trainer.py`` and
``tests/test_checkpoint.py`` (see ``docs/bad-input.md``).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from data_factory import make_csv
from infocam import fileio
from infocam.cli import main
from infocam.engine import checkpoint as ck
from infocam.engine.config import resolve_config
from infocam.models import build_model

OLD = {"methods": {"cam": {"gt_known_loc": 12.5}}, "note": "the previous, good result"}


class HalfThenFail:
    """A file object whose ``write`` lets half the bytes reach the disk, then fails."""

    def __init__(self, fh, code: int = errno.ENOSPC) -> None:
        self.fh, self.code = fh, code

    def write(self, data: bytes) -> int:
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        raise OSError(self.code, os.strerror(self.code))

    def __getattr__(self, name: str):
        return getattr(self.fh, name)

    def __enter__(self) -> HalfThenFail:
        return self

    def __exit__(self, *exc: object) -> bool:
        self.fh.close()
        return False


def fail_binary_writes(monkeypatch: pytest.MonkeyPatch, code: int = errno.ENOSPC) -> None:
    real = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        fh = real(fd, mode, *args, **kwargs)
        return HalfThenFail(fh, code) if "w" in mode and "b" in mode else fh

    monkeypatch.setattr(os, "fdopen", fdopen)


def write_old(path: Path) -> str:
    text = json.dumps(OLD, indent=2) + "\n"
    path.write_text(text)
    return text


def only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def csv_checkpoint(tmp_path_factory) -> Path:
    """An untrained small_cnn checkpoint whose config points at a tiny CSV dataset."""
    root = tmp_path_factory.mktemp("faults")
    made = make_csv(root, n_classes=3, n_train_per_class=2, n_test_per_class=2, size=(48, 40))
    torch.manual_seed(0)
    cfg = resolve_config({"model": {"name": "small_cnn", "num_classes": 3}, "device": "cpu",
                          "data": {"format": "csv", "root": str(made), "image_size": 32, "resize_size": 36}})
    path = root / "best.pt"
    ck.atomic_torch_save({"format": ck.FORMAT, "version": ck.VERSION, "model": build_model("small_cnn", 3).state_dict(),
                          "epoch": 1, "best_score": 0.0, "best_epoch": 1, "cfg": cfg, "meta": {}}, path)
    return path


def evaluate_argv(ckpt: Path, out: Path) -> list[str]:
    return ["evaluate", "--checkpoint", str(ckpt), "--split", "all_test", "--workers", "0", "--no-progress",
            "--max-box-acc", "--json", str(out), "--overwrite"]


# --------------------------------------------------------------------------- atomic_write_json


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EIO])
def test_disk_full_midway_keeps_the_previous_file_and_no_temp(tmp_path, monkeypatch, code) -> None:
    path = tmp_path / "eval.json"
    old = write_old(path)
    fail_binary_writes(monkeypatch, code)
    with pytest.raises(OSError) as err:
        fileio.atomic_write_json(path, {"big": list(range(10_000))})
    monkeypatch.undo()
    assert err.value.errno == code and err.value.filename == str(path)  # the error names the file
    assert path.read_text() == old and json.loads(path.read_text()) == OLD
    assert only(tmp_path) == ["eval.json"]


@pytest.mark.parametrize("where", ["fsync", "replace"])
@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_interrupted_before_the_rename_keeps_the_previous_file(tmp_path, monkeypatch, where, exc) -> None:
    path = tmp_path / "eval.json"
    old = write_old(path)

    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(os, where, boom)
    with pytest.raises(type(exc)):
        fileio.atomic_write_json(path, {"new": True})
    monkeypatch.undo()
    assert path.read_text() == old
    assert only(tmp_path) == ["eval.json"]


def test_first_write_that_fails_leaves_nothing(tmp_path, monkeypatch) -> None:
    fail_binary_writes(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        fileio.atomic_write_text(tmp_path / "new" / "report.md", "x" * 1000)
    monkeypatch.undo()
    assert only(tmp_path / "new") == []


def test_a_good_write_replaces_the_file_whole(tmp_path) -> None:
    path = tmp_path / "eval.json"
    write_old(path)
    fileio.atomic_write_json(path, {"new": [1, 2, 3]})
    assert json.loads(path.read_text()) == {"new": [1, 2, 3]} and only(tmp_path) == ["eval.json"]


# --------------------------------------------------------------------------- the evaluate command


def test_evaluate_out_of_disk_at_the_end_keeps_the_previous_json(tmp_path, monkeypatch, capsys,
                                                                 csv_checkpoint) -> None:
    out = tmp_path / "eval.json"
    old = write_old(out)
    fail_binary_writes(monkeypatch)
    rc = main(evaluate_argv(csv_checkpoint, out))
    monkeypatch.undo()
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "Traceback" not in err
    assert err == f"infocam evaluate: error: {out}: No space left on device"
    assert out.read_text() == old and only(tmp_path) == ["eval.json"]
    assert main(evaluate_argv(csv_checkpoint, out)) == 0  # space again: the new result, whole
    assert json.loads(out.read_text())["count"] == 6


def test_evaluate_interrupted_midway_keeps_the_previous_json(tmp_path, monkeypatch, capsys,
                                                            csv_checkpoint) -> None:
    from infocam.metrics import WSOLMeter

    out = tmp_path / "eval.json"
    old = write_old(out)
    calls = {"n": 0}
    real_update = WSOLMeter.update

    def update_then_ctrl_c(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(WSOLMeter, "update", update_then_ctrl_c)
    assert main([*evaluate_argv(csv_checkpoint, out), "--batch-size", "2"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert out.read_text() == old and only(tmp_path) == ["eval.json"]


KILL_MID_WRITE = textwrap.dedent(
    """
    import os, signal, sys

    real = os.fdopen

    class HalfThenKilled:
        def __init__(self, fh):
            self.fh = fh
        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            self.fh.flush()
            os.fsync(self.fh.fileno())
            os.kill(os.getpid(), signal.SIGKILL)  # no except, no finally runs after this
        def __getattr__(self, name):
            return getattr(self.fh, name)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.fh.close()

    def fdopen(fd, mode="r", *args, **kwargs):
        fh = real(fd, mode, *args, **kwargs)
        return HalfThenKilled(fh) if "w" in mode and "b" in mode else fh

    os.fdopen = fdopen
    from infocam.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_evaluate_sigkilled_while_writing_json_leaves_the_previous_json(tmp_path, csv_checkpoint) -> None:
    out = tmp_path / "eval.json"
    old = write_old(out)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", KILL_MID_WRITE, *evaluate_argv(csv_checkpoint, out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert out.read_text() == old and json.loads(out.read_text()) == OLD  # never half-written
    temps = [p for p in tmp_path.iterdir() if p.name != "eval.json"]
    # the killed process could not clean up: its hidden temp file holds the half it wrote
    assert len(temps) == 1 and temps[0].name.startswith(".eval.json.") and temps[0].name.endswith(".tmp")
    half = temps[0].read_text()
    assert half and '"methods"' in half
    with pytest.raises(json.JSONDecodeError):
        json.loads(half)


# --------------------------------------------------------------------------- files written by others


def test_checkpoint_out_of_disk_error_names_the_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "last.pt"

    def full(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError) as err:
        ck.atomic_torch_save({"a": torch.ones(1)}, path)
    monkeypatch.undo()
    assert only(tmp_path) == []  # no partial file
    assert err.value.filename == str(path)


def test_data_check_json_out_of_disk_leaves_no_temp(tmp_path, monkeypatch, capsys) -> None:
    made = make_csv(tmp_path / "data")
    reports = tmp_path / "reports"
    reports.mkdir()
    out = reports / "check.json"
    old = write_old(out)

    def fsync(fd):  # the data is written, then the disk turns out to be full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    rc = main(["data", "check", str(made), "--format", "csv", "--json", str(out), "--overwrite"])
    monkeypatch.undo()
    assert rc == 2 and out.read_text() == old  # the previous file intact
    assert only(reports) == ["check.json"]
