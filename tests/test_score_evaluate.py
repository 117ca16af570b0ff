"""``evaluate --save-maps`` then ``score`` gives the numbers of ``evaluate``: our maps and anyone's take one path."""

import json

import numpy as np
import pytest
import torch

from data_factory import make_csv, make_wsol
from infocam.cli import main
from infocam.models import build_model
from test_bad_input import save_checkpoint


def test_score_of_saved_maps_equals_evaluate_boxes(tmp_path, capsys):
    root = make_csv(tmp_path / "data", n_classes=2, n_train_per_class=1, n_test_per_class=3, size=(224, 224))
    torch.manual_seed(3)
    weights = tmp_path / "w.pt"
    torch.save(build_model("small_cnn", 2).state_dict(), weights)
    maps = tmp_path / "maps"
    argv = ["evaluate", "--model", "small_cnn", "--weights", str(weights), "--num-classes", "2",
            "--data", str(root), "--format", "csv", "--split", "all_test", "--methods", "cam,infocam",
            "--region", "3", "--max-box-acc", "--baselines", "center_gaussian,full_image", "--save-maps", str(maps), "--json", str(tmp_path / "e.json"),
            "--workers", "0", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    ev = json.loads((tmp_path / "e.json").read_text())
    assert ev["config"]["weights"] == str(weights) and ev["config"]["checkpoint"] is None
    saved = sorted(p.relative_to(maps).as_posix() for p in maps.rglob("*.npy"))
    assert len(saved) == 4 * 6 and saved[0].startswith("cam/")
    assert np.load(maps / saved[0]).dtype == np.float64
    for method in ("cam", "infocam"):
        out = tmp_path / f"s_{method}.json"
        assert main(["score", str(maps / method), "--data", str(root), "--format", "csv", "--split", "all_test",
                     "--cam-curve-step", "0.01", "--json", str(out), "--workers", "1", "--no-progress"]) == 0
        sc = json.loads(out.read_text())["metrics"]
        want = ev["methods"][method]
        assert sc["max_box_acc"] == want["max_box_acc"]
        assert sc["best_threshold"] == want["best_threshold"]
        assert sc["max_box_acc_v2"] == want["max_box_acc_v2"]
        assert sc["gt_known_loc"] == want["gt_known_loc"]
    # score --baselines: the evaluator's baselines, from the image size alone
    out = tmp_path / "s_base.json"
    assert main(["score", str(maps / "cam"), "--data", str(root), "--format", "csv", "--split", "all_test",
                 "--cam-curve-step", "0.01", "--baselines", "center_gaussian,full_image", "--json", str(out),
                 "--workers", "1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "baseline center_gaussian:" in text and "baseline full_image:" in text
    sc = json.loads(out.read_text())["baselines"]
    for name in ("center_gaussian", "full_image"):
        want = ev["methods"][name]
        for key in ("max_box_acc", "max_box_acc_v2", "gt_known_loc"):
            assert sc[name][key] == want[key], (name, key)
    assert sc["full_image"]["max_box_acc_v1"] == sc["full_image"]["max_box_acc"]["50"]  # one box: the image
    # --save-maps into a non-empty folder needs --overwrite
    assert main([*argv[:-5], "--workers", "0", "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_score_of_saved_maps_equals_evaluate_pxap(tmp_path, capsys):
    made = make_wsol(tmp_path / "data", n_classes=2, per_class={"test": 3}, size=(48, 48), masks=True)
    cfg = {"format": "wsol", "root": str(made.root), "metadata_root": str(made.metadata_root),
           "image_size": 48, "resize_size": 48, "crop": False}
    ckpt = save_checkpoint(tmp_path / "m.pt", cfg, num_classes=2)
    maps = tmp_path / "maps"
    assert main(["evaluate", "--checkpoint", str(ckpt), "--pxap", "--methods", "cam", "--cam-curve-step", "0.01",
                 "--save-maps", str(maps), "--json", str(tmp_path / "e.json"), "--workers", "0",
                 "--no-progress"]) == 0, capsys.readouterr().err
    want = json.loads((tmp_path / "e.json").read_text())["methods"]["cam"]["pxap"]
    assert 0 < want < 100
    r = __import__("infocam").score_maps(maps / "cam", metadata=made.metadata_root / "test", mask_root=made.root,
                                         size=48, cam_curve_step=0.01, workers=1)
    assert r["metrics"] == {"pxap": want}


def test_evaluate_a_model_on_wsolevaluation_metadata_then_score(tmp_path, capsys):
    made = make_wsol(tmp_path / "data", n_classes=2, per_class={"test": 3}, size=(224, 224))
    torch.manual_seed(5)
    weights = tmp_path / "w.pt"
    torch.save(build_model("small_cnn", 2).state_dict(), weights)
    maps = tmp_path / "maps"
    assert main(["evaluate", "--model", "small_cnn", "--weights", str(weights), "--num-classes", "2",
                 "--data", str(made.root), "--format", "wsol", "--metadata-root", str(made.metadata_root.parent),
                 "--dataset-name", made.metadata_root.name, "--methods", "cam", "--max-box-acc",
                 "--cam-curve-step", "0.01", "--save-maps", str(maps), "--json", str(tmp_path / "e.json"),
                 "--workers", "0", "--no-progress"]) == 0, capsys.readouterr().err
    want = json.loads((tmp_path / "e.json").read_text())["methods"]["cam"]
    got = __import__("infocam").score_maps(maps / "cam", metadata=made.metadata_root / "test", size=224,
                                           cam_curve_step=0.01, workers=1)["metrics"]
    assert got["max_box_acc"] == want["max_box_acc"] and got["gt_known_loc"] == want["gt_known_loc"]


def test_evaluate_model_flags_and_pxap_errors(tmp_path, capsys):
    root = make_csv(tmp_path / "data", n_classes=2, n_train_per_class=1, n_test_per_class=1, size=(32, 32))
    base = ["evaluate", "--data", str(root), "--format", "csv", "--split", "all_test", "--workers", "0", "--no-progress"]
    for extra, pattern in [
        ([], "give exactly one of --checkpoint CKPT and --model NAME"),
        (["--model", "small_cnn", "--checkpoint", "x.pt"], "give exactly one of"),
        (["--model", "small_cnn"], "needs --weights FILE"),
    ]:
        assert main([*base, *extra]) == 2
        assert pattern in capsys.readouterr().err
    weights = tmp_path / "w.pt"
    torch.save(build_model("small_cnn", 3).state_dict(), weights)
    assert main([*base, "--model", "small_cnn", "--weights", str(weights), "--num-classes", "2"]) == 2
    assert "--num-classes 2 match" in capsys.readouterr().err
    assert main([*base, "--model", "small_cnn", "--weights", str(weights), "--num-classes", "3", "--pxap"]) == 2
    assert "--pxap needs masks" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["/abs/a.png", "../up.png"])
def test_saved_map_names_stay_inside_the_folder(tmp_path, bad):
    from infocam.engine.score import MapSaver
    from infocam.errors import InputError

    saver = MapSaver(tmp_path / "maps")
    with pytest.raises(InputError, match="not a relative path"):
        saver({"id": [bad]}, None, {"cam": torch.zeros(1, 4, 4)})
