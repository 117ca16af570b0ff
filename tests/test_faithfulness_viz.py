"""Faithfulness in the outputs: ``explain --curves``, the report's curves and the demo's table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infocam import cam_maps
from infocam.cli import main
from infocam.demo.run import results_markdown
from infocam.extract import CAMExtractor
from infocam.faithfulness import deletion_insertion
from infocam.viz.curves import curves_png, faithfulness_curves
from infocam.viz.explain import explain_curves
from infocam.viz.gallery import parse_methods
from test_visualize import ToyGAP


def test_explain_curves_are_the_core_curves_of_each_map() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 16, 16, generator=g)
    model = ToyGAP()
    variants = parse_methods("cam,infocam", 1)
    with CAMExtractor(model) as ex:
        out = explain_curves(ex, x, variants, 0, steps=4)
        res = ex(x, methods=())
    assert out["class"] == 0 and out["steps"] == 4 and out["fractions"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    for name, (method, region) in variants.items():
        maps = cam_maps(res.features, ex.fc.weight, torch.tensor([0]), method=method, region=region)
        c = deletion_insertion(model, x, maps, 0, steps=4)
        assert out["methods"][name]["deletion"] == pytest.approx(c.deletion[0].tolist(), abs=1e-6)
        assert out["methods"][name]["insertion_auc"] == pytest.approx(float(c.insertion_auc[0]), abs=1e-6)


def test_explain_cli_draws_the_curves(tmp_path: Path, capsys) -> None:
    img = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)).save(img)
    out = tmp_path / "out"
    base = ["explain", str(img), "--model", "small_cnn", "--num-classes", "5", "--size", "32", "--out", str(out)]
    assert main([*base, "--curves", "--curves-steps", "0"]) == 2
    assert "--curves-steps must be at least 1" in capsys.readouterr().err
    assert main([*base, "--curves", "--curves-steps", "4"]) == 0
    data = json.loads((out / "explain.json").read_text())
    entry = data["images"][0]
    assert entry["curves_figure"] == "photo_curves.png" and entry["curves"]["class"] == entry["topk"][0]["class"]
    for m in ("cam", "infocam", "infocam+"):
        curve = entry["curves"]["methods"][m]
        assert len(curve["deletion"]) == 5 and curve["insertion"][-1] == pytest.approx(curve["deletion"][0])
    with Image.open(out / "photo_curves.png") as png:
        assert png.size[0] > 400


def test_curves_png_and_the_report_section(tmp_path: Path) -> None:
    f = {"count": 3, "steps": 2, "fractions": [0.0, 0.5, 1.0], "deletion_curve": [0.9, 0.4, 0.1],
         "insertion_curve": [0.2, 0.6, 0.9], "deletion_auc": 0.45, "insertion_auc": 0.575,
         "average_drop": 12.5, "increase_in_confidence": 33.3}
    result = {"classification": {"top1": 50.0, "top5": 90.0}, "count": 3,
              "methods": {"cam": {"gt_known_loc": 50.0, "faithfulness": f}, "infocam": {"gt_known_loc": 40.0}}}
    fractions, curves = faithfulness_curves(result)
    assert fractions == [0.0, 0.5, 1.0] and list(curves) == ["cam"]
    assert faithfulness_curves({"methods": {"cam": {"gt_known_loc": 1.0}}}) is None
    png = curves_png(fractions, curves, title="t", out=tmp_path / "c.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "c.png").read_bytes() == png
    run = tmp_path / "run"
    run.mkdir()
    (run / "eval_test.json").write_text(json.dumps(result))
    assert main(["report", str(run), "--n", "0"]) == 0
    page = (run / "report.html").read_text()
    assert '<section id="curves"><h2>Faithfulness curves</h2>' in page
    assert '<h3>eval_test.json</h3><img alt="eval_test.json" src="data:image/png;base64,' in page
    assert "Faithfulness on 3 images, 2 steps" in page and "<td class=\"num\">0.4500</td>" in page


def _demo_results(with_faithfulness: bool) -> dict:
    f = {"count": 4, "steps": 2, "deletion_auc": 0.25, "insertion_auc": 0.5, "average_drop": 10.0,
         "increase_in_confidence": 25.0}
    row = {"gt_known_loc": 80.0, "top1_loc": 75.0, "top5_loc": 79.0, "max_box_acc_v2": 70.0, "region": 3,
           "threshold": 0.4, "fixed_threshold": {"gt_known_loc": 48.0, "top1_loc": 45.0}}
    methods = {m: dict(row, **({"faithfulness": f} if with_faithfulness else {})) for m in ("cam", "infocam", "infocam+")}
    ml = {"per_digit_accuracy": {"sigmoid": [90.0] * 10}, "per_label_accuracy": {"sigmoid": [95.0] * 10},
          "localisation_detail": {"pc_sigmoid": {m: {"iou_hit": 70.0, "iou_hit_fixed_threshold": 60.0,
                                                     "peak_in_slot": 99.0, "region": 2, "threshold": 0.5}
                                                 for m in ("cam", "infocam")}}}
    return {"seed": 0, "seconds": 1.0, "multi_label": ml,
            "single_object": {"classification": {"top1": 93.0, "top5": 99.0}, "count": 10, "methods": methods}}


def test_demo_faithfulness_table_is_added_and_the_other_tables_are_unchanged() -> None:
    plain, faith = results_markdown(_demo_results(False)), results_markdown(_demo_results(True))
    section = faith.replace(plain.split("## Double-digit")[0], "").split("## Double-digit")[0]
    assert faith.replace(section, "") == plain
    assert section.startswith("## Single-object: do the maps point at what the model uses?")
    assert "| infoCAM+ | 0.2500 | 0.5000 | 10.00 | 25.00 | 3 |" in section
