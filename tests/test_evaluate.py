"""The one evaluator against the foundation functions called by hand."""

import json

import pytest
import torch
from torch.utils.data import DataLoader

from data_factory import make_csv
from infocam import cam_maps
from infocam.boxes import boxes_from_maps
from infocam.cli import main
from infocam.data import build_dataset, collate
from infocam.engine.evaluate import Variant, evaluate, main_variants
from infocam.iou import box_iou
from infocam.models import build_model


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("csv")
    made = make_csv(root, n_classes=3, n_train_per_class=3, n_test_per_class=6, size=(48, 40))
    cfg = {"format": "csv", "root": str(made), "image_size": 32, "resize_size": 36, "crop": True}
    return cfg, build_dataset(cfg, "all_test", train=False)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("small_cnn", 3, in_channels=3).eval()


def _by_hand(model, ds, method, region, threshold):
    """GT-known, Top-1 and Top-5 Loc, one image at a time, with the public functions."""
    gt = top1 = top5 = 0
    feats = {}
    h = model.features.register_forward_hook(lambda m, a, o: feats.__setitem__("f", o))
    try:
        for i in range(len(ds)):
            item = ds[i]
            x = item["image"][None]
            with torch.no_grad():
                logits = model(x)
            y = torch.tensor([item["label"]])
            m = cam_maps(feats["f"], model.fc.weight, y, method=method, region=region, logits=logits)
            box = boxes_from_maps(m, threshold=threshold, size=tuple(x.shape[-2:]))
            hit = bool((box_iou(box, item["boxes"]) >= 0.5).any())
            gt += hit
            top1 += hit and int(logits.argmax()) == item["label"]
            top5 += hit and item["label"] in logits.topk(min(5, logits.shape[1])).indices[0].tolist()
    finally:
        h.remove()
    n = len(ds)
    return 100.0 * gt / n, 100.0 * top1 / n, 100.0 * top5 / n


def test_numbers_equal_the_foundation_functions_by_hand(data, model):
    _, ds = data
    loader = DataLoader(ds, batch_size=4, collate_fn=collate)
    variants = main_variants(["cam", "infocam", "infocam+"], 3)
    out = evaluate(model, loader, variants=variants, thresholds=0.3, max_box_acc=True, progress=False)
    assert out["count"] == len(ds) == 18
    for v in variants:
        gt, t1, t5 = _by_hand(model, ds, v.method, v.region, 0.3)
        r = out["methods"][v.name]
        assert r["gt_known_loc"] == pytest.approx(gt)
        assert r["top1_loc"] == pytest.approx(t1)
        assert r["top5_loc"] == pytest.approx(t5)
        assert 0.0 <= r["max_box_acc_v2"] <= 100.0
    with torch.no_grad():
        logits = torch.cat([model(b["image"]) for b in loader])
    labels = torch.tensor([ds[i]["label"] for i in range(len(ds))])
    assert out["classification"]["top1"] == pytest.approx(100.0 * float((logits.argmax(1) == labels).float().mean()))


def test_cam_is_region_one_and_infocam_uses_region():
    v = {x.name: x for x in main_variants(["cam", "infocam", "infocam+"], 4, ablation=True)}
    assert (v["cam"].region, v["infocam"].region, v["infocam+"].region) == (1, 4, 4)
    assert (v["cam_r4"].method, v["cam_r4"].region) == ("cam", 4)
    assert (v["infocam_r1"].method, v["infocam_r1"].region) == ("infocam", 1)


def test_ablation_corners_match_single_method_runs(data, model):
    _, ds = data
    loader = DataLoader(ds, batch_size=5, collate_fn=collate)
    grid = evaluate(model, loader, variants=main_variants(["cam", "infocam"], 3, ablation=True),
                    max_box_acc=False, progress=False)
    for name, method, region in [("cam", "cam", 1), ("infocam_r1", "infocam", 1), ("cam_r3", "cam", 3),
                                 ("infocam", "infocam", 3)]:
        single = evaluate(model, loader, variants=[Variant("only", method, region)], max_box_acc=False,
                          progress=False)
        assert grid["methods"][name] == single["methods"]["only"], name


def test_variants_with_the_same_maps_share_one_sweep(data, model):
    # the demo scores each method at its chosen threshold and at 0.2: one sweep
    # serves both, and each variant reports what a run of its own gives
    _, ds = data
    loader = DataLoader(ds, batch_size=5, collate_fn=collate)
    pair = [Variant("a", "infocam", 3, 0.3), Variant("b", "infocam", 3, 0.6), Variant("c", "cam", 1, 0.6)]
    both = evaluate(model, loader, variants=pair, max_box_acc=True, progress=False)
    for v in pair:
        alone = evaluate(model, loader, variants=[v], max_box_acc=True, progress=False)
        assert both["methods"][v.name] == alone["methods"][v.name], v.name
    assert both["methods"]["a"]["max_box_acc"] == both["methods"]["b"]["max_box_acc"]
    assert both["methods"]["a"]["gt_known_loc"] != both["methods"]["b"]["gt_known_loc"]


def test_threshold_sweep_reports_each_threshold(data, model):
    _, ds = data
    loader = DataLoader(ds, batch_size=6, collate_fn=collate)
    out = evaluate(model, loader, variants=[Variant("cam", "cam", 1)], thresholds=[0.2, 0.5], max_box_acc=False,
                   progress=False)
    assert set(out["thresholds"]["cam"]) == {"0.2", "0.5"}
    assert out["thresholds"]["cam"]["0.5"] == pytest.approx(_by_hand(model, ds, "cam", 1, 0.5)[0])


@pytest.fixture(scope="module")
def trained_run(data, tmp_path_factory):
    """A run folder of one epoch of infocam train on the csv data (best.pt; evaluate.region 2)."""
    from infocam.engine.trainer import fit

    cfg, _ = data
    run = tmp_path_factory.mktemp("run")
    fit({"seed": 0, "device": "cpu", "model": {"name": "small_cnn", "in_channels": 3},
         "data": cfg, "train": {"epochs": 1, "batch_size": 4, "lr": 0.01, "num_workers": 0},
         "evaluate": {"region": 2}}, run, progress=False)
    return run


def test_evaluate_cli_writes_json_and_refuses_to_overwrite(trained_run, tmp_path, capsys):
    run = trained_run
    out = tmp_path / "eval.json"
    argv = ["evaluate", "--checkpoint", str(run / "best.pt"), "--split", "all_test", "--workers", "0",
            "--max-box-acc", "--ablation", "--json", str(out), "--no-progress"]
    assert main(argv) == 0
    res = json.loads(out.read_text())
    assert set(res["methods"]) >= {"cam", "infocam", "infocam+", "cam_r2", "infocam_r1"}
    assert res["config"]["region"] == 2 and res["config"]["dataset"] == "csv"
    assert set(res["classification"]) == {"top1", "top5"}
    assert "GT-known Loc" in capsys.readouterr().out
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_library_errors_name_the_argument_not_a_flag():
    # a library caller never typed --region: the message names the argument,
    # and it is a plain ValueError (the command line maps it to the flag)
    from infocam.errors import InputError

    for call, fragment in [
        (lambda: main_variants(["cam"], 0), r"^region must be an integer >= 1"),
        (lambda: main_variants(["gradcam"], 1), r"^methods: unknown method 'gradcam'"),
        (lambda: evaluate(None, [], variants=[], thresholds=1.5), r"^threshold must lie in \[0, 1\]"),
        (lambda: evaluate(None, [], variants=[], cam_curve_step=0), r"^cam_curve_step must lie in \(0, 1\]"),
        (lambda: evaluate(None, [], variants=[]), r"^variants must name at least one method"),
    ]:
        with pytest.raises(ValueError, match=fragment) as err:
            call()
        assert not isinstance(err.value, InputError) and "--" not in str(err.value)
