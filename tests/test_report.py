"""The HTML report: content from known examples, the CLI, and a real headless-browser check."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infocam.cli import main
from infocam.engine import checkpoint as ck
from infocam.engine.config import resolve_config
from infocam.models import build_model
from infocam.viz.gallery import collect_examples
from infocam.viz.report import iou_class, markdown_to_html, nested_tables, render_report
from infocam.viz.tables import format_eval_table
from test_visualize import ToyGAP, toy_dataset

EVAL = {
    "classification": {"top1": 80.5, "top5": 94.25},
    "methods": {"cam": {"gt_known_loc": 61.0, "top1_loc": 50.25, "top5_loc": 58.0, "max_box_acc_v2": 63.5},
                "infocam": {"gt_known_loc": 64.5, "top1_loc": 53.0, "top5_loc": 61.0, "max_box_acc_v2": 66.0}},
    "config": {"model": "resnet50", "adl": False, "dataset": "cub", "region": 4},
    "count": 2878,
}
DEMO = {
    "single_object": {"classification": {"top1": 97.0, "top5": 100.0},
                      "methods": {"cam": {"gt_known_loc": 70.0, "top1_loc": 69.0, "top5_loc": 70.0}}, "count": 200},
    "multi_label": {"per_digit_accuracy": {"sigmoid": [0.84, 1.0], "pc_sigmoid": [1.0, 1.0]}, "count": 300},
}


@pytest.fixture(scope="module")
def examples() -> list:
    return collect_examples(ToyGAP(), toy_dataset(), range(5), ["cam", "infocam"], region=1)


def _cards(page: str) -> list[tuple[int, float]]:
    return [(int(i), float(g)) for i, g in re.findall(r'data-index="(\d+)" data-gain="([-0-9.]+)"', page)]


def test_page_content_and_default_order(examples, tmp_path: Path) -> None:
    out = render_report(tmp_path, {"eval_test.json": format_eval_table(EVAL)}, examples, tmp_path / "r.html")
    page = out.read_text()
    # largest IoU gain of infoCAM over CAM first; ties in dataset order
    assert _cards(page) == [(0, 1.0), (4, 1.0), (1, 0.0), (3, 0.0), (2, -1.0)]
    assert page.count("<img ") == 15  # per example: the image, CAM, infoCAM
    assert page.count('src="data:image/png;base64,') == 15
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing fetched from anywhere
    assert "<link" not in page and "<script src" not in page
    assert page.count('<figure class="card miss"') == 1  # infoCAM misses only image 2
    assert page.count('<span class="badge bad">CAM IoU 0.00</span>') == 2
    assert page.count('<span class="badge bad">infoCAM IoU 0.00</span>') == 1
    assert page.count('<span class="badge good">infoCAM IoU 1.00</span>') == 4
    assert '<span class="badge good">+1.00</span>' in page and '<span class="badge bad">-1.00</span>' in page
    # every row says its R and threshold (this JSON names no threshold: "-")
    assert "<td>CAM</td><td class=\"num\">1</td><td class=\"num\">-</td><td class=\"num\">61.00</td><td class=\"num\">50.25</td>" in page
    assert "<td>infoCAM</td><td class=\"num\">4</td>" in page
    assert "Top-1 Cls 80.50 %, Top-5 Cls 94.25 % on 2878 images" in page


def test_markdown_and_nested_tables() -> None:
    assert iou_class(0.5) == "good" and iou_class(0.3) == "fair" and iou_class(0.29) == "bad"
    assert markdown_to_html("a <b>\n\n| x | y |\n|---|---|\n| 1.50 | n/a |") == (
        "<p>a &lt;b&gt;</p>\n<table><thead><tr><th>x</th><th>y</th></tr></thead><tbody>"
        '<tr><td class="num">1.50</td><td>n/a</td></tr></tbody></table>'
    )
    assert nested_tables(DEMO["multi_label"]) == (
        "| key | value |\n|---|---|\n| count | 300 |\n\n"
        "#### per_digit_accuracy\n\n| | 0 | 1 |\n|---|---|---|\n| sigmoid | 0.84 | 1.00 |\n| pc_sigmoid | 1.00 | 1.00 |"
    )


# --------------------------------------------------------------------------- headless Chromium


def _chromium(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium is not on PATH (apt-get install chromium); the browser check needs it")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120,
        )


def test_report_renders_in_a_browser(examples, tmp_path: Path) -> None:
    tables = {"eval_test.json": format_eval_table(EVAL), "results.json: multi_label": nested_tables(DEMO["multi_label"])}
    out = render_report(tmp_path, tables, examples, tmp_path / "report.html")
    url = out.resolve().as_uri()
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", url).stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None, dom[:500]
    assert 'data-images-loaded="15"' in body.group(0) and 'data-images-total="15"' in body.group(0)
    assert dom.count("<table>") == 3 and "per_digit_accuracy" in dom
    assert '<span id="shown">5 of 5 shown</span>' in dom  # the gallery script ran

    # a link can open the page on the failures: infoCAM misses only image 2
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", url + "#filter=miss-last").stdout
    assert '<span id="shown">1 of 5 shown</span>' in dom
    visible = re.findall(r'<figure class="card[^"]*" data-index="(\d+)"[^>]*?(style="display: none;")?>', dom)
    assert sorted(i for i, hidden in visible if not hidden) == ["2"]

    shot = tmp_path / "shot.png"
    _chromium("--window-size=1200,1600", f"--screenshot={shot}", url)
    assert shot.is_file() and shot.stat().st_size > 10_000
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 100  # text, tables, heat maps: far from one colour


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "eval_test.json").write_text(json.dumps(EVAL))
    (run / "results.json").write_text(json.dumps(DEMO))
    return run


def _checkpoint(run: Path, root: str | None = None) -> None:
    torch.manual_seed(0)
    data = {"format": "synthetic", "num_classes": 4, "num_eval": 24, "image_size": 32}
    if root is not None:
        data = {"format": "cub", "root": root}
    cfg = resolve_config({"model": {"name": "small_cnn", "num_classes": 4, "in_channels": 3}, "data": data,
                          "evaluate": {"region": 2}})
    ck.atomic_torch_save({"format": ck.FORMAT, "version": ck.VERSION,
                          "model": build_model("small_cnn", 4, in_channels=3).state_dict(), "epoch": 5,
                          "best_score": 1.0, "best_epoch": 4, "cfg": cfg, "meta": {}}, run / "best.pt")


def test_report_cli_with_checkpoint(run_dir: Path, capsys) -> None:
    _checkpoint(run_dir)
    assert main(["report", str(run_dir), "--n", "6", "--methods", "cam,infocam+"]) == 0
    page = (run_dir / "report.html").read_text()
    for heading in ("eval_test.json", "results.json: single_object", "results.json: multi_label",
                    "Paper comparison: Table 3. CUB-200-2011: localisation and classification (%)"):
        assert f"<h3>{heading}</h3>" in page
    assert "<td>ResNet50</td><td>CAM</td><td class=\"num\">61.00</td><td class=\"num\">61.66</td>" in page
    cards = _cards(page)
    assert sorted(i for i, _ in cards) == [0, 2, 4, 7, 9, 11]  # 6 spread over the 12 test images
    gains = [g for _, g in cards]
    assert gains == sorted(gains, reverse=True)
    assert "Gallery from best.pt (epoch 4), split test." in page
    assert "6 gallery images" in capsys.readouterr().err
    # never overwritten silently
    assert main(["report", str(run_dir)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["report", str(run_dir), "--n", "4", "--pick", "gain", "--overwrite"]) == 0
    assert len(_cards((run_dir / "report.html").read_text())) == 4


def test_report_cli_without_gallery(run_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "tables_only.html"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0  # no checkpoint: tables only
    page = out.read_text()
    assert "No gallery: no best.pt or last.pt in the run folder." in page and "<img " not in page
    _checkpoint(run_dir, root=str(tmp_path / "gone"))  # the dataset moved away
    assert main(["report", str(run_dir), "--out", str(out), "--overwrite"]) == 0
    assert "warning: no gallery" in capsys.readouterr().err
    assert "pass --data ROOT" in out.read_text()
    assert main(["report", str(run_dir), "--out", str(out), "--overwrite", "--data", str(tmp_path / "gone")]) == 2
    assert "gone" in capsys.readouterr().err


@pytest.mark.parametrize(
    "setup, args, message",
    [
        ("missing", [], "no such folder"),
        ("empty", [], "nothing to report"),
        ("bad_json", [], "eval_x.json: not a JSON file"),
        ("empty", ["--n", "-1"], "--n must be at least 0"),
    ],
)
def test_report_bad_input(tmp_path: Path, capsys, setup: str, args: list[str], message: str) -> None:
    run = tmp_path / "run"
    if setup != "missing":
        run.mkdir()
    if setup == "bad_json":
        (run / "eval_x.json").write_text("{oops")
    assert main(["report", str(run), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0


def test_report_takes_two_evaluations_of_one_model(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "eval_val.json").write_text(json.dumps({**EVAL, "config": {**EVAL["config"], "split": "val"}}))
    (run / "eval_test.json").write_text(json.dumps(EVAL))
    out = tmp_path / "r.html"
    assert main(["report", str(run), "--out", str(out), "--n", "0"]) == 0
    page = out.read_text()
    assert "<h3>eval_test.json</h3>" in page and "<h3>eval_val.json</h3>" in page
    assert "CUB-200-2011: localisation and classification (%) [eval_test.json]" in page
    assert "CUB-200-2011: localisation and classification (%) [eval_val.json]" in page
    assert main(["report", str(run), "--out", str(out), "--n", "0", "--overwrite",
                 "--eval", str(run / "eval_val.json")]) == 0
    page = out.read_text()
    assert "<h3>eval_val.json</h3>" in page and "eval_test.json" not in page
