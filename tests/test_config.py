"""Config schema: the paper settings, overrides, and errors that name the key and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from infocam.engine.config import (
    apply_overrides,
    default_config,
    dump_config,
    find_config,
    load_config,
    resolve_config,
    save_config,
)
from infocam.errors import InputError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PAPER = {
    # file: (model, dataset format, lr, batch, region, adl_gamma or None, image size)
    "cub_vgg16_gap": ("vgg16_gap", "cub", 1e-3, 30, 5, None, 224),
    "cub_vgg16_gap_adl": ("vgg16_gap", "cub", 1e-3, 30, 5, 0.8, 224),
    "cub_resnet50": ("resnet50", "cub", 1e-2, 128, 4, None, 224),
    "cub_resnet50_adl": ("resnet50", "cub", 1e-2, 128, 4, 0.9, 224),
    "tiny_vgg16_gap": ("vgg16_gap", "tiny-imagenet", 1e-3, 64, 3, None, 64),
    "tiny_vgg16_gap_adl": ("vgg16_gap", "tiny-imagenet", 1e-3, 64, 3, 0.8, 64),
    "tiny_resnet50": ("resnet50", "tiny-imagenet", 1e-2, 128, 3, None, 64),
    "tiny_resnet50_adl": ("resnet50", "tiny-imagenet", 1e-2, 128, 3, 0.9, 64),
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_configs_hold_the_reference_settings(name: str) -> None:
    arch, fmt, lr, batch, region, gamma, size = PAPER[name]
    cfg = load_config(CONFIGS / f"{name}.yaml")
    m, d, t = cfg["model"], cfg["data"], cfg["train"]
    assert (m["name"], m["num_classes"], m["pretrained"]) == (arch, 200, True)
    assert m["adl"] is (gamma is not None)
    assert m["adl_gamma"] == gamma
    assert m["adl_drop_rate"] == (0.75 if gamma is not None else None)
    assert (d["format"], d["image_size"]) == (fmt, size)
    assert (d["resize_size"], d["crop"]) == ((256, True) if fmt == "cub" else (64, False))
    assert (t["lr"], t["batch_size"], t["epochs"]) == (lr, batch, 200)
    assert (t["momentum"], t["nesterov"], t["weight_decay"]) == (0.9, True, 1e-4)
    assert (t["milestones"], t["gamma"], t["new_layer_lr_mult"]) == ([60, 120, 180], 0.1, 10.0)
    assert (t["loss"], t["select_metric"]) == ("ce", "top1")
    assert cfg["evaluate"]["region"] == region
    assert cfg["evaluate"]["methods"] == ["cam", "infocam", "infocam+"]


def test_tiny_config_and_bundled_names() -> None:
    assert find_config("tiny_synthetic") == CONFIGS / "tiny_synthetic.yaml"
    assert find_config("cub_resnet50.yaml") == CONFIGS / "cub_resnet50.yaml"
    cfg = load_config(find_config("tiny_synthetic"))
    assert (cfg["model"]["name"], cfg["data"]["format"]) == ("small_cnn", "synthetic")
    with pytest.raises(InputError, match=r"--config nope: no such file \(bundled configs: .*cub_vgg16_gap"):
        find_config("nope")


def test_defaults_fill_missing_keys(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, "train:\n  lr: 0.5\n"))
    assert cfg["train"]["lr"] == 0.5
    assert cfg["train"]["epochs"] == 200 and cfg["train"]["amp"] == "none"
    assert cfg["model"]["name"] == "small_cnn" and cfg["seed"] == 0
    assert resolve_config(cfg) == cfg  # idempotent


def test_unknown_key_names_key_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "seed: 1\ntrain:\n  epochs: 3\n  lrr: 0.1\n")
    with pytest.raises(InputError) as err:
        load_config(path)
    msg = str(err.value)
    assert f"{path}:4" in msg and "unknown key 'train.lrr'" in msg and "did you mean 'lr'" in msg


def test_unknown_top_level_key_and_section(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"run\.yaml:2: unknown key 'optimiser'"):
        load_config(_write(tmp_path, "seed: 1\noptimiser: sgd\n"))
    with pytest.raises(InputError, match=r"run\.yaml:1: 'model' must be a section"):
        load_config(_write(tmp_path, "model: vgg16_gap\n"))


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("train:\n  epochs: ten\n", "train.epochs", "an integer"),
        ("train:\n  epochs: true\n", "train.epochs", "an integer"),  # a bool is no int
        ("train:\n  epochs: 2.5\n", "train.epochs", "an integer"),
        ("train:\n  lr: fast\n", "train.lr", "a number"),
        ("train:\n  nesterov: 1\n", "train.nesterov", "true or false"),
        ("train:\n  amp: fp32\n", "train.amp", "one of none, bf16, fp16"),
        ("train:\n  milestones: [60, x]\n", "train.milestones", "a list of integers"),
        ("seed: abc\n", "seed", "an integer (or null)"),
        ("model:\n  adl_gamma: high\n", "model.adl_gamma", "a number (or null)"),
        ("data:\n  image_size: big\n", "data.image_size", "an integer (or null)"),
    ],
)
def test_wrong_types_name_key_and_file(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:") and f"'{key}' must be {expected}" in msg


def test_yaml11_exponent_floats_are_numbers(tmp_path: Path) -> None:
    # PyYAML reads "1e-3" (no dot) as a string: float keys convert it
    cfg = load_config(_write(tmp_path, "train:\n  lr: 1e-3\n  weight_decay: 5E-4\n"))
    assert cfg["train"]["lr"] == 0.001 and cfg["train"]["weight_decay"] == 0.0005


def test_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, "train:\n  lr: 0.1\n")
    cfg = load_config(
        path,
        [
            "train.lr=1e-3",
            "train.milestones=[1, 2]",
            "model.adl=true",
            "model.name=vgg16_gap",
            "seed=null",
            "evaluate.methods=infocam",
            "data.csv=/x/a.csv",  # data is open: passed on to build_dataset
        ],
    )
    assert cfg["train"]["lr"] == 0.001 and cfg["train"]["milestones"] == [1, 2]
    assert cfg["model"]["adl"] is True and cfg["model"]["name"] == "vgg16_gap"
    assert cfg["seed"] is None and cfg["evaluate"]["methods"] == ["infocam"]
    assert cfg["data"]["csv"] == "/x/a.csv"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("train.lrr=1", "--set train.lrr=1: unknown key 'train.lrr'; did you mean 'lr'?"),
        ("train.epochs=many", "--set train.epochs=many: 'train.epochs' must be an integer"),
        ("train.epochs", "--set train.epochs: expected KEY=VALUE"),
        ("train.a.b=1", "--set train.a.b=1: 'train.a.b' is nested too deep"),
        ("seed.x=1", "--set seed.x=1: 'seed' is a value, not a section"),
        ("train.milestones=[1,", "--set train.milestones=[1,: cannot parse the value as YAML"),
    ],
)
def test_bad_overrides(item: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        apply_overrides(default_config(), [item])
    assert str(err.value).startswith(message)


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"run\.yaml:3: not valid YAML"):
        load_config(_write(tmp_path, "train:\n  lr: 0.1\n  epochs: : 2\n"))
    with pytest.raises(InputError, match="a config must be a mapping"):
        load_config(_write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(InputError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")


def test_saved_config_round_trips(tmp_path: Path) -> None:
    cfg = load_config(CONFIGS / "cub_resnet50_adl.yaml", ["seed=123", "data.root=/d/CUB"])
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg
    assert "milestones: [60, 120, 180]" in dump_config(cfg)
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # no temporary file left
