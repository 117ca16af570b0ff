"""Galleries (viz/gallery.py) and ``infocam visualize``: exact IoUs on a hand-made model, CLI figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

from infocam.cli import main
from infocam.data import collate
from infocam.engine import checkpoint as ck
from infocam.engine.config import resolve_config
from infocam.engine.evaluate import evaluate, main_variants
from infocam.errors import InputError
from infocam.models import build_model
from infocam.viz.gallery import (
    collect_examples,
    method_title,
    parse_methods,
    spread_indices,
    top_gain_indices,
)

SIDE = 24


class ToyGAP(nn.Module):
    """Features = the image (1x1 identity conv); GAP; a hand-set linear head.

    Channel 0 holds the object, channel 1 a distractor shared by all classes:
    W = [[1, 1, 0], [0, 1, 0], [0, 1, 0]], so CAM of class 0 = ch0 + ch1 and
    infoCAM of class 0 = W0 - mean(W1, W2) = [1, 0, 0] = ch0 alone.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(3, 3, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(3, 3, bias=False)
        with torch.no_grad():
            self.features.weight.copy_(torch.eye(3)[:, :, None, None])
            self.fc.weight.copy_(torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


def _sample(i: int, obj: tuple | None, distractor: tuple | None, gt: tuple) -> dict:
    image = torch.zeros(3, SIDE, SIDE)
    for channel, box in ((0, obj), (1, distractor)):
        if box is not None:
            x0, y0, x1, y1 = box
            image[channel, y0:y1, x0:x1] = 1.0
    return {"image": image, "label": 0, "boxes": torch.tensor([gt], dtype=torch.float32), "id": f"toy/{i}"}


def toy_dataset() -> list[dict]:
    """Five images of class 0 with known CAM / infoCAM boxes (half-open)."""
    return [
        # 0: small object + big distractor: CAM boxes the distractor (IoU 0), infoCAM the object (1).
        _sample(0, (2, 2, 8, 8), (10, 10, 22, 22), (2, 2, 8, 8)),
        # 1: object only: both exact.
        _sample(1, (4, 6, 12, 10), None, (4, 6, 12, 10)),
        # 2: the object lives in the distractor channel: CAM exact, infoCAM's map is 0 (no box).
        _sample(2, None, (0, 0, 10, 10), (0, 0, 10, 10)),
        # 3: the distractor is smaller than the object: both exact.
        _sample(3, (2, 2, 8, 8), (12, 12, 16, 16), (2, 2, 8, 8)),
        # 4: like 0 at another place.
        _sample(4, (1, 1, 5, 5), (8, 8, 20, 20), (1, 1, 5, 5)),
    ]


CAM_BOXES = [(10, 10, 22, 22), (4, 6, 12, 10), (0, 0, 10, 10), (2, 2, 8, 8), (8, 8, 20, 20)]
INFOCAM_BOXES = [(2, 2, 8, 8), (4, 6, 12, 10), (0, 0, 0, 0), (2, 2, 8, 8), (1, 1, 5, 5)]
CAM_IOU = [0.0, 1.0, 1.0, 1.0, 0.0]
INFOCAM_IOU = [1.0, 1.0, 0.0, 1.0, 1.0]


def test_collect_examples_gives_the_known_boxes_and_ious() -> None:
    ds = toy_dataset()
    examples = collect_examples(ToyGAP(), ds, [0, 1, 2, 3, 4], "cam,infocam,infocam+", region=1, batch_size=2)
    assert [ex.index for ex in examples] == [0, 1, 2, 3, 4]
    assert [ex.id for ex in examples] == [f"toy/{i}" for i in range(5)]
    assert [tuple(ex.boxes["cam"].tolist()) for ex in examples] == CAM_BOXES
    assert [tuple(ex.boxes["infocam"].tolist()) for ex in examples] == INFOCAM_BOXES
    assert [ex.iou["cam"] for ex in examples] == CAM_IOU
    assert [ex.iou["infocam"] for ex in examples] == INFOCAM_IOU
    # infoCAM+ on image 0: y_min = class 1 (ties with 2 go to the first), W0 - W1 = ch0.
    assert examples[0].iou["infocam+"] == 1.0
    assert [ex.gain("cam", "infocam") for ex in examples] == [1.0, 0.0, -1.0, 0.0, 1.0]
    ex = examples[0]
    assert ex.label == 0 and ex.pred == 0 and ex.label_name == "class 0"
    assert ex.image.shape == (SIDE, SIDE, 3) and ex.maps["cam"].shape == (SIDE, SIDE)
    # normalised CAM map: 1 on object and distractor, 0 elsewhere
    assert ex.maps["cam"][4, 4] == 1.0 and ex.maps["cam"][15, 15] == 1.0 and ex.maps["cam"][0, 20] == 0.0
    assert ex.maps["infocam"][15, 15] == 0.0
    np.testing.assert_array_equal(ex.gt_boxes, [[2, 2, 8, 8]])
    panel = ex.panel(["cam", "infocam"])
    assert panel.title == "class 0\nIoU 0.00 -> 1.00"
    np.testing.assert_array_equal(panel.pred_boxes["infocam"], [[2, 2, 8, 8]])


def test_gallery_ious_agree_with_the_one_evaluator() -> None:
    ds = toy_dataset()
    examples = collect_examples(ToyGAP(), ds, range(5), ["cam", "infocam"], region=1)
    loader = DataLoader(ds, batch_size=2, collate_fn=collate)
    result = evaluate(ToyGAP(), loader, variants=main_variants(["cam", "infocam"], 1), max_box_acc=False,
                      progress=False)
    for m in ("cam", "infocam"):
        hits = sum(ex.iou[m] >= 0.5 for ex in examples)
        assert result["methods"][m]["gt_known_loc"] == pytest.approx(100.0 * hits / 5)
    assert result["methods"]["cam"]["gt_known_loc"] == pytest.approx(60.0)
    assert result["methods"]["infocam"]["gt_known_loc"] == pytest.approx(80.0)


@pytest.mark.parametrize(
    "n, worst, expected",
    [(1, False, [0]), (2, False, [0, 4]), (3, False, [0, 4, 1]), (5, False, [0, 4, 1, 3, 2]),
     (9, False, [0, 4, 1, 3, 2]), (1, True, [2]), (3, True, [2, 1, 3])],
)
def test_top_gain_indices_keeps_the_best_n(n: int, worst: bool, expected: list[int]) -> None:
    got = top_gain_indices(ToyGAP(), toy_dataset(), n, ["cam", "infocam"], region=1, batch_size=2, worst=worst)
    assert got == expected


def test_method_names_and_bad_input() -> None:
    assert parse_methods("cam,infocam+,cam_r4,infocam_r1", 3) == {
        "cam": ("cam", 1), "infocam+": ("infocam+", 3), "cam_r4": ("cam", 4), "infocam_r1": ("infocam", 1)
    }
    assert method_title("infocam+") == "infoCAM+" and method_title("cam_r4") == "CAM (R=4)"
    with pytest.raises(InputError, match="--methods: unknown method 'gradcam'"):
        parse_methods("cam,gradcam", 1)
    with pytest.raises(InputError, match="--methods: unknown method 'cam_r0'"):
        parse_methods("cam_r0", 1)
    with pytest.raises(InputError, match="--indices: 5 is out of range"):
        collect_examples(ToyGAP(), toy_dataset(), [5])
    with pytest.raises(InputError, match="needs two methods"):
        top_gain_indices(ToyGAP(), toy_dataset(), 2, ["cam"])
    assert spread_indices(10, 4) == [0, 3, 6, 9] and spread_indices(3, 8) == [0, 1, 2] and spread_indices(5, 1) == [0]


# --------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random small CNN trained on nothing, with the synthetic squares as its dataset."""
    torch.manual_seed(0)
    cfg = resolve_config({
        "model": {"name": "small_cnn", "num_classes": 4, "in_channels": 3},
        "data": {"format": "synthetic", "num_classes": 4, "num_eval": 24, "image_size": 32},
        "evaluate": {"region": 2},
    })
    path = tmp_path_factory.mktemp("run") / "best.pt"
    state = {"format": ck.FORMAT, "version": ck.VERSION, "model": build_model("small_cnn", 4, in_channels=3).state_dict(),
             "epoch": 3, "best_score": 50.0, "best_epoch": 2, "cfg": cfg, "meta": {}}
    ck.atomic_torch_save(state, path)
    return path


def _expected(checkpoint: Path, methods: list[str]) -> list:
    from infocam.cli.commands.visualize import dataset_from_config

    model, cfg, _ = ck.load_checkpoint(checkpoint)
    ds = dataset_from_config(cfg, "test")
    return collect_examples(model, ds, range(len(ds)), methods, region=2)


def _lines(ex, methods: list[str]) -> str:
    ious = "  ".join(f"{m} {ex.iou[m]:.3f}" for m in methods)
    return f"#{ex.index} {ex.id}: {ex.label_name}  IoU {ious}"


def test_gallery_matches_the_evaluator_on_a_cnn(checkpoint: Path) -> None:
    """Maps smaller than the image (bicubic upsampling), region 2: still the evaluator's boxes."""
    from infocam.cli.commands.visualize import dataset_from_config

    model, cfg, _ = ck.load_checkpoint(checkpoint)
    ds = dataset_from_config(cfg, "test")
    every = collect_examples(model, ds, range(len(ds)), ["cam", "infocam", "infocam+"], region=2)
    result = evaluate(model, DataLoader(ds, batch_size=5, collate_fn=collate),
                      variants=main_variants(["cam", "infocam", "infocam+"], 2), max_box_acc=False, progress=False,
                      iou=0.2)  # a random CNN: at IoU 0.5 nothing would hit
    for m in ("cam", "infocam", "infocam+"):
        hits = sum(ex.iou[m] >= 0.2 for ex in every)
        assert 0 < hits < len(ds)
        assert result["methods"][m]["gt_known_loc"] == pytest.approx(100.0 * hits / len(ds))
    top1 = sum(ex.pred == ex.label for ex in every)
    assert result["classification"]["top1"] == pytest.approx(100.0 * top1 / len(ds))


def test_visualize_indices_writes_png_and_pdf(checkpoint: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "fig.png"
    rc = main(["visualize", "--checkpoint", str(checkpoint), "--methods", "cam,infocam+", "--indices", "0,3",
               "--out", str(out), "--pdf", "--device", "cpu"])
    assert rc == 0
    assert out.is_file() and out.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    png = np.asarray(Image.open(out).convert("RGB"))
    # rows: image, CAM, infoCAM+ (2.2 in x 120 dpi each), a 0.3 in band for the titles, 0.35 in for the legend
    assert png.shape == (3 * 264 + 36 + 42, 2 * 264, 3)
    red = (png[..., 0] > 200) & (png[..., 1] < 60) & (png[..., 2] < 60)
    assert red.sum() > 100  # ground-truth boxes drawn
    every = _expected(checkpoint, ["cam", "infocam+"])
    lines = capsys.readouterr().out.splitlines()
    assert lines == [_lines(every[0], ["cam", "infocam+"]), _lines(every[3], ["cam", "infocam+"])]


def test_visualize_top_gains_and_ids(checkpoint: Path, tmp_path: Path, capsys) -> None:
    methods = ["cam", "infocam"]
    every = _expected(checkpoint, methods)
    best = sorted(every, key=lambda ex: (-ex.gain("cam", "infocam"), ex.index))[:3]
    rc = main(["visualize", "--checkpoint", str(checkpoint), "--methods", "cam,infocam", "--top-gains", "3",
               "--out", str(tmp_path / "top.png"), "--batch-size", "5"])
    assert rc == 0
    assert capsys.readouterr().out.splitlines() == [_lines(ex, methods) for ex in best]
    rc = main(["visualize", "--checkpoint", str(checkpoint), "--methods", "cam,infocam",
               "--ids", f"{every[5].id},{every[1].id}", "--out", str(tmp_path / "ids.pdf")])
    assert rc == 0 and (tmp_path / "ids.pdf").is_file()
    assert capsys.readouterr().out.splitlines() == [_lines(every[5], methods), _lines(every[1], methods)]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--indices", "0,99"], "--indices: 99 is out of range: the split has 12 images"),
        (["--indices", "0,x"], "--indices: 'x' is not an integer"),
        (["--ids", "synthetic/test/0000"], "--ids: 'synthetic/test/0000' is not an image of the split"),
        (["--indices", "0", "--methods", "cam,grad"], "--methods: unknown method 'grad'"),
        (["--top-gains", "2", "--methods", "cam"], "needs two methods"),
        (["--top-gains", "0"], "--top-gains must lie in 1..32"),
        (["--indices", "0", "--worst"], "--worst goes with --top-gains"),
    ],
)
def test_visualize_bad_input_is_one_line(checkpoint: Path, tmp_path: Path, capsys, extra, message) -> None:
    rc = main(["visualize", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "f.png"), *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and err.count("\n") == 0
    assert not (tmp_path / "f.png").exists()


def test_visualize_refuses_to_overwrite(checkpoint: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "fig.png"
    out.write_bytes(b"keep")
    assert main(["visualize", "--checkpoint", str(checkpoint), "--indices", "0", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == b"keep"
    assert main(["visualize", "--checkpoint", str(checkpoint), "--indices", "0", "--out", str(tmp_path / "f.jpg")]) == 2
    assert "must end in .png or .pdf" in capsys.readouterr().err
    assert main(["visualize", "--checkpoint", str(tmp_path / "none.pt"), "--indices", "0", "--out", str(tmp_path / "g.png")]) == 2
    assert "none.pt" in capsys.readouterr().err
    assert main(["visualize", "--checkpoint", str(checkpoint), "--indices", "0", "--out", str(out),
                 "--overwrite"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_visualize_a_cub_layout_dataset_by_id(tmp_path: Path, capsys) -> None:
    """Real on-disk layout: ids, class names and ImageNet-normalised images from the data layer."""
    from data_factory import make_cub
    from infocam.data import build_dataset

    made = make_cub(tmp_path / "data", n_classes=3)
    data = {"format": "cub", "root": str(made), "image_size": 32, "resize_size": 36}
    cfg = resolve_config({"model": {"name": "small_cnn", "num_classes": 3, "in_channels": 3}, "data": data,
                          "evaluate": {"region": 3}})
    torch.manual_seed(1)
    model = build_model("small_cnn", 3, in_channels=3)
    ck.atomic_torch_save({"format": ck.FORMAT, "version": ck.VERSION, "model": model.state_dict(), "epoch": 1,
                          "best_score": 0.0, "best_epoch": 1, "cfg": cfg, "meta": {}}, tmp_path / "best.pt")
    ds = build_dataset(data, "test", train=False)
    pick = [ds.ids[-1], ds.ids[0]]
    out = tmp_path / "fig.png"
    assert main(["visualize", "--checkpoint", str(tmp_path / "best.pt"), "--methods", "cam,infocam",
                 "--ids", ",".join(pick), "--out", str(out)]) == 0
    want = collect_examples(model.eval(), ds, [len(ds) - 1, 0], ["cam", "infocam"], region=3)
    assert capsys.readouterr().out.splitlines() == [_lines(ex, ["cam", "infocam"]) for ex in want]
    assert [ex.label_name for ex in want] == [ds.class_names[ds.labels[-1]], ds.class_names[ds.labels[0]]]
    assert want[0].image.min() >= 0.0 and want[0].image.max() <= 1.0  # un-normalised for display


def test_gallery_argument_errors_name_the_argument_not_a_flag():
    # the library names its argument; `infocam visualize` restates it with the flag
    from infocam.viz.gallery import parse_methods

    with pytest.raises(ValueError, match=r"^region must be an integer >= 1") as err:
        parse_methods("cam", 0)
    assert "--" not in str(err.value)
