"""``evaluate --faithfulness``: the evaluator's faithfulness numbers equal the core functions called by hand."""

import json

import pytest
import torch
from torch.utils.data import DataLoader

from infocam import cam_maps, resize_maps
from infocam.cli import main
from infocam.data import collate
from infocam.engine.evaluate import evaluate, main_variants
from infocam.faithfulness import confidence_change, deletion_insertion
from test_evaluate import data, model, trained_run  # noqa: F401  (fixtures)


def test_faithfulness_numbers_equal_the_core_functions_by_hand(data, model):  # noqa: F811
    _, ds = data
    loader = DataLoader(ds, batch_size=4, collate_fn=collate)
    variants = main_variants(["cam", "infocam", "infocam+"], 3, ablation=True)
    out = evaluate(model, loader, variants=variants, thresholds=0.3, progress=False,
                   faithfulness=5, faithfulness_images=6)  # 6 images: a batch and a half
    plain = evaluate(model, loader, variants=variants, thresholds=0.3, progress=False)
    items = [ds[i] for i in range(6)]
    x = torch.stack([it["image"] for it in items])
    y = torch.tensor([it["label"] for it in items])
    feats = {}
    h = model.features.register_forward_hook(lambda m, a, o: feats.__setitem__("f", o))
    with torch.no_grad():
        logits = model(x)
    h.remove()
    for v in variants:
        f = out["methods"][v.name].pop("faithfulness")
        assert out["methods"][v.name] == plain["methods"][v.name]  # the rest is untouched
        maps = resize_maps(cam_maps(feats["f"], model.fc.weight, y, method=v.method, region=v.region,
                                    logits=logits), tuple(x.shape[-2:]))
        c = deletion_insertion(model, x, maps, y, steps=5)
        cc = confidence_change(model, x, maps, y)
        assert f["count"] == 6 and f["steps"] == 5
        assert f["deletion_auc"] == pytest.approx(float(c.deletion_auc.mean()), abs=1e-6)
        assert f["insertion_auc"] == pytest.approx(float(c.insertion_auc.mean()), abs=1e-6)
        assert f["average_drop"] == pytest.approx(100 * float(cc["drop"].mean()), abs=1e-4)
        assert f["increase_in_confidence"] == pytest.approx(100 * float(cc["increase"].mean()), abs=1e-4)
        assert f["deletion_curve"] == pytest.approx(c.deletion.mean(0).tolist(), abs=1e-6)
        assert f["fractions"] == pytest.approx(c.fractions.tolist(), abs=1e-6)


def test_faithfulness_options_are_checked(data, model):  # noqa: F811
    _, ds = data
    loader = DataLoader(ds, batch_size=4, collate_fn=collate)
    variants = main_variants(["cam"], 1)
    with pytest.raises(ValueError, match=r"^faithfulness must be an integer >= 1"):
        evaluate(model, loader, variants=variants, progress=False, faithfulness=0)
    with pytest.raises(ValueError, match=r"^faithfulness_images must be an integer >= 1"):
        evaluate(model, loader, variants=variants, progress=False, faithfulness=3, faithfulness_images=0)


def test_evaluate_cli_faithfulness_in_json_and_table(trained_run, tmp_path, capsys):  # noqa: F811
    run = trained_run
    out = tmp_path / "eval.json"
    argv = ["evaluate", "--checkpoint", str(run / "best.pt"), "--split", "all_test", "--workers", "0",
            "--faithfulness", "--faithfulness-steps", "4", "--faithfulness-images", "5", "--json", str(out),
            "--no-progress"]
    assert main(argv) == 0
    res = json.loads(out.read_text())
    for m in ("cam", "infocam", "infocam+"):
        f = res["methods"][m]["faithfulness"]
        assert f["count"] == 5 and len(f["deletion_curve"]) == 5
        assert 0.0 <= f["deletion_auc"] <= 1.0 and 0.0 <= f["average_drop"] <= 100.0
    assert res["config"]["faithfulness_steps"] == 4
    printed = capsys.readouterr().out
    assert "Faithfulness on 5 images, 4 steps" in printed and "deletion AUC" in printed
    assert main([*argv[:-1], "--overwrite", "--faithfulness-steps", "0", "--no-progress"]) == 2
    assert "--faithfulness-steps must be an integer >= 1" in capsys.readouterr().err
