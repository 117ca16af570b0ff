"""``infocam explain``: any image, any GAP + linear classifier (random weights, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infocam.cli import main
from infocam.data.images import open_rgb
from infocam.engine import checkpoint as ck
from infocam.engine.config import resolve_config
from infocam.extract import CAMExtractor
from infocam.models import build_model
from infocam.viz.explain import (
    Preprocess,
    explain_image,
    imagenet_class_names,
    map_box_to_original,
    preprocess_for,
)
from infocam.viz.gallery import parse_methods
from test_visualize import ToyGAP


def _images(folder: Path) -> dict[str, Path]:
    """The same kinds of files users have: RGB JPEG, 16-bit grey, RGBA, palette GIF."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = {
        "rgb": folder / "photo.jpg",
        "gray16": folder / "scan.png",
        "rgba": folder / "logo.png",
        "palette": folder / "anim.gif",
    }
    Image.fromarray((rng.random((90, 120, 3)) * 255).astype(np.uint8)).save(paths["rgb"])
    Image.fromarray((rng.random((50, 70)) * 65535).astype(np.uint16)).save(paths["gray16"])
    Image.fromarray((rng.random((40, 40, 4)) * 255).astype(np.uint8), "RGBA").save(paths["rgba"])
    Image.fromarray((rng.random((30, 60)) * 255).astype(np.uint8)).convert("P").save(paths["palette"])
    assert Image.open(paths["gray16"]).mode.startswith("I")
    return paths


def test_map_box_to_original_scales_pixel_edges() -> None:
    assert map_box_to_original([8, 16, 32, 64], 64, 120, 90) == [15.0, 22.5, 60.0, 90.0]
    assert map_box_to_original([0, 0, 64, 64], 64, 120, 90) == [0.0, 0.0, 120.0, 90.0]


def test_explain_image_on_a_known_model() -> None:
    """The toy model's infoCAM of class 0 is the red channel: its box is the red square exactly."""
    arr = np.zeros((24, 24, 3), dtype=np.uint8)
    arr[5:11, 3:9, 0] = 255  # object: rows 5..10, cols 3..8 -> box (3, 5, 9, 11)
    arr[12:24, 10:22, 1] = 255  # distractor, larger
    pre = Preprocess(size=24, mean=None, std=None)
    with CAMExtractor(ToyGAP()) as ex:
        entry, maps = explain_image(ex, pre(Image.fromarray(arr)), (24, 24), parse_methods("cam,infocam", 1),
                                    topk=2, class_names=["bird", "cat", "dog"])
    top = entry["topk"]
    # logits: class 0 = mean(R) + mean(G), classes 1 and 2 = mean(G)
    r, g = 36 / 576, 144 / 576
    p = torch.softmax(torch.tensor([r + g, g, g]), 0)
    assert [t["class"] for t in top] == [0, 1] and [t["name"] for t in top] == ["bird", "cat"]
    assert top[0]["score"] == pytest.approx(float(p[0])) and top[1]["score"] == pytest.approx(float(p[1]))
    assert top[0]["methods"]["infocam"]["box"] == [3.0, 5.0, 9.0, 11.0]
    assert top[0]["methods"]["infocam"]["peak"] == [3.5, 5.5]  # first maximum in raster order
    assert top[0]["methods"]["infocam"]["peak_value"] == pytest.approx(1.0)
    assert top[0]["methods"]["cam"]["box"] == [10.0, 12.0, 22.0, 24.0]  # CAM boxes the distractor
    assert maps["1/infocam"].shape == (24, 24)


def test_explain_torchvision_model_on_every_image_kind(tmp_path: Path, capsys) -> None:
    paths = _images(tmp_path / "in")
    twin = tmp_path / "other" / "photo.jpg"  # same stem as paths["rgb"]
    twin.parent.mkdir()
    twin.write_bytes(paths["rgb"].read_bytes())
    out = tmp_path / "out"
    torch.manual_seed(0)
    rc = main(["explain", *map(str, paths.values()), str(twin), "--model", "tv:resnet18", "--size", "64",
               "--topk", "2", "--out", str(out), "--device", "cpu"])
    assert rc == 0
    result = json.loads((out / "explain.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == [
        "anim.png", "explain.json", "logo.png", "photo.png", "photo_2.png", "scan.png"
    ]
    assert result["input_size"] == 64 and result["num_classes"] == 1000
    assert result["methods"] == {"cam": {"method": "cam", "region": 1}, "infocam": {"method": "infocam", "region": 1},
                                 "infocam+": {"method": "infocam+", "region": 1}}
    torch.manual_seed(0)
    model = build_model("tv:resnet18", 1000).eval()
    pre = preprocess_for(model, 64)
    names = imagenet_class_names()
    sizes = {"photo.jpg": [120, 90], "scan.png": [70, 50], "logo.png": [40, 40], "anim.gif": [60, 30]}
    for entry in result["images"]:
        path = Path(entry["file"])
        assert entry["size"] == sizes[path.name]
        with torch.no_grad():
            probs = torch.softmax(model(pre(open_rgb(path))), 1)[0]
        want_p, want_c = probs.topk(2)
        assert [t["class"] for t in entry["topk"]] == want_c.tolist()
        assert [t["name"] for t in entry["topk"]] == [names[c] for c in want_c.tolist()]
        assert [t["score"] for t in entry["topk"]] == pytest.approx(want_p.tolist(), rel=1e-5)
        w, h = entry["size"]
        for t in entry["topk"]:
            for m in ("cam", "infocam", "infocam+"):
                got = t["methods"][m]
                assert got["box"] == map_box_to_original(got["box_input"], 64, w, h)
                assert all(0 <= v <= 64 and float(v).is_integer() for v in got["box_input"])
                if got["peak"] is not None:
                    assert 0 < got["peak"][0] < w and 0 < got["peak"][1] < h
    assert {Path(e["figure"]).name for e in result["images"]} == {"photo.png", "photo_2.png", "scan.png", "logo.png",
                                                                  "anim.png"}
    with Image.open(out / "photo.png") as fig:
        assert fig.size[0] > 2 * fig.size[1] > 400  # 2 rows (top-2) x 4 columns (image + 3 methods)
    assert "photo.jpg: " in capsys.readouterr().out


@pytest.mark.parametrize("model", ["tv:efficientnet_b0", "timm:resnet18"])
def test_explain_other_backbones(tmp_path: Path, model: str) -> None:
    paths = _images(tmp_path / "in")
    out = tmp_path / "out"
    rc = main(["explain", str(paths["rgb"]), "--model", model, "--size", "64", "--topk", "2", "--out", str(out),
               "--methods", "cam,infocam", "--region", "3"])
    assert rc == 0
    entry = json.loads((out / "explain.json").read_text())["images"][0]
    assert len(entry["topk"]) == 2 and entry["topk"][0]["score"] >= entry["topk"][1]["score"]
    assert set(entry["topk"][0]["methods"]) == {"cam", "infocam"}
    assert (out / "photo.png").is_file()


def test_explain_a_checkpoint_of_infocam_train(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = resolve_config({"model": {"name": "small_cnn", "num_classes": 4, "in_channels": 3},
                          "data": {"format": "synthetic", "image_size": 32}, "evaluate": {"region": 2}})
    ckpt = tmp_path / "best.pt"
    ck.atomic_torch_save({"format": ck.FORMAT, "version": ck.VERSION,
                          "model": build_model("small_cnn", 4, in_channels=3).state_dict(), "epoch": 1,
                          "best_score": 0.0, "best_epoch": 1, "cfg": cfg, "meta": {}}, ckpt)
    paths = _images(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["explain", str(paths["rgba"]), "--checkpoint", str(ckpt), "--topk", "9", "--out", str(out)]) == 0
    result = json.loads((out / "explain.json").read_text())
    assert result["input_size"] == 32 and result["num_classes"] == 4  # from the checkpoint's config
    assert result["methods"]["infocam"]["region"] == 2 and result["methods"]["cam"]["region"] == 1
    top = result["images"][0]["topk"]
    assert len(top) == 4 and sorted(t["class"] for t in top) == [0, 1, 2, 3]  # --topk clamped to 4 classes
    assert {t["name"] for t in top} == {"class 0", "class 1", "class 2", "class 3"}
    assert sum(t["score"] for t in top) == pytest.approx(1.0)


def test_checkpoint_class_names_come_from_its_dataset(tmp_path: Path) -> None:
    from data_factory import make_cub
    from infocam.data import build_dataset

    made = make_cub(tmp_path / "data", n_classes=3)
    data = {"format": "cub", "root": str(made), "image_size": 32, "resize_size": 36}
    cfg = resolve_config({"model": {"name": "small_cnn", "num_classes": 3, "in_channels": 3}, "data": data})
    ckpt = tmp_path / "best.pt"
    ck.atomic_torch_save({"format": ck.FORMAT, "version": ck.VERSION,
                          "model": build_model("small_cnn", 3, in_channels=3).state_dict(), "epoch": 1,
                          "best_score": 0.0, "best_epoch": 1, "cfg": cfg, "meta": {}}, ckpt)
    out = tmp_path / "out"
    image = made.subset("test")[0].path
    assert main(["explain", str(image), "--checkpoint", str(ckpt), "--topk", "3", "--out", str(out)]) == 0
    top = json.loads((out / "explain.json").read_text())["images"][0]["topk"]
    names = build_dataset(data, "test", train=False).class_names
    assert len(names) == 3 and [t["name"] for t in top] == [names[t["class"]] for t in top]


def test_non_gap_head_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    paths = _images(tmp_path / "in")
    out = tmp_path / "out"
    rc = main(["explain", str(paths["rgb"]), "--model", "tv:vgg11", "--size", "64", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0
    assert "tv:vgg11 cannot give class activation maps" in err and "not a GAP + linear head" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "kind, message",
    [("missing", "image file not found"), ("broken", "cannot read image"), ("empty_dir", "holds no image file")],
)
def test_bad_images_are_named(tmp_path: Path, capsys, kind: str, message: str) -> None:
    path = {"missing": tmp_path / "nope.jpg", "broken": tmp_path / "broken.jpg", "empty_dir": tmp_path / "d"}[kind]
    if kind == "broken":
        path.write_bytes(b"this is not a JPEG")
    if kind == "empty_dir":
        path.mkdir()
    good = _images(tmp_path / "in")["rgb"]
    rc = main(["explain", str(good), str(path), "--model", "small_cnn", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and str(path) in err and message in err and err.count("\n") == 0
    assert not (tmp_path / "out").exists()


def test_arguments_and_output_folder(tmp_path: Path, capsys) -> None:
    good = _images(tmp_path / "in")["rgb"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("keep")
    base = ["explain", str(good), "--out", str(out)]
    cases = [
        ([*base, "--model", "small_cnn"], "--out"),
        ([*base, "--model", "small_cnn", "--checkpoint", "x.pt", "--overwrite"], "exactly one of --model"),
        ([*base, "--overwrite"], "exactly one of --model"),
        ([*base, "--model", "small_cnn", "--topk", "0", "--overwrite"], "--topk must be at least 1"),
        ([*base, "--model", "small_cnn", "--threshold", "1.5", "--overwrite"], "--threshold must lie in [0, 1]"),
        ([*base, "--model", "small_cnn", "--methods", "cam,foo", "--overwrite"], "unknown method 'foo'"),
        ([*base, "--model", "nosuchnet", "--overwrite"], "unknown name 'nosuchnet'"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and err.count("\n") == 0, (argv, err)
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert main([*base, "--model", "small_cnn", "--num-classes", "5", "--overwrite", "--size", "32"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["explain.json", "old.txt", "photo.png"]
    assert (out / "old.txt").read_text() == "keep"
