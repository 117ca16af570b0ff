"""Choosing the threshold and R on a selection split: one rule, known answers by construction."""

from __future__ import annotations

import json

import pytest
import torch

from data_factory import make_wsol
from infocam.cli import main
from infocam.engine.evaluate import evaluate
from infocam.engine.select import (
    best_setting,
    chosen_variants,
    parse_regions,
    parse_thresholds,
    select_on_split,
)
from infocam.errors import InputError
from test_bad_input import one_line_error, save_checkpoint
from test_baselines import Pixels, _batch


def test_parse_thresholds_and_regions():
    assert parse_thresholds("0.05:0.95:0.05") == tuple(round(0.05 * i, 2) for i in range(1, 20))
    assert parse_thresholds("0.4,0.2,0.4") == (0.2, 0.4)
    assert parse_regions("5,1,3") == (1, 3, 5)
    for bad in ("0.1:0.9", "a,b", "0.5:0.1:0.1", "0.1:1.5:0.5", "0:1:0"):
        with pytest.raises(InputError, match="--thresholds"):
            parse_thresholds(bad)
    for bad in ("0,1", "x", ""):
        with pytest.raises(InputError, match="--regions"):
            parse_regions(bad)


def test_the_rule_best_score_then_smaller_parameter_then_nearest_the_paper_threshold():
    sweep = {"cam_r1": {"0.1": 50.0, "0.3": 60.0}, "cam_r3": {"0.1": 60.0, "0.3": 60.0, "0.5": 59.0}}
    assert best_setting(sweep, [("cam_r1", 1), ("cam_r3", 3)]) == (1, 0.3, 60.0)
    sweep = {"cam_r1": {"0.1": 50.0}, "cam_r3": {"0.4": 61.0, "0.1": 61.0, "0.6": 61.0}}
    assert best_setting(sweep, [("cam_r1", 1), ("cam_r3", 3)]) == (3, 0.1, 61.0)
    sweep = {"g_w0.1": {"0.5": 70.0}, "g_w0.05": {"0.5": 70.0}}
    assert best_setting(sweep, [("g_w0.1", 0.1), ("g_w0.05", 0.05)]) == (0.05, 0.5, 70.0)


def _square_with_halo(n: int) -> tuple[torch.Tensor, list]:
    """A 1.0 square (8 x 8) inside a 0.5 halo (20 x 20) on a dark 32 x 32 image: only thresholds above
    0.5 box the square alone (IoU 1); at or below 0.5 the box is the halo's (IoU 64 / 400)."""
    images = torch.zeros(n, 1, 32, 32)
    images[:, :, 6:26, 6:26] = 0.5
    images[:, :, 12:20, 12:20] = 1.0
    return images, [(12, 12, 20, 20)] * n


def test_select_picks_the_threshold_known_by_construction_and_scores_the_test_split_there():
    val = [_batch(*_square_with_halo(3))]
    choices, sweep = select_on_split(Pixels(), val, methods=["cam", "infocam"], regions=(1, 3),
                                     thresholds=(0.3, 0.6, 0.9), baselines=["image_intensity"], progress=False)
    assert sweep["cam_r1"] == {"0.3": 0.0, "0.6": 100.0, "0.9": 100.0}
    for m in ("cam", "infocam", "image_intensity"):
        # 0.6 and 0.9 both hit: the one nearer the paper's 0.2; R = 1 and R = 3 tie: the smaller
        assert (choices[m].region, choices[m].threshold, choices[m].score) == (1, 0.6, 100.0), m
    test = evaluate(Pixels(), [_batch(*_square_with_halo(5))], progress=False,
                    variants=chosen_variants(choices, fixed_threshold=0.2))
    assert test["methods"]["cam"]["gt_known_loc"] == 100.0
    assert test["methods"]["cam@0.2"]["gt_known_loc"] == 0.0
    assert test["methods"]["image_intensity"]["gt_known_loc"] == 100.0


@pytest.fixture(scope="module")
def wsol_ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("sel")
    made = make_wsol(root, n_classes=2, per_class={"train": 2, "val": 3, "test": 3}, size=(40, 32))
    data = {"format": "wsol", "root": str(made.root), "metadata_root": str(made.metadata_root),
            "image_size": 32, "resize_size": 32}
    return save_checkpoint(root / "m.pt", data, num_classes=2)


def test_evaluate_select_on_val_and_baselines_from_the_command_line(wsol_ckpt, tmp_path, capsys):
    out = tmp_path / "eval.json"
    argv = ["evaluate", "--checkpoint", str(wsol_ckpt), "--workers", "0", "--no-progress", "--region", "2",
            "--select-on", "val", "--thresholds", "0.1:0.5:0.2", "--regions", "1,2", "--baselines", "all",
            "--max-box-acc", "--json", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    res = json.loads(out.read_text())
    assert set(res["methods"]) == {"cam", "infocam", "infocam+", "center_gaussian", "full_image", "image_intensity"}
    sel = res["selected"]
    assert sel["split"] == "val" and sel["regions"] == [1, 2] and sel["thresholds"] == [0.1, 0.3, 0.5]
    assert set(sel["methods"]) == set(res["methods"])
    for m, row in sel["methods"].items():
        assert row["threshold"] in (0.1, 0.3, 0.5)
        # the choice is the rule's on the recorded validation grid
        cands = ([(f"{m}_r{r}", r) for r in (1, 2)] if m in ("cam", "infocam", "infocam+") else
                 [(k, float(k.rsplit("_w", 1)[1])) for k in sel["grid"] if k.startswith(f"{m}_w")] or [(m, 1)])
        param, t, score = best_setting(sel["grid"], cands)
        assert (row["threshold"], row["selection_gt_known_loc"]) == (t, score)
        assert row["width" if m == "center_gaussian" else "region"] == param
    assert res["config"]["variants"]["cam"] == {"method": "cam", "region": 1, "width": None, "threshold": 0.2}
    assert "| method | R | threshold | GT-known Loc |" in printed
    assert "| CAM | 1 | 0.2 |" in printed and "| infoCAM | 2 | 0.2 |" in printed
    assert "| centre Gaussian (width 0.25) | - | 0.2 |" in printed
    assert "chosen per method on split val" in printed and "| val GT-known Loc |" in printed


def test_selection_arguments_are_checked(wsol_ckpt, capsys):
    base = ["evaluate", "--checkpoint", str(wsol_ckpt), "--workers", "0", "--no-progress"]
    one_line_error(capsys, [*base, "--select-on", "test"], "--select-on test: choose on another split than the one evaluated")
    one_line_error(capsys, [*base, "--regions", "1,3"], "--regions goes with --select-on")
    one_line_error(capsys, [*base, "--select-on", "val", "--thresholds", "0.1:2:0.5"], "--thresholds")
    one_line_error(capsys, [*base, "--baselines", "centre"], "unknown baseline 'centre'")
    one_line_error(capsys, [*base, "--select-on", "nosuch"], "'nosuch' is not a folder")
