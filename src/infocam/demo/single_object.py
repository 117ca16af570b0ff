"""Experiment 1 of the demo: single-object WSOL on real digits.

Train the small GAP CNN with the project's trainer, choose each method's
region R and box threshold on the validation split (by GT-known Loc), then
report every metric on the test split at the chosen setting, with the
paper's fixed 20% threshold beside it, and the faithfulness of the chosen
maps (deletion / insertion AUC, Average Drop, Increase in Confidence) on the
first ``faith_images`` test canvases.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from infocam.data.collate import collate
from infocam.data.digits import SingleDigitWSOL
from infocam.demo.settings import DemoSettings
from infocam.engine.evaluate import evaluate
from infocam.engine.select import FIXED_THRESHOLD, chosen_variants, select_on_split
from infocam.engine.trainer import fit
from infocam.maps import METHODS


def train_config(s: DemoSettings, *, loss: str, epochs: int, milestones: tuple[int, ...]) -> dict:
    """The trainer config of a demo model (small CNN, grey 1-channel input)."""
    return {
        "description": "infocam demo",
        "seed": s.seed,
        "device": "cpu",
        "model": {"name": "small_cnn", "num_classes": 10, "in_channels": 1},
        "train": {
            "epochs": epochs,
            "batch_size": s.batch_size,
            "lr": s.lr,
            "milestones": list(milestones),
            "loss": loss,
            "num_workers": 0,
            "weight_decay": 1e-4,
            # channels-last: ~15% faster steps for this small CNN on the CPU
            "channels_last": True,
            # the best epoch is always a late one (the lr has dropped): skip
            # half the per-epoch validations
            "val_every": 2,
        },
    }


def loader(ds: Dataset, batch_size: int = 256) -> DataLoader:
    return DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0, collate_fn=collate)


def run_single_object(s: DemoSettings, out: Path, *, progress: bool = True) -> tuple[dict, nn.Module, Dataset]:
    """Train, select on validation, test. Returns (results, model, test set)."""
    train_set = SingleDigitWSOL("train", s.n_train, s.seed, canvas_size=s.canvas, split_seed=s.seed)
    val_set = SingleDigitWSOL("val", s.n_val, s.seed + 1, canvas_size=s.canvas, split_seed=s.seed)
    test_set = SingleDigitWSOL("test", s.n_test, s.seed + 2, canvas_size=s.canvas, split_seed=s.seed)
    cfg = train_config(s, loss="ce", epochs=s.epochs, milestones=s.milestones)
    result = fit(cfg, out / "single_object", train_set=train_set, val_set=val_set, progress=progress)
    model = result.load_best()

    # R and the threshold chosen per method on validation, by the rule `infocam evaluate --select-on` uses
    choices, sweep = select_on_split(model, loader(val_set), methods=METHODS, regions=s.regions,
                                     thresholds=s.thresholds, progress=progress)
    chosen = {m: {"region": c.region, "threshold": c.threshold, "val_gt_known_loc": c.score}
              for m, c in choices.items()}
    with torch.no_grad():
        test = evaluate(model, loader(test_set), variants=chosen_variants(choices, fixed_threshold=FIXED_THRESHOLD),
                        max_box_acc=True, progress=progress,
                        faithfulness=s.faith_steps, faithfulness_images=s.faith_images)
    methods = {}
    for m, c in chosen.items():
        row = dict(test["methods"][m])
        row["region"] = c["region"]
        row["threshold"] = c["threshold"]
        row["val_gt_known_loc"] = c["val_gt_known_loc"]
        row["fixed_threshold"] = {
            k: test["methods"][f"{m}@0.2"][k] for k in ("gt_known_loc", "top1_loc", "top5_loc")
        }
        methods[m] = row
    results = {
        "classification": test["classification"],
        "methods": methods,
        # R of infoCAM (CAM's own choice is in methods.cam.region)
        "region": chosen["infocam"]["region"],
        "count": test["count"],
        "best_epoch": result.best_epoch,
        "val_top1": result.best_score,
        "validation_grid": sweep,
    }
    return results, model, test_set
