"""A real 2-process ``torchrun`` training run (gloo, CPU) on the generated squares."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from infocam.engine.checkpoint import load_checkpoint, read_checkpoint

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _torchrun() -> list[str]:
    exe = Path(sys.executable).with_name("torchrun")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("torchrun")
    return [found] if found else [sys.executable, "-m", "torch.distributed.run"]


@pytest.mark.slow
def test_two_process_torchrun_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    proc = subprocess.run(
        [
            *_torchrun(), "--standalone", "--nproc-per-node", "2",
            "-m", "infocam", "train",
            "--config", str(CONFIGS / "tiny_synthetic.yaml"),
            "--set", "device=cpu", "--set", "train.epochs=2", "--set", "train.num_workers=1",
            "--out", str(run),
        ],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # only rank 0 printed ...
    assert proc.stdout.count("done: 2 epochs") == 1
    assert proc.stderr.count("epoch 1/2") == 1 and proc.stderr.count("epoch 2/2") == 1
    # ... and wrote one set of files, with nothing half-written left behind
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "config.yaml", "last.pt", "metrics.jsonl"]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    for r in rows:
        # counts summed over both processes: 32 validation images (16 + 16), 64 training
        assert (r["world_size"], r["val_images"], r["train_images"]) == (2, 32, 64)
        assert r["val_top1"] * 32 / 100 == pytest.approx(round(r["val_top1"] * 32 / 100))

    last = read_checkpoint(run / "last.pt")
    assert last["epoch"] == 2 and last["meta"]["world_size"] == 2
    assert len(last["rng"]) == 2  # one RNG state per process, for an exact resume
    assert not torch.equal(last["rng"][0]["torch"], last["rng"][1]["torch"])
    assert not any(k.startswith("module.") for k in last["model"])  # saved unwrapped
    model, cfg, meta = load_checkpoint(run / "best.pt")
    assert cfg["model"]["num_classes"] == 4 and meta["epoch"] == last["best_epoch"]
    assert model.fc.out_features == 4


def test_one_process_needs_no_process_group(monkeypatch: pytest.MonkeyPatch) -> None:
    from infocam.engine import distributed as D
    from infocam.errors import InputError

    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    with D.distributed("cpu") as ctx:
        assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.distributed) == (0, 1, True, False)
        t = torch.tensor([3.0, 4.0])
        assert D.all_reduce_sum(t) is t and t.tolist() == [3.0, 4.0]
        assert D.broadcast_object({"a": 1}) == {"a": 1} and D.all_gather_object(5) == [5]
        assert D.is_main() and D.get_world_size() == 1
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(InputError, match="WORLD_SIZE='two' is not an integer"):
        D.init_distributed("cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(InputError, match="bad torchrun environment: RANK=2, WORLD_SIZE=2"):
        D.init_distributed("cpu")
    with pytest.raises(InputError, match="device: must be auto, cpu, cuda or cuda:N, got 'gpu'"):
        D.resolve_device("gpu")


@pytest.mark.slow
def test_two_process_evaluate_save_maps(tmp_path: Path) -> None:
    # every rank writes its share of the maps into the folder the first rank
    # prepared; a folder that is not empty stops both ranks with the message
    # (no rank waits forever, no map is written)
    sys.path.insert(0, str(Path(__file__).parent))
    from data_factory import make_csv

    from infocam.models import build_model

    root = make_csv(tmp_path / "data", n_classes=2, n_train_per_class=1, n_test_per_class=3, size=(64, 64))
    torch.manual_seed(0)
    weights = tmp_path / "w.pt"
    torch.save(build_model("small_cnn", 2).state_dict(), weights)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)

    def run(maps: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                *_torchrun(), "--standalone", "--nproc-per-node", "2", "-m", "infocam", "evaluate",
                "--model", "small_cnn", "--weights", str(weights), "--num-classes", "2", "--data", str(root),
                "--format", "csv", "--split", "all_test", "--methods", "cam", "--device", "cpu",
                "--save-maps", str(maps), "--workers", "0", "--batch-size", "2", "--no-progress",
            ],
            env=env, capture_output=True, text=True, timeout=300,
        )

    maps = tmp_path / "maps"
    proc = run(maps)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(list((maps / "cam").rglob("*.npy"))) == 6  # 3 images from each rank
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    proc = run(taken)
    assert proc.returncode != 0
    assert proc.stderr.count("--overwrite") >= 1, proc.stderr
    assert sorted(p.name for p in taken.rglob("*")) == ["keep.txt"]
