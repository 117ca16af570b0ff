"""``infocam tables``: known evaluation JSONs give the paper's table layouts exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infocam.cli import main

CUB_RESNET = {
    "classification": {"top1": 80.5, "top5": 94.25},
    "methods": {
        "cam": {"gt_known_loc": 61, "top1_loc": 50.25, "top5_loc": 58.0, "max_box_acc_v2": 63.5},
        "infocam": {"gt_known_loc": 64.5, "top1_loc": 53.0, "top5_loc": 61.0},
        "infocam+": {"gt_known_loc": 69.0, "top1_loc": 55.75, "top5_loc": 65.0},
        "cam_r4": {"gt_known_loc": 62.0, "top1_loc": 51.0},
        "infocam_r1": {"gt_known_loc": 63.0, "top1_loc": 52.0},
    },
    "config": {"model": "resnet50", "adl": False, "dataset": "cub", "region": 4},
    "count": 2878,
}
# The nested training-config form of "config" is understood too.
TINY_VGG_ADL = {
    "classification": {"top1": 55.0, "top5": 79.0},
    "methods": {"cam": {"gt_known_loc": 53.0, "top1_loc": 33.0}, "infocam+": {"gt_known_loc": 55.0, "top1_loc": 34.0}},
    "config": {"model": {"name": "vgg16_gap", "adl": True}, "data": {"format": "tiny-imagenet"},
               "evaluate": {"region": 3}},
    "count": 5000,
}

EXPECTED_WITH_PAPER = """\
### Table 1. Localisation (%) of CAM and infoCAM on CUB-200-2011 and Tiny-ImageNet

| backbone | method | CUB GT Loc | paper | CUB Top-1 Loc | paper | Tiny GT Loc | paper | Tiny Top-1 Loc | paper |
|---|---|---|---|---|---|---|---|---|---|
| VGG16-GAP | CAM (ADL) | - | 71.59 | - | 53.01 | 53.00 | 52.75 | 33.00 | 32.26 |
| VGG16-GAP | infoCAM+ (ADL) | - | 75.89 | - | 54.35 | 55.00 | 53.91 | 34.00 | 32.94 |
| ResNet50 | CAM | 61.00 | 61.66 | 50.25 | 50.84 | - | 54.56 | - | 40.55 |
| ResNet50 | infoCAM | 64.50 | 64.78 | 53.00 | 53.22 | - | 57.79 | - | 43.34 |
| ResNet50 | infoCAM+ | 69.00 | 68.99 | 55.75 | 55.83 | - | 57.71 | - | 43.07 |

### Table 3. CUB-200-2011: localisation and classification (%)

| backbone | method | GT Loc | paper | Top-1 Loc | paper | Top-1 Cls | paper | Top-5 Cls | paper |
|---|---|---|---|---|---|---|---|---|---|
| ResNet50 | CAM | 61.00 | 61.66 | 50.25 | 50.84 | 80.50 | 80.54 | 94.25 | 94.09 |
| ResNet50 | infoCAM | 64.50 | 64.78 | 53.00 | 53.22 | - | - | - | - |
| ResNet50 | infoCAM+ | 69.00 | 68.99 | 55.75 | 55.83 | - | - | - | - |

### Table 4. Tiny-ImageNet: localisation and classification (%)

| backbone | method | GT Loc | paper | Top-1 Loc | paper | Top-1 Cls | paper | Top-5 Cls | paper |
|---|---|---|---|---|---|---|---|---|---|
| VGG16-GAP | CAM (ADL) | 53.00 | 52.75 | 33.00 | 32.26 | 55.00 | 52.48 | 79.00 | 78.75 |
| VGG16-GAP | infoCAM+ (ADL) | 55.00 | 53.91 | 34.00 | 32.94 | - | - | - | - |

### Table 5. Ablation on CUB-200-2011: region R and the subtraction term (%)

| backbone | ADL | R | subtraction | GT Loc | Top-1 Loc | paper GT Loc | paper Top-1 Loc |
|---|---|---|---|---|---|---|---|
| ResNet50 | N | N | N | 61.00 | 50.25 | 54.56 | 40.55 |
| ResNet50 | N | N | Y | 63.00 | 52.00 | 54.29 | 40.51 |
| ResNet50 | N | Y | N | 62.00 | 51.00 | 57.73 | 43.34 |
| ResNet50 | N | Y | Y | 64.50 | 53.00 | 64.78 | 53.22 |

### Every run and method, with the R and box threshold of each row (%)

| run | model | dataset | split | method | R | threshold | GT Loc | Top-1 Loc | Top-5 Loc | MaxBoxAccV2 | Top-1 Cls | Top-5 Cls |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
| {cub} | resnet50 | cub | - | CAM | 1 | - | 61.00 | 50.25 | 58.00 | 63.50 | 80.50 | 94.25 |
| {cub} | resnet50 | cub | - | infoCAM | 4 | - | 64.50 | 53.00 | 61.00 | - | 80.50 | 94.25 |
| {cub} | resnet50 | cub | - | infoCAM+ | 4 | - | 69.00 | 55.75 | 65.00 | - | 80.50 | 94.25 |
| {tiny} | vgg16_gap + ADL | tiny-imagenet | - | CAM | 1 | - | 53.00 | 33.00 | - | - | 55.00 | 79.00 |
| {tiny} | vgg16_gap + ADL | tiny-imagenet | - | infoCAM+ | 3 | - | 55.00 | 34.00 | - | - | 55.00 | 79.00 |
"""

TABLE3_PLAIN = """\
### Table 3. CUB-200-2011: localisation and classification (%)

| backbone | method | GT Loc | Top-1 Loc | Top-1 Cls | Top-5 Cls |
|---|---|---|---|---|---|
| ResNet50 | CAM | 61.00 | 50.25 | 80.50 | 94.25 |
| ResNet50 | infoCAM | 64.50 | 53.00 | - | - |
| ResNet50 | infoCAM+ | 69.00 | 55.75 | - | - |
"""


def _write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    return _write(tmp_path / "cub_resnet.json", CUB_RESNET), _write(tmp_path / "tiny_vgg.json", TINY_VGG_ADL)


def test_known_jsons_give_the_expected_markdown(runs, capsys) -> None:
    cub, tiny = runs
    assert main(["tables", str(cub), str(tiny), "--with-paper"]) == 0
    out = capsys.readouterr().out
    assert out == EXPECTED_WITH_PAPER.replace("{cub}", str(cub)).replace("{tiny}", str(tiny))


def test_without_paper_columns(runs, capsys) -> None:
    cub, _ = runs
    assert main(["tables", str(cub)]) == 0
    out = capsys.readouterr().out
    assert TABLE3_PLAIN in out
    assert "Tiny-ImageNet: localisation" not in out  # no Tiny-ImageNet run: no Table 4


def test_out_writes_markdown_and_csv_and_refuses_to_overwrite(runs, tmp_path: Path, capsys) -> None:
    cub, tiny = runs
    out = tmp_path / "tables"
    assert main(["tables", str(cub), str(tiny), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "runs.csv", "runs.md", "table1.csv", "table1.md", "table3.csv", "table3.md",
        "table4.csv", "table4.md", "table5.csv", "table5.md",
    ]
    assert (out / "table5.csv").read_text() == (
        "backbone,ADL,R,subtraction,GT Loc,Top-1 Loc\n"
        "ResNet50,N,N,N,61.00,50.25\n"
        "ResNet50,N,N,Y,63.00,52.00\n"
        "ResNet50,N,Y,N,62.00,51.00\n"
        "ResNet50,N,Y,Y,64.50,53.00\n"
    )
    assert (out / "table3.md").read_text() == TABLE3_PLAIN
    before = (out / "table1.md").read_text()
    capsys.readouterr()
    assert main(["tables", str(cub), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--out" in err and "--overwrite" in err
    assert (out / "table1.md").read_text() == before
    assert main(["tables", str(cub), "--out", str(out), "--overwrite"]) == 0


def test_demo_results_json_is_read(tmp_path: Path, capsys) -> None:
    demo = {"single_object": {**CUB_RESNET, "config": {}}, "multi_label": {"per_digit_accuracy": {"sigmoid": [1.0]}}}
    path = _write(tmp_path / "results.json", demo)
    assert main(["tables", str(path)]) == 0
    captured = capsys.readouterr()
    assert "no run fits the paper's tables" in captured.err
    assert (f"| {path}:single_object | ? | ? | - | infoCAM+ (R=1) | 1 | - | 69.00 | 55.75 | 65.00 | - | 80.50 | 94.25 |"
            in captured.out)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        ("{not json", "not a JSON file"),
        ('{"classification": {}}', "holds no evaluation result"),
        ('{"methods": {"cam": {"gt_known_loc": NaN}}}', "not a finite number"),
    ],
)
def test_bad_json_is_a_one_line_error_naming_the_file(tmp_path: Path, capsys, content, message) -> None:
    path = tmp_path / "eval.json"
    if content is not None:
        path.write_text(content)
    assert main(["tables", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and message in err


def test_two_evaluations_of_one_setting_get_a_block_each(runs, tmp_path: Path, capsys) -> None:
    cub, tiny = runs
    val = _write(tmp_path / "eval_val.json", {**CUB_RESNET, "methods": {"cam": {"gt_known_loc": 70.0, "top1_loc": 60.0}}})
    assert main(["tables", str(cub), str(tiny), str(val)]) == 0
    out = capsys.readouterr().out
    assert "### Table 3. CUB-200-2011: localisation and classification (%) [cub_resnet.json, tiny_vgg.json]" in out
    assert "### Table 3. CUB-200-2011: localisation and classification (%) [eval_val.json]\n\n" in out
    block = out.split("classification (%) [eval_val.json]\n\n", 1)[1].split("###", 1)[0]
    assert "| ResNet50 | CAM | 70.00 | 60.00 | 80.50 | 94.25 |" in block
    out_dir = tmp_path / "t"
    assert main(["tables", str(cub), str(val), "--out", str(out_dir)]) == 0
    assert (out_dir / "table3_eval_val.json.md").is_file() and (out_dir / "table3_cub_resnet.json.md").is_file()


def test_other_backbones_and_data_get_the_ablation_grid_and_selected_rows(tmp_path: Path, capsys) -> None:
    mine = {
        "classification": {"top1": 90.0, "top5": 99.0},
        "methods": {"cam": {"gt_known_loc": 40.0, "top1_loc": 38.0}, "infocam": {"gt_known_loc": 45.0, "top1_loc": 41.0},
                    "cam_r3": {"gt_known_loc": 42.0, "top1_loc": 39.0},
                    "infocam_r1": {"gt_known_loc": 41.0, "top1_loc": 37.0},
                    "center_gaussian": {"gt_known_loc": 20.0, "top1_loc": 19.0}},
        "selected": {"split": "val", "regions": [1, 3], "thresholds": [0.2, 0.4],
                     "methods": {"cam": {"method": "cam", "region": 3, "threshold": 0.4, "width": None,
                                         "gt_known_loc": 70.0, "top1_loc": 66.0, "selection_gt_known_loc": 71.0}}},
        "config": {"model": "small_cnn", "dataset": "wsol", "region": 3, "threshold": 0.2, "split": "test",
                   "variants": {"center_gaussian": {"method": "center_gaussian", "region": 1, "width": 0.25,
                                                    "threshold": 0.2}}},
    }
    path = _write(tmp_path / "eval_test.json", mine)
    assert main(["tables", str(path)]) == 0
    out = capsys.readouterr().out
    assert "### Ablation of every run evaluated with --ablation: region R x subtraction term (%)" in out
    for row in (f"| {path} | small_cnn | wsol | N (1) | N | 40.00 | 38.00 | - |",
                f"| {path} | small_cnn | wsol | N (1) | Y | 41.00 | 37.00 | - |",
                f"| {path} | small_cnn | wsol | Y (3) | N | 42.00 | 39.00 | - |",
                f"| {path} | small_cnn | wsol | Y (3) | Y | 45.00 | 41.00 | - |",
                f"| {path} | small_cnn | wsol | test | CAM | 1 | 0.2 | 40.00 | 38.00 |",
                f"| {path} | small_cnn | wsol | test | infoCAM | 3 | 0.2 | 45.00 | 41.00 |",
                f"| {path} | small_cnn | wsol | test | centre Gaussian (width 0.25) | - | 0.2 | 20.00 | 19.00 |",
                f"| {path} | small_cnn | wsol | test | CAM (R=3), chosen on val | 3 | 0.4 | 70.00 | 66.00 |"):
        assert row in out, row
    assert "cam_r3" not in out and "infocam_r1" not in out  # in the grid, not loose rows
