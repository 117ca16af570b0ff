"""Checkpoints: atomic writes, weights-only loading, refusing what does not fit."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import torch

from infocam.engine import checkpoint as ck
from infocam.engine.config import resolve_config
from infocam.errors import InputError
from infocam.models import build_model


def _checkpoint(num_classes: int = 4, seed: int = 0) -> dict[str, Any]:
    torch.manual_seed(seed)
    cfg = resolve_config({"model": {"name": "small_cnn", "num_classes": num_classes}})
    model = build_model("small_cnn", num_classes, in_channels=3)
    return {
        "format": ck.FORMAT,
        "version": ck.VERSION,
        "model": model.state_dict(),
        "epoch": 3,
        "best_score": 75.0,
        "best_epoch": 2,
        "cfg": cfg,
        "meta": {"model_name": "small_cnn", "num_classes": num_classes},
    }


def _same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_round_trip_rebuilds_the_model(tmp_path: Path) -> None:
    state = _checkpoint(num_classes=5)
    ck.atomic_torch_save(state, tmp_path / "best.pt")
    model, cfg, meta = ck.load_checkpoint(tmp_path / "best.pt")
    assert type(model).__name__ == "SmallCNN" and not model.training
    assert model.fc.out_features == 5 and cfg["model"]["num_classes"] == 5
    assert _same_state(model.state_dict(), state["model"])
    assert (meta["epoch"], meta["best_score"], meta["best_epoch"]) == (3, 75.0, 2)
    assert meta["model_name"] == "small_cnn"


def test_file_mode_follows_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        ck.atomic_torch_save({"a": torch.ones(1)}, tmp_path / "x.pt")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.pt").stat().st_mode) == 0o644


def test_interrupted_write_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last.pt"
    old = _checkpoint(seed=1)
    ck.atomic_torch_save(old, path)
    real_save = torch.save

    def save_half_then_fail(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        import io

        buf = io.BytesIO()
        real_save(obj, buf)
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])  # half the bytes reach the disk
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", save_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        ck.atomic_torch_save(_checkpoint(seed=2), path)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # temp file removed
    back = ck.read_checkpoint(path)
    assert _same_state(back["model"], old["model"])
    assert ck.load_checkpoint(path)[2]["epoch"] == 3


def test_malicious_pickle_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple:
            return (open, (str(marker), "w"))  # would create a file when unpickled

    torch.save({"format": ck.FORMAT, "version": ck.VERSION, "model": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(InputError) as err:
        ck.read_checkpoint(tmp_path / "evil.pt")
    msg = str(err.value)
    assert str(tmp_path / "evil.pt") in msg
    assert "weights_only" in msg and "untrusted" in msg and "could run code" in msg
    assert not marker.exists()
    with pytest.raises(InputError, match="untrusted"):
        ck.load_checkpoint(tmp_path / "evil.pt")


def test_truncated_and_foreign_files(tmp_path: Path) -> None:
    ck.atomic_torch_save(_checkpoint(), tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match=r"cut\.pt: not a readable checkpoint \(truncated or corrupt\?\)"):
        ck.read_checkpoint(tmp_path / "cut.pt")
    torch.save(build_model("small_cnn", 3).state_dict(), tmp_path / "raw.pt")
    with pytest.raises(InputError, match=r"raw\.pt: not an infocam checkpoint"):
        ck.read_checkpoint(tmp_path / "raw.pt")
    with pytest.raises(InputError, match=r"missing\.pt: no such checkpoint file"):
        ck.read_checkpoint(tmp_path / "missing.pt")


def test_other_architecture_or_class_count_is_refused(tmp_path: Path) -> None:
    saved = _checkpoint(num_classes=4)["cfg"]["model"]
    path = tmp_path / "last.pt"
    wanted = dict(saved, num_classes=10)
    with pytest.raises(InputError) as err:
        ck.check_model_cfg(saved, wanted, path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: checkpoint is for small_cnn, 4 classes")
    assert "asks for small_cnn, 10 classes" in msg and "model.num_classes" in msg
    with pytest.raises(InputError, match=r"checkpoint is for small_cnn.*asks for vgg16_gap \+ ADL"):
        ck.check_model_cfg(saved, dict(saved, name="vgg16_gap", adl=True), path)
    ck.check_model_cfg(saved, dict(saved, num_classes=None), path)  # unknown yet: fine

    state = _checkpoint(num_classes=4)["model"]
    with pytest.raises(InputError) as err:
        ck.load_model_state(build_model("small_cnn", 10, in_channels=3), state, path)
    assert "fc.weight (4, 128) in the file vs (10, 128) in the model" in str(err.value)
    with pytest.raises(InputError, match=r"last\.pt: checkpoint does not fit the model.*missing key"):
        ck.load_model_state(build_model("tv:resnet18", 4), state, path)


def test_rng_states_survive_a_weights_only_round_trip(tmp_path: Path) -> None:
    import random

    import numpy as np

    from infocam.engine.seed import get_rng_state, seed_everything, set_rng_state

    seed_everything(123)
    random.gauss(0, 1)  # leaves a cached gaussian in Python's state
    ck.atomic_torch_save({"rng": get_rng_state()}, tmp_path / "rng.pt")
    expected = (random.random(), random.gauss(0, 1), np.random.rand(3).tolist(), torch.rand(3))
    seed_everything(999)
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True)["rng"])
    got = (random.random(), random.gauss(0, 1), np.random.rand(3).tolist(), torch.rand(3))
    assert got[:3] == expected[:3] and torch.equal(got[3], expected[3])
