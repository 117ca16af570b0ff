"""A new user's own data set, start to finish: each rough edge's behaviour."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from data_factory import make_wsol
from infocam.cli import main
from infocam.data import build_dataset, check_dataset, collate
from infocam.engine.config import load_config, resolve_config
from infocam.engine.evaluate import evaluate, main_variants
from infocam.engine.trainer import fit
from infocam.errors import InputError
from infocam.models import build_model
from test_bad_input import one_line_error, save_checkpoint


@pytest.fixture(scope="module")
def wsol(tmp_path_factory):
    root = tmp_path_factory.mktemp("wsol")
    return make_wsol(root, n_classes=2, per_class={"train": 2, "val": 2, "test": 2}, size=(40, 32))


def _wsol_cfg(made) -> dict:
    return {"format": "wsol", "root": str(made.root), "metadata_root": str(made.metadata_root)}


# --------------------------------------------------------------------------- data keys


def test_a_data_key_typo_names_file_line_and_the_closest_key(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("seed: 1\ndata:\n  format: wsol\n  root: images\n  metdata_root: meta\n")
    with pytest.raises(InputError) as info:
        load_config(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:5: data: unknown key 'metdata_root'; did you mean 'metadata_root'?"), msg


def test_a_key_of_another_format_names_its_line(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("data:\n  format: cub\n  root: x\n  metadata_root: meta\n")
    with pytest.raises(InputError, match=r"run\.yaml:4: data: unknown key 'metadata_root' \(only for format "
                                         r"wsol\), not for format cub"):
        load_config(path)
    with pytest.raises(InputError, match=r"^--set data\.dataset_nme=CUB: data: unknown key 'dataset_nme'; "
                                         r"did you mean 'dataset_name'\?"):
        load_config(_write(tmp_path / "ok.yaml", "data:\n  format: wsol\n"), ["data.dataset_nme=CUB"])


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_synthetic_keys_stay_accepted():
    cfg = resolve_config({"data": {"format": "synthetic", "num_train": 8, "num_eval": 4}})
    assert cfg["data"]["num_train"] == 8


# --------------------------------------------------------------------------- data check


def test_check_on_the_folder_above_metadata_points_at_it(wsol, capsys):
    meta = wsol.extra["metadata_parent"]  # <top>/metadata/TOY/<split>/, images in <top>/images
    line = one_line_error(capsys, ["data", "check", str(meta.parent), "--format", "wsol"])
    assert f"the metadata is in {meta}: give ROOT {meta} with --dataset-name TOY" in line
    line = one_line_error(capsys, ["data", "check", str(meta), "--format", "wsol"])
    assert f"the split folders are in {meta / 'TOY'}: give ROOT {meta / 'TOY'}, or add --dataset-name TOY" in line
    assert main(["data", "check", str(meta), "--format", "wsol", "--dataset-name", "TOY", "--quick"]) == 0


def test_half_open_edge_boxes_warn_once_quoting_the_line(tmp_path):
    made = make_wsol(tmp_path, n_classes=2, per_class={"test": 3}, size=(40, 32))
    loc = made.metadata_root / "test" / "localization.txt"
    sizes = made.metadata_root / "test" / "image_sizes.txt"
    lines = loc.read_text().splitlines()
    # rewrite every box half-open and reaching the right edge: x1 = w (one past the inclusive 39)
    rewritten = []
    for text in lines:
        path, x0, y0, _x1, y1 = text.split(",")
        rewritten.append(f"{path}, {x0},{y0},40,{y1}")
    loc.write_text("\n".join(rewritten) + "\n")
    assert sizes.read_text().splitlines()[0].endswith(",40,32")
    report = check_dataset("wsol", made.metadata_root, images=made.root)
    assert report.ok, report.to_text()
    assert len(report.warnings) == 1, report.to_text()
    w = report.warnings[0]
    n = len(rewritten)
    assert w.line == 1 and w.file.endswith("localization.txt")
    assert f"{n} of the {n} boxes that reach the right or bottom edge end one pixel past it" in w.message
    assert repr(rewritten[0]) in w.message  # as written, with its space, not converted
    assert "half-open boxes (x + w)" in w.message


# --------------------------------------------------------------------------- evaluate


def test_evaluate_format_other_than_the_checkpoints_says_so(wsol, tmp_path, capsys):
    ckpt = save_checkpoint(tmp_path / "m.pt", _wsol_cfg(wsol), num_classes=2)
    base = ["evaluate", "--checkpoint", str(ckpt), "--workers", "0", "--no-progress"]
    one_line_error(capsys, [*base, "--format", "cub"],
                   "--format cub does not match the checkpoint's data (format wsol): pass --data ROOT")
    one_line_error(capsys, [*base, "--format", "cub", "--data", str(tmp_path)],
                   "--format cub does not match the checkpoint's data (format wsol): ")
    line = one_line_error(capsys, [*base, "--format", "cub", "--data", str(tmp_path)])
    assert "metadata_root" not in line


def test_split_help_names_the_splits_of_each_format(capsys):
    for command in ("evaluate", "visualize", "report"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "wsol: a split folder of the metadata" in out, command


def test_evaluator_progress_is_quiet_when_stderr_is_not_a_terminal(wsol, capsys):
    ds = build_dataset({**_wsol_cfg(wsol), "image_size": 32, "resize_size": 32}, "test", train=False)
    torch.manual_seed(0)
    model = build_model("small_cnn", 2).eval()
    evaluate(model, DataLoader(ds, batch_size=2, collate_fn=collate), variants=main_variants(["cam"], 1),
             progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err and "evaluate" not in err


# --------------------------------------------------------------------------- train, explain


def test_a_config_error_leaves_no_run_folder(tmp_path):
    out = tmp_path / "run"
    cfg = {"device": "cpu", "model": {"name": "small_cnn"}, "train": {"epochs": 1, "num_workers": 0},
           "data": {"format": "wsol", "root": str(tmp_path / "images"), "metadata_root": str(tmp_path / "nope")}}
    with pytest.raises(InputError, match="does not exist"):
        fit(cfg, out, progress=False)
    assert not out.exists()


def test_a_failed_overwrite_keeps_the_previous_run(wsol, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.pt").write_bytes(b"previous")
    cfg = {"device": "cpu", "model": {"name": "nosuchnet"}, "train": {"epochs": 1, "num_workers": 0},
           "data": {**_wsol_cfg(wsol), "image_size": 32, "resize_size": 32}}
    with pytest.raises(InputError):
        fit(cfg, out, overwrite=True, progress=False)
    assert (out / "best.pt").read_bytes() == b"previous"


def test_explain_without_weights_says_loudly_they_are_random(tmp_path, capsys):
    from PIL import Image

    img = tmp_path / "a.png"
    Image.new("RGB", (40, 32), (90, 20, 200)).save(img)
    out = tmp_path / "out"
    assert main(["explain", str(img), "--model", "small_cnn", "--num-classes", "3", "--size", "32",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "WARNING: --model small_cnn without --weights has RANDOM weights" in err
    import json

    assert json.loads((out / "explain.json").read_text())["random_weights"] is True
    shutil.rmtree(out)


# --------------------------------------------------------------------------- class names in figures


def test_csv_integer_labels_take_names_from_class_names_txt(tmp_path):
    from data_factory import make_csv

    made = make_csv(tmp_path, n_classes=2, names=False)
    cfg = {"format": "csv", "root": str(made.root)}
    assert build_dataset(cfg, "train", train=False).class_names == ["0", "1"]
    (made.root / "class_names.txt").write_text("shirt\nboot\n")
    assert build_dataset(cfg, "train", train=False).class_names == ["shirt", "boot"]


def test_figures_say_class_8_when_the_name_is_only_the_number():
    from infocam.viz.gallery import class_label

    assert class_label(["0", "1", "2", "3", "4", "5", "6", "7", "8"], 8) == "class 8"
    assert class_label(None, 8) == "class 8"
    assert class_label(["shirt", "boot"], 1) == "boot"
    assert class_label(["shirt"], 3) == "class 3"
