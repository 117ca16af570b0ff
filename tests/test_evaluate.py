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
from infocam.engine.evaluate import Variant, evaluate, evaluation_loader, main_variants
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


def _batches_with_masks(ds, batch_size):
    """The data set's batches with a fixed 0/1 mask per image (a square around its first box), for PxAP."""
    loader = DataLoader(ds, batch_size=batch_size, collate_fn=collate)
    out = []
    for b in loader:
        masks = torch.zeros(b["image"].shape[0], *b["image"].shape[-2:], dtype=torch.uint8)
        for i, boxes in enumerate(b["boxes"]):
            x0, y0, x1, y1 = (int(v) for v in boxes[0])
            masks[i, y0:y1, x0:x1] = 1
        out.append({**b, "mask": masks})
    return out


def test_cpu_workers_give_exactly_the_serial_numbers(data, model):
    _, ds = data
    batches = _batches_with_masks(ds, 5)  # 18 images: batches of 5, 5, 5, 3
    variants = [*main_variants(["cam", "infocam", "infocam+"], 2, ablation=True), Variant("t", "infocam", 2, 0.5)]
    kw = {"variants": variants, "thresholds": [0.2, 0.35], "max_box_acc": True, "cam_curve_step": 0.001,
          "pxap": True, "progress": False}
    seen = {0: [], 2: []}
    out = {}
    for n in (0, 2):
        out[n] = evaluate(model, batches, cpu_workers=n, on_batch=lambda b, r, m, n=n: seen[n].append(len(b["id"])),
                          **kw)
    assert out[2] == out[0]
    assert seen[2] == seen[0] == [5, 5, 5, 3]
    for name in ("cam", "infocam", "infocam+", "cam_r2", "infocam_r1", "t"):
        r = out[2]["methods"][name]
        assert set(r) >= {"gt_known_loc", "top1_loc", "top5_loc", "max_box_acc", "max_box_acc_v2", "pxap"}, name
        assert 0.0 < r["pxap"] <= 100.0
    assert set(out[2]["thresholds"]["cam"]) == {"0.2", "0.35"}
    # the counts equal those of one meter fed by hand (GT-known Loc at 0.2 of CAM)
    assert out[2]["methods"]["cam"]["gt_known_loc"] == pytest.approx(_by_hand(model, ds, "cam", 1, 0.2)[0])


def test_an_error_in_a_cpu_worker_is_the_serial_error(data, model):
    _, ds = data
    loader = DataLoader(ds, batch_size=6, collate_fn=collate)  # no masks: PxAP cannot be scored
    errors = []
    for n in (0, 2):
        with pytest.raises(ValueError) as err:
            evaluate(model, loader, variants=[Variant("cam", "cam", 1)], pxap=True, progress=False, cpu_workers=n)
        errors.append((type(err.value), str(err.value)))
    assert errors[0] == errors[1]
    assert errors[0][1].startswith("masks are required for PxAP") and "\n" not in errors[0][1]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_cpu_workers_must_be_a_count(bad):
    with pytest.raises(ValueError, match=r"^cpu_workers must be an integer >= 0"):
        evaluate(None, [], variants=[Variant("cam", "cam", 1)], cpu_workers=bad)


def test_cli_cpu_workers_is_recorded_and_checked(trained_run, tmp_path, capsys):
    out = tmp_path / "eval.json"
    argv = ["evaluate", "--checkpoint", str(trained_run / "best.pt"), "--split", "all_test", "--workers", "0",
            "--no-progress", "--json", str(out)]
    assert main([*argv, "--cpu-workers", "2"]) == 0
    assert json.loads(out.read_text())["config"]["cpu_workers"] == 2
    capsys.readouterr()
    assert main([*argv[:-2], "--cpu-workers", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--cpu-workers" in err and "must be an integer >= 0" in err


def test_evaluation_loader_keeps_the_order_and_gives_each_rank_every_world_th_image(data):
    _cfg, ds = data
    ids = ds.ids
    whole = [i for b in evaluation_loader(ds, 4, 0, "cpu") for i in b["id"]]
    assert whole == ids
    ranks = [[i for b in evaluation_loader(ds, 4, 0, "cpu", rank=r, world_size=3) for i in b["id"]] for r in range(3)]
    assert ranks == [ids[0::3], ids[1::3], ids[2::3]]
    loader = evaluation_loader(ds, 5, 2, torch.device("cpu"))
    assert (loader.num_workers, loader.batch_size, loader.pin_memory) == (2, 5, False)
    assert [len(b["id"]) for b in loader] == [5] * (len(ds) // 5) + ([len(ds) % 5] if len(ds) % 5 else [])
