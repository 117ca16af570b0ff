"""The table ``infocam score`` prints: one metric per line, with its best threshold."""

from __future__ import annotations

import math


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:6.2f}"


def _rows(m: dict, s: dict) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    if "max_box_acc_v1" in m:
        rows.append((f"MaxBoxAcc (largest contour, IoU {s['max_box_acc_v1_iou']})", _pct(m["max_box_acc_v1"]),
                     f"{m['best_threshold_v1']:.3f}"))
        rows.append(("MaxBoxAccV2 (all contours, mean)", _pct(m["max_box_acc_v2"]), ""))
        for d, v in m["max_box_acc"].items():
            rows.append((f"  IoU {d}", _pct(v), f"{m['best_threshold'][d]:.3f}"))
        rows.append((f"GT-known Loc (threshold {s['threshold']:g}, IoU 50)", _pct(m["gt_known_loc"]), ""))
    for key, name in (("top1_loc", "Top-1 Loc"), ("top5_loc", "Top-5 Loc"), ("top1_cls", "Top-1 Cls"), ("top5_cls", "Top-5 Cls")):
        if key in m:
            rows.append((name, _pct(m[key]), ""))
    if "pxap" in m:
        rows.append(("PxAP", _pct(m["pxap"]), ""))
    return rows


def format_score_table(result: dict) -> str:
    """Lines ``metric  value  best threshold`` for a result of :func:`infocam.score_maps`."""
    m, s, maps = result["metrics"], result["settings"], result["maps"]
    size = s["size"] if s["size"] == "original" else f"{s['size']}x{s['size']}"
    lines = [
        f"{result['count']} maps from {maps['source']} against {s['ground_truth']}",
        f"size {size}, step {s['cam_curve_step']:g}, IoU levels {'/'.join(f'{d:g}' for d in s['iou_thresholds'])}, "
        f"box threshold {s['threshold']:g}{', min-max normalised' if s['normalize'] else ''}, "
        f"{s['workers']} worker{'s' if s['workers'] != 1 else ''}",
    ]
    if maps["resized"]:
        lines.append(f"{maps['resized']} maps of another size were resized (bicubic) and normalised")
    constant = maps["constant_zero"] + maps["constant_nonzero"]
    if constant:
        lines.append(f"{constant} constant maps ({maps['constant_zero']} all zero, {maps['constant_nonzero']} non-zero)")
    rows = _rows(m, s)
    for name, bm in (result.get("baselines") or {}).items():
        rows.append((f"baseline {name}:", "", ""))
        rows += [(f"  {a}", b, c) for a, b, c in _rows(bm, s)]
    width = max(len(r[0]) for r in rows)
    lines.append("")
    lines.append(f"{'metric (%)':<{width}}  {'value':>6}  best threshold")
    lines += [f"{a:<{width}}  {b:>6}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)
