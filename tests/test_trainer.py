"""The one trainer: optimizer groups, the run directory, exact resume, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import Dataset

from infocam.cli import main
from infocam.data.synthetic import SyntheticSquares
from infocam.engine.build import per_rank_batch
from infocam.engine.checkpoint import load_checkpoint, read_checkpoint
from infocam.engine.config import load_config
from infocam.engine.trainer import build_optimizer, fit, lr_at_epoch
from infocam.errors import InputError
from infocam.models import build_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TIMING = {"seconds", "train_seconds", "images_per_s"}


def tiny_cfg(*overrides: str) -> dict[str, Any]:
    """configs/tiny_synthetic.yaml on the CPU, in-process data loading."""
    return load_config(
        CONFIGS / "tiny_synthetic.yaml", ["device=cpu", "train.num_workers=0", *overrides]
    )


def rows(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def untimed(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rs]


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def same_nested(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_nested(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_nested(x, y) for x, y in zip(a, b))
    return a == b


# --------------------------------------------------------------------------- optimizer


def _lr_of(opt: torch.optim.Optimizer) -> dict[int, float]:
    return {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}


@pytest.mark.parametrize(
    ("name", "new_prefixes"), [("vgg16_gap", ("conv6.", "fc.")), ("resnet50", ("layer4.", "fc."))]
)
def test_new_layers_get_ten_times_the_base_lr(name: str, new_prefixes: tuple[str, ...]) -> None:
    model = build_model(name, 200)
    cfg = load_config(CONFIGS / f"cub_{name}.yaml")
    opt, sched = build_optimizer(model, cfg)
    base = cfg["train"]["lr"]
    lr = _lr_of(opt)
    named = dict(model.named_parameters())
    assert len(lr) == len(named)  # every parameter in exactly one group
    for pname, p in named.items():
        expected = 10 * base if pname.startswith(new_prefixes) else base
        assert lr[id(p)] == pytest.approx(expected, rel=1e-12), pname
    assert any(pname.startswith(new_prefixes) for pname in named)
    for g in opt.param_groups:
        assert (g["momentum"], g["nesterov"], g["weight_decay"]) == (0.9, True, 1e-4)
    assert sorted(sched.milestones) == [60, 120, 180] and sched.gamma == 0.1


def test_the_trainer_uses_those_groups(tmp_path: Path) -> None:
    model = build_model("small_cnn", 4, in_channels=3)
    model.new_layer_names = ("fc",)  # pretend the head is new
    fit(tiny_cfg("train.epochs=1"), tmp_path / "run", model=model, progress=False)
    groups = read_checkpoint(tmp_path / "run" / "last.pt")["optimizer"]["param_groups"]
    assert [(g["name"], g["lr"], len(g["params"])) for g in groups] == [
        ("backbone", 0.05, 12),
        ("new", pytest.approx(0.5), 2),  # fc.weight, fc.bias
    ]


def test_step_schedule_and_global_batch() -> None:
    assert [lr_at_epoch(1e-3, e, [60, 120, 180], 0.1) for e in (0, 59, 60, 120, 199)] == [
        pytest.approx(v) for v in (1e-3, 1e-3, 1e-4, 1e-5, 1e-6)
    ]
    assert per_rank_batch(128, 8, "train.batch_size") == 16
    with pytest.raises(InputError, match=r"train.batch_size: 30 .* over the 8 processes .*--set train.batch_size=32"):
        per_rank_batch(30, 8, "train.batch_size")


# --------------------------------------------------------------------------- a run


def test_fit_writes_the_run_and_keeps_the_best(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    det_before = torch.are_deterministic_algorithms_enabled()
    result = fit(tiny_cfg(), run, progress=False)
    assert torch.are_deterministic_algorithms_enabled() == det_before  # switched back
    assert capsys.readouterr().err == ""  # progress=False: silent
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "config.yaml", "last.pt", "metrics.jsonl"]
    log = rows(run)
    assert [r["epoch"] for r in log] == [1, 2, 3]
    assert [r["lr"] for r in log] == pytest.approx([0.05, 0.05, 0.005])  # milestone at 2
    assert all(r["val_images"] == 32 and r["train_images"] == 64 for r in log)
    assert all(r["world_size"] == 1 and r["images_per_s"] > 0 for r in log)
    top1 = [r["val_top1"] for r in log]
    best_epoch = top1.index(max(top1)) + 1
    assert (result.best_epoch, result.best_score, result.epochs) == (best_epoch, max(top1), 3)
    assert log[-1]["val_top1"] > 50  # 4 classes: chance is 25
    assert log[-1]["train_loss"] < log[0]["train_loss"]

    saved = load_config(run / "config.yaml")
    assert saved["model"]["num_classes"] == 4 and saved["seed"] == 0

    best, last = read_checkpoint(run / "best.pt"), read_checkpoint(run / "last.pt")
    assert (best["epoch"], last["epoch"], last["best_epoch"]) == (best_epoch, 3, best_epoch)
    assert best["meta"]["metrics"]["val_top1"] == max(top1)
    assert same_state(result.model.state_dict(), last["model"])
    assert same_state(result.load_best().state_dict(), best["model"])

    # the logged top-1 is hits / count over the whole validation half
    model, _, _ = load_checkpoint(run / "last.pt")
    val = SyntheticSquares("val", num_classes=4, num_train=64, num_eval=64, image_size=32)
    with torch.no_grad():
        logits = model(torch.stack([val[i]["image"] for i in range(len(val))]))
    hits = (logits.argmax(1) == torch.tensor(val.labels)).sum().item()
    assert log[-1]["val_top1"] == hits / 32 * 100


def test_val_every_validates_every_nth_epoch_and_the_last(tmp_path: Path) -> None:
    result = fit(tiny_cfg("train.epochs=5", "train.val_every=2"), tmp_path / "run", progress=False)
    log = rows(tmp_path / "run")
    assert [r["epoch"] for r in log] == [1, 2, 3, 4, 5]
    validated = [r["epoch"] for r in log if "val_top1" in r]
    assert validated == [2, 4, 5]  # every 2nd, and the last
    assert all(r["score"] is None and not r["best"] and "val_loss" not in r for r in log if r["epoch"] in (1, 3))
    scores = {r["epoch"]: r["val_top1"] for r in log if "val_top1" in r}
    assert result.best_epoch == max(scores, key=lambda e: (scores[e], -e))
    assert read_checkpoint(tmp_path / "run" / "best.pt")["epoch"] == result.best_epoch
    # the same training as validating every epoch: validation draws no random number
    every = fit(tiny_cfg("train.epochs=5"), tmp_path / "every", progress=False)
    assert same_state(every.model.state_dict(), result.model.state_dict())
    for bad in ("0", "-1", "1.5"):
        with pytest.raises(InputError, match=r"train\.val_every"):
            fit(tiny_cfg("train.epochs=1", f"train.val_every={bad}"), tmp_path / f"bad{bad}", progress=False)


def test_resume_after_epoch_1_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    fit(tiny_cfg("train.epochs=2"), tmp_path / "straight", progress=False)
    fit(tiny_cfg("train.epochs=1"), tmp_path / "split", progress=False)
    result = fit(tiny_cfg("train.epochs=2"), tmp_path / "split", resume=True, progress=False)
    assert result.epochs == 2 and len(result.history) == 2
    a = read_checkpoint(tmp_path / "straight" / "last.pt")
    b = read_checkpoint(tmp_path / "split" / "last.pt")
    assert same_state(a["model"], b["model"])
    for key in ("optimizer", "scheduler", "rng", "epoch", "best_score", "best_epoch"):
        assert same_nested(a[key], b[key]), key
    assert untimed(rows(tmp_path / "straight")) == untimed(rows(tmp_path / "split"))
    # resuming a finished run trains nothing and changes nothing
    again = fit(tiny_cfg("train.epochs=2"), tmp_path / "split", resume=True, progress=False)
    assert again.epochs == 2 and same_state(again.model.state_dict(), b["model"])


def test_run_directory_guard(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")  # unrelated files are fine
    with pytest.raises(InputError, match=r"run: --resume: no previous run here"):
        fit(tiny_cfg("train.epochs=1"), run, resume=True, progress=False)
    fit(tiny_cfg("train.epochs=1"), run, progress=False)
    with pytest.raises(InputError, match=r"holds a previous run \(config.yaml, metrics.jsonl, last.pt, best.pt\); pass --resume .* or --overwrite"):
        fit(tiny_cfg("train.epochs=1"), run, progress=False)
    with pytest.raises(InputError, match=r"last\.pt: checkpoint is for small_cnn, 4 classes.*asks for tv:resnet18"):
        fit(tiny_cfg("train.epochs=2", "model.name=tv:resnet18"), run, resume=True, progress=False)
    with pytest.raises(InputError, match=r"model\.num_classes: 5, but the dataset has 4 classes"):
        fit(tiny_cfg("train.epochs=2", "model.num_classes=5"), run, resume=True, progress=False)
    first = read_checkpoint(run / "last.pt")["model"]
    fit(tiny_cfg("train.epochs=1", "seed=7"), run, overwrite=True, progress=False)
    assert not same_state(first, read_checkpoint(run / "last.pt")["model"])
    assert (run / "notes.txt").read_text() == "mine"
    assert len(rows(run)) == 1


class MultiHot(Dataset):
    """The synthetic squares with multi-hot labels: class k and k+1 (mod M) present."""

    def __init__(self, split: str, train: bool) -> None:
        self.base = SyntheticSquares(split, train=train, num_classes=3)
        self.num_classes = 3
        self.labels = [self._hot(y) for y in self.base.labels]

    @staticmethod
    def _hot(y: int) -> torch.Tensor:
        t = torch.zeros(3)
        t[y] = 1
        t[(y + 1) % 3] = 1
        return t

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.base[i]
        return {**item, "label": self._hot(item["label"])}


def test_multi_label_selects_by_mean_per_label_accuracy(tmp_path: Path) -> None:
    sets = {"train_set": MultiHot("train", True), "val_set": MultiHot("val", False)}
    result = fit(tiny_cfg("train.loss=pc_sigmoid", "train.epochs=1"), tmp_path / "ml",
                 progress=False, **sets)
    (row,) = rows(tmp_path / "ml")
    assert result.select_metric == "label_acc" and row["score"] == row["val_label_acc"]
    assert "val_top1" not in row and len(row["val_per_label_acc"]) == 3
    model = result.model
    val = sets["val_set"]
    with torch.no_grad():
        logits = model(torch.stack([val[i]["image"] for i in range(len(val))]))
    per_label = ((logits > 0) == torch.stack(val.labels).bool()).double().mean(0) * 100
    assert row["val_per_label_acc"] == [round(float(v), 4) for v in per_label]
    assert row["val_label_acc"] == pytest.approx(float(per_label.mean()), abs=1e-9)

    with pytest.raises(InputError, match=r"train.loss=ce needs class-index labels"):
        fit(tiny_cfg("train.epochs=1"), tmp_path / "ce", progress=False, **sets)
    with pytest.raises(InputError, match=r"train.select_metric: label_acc does not apply to train.loss=ce"):
        fit(tiny_cfg("train.select_metric=label_acc"), tmp_path / "sel", progress=False)


# --------------------------------------------------------------------------- a real kill


def _train_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "infocam", "train", "--no-progress", *args]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    common = ["--config", str(CONFIGS / "tiny_synthetic.yaml"), "--set", "device=cpu",
              "--set", "train.num_workers=1"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    ref = subprocess.Popen(_train_cli(*common, "--out", str(straight)), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # 50 ms per image: an epoch takes ~5 s, so the kill lands inside epoch 2
    victim = subprocess.Popen(_train_cli(*common, "--set", "data.delay_s=0.05", "--out",
                                         str(killed)), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = killed / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (log.is_file() and log.read_text().count("\n") >= 1):
        assert victim.poll() is None, victim.communicate()
        assert time.monotonic() < deadline, "epoch 1 did not finish"
        time.sleep(0.05)
    time.sleep(1.0)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    assert read_checkpoint(killed / "last.pt")["epoch"] == 1  # killed during epoch 2

    resumed = subprocess.run(
        # no --config: RUN_DIR/config.yaml; the sleep does not change the result
        _train_cli("--out", str(killed), "--resume", "--set", "data.delay_s=0"),
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    _, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err
    a, b = read_checkpoint(straight / "last.pt"), read_checkpoint(killed / "last.pt")
    assert b["epoch"] == 3 and same_state(a["model"], b["model"])
    assert same_nested(a["optimizer"], b["optimizer"])
    assert untimed(rows(straight)) == untimed(rows(killed))
    assert sorted(p.name for p in killed.iterdir()) == sorted(p.name for p in straight.iterdir())


# --------------------------------------------------------------------------- the CLI


def test_train_help_explains_one_and_eight_gpus(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "infocam train --config configs/cub_vgg16_gap.yaml" in text
    assert "torchrun --nproc-per-node 8 -m infocam train" in text
    assert "--resume" in text and "--set KEY=VALUE" in text


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["train", "--config", "tiny_synthetic", "--set", "train.lrr=1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert err.startswith("infocam train: error: --set train.lrr=1: unknown key 'train.lrr'")
    assert main(["train", "--out", str(tmp_path / "none")]) == 2
    assert "--config: required (except with --resume)" in capsys.readouterr().err


def test_cli_print_config(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["train", "--config", "cub_resnet50", "--set", "train.amp=bf16",
                 "--out", str(tmp_path), "--print-config"]) == 0
    text = capsys.readouterr().out
    assert "  amp: bf16\n" in text and "  name: resnet50\n" in text
    assert list(tmp_path.iterdir()) == []


class Broken(SyntheticSquares):
    """Item 5 cannot be read (raised inside a DataLoader worker)."""

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index == 5:
            raise InputError("synthetic/train/00005: cannot read image")
        return super().__getitem__(index)


def test_a_worker_error_stops_the_workers_at_once(tmp_path: Path) -> None:
    import gc

    from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter

    def running() -> list:
        return [o for o in gc.get_objects()
                if issubclass(type(o), _MultiProcessingDataLoaderIter) and not o._shutdown]

    before = {id(o) for o in running()}
    sets = {"train_set": Broken("train", train=True), "val_set": SyntheticSquares("val")}
    with pytest.raises(InputError, match="00005: cannot read image"):
        fit(tiny_cfg("train.num_workers=1", "train.epochs=1"), tmp_path / "run",
            progress=False, **sets)
    assert [o for o in running() if id(o) not in before] == []  # none left for a later gc
    assert not (tmp_path / "run" / "last.pt").exists()
