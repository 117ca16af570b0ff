"""Results as readable tables: one evaluation, and the paper's Tables 1, 3/4 and 5.

An evaluation JSON (``infocam evaluate --json``) looks like::

    {"classification": {"top1": .., "top5": ..},
     "methods": {"cam": {"gt_known_loc": .., "top1_loc": .., "top5_loc": .., ...}, ...},
     "config": {"model": "resnet50", "adl": false, "dataset": "cub", "region": 4, ...}}
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

from infocam.errors import InputError

BACKBONES = {"vgg16_gap": "VGG16-GAP", "resnet50": "ResNet50"}
DATASETS = {"cub": "CUB-200-2011", "tiny-imagenet": "Tiny-ImageNet"}
METHOD_NAMES = {"cam": "CAM", "infocam": "infoCAM", "infocam+": "infoCAM+"}
BASELINE_NAMES = {"center_gaussian": "centre Gaussian", "full_image": "full image", "image_intensity": "image intensity"}
TABLE_TITLES = {
    "table1": "Table 1. Localisation (%) of CAM and infoCAM on CUB-200-2011 and Tiny-ImageNet",
    "table3": "Table 3. CUB-200-2011: localisation and classification (%)",
    "table4": "Table 4. Tiny-ImageNet: localisation and classification (%)",
    "table5": "Table 5. Ablation on CUB-200-2011: region R and the subtraction term (%)",
    "ablation": "Ablation of every run evaluated with --ablation: region R x subtraction term (%)",
    "runs": "Every run and method, with the R and box threshold of each row (%)",
}

# The paper's numbers (Tables 1, 3, 4): (backbone, method, adl, dataset) -> (GT Loc, Top-1 Loc, Top-1 Cls, Top-5 Cls)
_N = None
PAPER: dict[tuple[str, str, bool, str], tuple[float, float, float | None, float | None]] = {
    ("vgg16_gap", "cam", False, "cub"): (42.49, 31.38, 73.97, 91.83),
    ("vgg16_gap", "cam", True, "cub"): (71.59, 53.01, 71.05, 90.20),
    ("vgg16_gap", "infocam", False, "cub"): (52.96, 39.79, _N, _N),
    ("vgg16_gap", "infocam", True, "cub"): (73.35, 53.80, _N, _N),
    ("vgg16_gap", "infocam+", False, "cub"): (59.43, 44.40, _N, _N),
    ("vgg16_gap", "infocam+", True, "cub"): (75.89, 54.35, _N, _N),
    ("resnet50", "cam", False, "cub"): (61.66, 50.84, 80.54, 94.09),
    ("resnet50", "cam", True, "cub"): (57.83, 46.56, 79.22, 94.02),
    ("resnet50", "infocam", False, "cub"): (64.78, 53.22, _N, _N),
    ("resnet50", "infocam", True, "cub"): (67.75, 54.71, _N, _N),
    ("resnet50", "infocam+", False, "cub"): (68.99, 55.83, _N, _N),
    ("resnet50", "infocam+", True, "cub"): (69.63, 55.20, _N, _N),
    ("vgg16_gap", "cam", False, "tiny-imagenet"): (53.49, 33.48, 55.25, 79.19),
    ("vgg16_gap", "cam", True, "tiny-imagenet"): (52.75, 32.26, 52.48, 78.75),
    ("vgg16_gap", "infocam", False, "tiny-imagenet"): (55.50, 34.27, _N, _N),
    ("vgg16_gap", "infocam", True, "tiny-imagenet"): (53.95, 33.05, _N, _N),
    ("vgg16_gap", "infocam+", False, "tiny-imagenet"): (55.25, 34.27, _N, _N),
    ("vgg16_gap", "infocam+", True, "tiny-imagenet"): (53.91, 32.94, _N, _N),
    ("resnet50", "cam", False, "tiny-imagenet"): (54.56, 40.55, 66.45, 86.22),
    ("resnet50", "cam", True, "tiny-imagenet"): (52.66, 36.88, 63.21, 83.47),
    ("resnet50", "infocam", False, "tiny-imagenet"): (57.79, 43.34, _N, _N),
    ("resnet50", "infocam", True, "tiny-imagenet"): (54.18, 37.79, _N, _N),
    ("resnet50", "infocam+", False, "tiny-imagenet"): (57.71, 43.07, _N, _N),
    ("resnet50", "infocam+", True, "tiny-imagenet"): (53.70, 37.71, _N, _N),
}
# Table 5 (CUB): (backbone, adl, region, subtraction) -> (GT Loc, Top-1 Loc), as printed.
# Table 5(b) is captioned "CUB-200-2011 with ResNet50", but its no-R, no-subtraction
# rows (54.56 / 40.55 and 52.66 / 36.88) are Table 1's Tiny-ImageNet ResNet50 CAM numbers.
PAPER_ABLATION: dict[tuple[str, bool, bool, bool], tuple[float, float]] = {
    ("vgg16_gap", False, False, False): (42.49, 31.38),
    ("vgg16_gap", False, False, True): (47.59, 35.01),
    ("vgg16_gap", False, True, False): (53.40, 40.19),
    ("vgg16_gap", True, False, False): (71.59, 53.01),
    ("vgg16_gap", True, False, True): (75.78, 54.28),
    ("vgg16_gap", True, True, False): (73.56, 53.94),
    ("resnet50", False, False, False): (54.56, 40.55),
    ("resnet50", False, False, True): (54.29, 40.51),
    ("resnet50", False, True, False): (57.73, 43.34),
    ("resnet50", True, False, False): (52.66, 36.88),
    ("resnet50", True, False, True): (52.52, 37.08),
    ("resnet50", True, True, False): (54.15, 37.76),
}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _num(x: object) -> float | None:
    """A metric from JSON as a float (JSON may hold 61 for 61.0); anything else as None."""
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [_fmt(c) if isinstance(c, float) or c is None else str(c) for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def csv_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if c is None else (f"{c:.2f}" if isinstance(c, float) else c) for c in row])
    return buf.getvalue()


def variant_recipe(run: dict, name: str) -> dict:
    """``{"method", "region", "threshold", "width"}`` of row ``name`` of an evaluation result.

    From ``config.variants`` when the result has it, else from the name
    (``cam`` is R = 1, ``infocam`` / ``infocam+`` use ``config.region``,
    ``cam_r3`` / ``infocam_r1`` say their R) and ``config.threshold``.
    """
    cfg = run.get("config") or {}
    own = run.get("methods", {}).get(name) or {}
    if "region" in own and "threshold" in own:  # the demo's rows carry their chosen setting
        return {"method": own.get("method", name), "region": own["region"], "threshold": own["threshold"],
                "width": own.get("width")}
    known = (cfg.get("variants") or {}).get(name)
    if isinstance(known, dict):
        return {"method": known.get("method", name), "region": known.get("region"),
                "threshold": known.get("threshold"), "width": known.get("width")}
    method, _, r = name.partition("_r")
    region = int(r) if r.isdigit() else (1 if method == "cam" else run_region(run))
    if method in BASELINE_NAMES:
        method, region = name, None
    return {"method": method, "region": region, "threshold": _num(cfg.get("threshold")), "width": None}


def row_label(method: str, region: int | None, width: float | None = None) -> str:
    """An honest row name: the paper's ``CAM`` only at R = 1, else ``CAM (R=3)``; baselines by name."""
    if method in BASELINE_NAMES:
        return BASELINE_NAMES[method] + (f" (width {width:g})" if width is not None else "")
    label = METHOD_NAMES.get(method, method)
    if method == "cam" and region not in (None, 1):
        return f"{label} (R={region})"
    if method in ("infocam", "infocam+") and region == 1:
        return f"{label} (R=1)"
    return label


def _setting(method: str, region: object, threshold: object) -> list[object]:
    """The R and threshold cells (a baseline has no R)."""
    no_region = region is None or method in BASELINE_NAMES
    return ["-" if no_region else str(region), "-" if threshold is None else f"{float(threshold):g}"]


def format_eval_table(result: dict) -> str:
    """One evaluation as markdown tables (what ``infocam evaluate`` prints).

    Every row shows its R and box threshold; with a selection split
    (``evaluate --select-on``) a second table holds each method at the
    setting chosen there, with its score on that split.
    """
    cls = result.get("classification", {})
    metrics = ["GT-known Loc", "Top-1 Loc", "Top-5 Loc", "MaxBoxAccV2"]
    keys = ("gt_known_loc", "top1_loc", "top5_loc", "max_box_acc_v2")
    rows = []
    for name, m in result["methods"].items():
        rec = variant_recipe(result, name)
        rows.append([row_label(rec["method"], rec["region"], rec["width"]),
                     *_setting(rec["method"], rec["region"], rec["threshold"]), *(m.get(k) for k in keys)])
    head = (
        f"Top-1 Cls {_fmt(cls.get('top1'))} %, Top-5 Cls {_fmt(cls.get('top5'))} % "
        f"on {result.get('count', '?')} images"
    )
    out = head + "\n\n" + markdown_table(["method", "R", "threshold", *metrics], rows)
    sel = result.get("selected")
    if isinstance(sel, dict) and isinstance(sel.get("methods"), dict):
        split = sel.get("split", "?")
        rows = []
        for m in sel["methods"].values():
            rows.append([row_label(m.get("method", "?"), m.get("region"), m.get("width")),
                         *_setting(m.get("method", "?"), m.get("region"), m.get("threshold")), _num(m.get("selection_gt_known_loc")),
                         *(m.get(k) for k in keys)])
        ts = sel.get("thresholds") or []
        grid = f"{len(ts)} thresholds {min(ts):g}-{max(ts):g}" if ts else "thresholds"
        regions = ",".join(str(r) for r in sel.get("regions") or [])
        out += (
            f"\n\nThreshold and R chosen per method on split {split} by GT-known Loc ({grid}; R in {regions}):\n\n"
            + markdown_table(["method", "R", "threshold", f"{split} GT-known Loc", *metrics], rows)
        )
    return out + format_faithfulness_table(result)


def format_faithfulness_table(result: dict) -> str:
    """The faithfulness columns of an evaluation (``--faithfulness``), or "" when it has none."""
    rows, n, steps = [], None, None
    for name, m in result.get("methods", {}).items():
        f = m.get("faithfulness")
        if not f:
            continue
        n, steps = f.get("count"), f.get("steps")
        rec = variant_recipe(result, name)
        rows.append([row_label(rec["method"], rec["region"], rec["width"]), f"{f['deletion_auc']:.4f}", f"{f['insertion_auc']:.4f}",
                     f["average_drop"], f["increase_in_confidence"]])
    if not rows:
        return ""
    head = (f"Faithfulness on {n} images, {steps} steps (deletion AUC: lower is better; insertion AUC: "
            "higher is better; Average Drop %: lower is better; Increase in Confidence %: higher is better)")
    return "\n\n" + head + "\n\n" + markdown_table(
        ["method", "deletion AUC", "insertion AUC", "Average Drop", "Increase in Confidence"], rows)


def run_key(run: dict) -> tuple[str, bool, str]:
    """``(backbone, adl, dataset)`` of an evaluation result, from its ``config``.

    Accepts the flat form (``{"model": "resnet50", "adl": true, "dataset": "cub"}``)
    and the nested training-config form (``{"model": {"name": .., "adl": ..},
    "data": {"format": ..}}``).
    """
    cfg = run.get("config") or {}
    model = cfg.get("model", "?")
    adl = cfg.get("adl")
    if isinstance(model, dict):
        adl = model.get("adl", adl)
        model = model.get("name", "?")
    dataset = cfg.get("dataset") or cfg.get("format")
    if dataset is None and isinstance(cfg.get("data"), dict):
        dataset = cfg["data"].get("format")
    return str(model), bool(adl), str(dataset or "?")


def run_region(run: dict) -> int:
    """The region R of an evaluation result (1 when its config does not say)."""
    cfg = run.get("config") or {}
    region = cfg.get("region")
    if region is None and isinstance(cfg.get("evaluate"), dict):
        region = cfg["evaluate"].get("region")
    try:
        return int(region) if region is not None else 1
    except (TypeError, ValueError):
        return 1


def _row_label(backbone: str, method: str, adl: bool) -> str:
    return f"{METHOD_NAMES.get(method, method)}{' (ADL)' if adl else ''}"


def paper_tables(runs: Sequence[dict], *, with_paper: bool = False) -> dict[str, tuple[list[str], list[list]]]:
    """Tables 1, 3, 4 and 5 of the paper from evaluation results.

    Returns ``{"table1": (header, rows), "table3": ..., "table4": ..., "table5": ...}``;
    a table with no matching run is left out. With ``with_paper`` each of our
    numbers is followed by the paper's.
    """
    by_key = {run_key(r): r for r in runs}
    tables: dict[str, tuple[list[str], list[list]]] = {}

    def cell(run: dict | None, method: str, field: str) -> float | None:
        if run is None or method not in run.get("methods", {}):
            return None
        return _num(run["methods"][method].get(field))

    # Table 1: GT / Top-1 Loc on both datasets.
    h1 = ["backbone", "method", "CUB GT Loc", "CUB Top-1 Loc", "Tiny GT Loc", "Tiny Top-1 Loc"]
    if with_paper:
        h1 = ["backbone", "method", "CUB GT Loc", "paper", "CUB Top-1 Loc", "paper",
              "Tiny GT Loc", "paper", "Tiny Top-1 Loc", "paper"]
    rows1 = []
    for bb in BACKBONES:
        for method in METHOD_NAMES:
            for adl in (False, True):
                runs_ds = [by_key.get((bb, adl, ds)) for ds in DATASETS]
                if not any(r is not None and method in r.get("methods", {}) for r in runs_ds):
                    continue
                row: list = [BACKBONES[bb], _row_label(bb, method, adl)]
                for ds, run in zip(DATASETS, runs_ds):
                    paper = PAPER.get((bb, method, adl, ds))
                    for i, f in enumerate(("gt_known_loc", "top1_loc")):
                        row.append(cell(run, method, f))
                        if with_paper:
                            row.append(paper[i] if paper else None)
                rows1.append(row)
    if rows1:
        tables["table1"] = (h1, rows1)

    # Tables 3 (CUB) and 4 (Tiny): GT Loc, Top-1 Loc, Top-1 Cls, Top-5 Cls.
    for name, ds in (("table3", "cub"), ("table4", "tiny-imagenet")):
        h = ["backbone", "method", "GT Loc", "Top-1 Loc", "Top-1 Cls", "Top-5 Cls"]
        if with_paper:
            h = ["backbone", "method", "GT Loc", "paper", "Top-1 Loc", "paper",
                 "Top-1 Cls", "paper", "Top-5 Cls", "paper"]
        rows = []
        for bb in BACKBONES:
            for method in METHOD_NAMES:
                for adl in (False, True):
                    run = by_key.get((bb, adl, ds))
                    if run is None or method not in run.get("methods", {}):
                        continue
                    ours = [cell(run, method, "gt_known_loc"), cell(run, method, "top1_loc")]
                    cls = run.get("classification", {})
                    ours += [_num(cls.get("top1")), _num(cls.get("top5"))] if method == "cam" else [None, None]
                    paper = PAPER.get((bb, method, adl, ds), (None,) * 4)
                    row = [BACKBONES[bb], _row_label(bb, method, adl)]
                    for i, v in enumerate(ours):
                        row.append(v)
                        if with_paper:
                            row.append(paper[i])
                    rows.append(row)
        if rows:
            tables[name] = (h, rows)

    # Table 5: ablation on CUB (needs evaluate --ablation).
    h5 = ["backbone", "ADL", "R", "subtraction", "GT Loc", "Top-1 Loc"]
    if with_paper:
        h5 += ["paper GT Loc", "paper Top-1 Loc"]
    rows5 = []
    for bb in BACKBONES:
        for adl in (False, True):
            run = by_key.get((bb, adl, "cub"))
            if run is None:
                continue
            region = run_region(run)
            for reg, sub, variant in ((r, s, v.format(R=region)) for r, s, v in ABLATION_CORNERS):
                if variant not in run.get("methods", {}):
                    continue
                row = [BACKBONES[bb], "Y" if adl else "N", "Y" if reg else "N", "Y" if sub else "N",
                       cell(run, variant, "gt_known_loc"), cell(run, variant, "top1_loc")]
                if with_paper:
                    paper5 = PAPER_ABLATION.get((bb, adl, reg, sub))
                    if paper5 is None and reg and sub:  # the full infoCAM: Table 1's number
                        paper5 = PAPER.get((bb, "infocam", adl, "cub"), (None, None))[:2]
                    row += list(paper5 or (None, None))
                rows5.append(row)
    if rows5:
        tables["table5"] = (h5, rows5)
    return tables


#: Table 5's corners: (region, subtraction) -> the variant name (``{R}``: the run's region)
ABLATION_CORNERS = ((False, False, "cam"), (False, True, "infocam_r1"), (True, False, "cam_r{R}"), (True, True, "infocam"))


def _ablation_names(run: dict) -> set[str]:
    """The extra variants of ``evaluate --ablation`` in ``run`` (shown in the ablation grid instead)."""
    region = run_region(run)
    extra = {f"cam_r{region}", "infocam_r1", "infocam+_r1"} if region > 1 else set()
    return extra & set(run.get("methods", {}))


def runs_table(runs: Sequence[tuple[str, dict]]) -> tuple[list[str], list[list]]:
    """One row per (run, map): every model and dataset, not only the paper's.

    ``runs`` holds ``(name, evaluation result)`` pairs. Each row says its R
    and box threshold; rows chosen on a selection split (``evaluate
    --select-on``) say so; the ablation's extra variants are in
    :func:`ablation_table` instead.
    """
    header = ["run", "model", "dataset", "split", "method", "R", "threshold", "GT Loc", "Top-1 Loc", "Top-5 Loc",
              "MaxBoxAccV2", "Top-1 Cls", "Top-5 Cls"]
    keys = ("gt_known_loc", "top1_loc", "top5_loc", "max_box_acc_v2")
    rows: list[list] = []
    for name, run in runs:
        model, adl, dataset = run_key(run)
        cls = run.get("classification", {})
        split = (run.get("config") or {}).get("split") or "-"
        head = [name, f"{model}{' + ADL' if adl else ''}", dataset, split]
        tail = [_num(cls.get("top1")), _num(cls.get("top5"))]
        skip = _ablation_names(run) if ablation_rows(run) else set()
        for method, m in run.get("methods", {}).items():
            if method in skip:
                continue
            rec = variant_recipe(run, method)
            rows.append([*head, row_label(rec["method"], rec["region"], rec["width"]),
                         *_setting(rec["method"], rec["region"], rec["threshold"]),
                         *(_num(m.get(k)) for k in keys), *tail])
        sel = run.get("selected")
        if isinstance(sel, dict) and isinstance(sel.get("methods"), dict):
            for m in sel["methods"].values():
                label = row_label(m.get("method", "?"), m.get("region"), m.get("width"))
                rows.append([*head, f"{label}, chosen on {sel.get('split', '?')}",
                             *_setting(m.get("method", "?"), m.get("region"), m.get("threshold")),
                             *(_num(m.get(k)) for k in keys), *tail])
    return header, rows


def ablation_rows(run: dict) -> list[tuple[bool, bool, str]]:
    """Table 5's corners ``(region, subtraction, variant)`` present in ``run`` (all four, or none)."""
    region = run_region(run)
    corners = [(reg, sub, v.format(R=region)) for reg, sub, v in ABLATION_CORNERS]
    have = run.get("methods", {})
    return corners if region > 1 and all(v in have for _, _, v in corners) else []


def ablation_table(runs: Sequence[tuple[str, dict]]) -> tuple[list[str], list[list]]:
    """The ablation as Table 5's grid (region x subtraction) for every run that has it."""
    header = ["run", "model", "dataset", "R", "subtraction", "GT Loc", "Top-1 Loc", "MaxBoxAccV2"]
    rows: list[list] = []
    for name, run in runs:
        model, adl, dataset = run_key(run)
        region = run_region(run)
        for reg, sub, variant in ablation_rows(run):
            m = run["methods"][variant]
            rows.append([name, f"{model}{' + ADL' if adl else ''}", dataset, f"Y ({region})" if reg else "N (1)",
                         "Y" if sub else "N", _num(m.get("gt_known_loc")), _num(m.get("top1_loc")),
                         _num(m.get("max_box_acc_v2"))])
    return header, rows


def table_title(key: str) -> str:
    """A table's title; ``table1@eval_val.json`` is Table 1 of the block of evaluations so labelled."""
    base, _, label = key.partition("@")
    title = TABLE_TITLES.get(base, base)
    return f"{title} [{label}]" if label else title


def is_eval_result(obj: object) -> bool:
    """Whether ``obj`` has the shape of an evaluation result (``methods`` of metric dicts)."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("methods"), dict)
        and all(isinstance(v, dict) for v in obj["methods"].values())
    )


def _check_numbers(path: Path, run: dict) -> None:
    for method, metrics in run["methods"].items():
        for key, value in metrics.items():
            if value is not None and isinstance(value, float) and not math.isfinite(value):
                raise InputError(f"{path}: methods.{method}.{key} is {value}, not a finite number")


def load_runs(path: str | Path) -> list[tuple[str, dict]]:
    """The evaluation results in one JSON file, as ``(name, result)`` pairs.

    Reads an ``infocam evaluate --json`` file (one result) and the demo's
    ``results.json`` (``{"single_object": result, "multi_label": {...}}``:
    the ``single_object`` part, named ``<file>:single_object``). Raises
    :class:`InputError` naming the file when it is missing, is not JSON or
    holds no evaluation result.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc})") from None
    if is_eval_result(obj):
        _check_numbers(path, obj)
        return [(path.stem, obj)]
    if isinstance(obj, dict):
        found = [(f"{path.stem}:{k}", v) for k, v in obj.items() if is_eval_result(v)]
        if found:
            for _, run in found:
                _check_numbers(path, run)
            return found
    raise InputError(
        f"{path}: holds no evaluation result (expected an 'infocam evaluate --json' file with a "
        "'methods' entry, or the demo's results.json)"
    )
