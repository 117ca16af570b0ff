"""Bad input and untrusted files: a clear one-line error, or a documented, counted handling.

Every case here is a row of the table in ``docs/bad-input.md``; cases that
other test files already cover are referenced there instead of repeated.
A user error seen through the command line must give exit code 2 and one
line on stderr, ``infocam COMMAND: error: ...``, naming the file, the line
or the argument, and no traceback.
"""

from __future__ import annotations

import ast
import errno
import gc
import io
import os
import pickle
import re
import tokenize
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torch.utils.data import DataLoader

from data_factory import draw, make_csv, make_cub, make_tiny_imagenet, make_wsol
from infocam import WSOLMeter, boxes_from_maps, cam_maps
from infocam.cli import main
from infocam.data import build_dataset, collate
from infocam.engine import checkpoint as ck
from infocam.engine.config import load_config, resolve_config
from infocam.engine.evaluate import evaluate, main_variants
from infocam.errors import InputError
from infocam.extract import CAMExtractor
from infocam.fileio import check_writable_file, prepare_output_dir
from infocam.models import build_model

SRC = Path(__file__).resolve().parents[1] / "src" / "infocam"
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible: device=cuda is valid here")


# --------------------------------------------------------------------------- helpers


def one_line_error(capsys: pytest.CaptureFixture, argv: list[str], *fragments: str) -> str:
    """Run the CLI; assert exit 2 and one stderr line naming every fragment; return it."""
    rc = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    assert lines[0].startswith(f"infocam {argv[0]}: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def save_checkpoint(path: Path, data_cfg: dict, *, num_classes: int = 3, state_classes: int | None = None,
                    model: torch.nn.Module | None = None) -> Path:
    """A checkpoint of ``infocam train``'s format without training (small_cnn on ``data_cfg``)."""
    torch.manual_seed(0)
    cfg = resolve_config({"model": {"name": "small_cnn", "num_classes": num_classes}, "device": "cpu",
                          "data": data_cfg})
    model = model if model is not None else build_model("small_cnn", state_classes or num_classes)
    ck.atomic_torch_save({"format": ck.FORMAT, "version": ck.VERSION, "model": model.state_dict(),
                          "epoch": 1, "best_score": 0.0, "best_epoch": 1, "cfg": cfg, "meta": {}}, path)
    return path


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """A 3-class CSV dataset (32 px) and an untrained small_cnn checkpoint for it."""
    root = tmp_path_factory.mktemp("csv_run")
    made = make_csv(root, n_classes=3, n_train_per_class=2, n_test_per_class=2, size=(48, 40))
    data = {"format": "csv", "root": str(made), "image_size": 32, "resize_size": 36}
    return made, data, save_checkpoint(root / "good.pt", data)


def evaluate_argv(ckpt: Path, *extra: str) -> list[str]:
    return ["evaluate", "--checkpoint", str(ckpt), "--split", "all_test", "--workers", "0",
            "--no-progress", *extra]


def running_loader_iterators() -> list:
    """DataLoader iterators whose worker processes still run (without collecting garbage)."""
    from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter

    return [o for o in gc.get_objects()
            if issubclass(type(o), _MultiProcessingDataLoaderIter) and not getattr(o, "_shutdown", True)]


def stop_loader_workers() -> None:
    """Stop what a failed loop left running, now, not in a later test's garbage collection."""
    for it in running_loader_iterators():
        it._shutdown_workers()


class CodeRunner:
    """Unpickling this object calls ``open(marker, "w")``: the marker file proves code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def _sources() -> list[Path]:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 30, files
    return files


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


# --------------------------------------------------------------------------- untrusted files


def test_every_torch_load_in_src_is_weights_only() -> None:
    found, bad = [], []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ("torch", "pickle", "dill", "marshal"):
                bad += [f"{path}:{node.lineno}: from {node.module} import {a.name}" for a in node.names
                        if a.name in ("load", "loads", "Unpickler")]
        for call in _calls(tree):
            name = _dotted(call.func)
            where = f"{path.relative_to(SRC)}:{call.lineno}"
            if name == "torch.load":
                found.append(where)
                kw = {k.arg: k.value for k in call.keywords}
                ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                if not ok:
                    bad.append(f"{where}: torch.load without weights_only=True")
            elif name in ("pickle.load", "pickle.loads", "pickle.Unpickler", "dill.load", "dill.loads",
                          "marshal.load", "marshal.loads", "joblib.load", "torch.hub.load", "shelve.open"):
                bad.append(f"{where}: {name}")
            elif name in ("np.load", "numpy.load"):
                kw = {k.arg: k.value for k in call.keywords}
                if not (isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value is False):
                    bad.append(f"{where}: {name} without allow_pickle=False")
    assert not bad, bad
    # one reader of untrusted files serves checkpoints and weight files alike
    assert {w.split(":")[0] for w in found} == {"fileio.py"}, found


def test_no_eval_or_exec_in_src() -> None:
    """A grep on the Python tokens (so ``model.eval()`` and prose in docstrings do not count)."""
    bad = []
    for path in _sources():
        with path.open("rb") as fh:
            tokens = [t for t in tokenize.tokenize(fh.readline)
                      if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                        tokenize.DEDENT, tokenize.ENCODING)]
        for prev, tok, nxt in zip([None, *tokens], tokens, [*tokens[1:], None]):
            if tok.type == tokenize.NAME and tok.string in ("eval", "exec", "execfile", "compile"):
                is_call = nxt is not None and nxt.string == "("
                is_attr = prev is not None and prev.string == "."
                if is_call and not is_attr:
                    bad.append(f"{path.relative_to(SRC)}:{tok.start[0]}: {tok.line.strip()}")
        text = path.read_text(encoding="utf-8")
        for needle in ("os.system(", "shell=True", "__import__(", "builtins.eval", "builtins.exec"):
            if needle in text:
                bad.append(f"{path.relative_to(SRC)}: {needle}")
    assert not bad, bad


def test_yaml_is_only_read_with_the_safe_loader() -> None:
    unsafe_loaders = {"Loader", "UnsafeLoader", "FullLoader", "CLoader", "CUnsafeLoader", "CFullLoader"}
    bad, safe_reads = [], 0
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _dotted(node.value) == "yaml" and node.attr in unsafe_loaders:
                bad.append(f"{path.relative_to(SRC)}:{node.lineno}: yaml.{node.attr}")
        for call in _calls(tree):
            name = _dotted(call.func)
            where = f"{path.relative_to(SRC)}:{call.lineno}: {name}"
            if name in ("yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load", "yaml.full_load_all"):
                bad.append(where)
            elif name in ("yaml.load", "yaml.load_all", "yaml.compose", "yaml.parse"):
                loader = {k.arg: k.value for k in call.keywords}.get("Loader")
                if loader is None and len(call.args) > 1:
                    loader = call.args[1]
                if loader is None or _dotted(loader) not in ("yaml.SafeLoader", "yaml.CSafeLoader"):
                    bad.append(where)
                safe_reads += 1
            elif name in ("yaml.safe_load", "yaml.safe_load_all"):
                safe_reads += 1
    assert not bad, bad
    assert safe_reads >= 2  # the config file and the --set values


def test_malicious_checkpoint_is_refused_by_the_cli_and_runs_no_code(tmp_path, capsys) -> None:
    evil, marker = tmp_path / "evil.pt", tmp_path / "code_ran"
    torch.save({"format": ck.FORMAT, "version": ck.VERSION, "model": CodeRunner(marker)}, evil)
    # control: the payload is live - an unsafe load would run it
    control = tmp_path / "control"
    control.mkdir()
    torch.save({"x": CodeRunner(control / "code_ran")}, control / "evil.pt")
    torch.load(control / "evil.pt", weights_only=False)
    assert (control / "code_ran").exists()

    line = one_line_error(capsys, ["evaluate", "--checkpoint", str(evil), "--no-progress"],
                          str(evil), "refused", "untrusted", "weights_only=True")
    assert "Unsupported global" in line
    with pytest.raises(InputError, match="untrusted"):
        ck.load_checkpoint(evil)
    assert not marker.exists()


def test_malicious_weights_file_is_refused_and_runs_no_code(tmp_path, capsys) -> None:
    evil, marker = tmp_path / "evil_weights.pth", tmp_path / "code_ran"
    torch.save({"fc.weight": CodeRunner(marker)}, evil)
    with pytest.raises(InputError) as err:
        build_model("small_cnn", 3, weights=evil)
    msg = str(err.value)
    assert str(evil) in msg and "refused" in msg and "untrusted" in msg and "weights_only=True" in msg
    assert "\x1b[" not in msg and "\n" not in msg  # torch's coloured, many-line text is not passed on
    image = tmp_path / "photo.png"
    draw((40, 30), [(5, 5, 20, 20)]).save(image)
    one_line_error(capsys, ["explain", str(image), "--model", "small_cnn", "--num-classes", "3",
                            "--weights", str(evil), "--out", str(tmp_path / "out")], "untrusted")
    assert not marker.exists()
    # a plain (non-zip) pickle is refused too: at the global when the unpickler gets there
    # (protocol 2), or earlier at an opcode it does not know (protocol 5); nothing runs
    for protocol, words in ((2, "untrusted"), (5, "untrusted|not a readable weights")):
        plain = tmp_path / f"plain{protocol}.pkl"
        plain.write_bytes(pickle.dumps({"fc.weight": CodeRunner(marker)}, protocol=protocol))
        with warnings.catch_warnings(), pytest.raises(InputError, match=words):
            warnings.simplefilter("ignore", UserWarning)  # torch: "Detected pickle protocol 5 ..."
            build_model("small_cnn", 3, weights=plain)
    assert not marker.exists()


def test_python_object_yaml_tag_is_refused_and_runs_no_code(tmp_path, capsys) -> None:
    marker = tmp_path / "code_ran"
    text = f"seed: 1\ntrain:\n  epochs: !!python/object/apply:builtins.open [{str(marker)!r}, w]\n"
    control = tmp_path / "control.yaml"
    control.write_text(text.replace(str(marker), str(tmp_path / "control_ran")))
    yaml.unsafe_load(control.read_text())  # control: the tag is live for an unsafe loader
    assert (tmp_path / "control_ran").exists()

    cfg = tmp_path / "evil.yaml"
    cfg.write_text(text)
    with pytest.raises(InputError) as err:
        load_config(cfg)
    assert f"{cfg}:3" in str(err.value) and "python/object/apply:builtins.open" in str(err.value)
    one_line_error(capsys, ["train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"],
                   f"{cfg}:3", "not valid YAML")
    one_line_error(capsys, ["train", "--config", "tiny_synthetic", "--out", str(tmp_path / "run"),
                            "--set", f"seed=!!python/object/apply:builtins.open [{str(marker)!r}, w]"],
                   "--set seed=")
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_a_text_file_given_as_checkpoint_is_not_called_malicious(tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a checkpoint\n")
    with pytest.raises(InputError) as err:
        ck.read_checkpoint(path)
    assert "not a readable checkpoint" in str(err.value) and "could run code" not in str(err.value)


# --------------------------------------------------------------------------- images


def _image_modes(size: tuple[int, int], box: tuple[int, int, int, int]) -> dict[str, Image.Image]:
    grey = draw(size, [box], mode="L")
    arr = np.asarray(grey)
    rgba = grey.convert("RGBA")
    rgba.putalpha(128)
    pal = grey.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    return {
        "grey.png": grey,
        "grey_alpha.png": grey.convert("LA"),
        "rgba.png": rgba,
        "sixteen.png": Image.fromarray(arr.astype(np.uint16) * 257),
        "palette.png": pal,
        "palette_transparent.gif": pal,
        "bilevel.png": grey.point(lambda v: 255 if v > 128 else 0).convert("1"),
        "cmyk.jpg": grey.convert("CMYK"),
        "float.tif": Image.fromarray(arr.astype(np.float32) / 255.0, mode="F"),
    }


def test_every_image_mode_goes_through_dataset_and_evaluator(tmp_path) -> None:
    size, box = (40, 30), (8, 6, 30, 24)
    root = tmp_path / "modes"
    root.mkdir()
    rows = ["path,label,x0,y0,x1,y1"]
    modes = _image_modes(size, box)
    for i, (name, img) in enumerate(modes.items()):
        kwargs = {"transparency": 0} if name.startswith("palette_transparent") else {}
        img.save(root / name, **kwargs)
        rows.append(f"{name},{i % 2},{','.join(map(str, box))}")
    (root / "annotations.csv").write_text("\n".join(rows) + "\n")
    with Image.open(root / "sixteen.png") as im:
        assert im.mode.startswith("I")  # really 16-bit on disk
    ds = build_dataset({"format": "csv", "root": str(root), "image_size": 32, "resize_size": 32, "crop": False,
                        "normalize": False}, "train", train=False)
    assert len(ds) == len(modes)
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (3, 32, 32), item["id"]
        img = item["image"]
        inside = img[:, 10:18, 10:20].mean()  # the bright box survived every conversion
        assert float(inside) > 0.6 and float(img[:, :3, :3].mean()) < 0.4, item["id"]
        assert torch.allclose(img[0], img[1], atol=0.06) and torch.allclose(img[1], img[2], atol=0.06)  # grey
    torch.manual_seed(0)
    out = evaluate(build_model("small_cnn", 2).eval(), DataLoader(ds, batch_size=4, collate_fn=collate),
                   variants=main_variants(["cam"], 1), progress=False)
    assert out["count"] == len(modes)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [("truncate", "truncated"), ("empty", "empty file"), ("garbage", "cannot read image"), ("delete", "not found")],
)
def test_damaged_image_in_a_dataset_names_the_file_and_the_annotation_line(tmp_path, damage, reason) -> None:
    made = make_cub(tmp_path, size=(64, 48))
    victim = made.images[2]
    data = victim.path.read_bytes()
    if damage == "truncate":
        victim.path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        victim.path.write_bytes(b"")
    elif damage == "garbage":
        victim.path.write_bytes(b"\x00\x01 not an image \xff" * 12)
    else:
        victim.path.unlink()
    ds = build_dataset({"format": "cub", "root": str(made)}, "all_test" if victim.subset == "test" else "train",
                       train=False)
    index = [r.id for r in ds.records].index(victim.id)
    with pytest.raises(InputError) as err:
        ds[index]
    msg = str(err.value)
    assert str(victim.path) in msg and reason in msg.lower()
    assert f"listed at {made / 'images.txt'}:{victim.order}" in msg


@pytest.mark.parametrize("workers", [0, 2])
def test_damaged_image_is_one_line_from_the_cli_also_from_loader_workers(tmp_path, capsys, csv_run,
                                                                        workers) -> None:
    _, data, _ = csv_run
    root = tmp_path / "bad"
    made_bad = make_csv(root, n_classes=3, n_train_per_class=2, n_test_per_class=2, size=(48, 40))
    victim = made_bad.subset("test")[1]
    victim.path.write_bytes(victim.path.read_bytes()[:60])
    ckpt = save_checkpoint(tmp_path / "c.pt", {**data, "root": str(made_bad)})
    argv = ["evaluate", "--checkpoint", str(ckpt), "--split", "all_test", "--workers", str(workers),
            "--batch-size", "2", "--no-progress"]
    before = {id(it) for it in running_loader_iterators()}
    line = one_line_error(capsys, argv, str(victim.path), "cannot read image",
                          f"{made_bad.csv}:")
    assert "DataLoader worker" not in line and "Original Traceback" not in line
    # the workers were stopped on the error: no running iterator is left for a later garbage
    # collection, which would stall ~5 s per worker joining them
    assert [it for it in running_loader_iterators() if id(it) not in before] == []


def test_fit_stops_its_loader_workers_on_an_error(tmp_path, capsys) -> None:
    made = make_csv(tmp_path, n_classes=2, n_train_per_class=3, n_test_per_class=2, size=(40, 32))
    made.subset("train")[2].path.write_bytes(b"")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        f"device: cpu\nmodel:\n  name: small_cnn\ndata:\n  format: csv\n  root: {made.root}\n"
        "  image_size: 32\n  resize_size: 32\ntrain:\n  epochs: 1\n  batch_size: 2\n  num_workers: 1\n"
    )
    before = {id(it) for it in running_loader_iterators()}
    one_line_error(capsys, ["train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"],
                   "cannot read image: empty file")
    try:
        assert [it for it in running_loader_iterators() if id(it) not in before] == []
    finally:
        stop_loader_workers()


def test_damaged_image_while_training_is_one_line(tmp_path, capsys) -> None:
    made = make_csv(tmp_path, n_classes=2, n_train_per_class=3, n_test_per_class=2, size=(40, 32))
    victim = made.subset("train")[2]
    victim.path.write_bytes(b"")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        f"device: cpu\nmodel:\n  name: small_cnn\ndata:\n  format: csv\n  root: {made.root}\n"
        "  image_size: 32\n  resize_size: 32\ntrain:\n  epochs: 1\n  batch_size: 2\n  num_workers: 2\n"
    )
    try:
        one_line_error(capsys, ["train", "--config", str(cfg), "--out", str(tmp_path / "run"),
                                "--no-progress"], str(victim.path), "cannot read image: empty file", f"{made.csv}:")
    finally:
        stop_loader_workers()  # see test_fit_stops_its_loader_workers_on_an_error
    assert not (tmp_path / "run" / "last.pt").exists()


# --------------------------------------------------------------------------- annotation files


@pytest.mark.parametrize(
    ("maker", "fmt", "file", "split"),
    [
        (make_cub, "cub", "classes.txt", "train"),
        (make_cub, "cub", "image_class_labels.txt", "train"),
        (make_cub, "cub", "train_test_split.txt", "train"),
        (make_cub, "cub", "bounding_boxes.txt", "test"),
        (make_tiny_imagenet, "tiny-imagenet", "val/val_annotations.txt", "test"),
        (make_wsol, "wsol", "train/class_labels.txt", "train"),
        (make_csv, "csv", "annotations.csv", "train"),
    ],
)
def test_missing_annotation_file_is_named(tmp_path, maker, fmt, file, split) -> None:
    made = maker(tmp_path)
    base = made.metadata_root if fmt == "wsol" else made.root
    (base / file).unlink()
    cfg = {"format": fmt, "root": str(made)}
    if fmt == "wsol":
        cfg["metadata_root"] = str(made.metadata_root)
    with pytest.raises(InputError) as err:
        build_dataset(cfg, split, train=False)
    assert str(err.value).startswith(f"{base / file}: file not found")
    assert "\n" not in str(err.value)


def test_missing_layout_marker_file_says_what_the_folder_lacks(tmp_path) -> None:
    for maker, fmt, marker in ((make_cub, "cub", "images.txt"), (make_tiny_imagenet, "tiny-imagenet", "wnids.txt")):
        made = maker(tmp_path / fmt)
        (made / marker).unlink()
        with pytest.raises(InputError, match=rf"not a {fmt} folder \(no {marker}"):
            build_dataset({"format": fmt, "root": str(made)}, "train", train=False)


@pytest.mark.parametrize("content", ["", "\n\n", "path,label,x0,y0,x1,y1,split\n"])
def test_empty_dataset_is_an_input_error(tmp_path, capsys, csv_run, content) -> None:
    made = make_csv(tmp_path)
    made.csv.write_text(content)
    for split in ("train", "all_test"):
        with pytest.raises(InputError, match=rf"split '{split}' of the csv dataset at .* has no images"):
            build_dataset({"format": "csv", "root": str(made)}, split, train=False)
    _, _, ckpt = csv_run
    one_line_error(capsys, evaluate_argv(ckpt, "--data", str(made)), "has no images")


def test_empty_evaluation_loader_is_an_input_error() -> None:
    with pytest.raises(InputError, match="the evaluation set is empty"):
        evaluate(build_model("small_cnn", 3), [], variants=main_variants(["cam"], 1), progress=False)


def test_bytes_that_are_not_utf8_are_a_problem_not_a_crash(tmp_path) -> None:
    made = make_cub(tmp_path)
    path = made / "bounding_boxes.txt"
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"2 \xff\xfe 3 4 5"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match=re.escape(f"{path}:2: line is not valid UTF-8")):
        build_dataset({"format": "cub", "root": str(made)}, "train", train=False)


# --------------------------------------------------------------------------- labels, targets and classes


def test_target_class_out_of_range_names_the_argument() -> None:
    feats, weight = torch.randn(2, 4, 3, 3), torch.randn(5, 4)
    for bad in (5, -1, torch.tensor([0, 5])):
        with pytest.raises(ValueError, match=r"targets must lie in \[0, 4\] \(M=5 classes\)"):
            cam_maps(feats, weight, bad)
    model = build_model("small_cnn", 3).eval()
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 2\]"):
        CAMExtractor(model)(torch.randn(2, 3, 32, 32), methods="cam", targets=3)
    with pytest.raises(ValueError, match="targets must be integer class indices"):
        cam_maps(feats, weight, torch.tensor([0.0, 1.0]))


def test_dataset_label_out_of_range_for_the_model_names_the_image(csv_run) -> None:
    _, data, _ = csv_run
    ds = build_dataset(data, "all_test", train=False)  # 3 classes
    loader = DataLoader(ds, batch_size=4, collate_fn=collate)
    with pytest.raises(InputError) as err:
        evaluate(build_model("small_cnn", 2).eval(), loader, variants=main_variants(["cam"], 1), progress=False)
    assert "has label 2, out of range for a model with 2 classes" in str(err.value)
    assert "image c" in str(err.value)  # the id of the offending image


def test_evaluating_on_a_dataset_with_more_classes_is_one_line(tmp_path, capsys, csv_run) -> None:
    _, _, ckpt = csv_run
    five = make_csv(tmp_path, n_classes=5)
    one_line_error(capsys, evaluate_argv(ckpt, "--data", str(five)),
                   str(ckpt), "the model has 3 classes", "has 5")


# --------------------------------------------------------------------------- NaN, inf and constant maps


def test_nan_and_inf_features_give_no_box_and_count_as_misses() -> None:
    feats = torch.rand(4, 3, 5, 5)
    feats[0, 1, 2, 2] = float("nan")
    feats[1, 0, 0, 0] = float("inf")
    feats[2] = float("-inf")
    weight = torch.randn(2, 3)
    for method in ("cam", "infocam", "infocam+"):
        maps = cam_maps(feats, weight, torch.zeros(4, dtype=torch.long), method=method)
        assert not torch.isfinite(maps[:3]).all(dim=(1, 2)).any()
        boxes = boxes_from_maps(maps, size=(20, 20))
        assert boxes[:3].eq(0).all() and not torch.isnan(boxes).any()
        meter = WSOLMeter(size=(20, 20), max_box_acc=True)
        gt = [torch.tensor([[0.0, 0.0, 20.0, 20.0]])] * 4  # even the whole image is missed
        meter.update(maps, gt, logits=torch.zeros(4, 2), labels=torch.zeros(4, dtype=torch.long))
        res = meter.compute()
        assert res["count"] == 4 and res["gt_known_loc"] <= 25.0  # only the finite map can hit
        assert all(np.isfinite(v) for v in res["max_box_acc"].values())


def test_constant_maps_give_no_box_and_count_as_misses() -> None:
    maps = torch.stack([torch.zeros(6, 6), torch.full((6, 6), 3.5), torch.full((6, 6), -1e30)])
    assert boxes_from_maps(maps, threshold=0.0).eq(0).all()
    meter = WSOLMeter(max_box_acc=True)
    meter.update(maps, [torch.tensor([[1.0, 1.0, 5.0, 5.0]])] * 3)
    res = meter.compute()
    assert res["count"] == 3 and res["gt_known_loc"] == 0.0 and res["max_box_acc_v2"] == 0.0
    feats = torch.zeros(3, 4, 6, 6)  # a dead feature layer: every method gives a constant map
    for method in ("cam", "infocam", "infocam+"):
        assert boxes_from_maps(cam_maps(feats, torch.randn(3, 4), 1, method=method)).eq(0).all()


def test_an_inf_image_in_a_batch_does_not_hide_the_gap_head() -> None:
    torch.manual_seed(0)
    model = build_model("small_cnn", 3).eval()
    x = torch.rand(3, 3, 32, 32)
    x[1] = float("inf")
    out = CAMExtractor(model)(x, methods=("cam", "infocam"))
    assert not torch.isfinite(out.maps["cam"][1]).all()
    assert torch.isfinite(out.maps["cam"][[0, 2]]).all()
    assert boxes_from_maps(out.maps["cam"])[1].eq(0).all()


def test_diverged_model_is_a_clear_error_not_a_wrong_head(tmp_path, capsys, csv_run) -> None:
    model = build_model("small_cnn", 3)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    with pytest.raises(ValueError, match="NaN or infinite for every image"):
        CAMExtractor(model)(torch.rand(2, 3, 32, 32))
    _, data, _ = csv_run
    ckpt = save_checkpoint(tmp_path / "nan.pt", data, model=model)
    one_line_error(capsys, evaluate_argv(ckpt), "NaN or infinite", "diverged")


def test_nan_head_scores_every_image_as_a_miss(csv_run) -> None:
    _, data, _ = csv_run
    torch.manual_seed(0)
    model = build_model("small_cnn", 3).eval()
    with torch.no_grad():
        model.fc.weight.fill_(float("nan"))
    ds = build_dataset(data, "all_test", train=False)
    out = evaluate(model, DataLoader(ds, batch_size=4, collate_fn=collate),
                   variants=main_variants(["cam", "infocam", "infocam+"], 2), max_box_acc=True, progress=False)
    assert out["count"] == len(ds)
    for res in out["methods"].values():
        assert res["gt_known_loc"] == 0.0 and res["top1_loc"] == 0.0


# --------------------------------------------------------------------------- configs and checkpoints


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("seed: 1\ntrain:\n  epochs: 2\n  lrr: 0.1\n", 4, "unknown key 'train.lrr'; did you mean 'lr'?"),
        ("model:\n  name: small_cnn\n  num_classes: three\n", 3, "'model.num_classes' must be an integer"),
        ("optimiser: sgd\n", 1, "unknown key 'optimiser'"),
        ("train: [1, 2]\n", 1, "'train' must be a section"),
        ("train:\n  epochs: 2\n    lr: 1\n", 3, "not valid YAML"),
    ],
)
def test_bad_config_is_one_line_from_the_cli(tmp_path, capsys, text, line, fragment) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text(text)
    one_line_error(capsys, ["train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"],
                   f"{cfg}:{line}", fragment)
    assert not (tmp_path / "run").exists()


def test_checkpoint_from_another_class_count_is_one_line(tmp_path, capsys, csv_run) -> None:
    _, data, _ = csv_run
    ckpt = save_checkpoint(tmp_path / "other.pt", data, num_classes=3, state_classes=5)
    one_line_error(capsys, evaluate_argv(ckpt), str(ckpt), "does not fit the model",
                   "fc.weight (5, 128) in the file vs (3, 128) in the model")
    tv = tmp_path / "tv.pt"
    torch.save(build_model("tv:resnet18", 3).state_dict(), tv)  # another architecture as --weights
    image = tmp_path / "photo.png"
    draw((40, 30), [(5, 5, 20, 20)]).save(image)
    one_line_error(capsys, ["explain", str(image), "--model", "small_cnn", "--num-classes", "3", "--weights",
                            str(tv), "--out", str(tmp_path / "out")], str(tv), "does not fit SmallCNN")


def test_truncated_or_foreign_checkpoint_is_one_line(tmp_path, capsys, csv_run) -> None:
    _, _, ckpt = csv_run
    cut = tmp_path / "cut.pt"
    data = ckpt.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    one_line_error(capsys, evaluate_argv(cut), str(cut), "not a readable checkpoint")
    raw = tmp_path / "raw.pt"
    torch.save(build_model("small_cnn", 3).state_dict(), raw)
    one_line_error(capsys, evaluate_argv(raw), str(raw), "not an infocam checkpoint")
    one_line_error(capsys, evaluate_argv(tmp_path / "none.pt"), "no such checkpoint file")


# --------------------------------------------------------------------------- arguments and devices


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--region", "0"], "--region must be an integer >= 1"),
        (["--cam-curve-step", "0", "--max-box-acc"], "--cam-curve-step must lie in (0, 1]"),
        (["--cam-curve-step", "nan"], "--cam-curve-step must lie in (0, 1]"),
        (["--threshold", "1.5"], "--threshold must lie in [0, 1]"),
        (["--threshold", "nan"], "--threshold must lie in [0, 1]"),
        (["--batch-size", "0"], "--batch-size must be >= 1"),
        (["--workers", "-1"], "--workers must be >= 0"),
        (["--methods", "cam,gradcam"], "--methods: unknown method 'gradcam'"),
        (["--methods", ","], "--methods must name at least one method"),
        (["--split", "holdout"], "unknown split 'holdout'"),
    ],
)
def test_bad_evaluate_arguments_are_one_line(capsys, csv_run, extra, fragment) -> None:
    _, _, ckpt = csv_run
    one_line_error(capsys, evaluate_argv(ckpt, *extra), fragment)


@NO_GPU
def test_cuda_requested_where_there_is_none(tmp_path, capsys, csv_run) -> None:
    run = tmp_path / "run"
    one_line_error(capsys, ["train", "--config", "tiny_synthetic", "--set", "device=cuda", "--out", str(run),
                            "--no-progress"], "device: cuda was asked for, but no GPU is visible")
    assert not run.exists()  # nothing written before the check
    _, _, ckpt = csv_run
    out = tmp_path / "eval.json"
    one_line_error(capsys, evaluate_argv(ckpt, "--device", "cuda", "--json", str(out)),
                   "device: cuda was asked for, but no GPU is visible")
    assert not out.exists()


@NO_GPU
def test_device_cuda_n_is_understood_as_the_help_says(capsys, csv_run) -> None:
    _, _, ckpt = csv_run
    one_line_error(capsys, evaluate_argv(ckpt, "--device", "cuda:0"), "cuda:0 was asked for, but that GPU is not visible")


# --------------------------------------------------------------------------- outputs


def test_output_that_exists_is_not_replaced_without_overwrite(tmp_path, capsys, csv_run) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(InputError, match=r"is not empty; pass --overwrite"):
        prepare_output_dir(out)
    assert prepare_output_dir(out, overwrite=True) == out and (out / "mine.txt").read_text() == "keep"
    with pytest.raises(InputError, match="exists and is not a directory"):
        prepare_output_dir(out / "mine.txt")
    _, _, ckpt = csv_run
    one_line_error(capsys, evaluate_argv(ckpt, "--json", str(out / "mine.txt")), "exists; pass --overwrite")
    one_line_error(capsys, ["train", "--config", "tiny_synthetic", "--set", "device=cpu", "--out",
                            str(out / "mine.txt"), "--no-progress"], "exists and is not a directory")
    assert (out / "mine.txt").read_text() == "keep"


def test_output_under_a_regular_file_is_refused_before_any_work(tmp_path, capsys, csv_run,
                                                              monkeypatch) -> None:
    """The portable stand-in for an unwritable folder: mkdir fails even for root."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    with pytest.raises(InputError, match=r"cannot be created: .*blocker is not a directory"):
        check_writable_file(blocker / "sub" / "eval.json")
    with pytest.raises(InputError, match=r"--out .*blocker/run cannot be created"):
        prepare_output_dir(blocker / "run", what="--out")
    _, _, ckpt = csv_run
    import infocam.engine.checkpoint as ckmod

    def no_load(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded before the output was checked")

    monkeypatch.setattr(ckmod, "load_checkpoint", no_load)
    one_line_error(capsys, evaluate_argv(ckpt, "--json", str(blocker / "eval.json")),
                   f"--json {blocker / 'eval.json'} cannot be created", "not a directory")
    monkeypatch.undo()
    one_line_error(capsys, ["train", "--config", "tiny_synthetic", "--set", "device=cpu", "--out",
                            str(blocker / "run"), "--no-progress"], str(blocker / "run"), "Not a directory")
    assert blocker.read_text() == "a file, not a folder"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="running as root: chmod does not stop root from writing (see the simulated "
                           "read-only filesystem and the path-under-a-file tests)")
def test_read_only_output_directory_by_permissions(tmp_path, capsys, csv_run) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(InputError, match="cannot be written"):
            check_writable_file(ro / "eval.json")
        with pytest.raises(InputError, match="cannot be created"):
            prepare_output_dir(ro / "sub")
        _, _, ckpt = csv_run
        one_line_error(capsys, evaluate_argv(ckpt, "--json", str(ro / "eval.json")), "cannot be written")
    finally:
        ro.chmod(0o755)


def test_read_only_filesystem_is_one_line(tmp_path, capsys, csv_run, monkeypatch) -> None:
    """Simulated: every file creation fails with EROFS, as on a read-only mount (works as root too)."""
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    out = tmp_path / "results"
    out.mkdir()
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(InputError, match="Read-only file system"):
        check_writable_file(out / "eval.json")
    with pytest.raises(InputError, match="is not writable: Read-only file system"):
        prepare_output_dir(out)
    _, _, ckpt = csv_run
    one_line_error(capsys, evaluate_argv(ckpt, "--json", str(out / "eval.json")),
                   "--json", "Read-only file system")
    assert list(out.iterdir()) == []


def test_os_errors_from_a_command_are_one_line(monkeypatch, capsys, tmp_path) -> None:
    """A full disk or read-only mount met anywhere in a command: one line, exit 2, path named."""
    from infocam.cli.commands import evaluate as evaluate_cmd

    for code, words in ((errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system"),
                        (errno.EACCES, "Permission denied")):
        def fail(args, code=code):
            raise OSError(code, os.strerror(code), str(tmp_path / "eval.json"))

        monkeypatch.setattr(evaluate_cmd, "run", fail)
        one_line_error(capsys, ["evaluate", "--checkpoint", "x.pt"], f"{tmp_path / 'eval.json'}: {words}")

    def bug(args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(evaluate_cmd, "run", bug)
    with pytest.raises(OSError, match="Input/output"):  # not a user error: the traceback stays
        main(["evaluate", "--checkpoint", "x.pt"])


def test_worker_wrapped_errors_keep_only_the_original_message() -> None:
    from infocam.cli import _one_line

    wrapped = ("Caught InputError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
               '  File "x.py", line 1, in f\n    g()\ninfocam.errors.InputError: a.png: cannot read image: '
               "truncated (listed at b.csv:3)\n")
    assert _one_line(wrapped) == "a.png: cannot read image: truncated (listed at b.csv:3)"
    assert _one_line("first\nsecond") == "first second"
    buf = io.StringIO()
    print(_one_line(wrapped), file=buf)
    assert buf.getvalue().count("\n") == 1


# --------------------------------------------------------------------------- the table in docs/bad-input.md


def test_the_bad_input_table_lists_enough_cases_each_with_a_real_test() -> None:
    doc = (SRC.parents[1] / "docs" / "bad-input.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(rows) >= 25
    missing = []
    for row in rows:
        refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", row)
        assert refs, row
        for file, name in refs:
            path = SRC.parents[1] / file
            if not path.is_file() or not re.search(rf"^(async )?def {name}\(", path.read_text(), re.M):
                missing.append(f"{file}::{name}")
    assert not missing, missing
