"""``infocam demo``: the whole pipeline on real digits, end to end."""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import torch

from infocam import __version__
from infocam.demo.figures import figure_multi_label, figure_single_object
from infocam.demo.multi_label import LOC_METHODS, run_multi_label
from infocam.demo.settings import DemoSettings
from infocam.demo.single_object import run_single_object
from infocam.engine.seed import seed_everything
from infocam.fileio import atomic_write_json, atomic_write_text, prepare_output_dir
from infocam.viz.tables import METHOD_NAMES, markdown_table


def results_markdown(results: dict) -> str:
    """The demo's tables, laid out like the paper's Tables 3 and 2."""
    so = results["single_object"]
    rows = []
    for m, r in so["methods"].items():
        fx = r["fixed_threshold"]
        rows.append([METHOD_NAMES[m], r["gt_known_loc"], r["top1_loc"], r["top5_loc"], r["max_box_acc_v2"],
                     r["region"], f"{r['threshold']:g}", fx["gt_known_loc"], fx["top1_loc"]])
    cls = so["classification"]
    parts = [
        "# infocam demo results",
        "",
        f"Seed {results['seed']}, {results['seconds']:.0f} s. All numbers in percent, on the test split; "
        "R and the box threshold chosen per method on the validation split.",
        "",
        "## Single-object WSOL on real digits (like the paper's Table 3)",
        "",
        f"Top-1 Cls {cls['top1']:.2f}, Top-5 Cls {cls['top5']:.2f} on {so['count']} test canvases.",
        "",
        markdown_table(
            ["method", "GT-known Loc", "Top-1 Loc", "Top-5 Loc", "MaxBoxAccV2", "R", "threshold",
             "GT-known Loc @20%", "Top-1 Loc @20%"],
            rows,
        ),
        "",
        *_faithfulness_section(so),
        "## Double-digit MNIST: per-digit accuracy (like the paper's Table 2)",
        "",
        "Per-digit accuracy = recall: the share of test images holding the digit whose raw logit is > 0.",
        "",
    ]
    ml = results["multi_label"]
    head = ["type"] + [str(d) for d in range(10)]
    parts.append(markdown_table(head, [[k.replace("_", "-")] + [float(v) for v in vals]
                                       for k, vals in ml["per_digit_accuracy"].items()]))
    parts += ["", "Per-label accuracy over all test images (present or not):", ""]
    parts.append(markdown_table(head, [[k.replace("_", "-")] + [float(v) for v in vals]
                                       for k, vals in ml["per_label_accuracy"].items()]))
    parts += ["", "## Double-digit MNIST: localisation per present digit", "",
              "IoU hit: the box of the label's map reaches IoU >= 0.5 with that digit's box. "
              "Peak in slot: the map's maximum lies in that digit's slot.", ""]
    rows = []
    for model_name, det in ml["localisation_detail"].items():
        for m in LOC_METHODS:
            d = det[m]
            rows.append([model_name.replace("_", "-"), METHOD_NAMES[m], d["iou_hit"], d["iou_hit_fixed_threshold"],
                         d["peak_in_slot"], d["region"], f"{d['threshold']:g}"])
    parts.append(markdown_table(["model", "method", "IoU hit", "IoU hit @20%", "peak in slot", "R", "threshold"],
                                rows))
    return "\n".join(parts) + "\n"


def _faithfulness_section(so: dict) -> list[str]:
    """The single-object faithfulness table (empty when the results have none)."""
    rows = []
    for m, r in so["methods"].items():
        f = r.get("faithfulness")
        if f:
            rows.append([METHOD_NAMES[m], f"{f['deletion_auc']:.4f}", f"{f['insertion_auc']:.4f}", f["average_drop"],
                         f["increase_in_confidence"], r["region"]])
    if not rows:
        return []
    f = next(r["faithfulness"] for r in so["methods"].values() if r.get("faithfulness"))
    return [
        "## Single-object: do the maps point at what the model uses?",
        "",
        f"On the first {f['count']} test canvases, each method's map of the true class at its chosen R. "
        f"Deletion / insertion (RISE, {f['steps']} steps): the probability of the true class as the pixels "
        "the map ranks highest are blacked out / revealed on a blurred canvas; AUC lower / higher is better. "
        "Average Drop (%, lower is better) and Increase in Confidence (%, higher is better): the canvas "
        "multiplied by the normalised map (Grad-CAM++).",
        "",
        markdown_table(["method", "deletion AUC", "insertion AUC", "Average Drop", "Increase in Confidence", "R"],
                       rows),
        "",
    ]


def write_report(out: Path, md: str, model: torch.nn.Module, test_set, single: dict, n: int) -> Path:
    """``report.html``: the tables, the faithfulness curves and a gallery of test canvases, CAM vs
    infoCAM+, by IoU gain."""
    chosen = single["methods"]
    from infocam.viz.gallery import collect_examples
    from infocam.viz.report import render_report

    threshold = chosen["infocam+"]["threshold"]
    methods = [f"cam_r{chosen['cam']['region']}", f"infocam+_r{chosen['infocam+']['region']}"]
    examples = collect_examples(model, test_set, list(range(min(n, len(test_set)))), methods,
                                threshold=threshold)
    note = (f"Gallery: the first {len(examples)} test canvases; boxes at infoCAM+'s validation-chosen "
            f"threshold {threshold:g} for both methods.")
    from infocam.viz.curves import curves_png, faithfulness_curves

    found = faithfulness_curves(single)
    figures = {} if found is None else {
        "Single digit: deletion and insertion": curves_png(
            *found, title=f"mean over the first {next(iter(single['methods'].values()))['faithfulness']['count']} "
                          "test canvases, map of the true class")
    }
    return render_report(out, {"results": md}, examples, out / "report.html", title="infocam demo",
                         notes=[note], figures=figures)


def run_demo(out: str | Path, s: DemoSettings, *, overwrite: bool = False, progress: bool = True) -> dict:
    """Run both experiments and write results.json, results.md, figures and checkpoints to ``out``."""
    out = prepare_output_dir(out, overwrite=overwrite)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    seed_everything(s.seed)
    start = time.perf_counter()
    single, model, test_set = run_single_object(s, out, progress=progress)
    multi, ml_models, ml_test = run_multi_label(s, out, progress=progress)
    figures = figure_single_object(model, test_set, {m: single["methods"][m] for m in single["methods"]}, out,
                                   s.figure_images)
    det = multi["localisation_detail"]["pc_sigmoid"]
    figures += figure_multi_label(ml_models["pc_sigmoid"], ml_test, {m: det[m] for m in LOC_METHODS}, out,
                                  s.figure_images)
    results = {
        "single_object": single,
        "multi_label": multi,
        "seed": s.seed,
        "seconds": round(time.perf_counter() - start, 1),
        "settings": s.to_dict(),
        "figures": [p.name for p in figures],
        "environment": {"infocam": __version__, "torch": torch.__version__, "python": platform.python_version(),
                        "threads": torch.get_num_threads()},
    }
    atomic_write_json(out / "results.json", results)
    md = results_markdown(results)
    atomic_write_text(out / "results.md", md)
    write_report(out, md, model, test_set, single, s.figure_images * 6)
    print(md, file=sys.stdout)
    return results
