"""`infocam demo --quick` end to end: the files, the shape and the ranges of results.json."""

import json
import math

import pytest

from infocam.cli import main


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    return out


def _pct(x):
    return isinstance(x, (int, float)) and not math.isnan(x) and 0.0 <= x <= 100.0


def test_demo_writes_results_figures_and_checkpoints(demo_dir):
    for name in ("results.json", "results.md", "report.html", "figure2_single_object.png",
                 "figure4_multi_label_digit0.png"):
        assert (demo_dir / name).is_file(), name
        assert (demo_dir / name).stat().st_size > 100
    for run in ("single_object", "multi_label_sigmoid", "multi_label_pc_sigmoid"):
        assert (demo_dir / run / "best.pt").is_file()
        assert (demo_dir / run / "metrics.jsonl").is_file()


def test_results_json_shape_and_ranges(demo_dir):
    r = json.loads((demo_dir / "results.json").read_text())
    so = r["single_object"]
    assert _pct(so["classification"]["top1"]) and _pct(so["classification"]["top5"])
    assert so["classification"]["top5"] >= so["classification"]["top1"]
    assert set(so["methods"]) == {"cam", "infocam", "infocam+"}
    for m in so["methods"].values():
        for k in ("gt_known_loc", "top1_loc", "top5_loc", "max_box_acc_v2"):
            assert _pct(m[k]), k
        assert m["top1_loc"] <= m["gt_known_loc"] and m["top1_loc"] <= m["top5_loc"] <= m["gt_known_loc"]
        assert m["region"] in (1, 3)
        f = m["faithfulness"]
        assert f["count"] == 32 and f["steps"] == 4 and len(f["deletion_curve"]) == 5
        assert 0.0 <= f["deletion_auc"] <= 1.0 and 0.0 <= f["insertion_auc"] <= 1.0
    assert isinstance(so["region"], int)
    ml = r["multi_label"]
    for head in ("sigmoid", "pc_sigmoid"):
        assert len(ml["per_digit_accuracy"][head]) == 10
        assert all(_pct(v) for v in ml["per_digit_accuracy"][head])
    assert set(ml["localisation"]) == {"cam", "infocam"}
    assert all(_pct(v) for v in ml["localisation"].values())
    assert isinstance(r["seed"], int) and r["seconds"] > 0


def test_results_md_has_the_tables(demo_dir):
    md = (demo_dir / "results.md").read_text()
    assert "| infoCAM+ |" in md and "| pc-sigmoid |" in md and "MaxBoxAccV2" in md
    assert "## Single-object: do the maps point at what the model uses?" in md and "deletion AUC" in md
    assert "Faithfulness curves" in (demo_dir / "report.html").read_text()


def test_demo_refuses_non_empty_out(demo_dir, capsys):
    assert main(["demo", "--quick", "--out", str(demo_dir), "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_the_demo_chooses_by_the_rule_evaluate_uses(demo_dir):
    """Each chosen (R, threshold) is what infocam.engine.select.best_setting picks from the recorded grid."""
    from infocam.engine.select import best_setting

    r = json.loads((demo_dir / "results.json").read_text())
    so, regions = r["single_object"], r["settings"]["regions"]
    for m, row in so["methods"].items():
        got = best_setting(so["validation_grid"], [(f"{m}_r{k}", k) for k in regions])
        assert got == (row["region"], row["threshold"], row["val_gt_known_loc"]), m
