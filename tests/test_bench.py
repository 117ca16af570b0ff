"""`infocam bench`: the JSON's shape (never its speed), the exit codes and the demo entry."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
import torch

from infocam import bench
from infocam.bench import common
from infocam.bench import demo as bench_demo
from infocam.cli import main

# Everything but the demo (its code path is tested below with a stand-in
# command); the pipeline runs on the CPU only when named.
QUICK_ONLY = "maps,pipeline,boxes,sweep,score,memory,trainer"
GOALED = ("maps", "boxes", "sweep", "score", "memory", "trainer")
MACHINE_KEYS = ("cpu_count", "cpus_usable", "torch_version", "torch_threads", "load_average", "device")


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_entry(entry: dict, name: str) -> None:
    assert entry["name"] == name
    assert "error" not in entry, entry.get("error")
    assert isinstance(entry["measured"], dict) and entry["measured"]
    assert _num(entry["ratio"]) and entry["ratio"] > 0, (name, entry["ratio"])
    assert isinstance(entry["ratio_meaning"], str)
    assert _num(entry["seconds"]) and entry["seconds"] >= 0
    assert entry["quick"] is True and entry["device"] == "cpu"
    for key in MACHINE_KEYS:
        assert key in entry["machine"], key
    assert isinstance(entry["notes"], list)
    if name == "pipeline":
        assert entry["goal"] is None and entry["met"] is None
    else:
        g = entry["goal"]
        assert g["op"] in common.OPS and _num(g["value"]) and isinstance(g["text"], str)
        assert isinstance(entry["met"], bool)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    argv = ["bench", "--quick", "--only", QUICK_ONLY, "--repeats", "1", "--quiet", "--json", str(out)]
    assert main(argv) == 0
    return json.loads(out.read_text())


@pytest.mark.slow
def test_quick_bench_writes_every_figure(quick_report):
    r = quick_report
    assert r["format"] == "infocam-bench" and r["quick"] is True and r["device"] == "cpu"
    assert r["measurements"] == QUICK_ONLY.split(",")
    assert set(r["results"]) == set(QUICK_ONLY.split(","))
    assert r["identical"] is True and r["errors"] == []
    assert isinstance(r["all_met"], bool)
    assert r["machine"]["cpu_count"] >= 1 and r["machine"]["torch_threads"] >= 1
    for name, entry in r["results"].items():
        _check_entry(entry, name)


def _median(values: list) -> float:
    return float(np.median(values))


def _approx(x: float):
    """Equal up to the JSON's rounding (6 decimals) carried through a quotient."""
    return pytest.approx(x, rel=5e-3, abs=1e-5)


@pytest.mark.slow
def test_quick_bench_numbers(quick_report):
    # every figure is what its definition makes of the raw timings recorded beside it
    res = quick_report["results"]
    m = res["maps"]["measured"]
    for k in ("plain_s", "with_maps_s", "maps_only_s", "plain_images_per_s", "with_maps_images_per_s"):
        assert _num(m[k]) and m[k] > 0, k
    assert m["batch"] >= 1 and m["image_size"] == 224 and m["region"] == 4
    assert m["plain_s"] == _approx(_median(m["plain_s_all"]))
    assert m["with_maps_s"] == _approx(_median(m["with_maps_s_all"]))
    assert m["plain_images_per_s"] == _approx(m["batch"] / m["plain_s"])
    assert m["ratio_of_medians"] == _approx(m["with_maps_s"] / m["plain_s"])
    paired = [a / b for a, b in zip(m["with_maps_s_all"], m["plain_s_all"])]
    assert res["maps"]["ratio"] == _approx(_median(paired))
    tc = m["torchcam"]
    assert isinstance(tc["installed"], bool)
    if tc["installed"]:
        assert _num(tc["s"]) and tc["ratio_vs_plain"] > 0
    else:
        assert "not installed" in tc["status"]

    b = res["boxes"]["measured"]
    assert b["boxes_from_maps_images_per_s"] > 0 and b["opencv_loop_images_per_s"] > 0
    assert b["same_box_fraction"] == 1.0  # the baseline loop implements the same rule
    assert b["boxes_from_maps_images_per_s"] == _approx(b["maps"] / _median(b["boxes_from_maps_s_all"]))
    paired = [base / ours for base, ours in zip(b["opencv_loop_s_all"], b["boxes_from_maps_s_all"])]
    assert res["boxes"]["ratio"] == _approx(_median(paired))
    nz = b["noise"]  # the second line: white noise
    assert nz["same_box_fraction"] == 1.0 and nz["maps"] == b["maps"]
    paired = [base / ours for base, ours in zip(nz["opencv_loop_s_all"], nz["boxes_from_maps_s_all"])]
    assert nz["ratio"] == _approx(_median(paired))

    s = res["sweep"]
    assert s["identical"] is True
    assert set(s["measured"]["steps"]) == {"0.001", "0.01"}
    for step in s["measured"]["steps"].values():
        assert step["identical"] is True
        assert step["reference_maps"] < step["maps"] and step["reference_extrapolated"] is True
        assert step["fast_ms_per_map"] > 0 and step["reference_ms_per_map"] > 0 and step["speedup"] > 0
        assert _num(step["reference_s_extrapolated"])
        assert 0 <= step["max_box_acc_v2_fast_all"] <= 100
        assert set(step["max_box_acc_fast_all"]) == {"30", "50", "70"}
        # MaxBoxAccV2 is the mean over the three IoU levels; the speedup the quotient of the two times
        assert step["max_box_acc_v2_fast_all"] == _approx(np.mean(list(step["max_box_acc_fast_all"].values())))
        assert step["speedup"] == _approx(step["reference_ms_per_map"] / step["fast_ms_per_map"])
        assert step["reference_s_extrapolated"] == _approx(
            step["reference_ms_per_map"] / 1e3 * step["maps"])
    assert s["ratio"] == s["measured"]["steps"]["0.001"]["speedup"]
    # labelled lines: CAM maps float64 / float32, both versions, and white noise; the first is the ratio's
    from infocam.bench.sweep_vs_loop import LINES

    lines = s["measured"]["lines"]
    assert list(lines) == [label for label, *_ in LINES]
    assert lines["cam/float64/v2"]["steps"] == s["measured"]["steps"]
    assert [(v["maps"], v["dtype"]) for v in lines.values()] == [(k, d) for _, k, d, _ in LINES]
    for line in lines.values():
        for step in line["steps"].values():
            assert step["identical"] is True
            assert step["fast_ms_per_map"] == _approx(_median(step["fast_ms_per_map_rounds"]))
            assert step["speedup"] == _approx(step["reference_ms_per_map"] / step["fast_ms_per_map"])

    sc = res["score"]
    assert sc["identical"] is True
    m = sc["measured"]
    assert m["maps"] == 120 and m["step"] == 0.001 and m["reference_maps"] < m["maps"]
    assert m["score_s"] > 0 and m["reference_s_extrapolated"] > 0 and m["scaling_speedup"] > 0
    assert 0 <= m["max_box_acc_v1"] <= m["max_box_acc"]["50"] <= 100
    assert sc["ratio"] == pytest.approx(m["reference_s_extrapolated"] / m["score_s"], rel=1e-4)

    mem = res["memory"]["measured"]
    assert mem["n_large"] == 10 * mem["n"]
    assert mem["small"]["images"] == mem["n"] and mem["large"]["images"] == mem["n_large"]
    assert mem["peak_rss_mib_n"] > 0 and mem["peak_rss_mib_10n"] > 0

    t = res["trainer"]["measured"]
    assert t["trainer_images_per_s"] > 0 and t["bare_loop_images_per_s"] > 0
    assert t["trainer_images_per_s"] == _approx(_median(t["trainer_images_per_s_all"]))
    assert t["bare_loop_images_per_s"] == _approx(_median(t["bare_loop_images_per_s_all"]))

    p = res["pipeline"]["measured"]
    assert p["pipeline_images_per_s"] > 0 and p["plain_images_per_s"] > 0


def _ctx(quick: bool = True) -> common.BenchContext:
    return common.BenchContext(torch.device("cpu"), quick=quick, machine=common.machine_info("cpu"))


def test_demo_entry_times_the_command(tmp_path):
    stand_in = [sys.executable, "-c", "import pathlib, sys; pathlib.Path(sys.argv[1]).mkdir()", "{out}"]
    entry = bench_demo.measure(_ctx(), command=stand_in)
    assert entry["name"] == "demo" and "error" not in entry
    assert entry["measured"]["returncode"] == 0 and entry["measured"]["mode"] == "quick"
    assert _num(entry["measured"]["wall_s"]) and entry["measured"]["wall_s"] > 0
    assert entry["ratio"] > 0 and entry["goal"]["metric"] == "wall_s" and entry["goal"]["value"] == 180
    assert entry["met"] is True
    for key in MACHINE_KEYS:
        assert key in entry["machine"]
    assert "demo" in bench_demo.summary(entry["measured"])


def test_demo_entry_failure_and_timeout_are_not_met():
    failed = bench_demo.measure(_ctx(), command=[sys.executable, "-c", "raise SystemExit(3)"])
    assert failed["met"] is False and failed["measured"]["returncode"] == 3 and "error" in failed
    slow = bench_demo.measure(_ctx(), command=[sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.5)
    assert slow["met"] is False and slow["measured"]["timed_out"] is True


def test_demo_command_is_the_cli():
    cmd = bench_demo.demo_command("/tmp/x", quick=True)
    assert cmd[0] == sys.executable and cmd[1:4] == ["-m", "infocam", "demo"]
    assert "--quick" in cmd and "--no-progress" in cmd
    assert "--quick" not in bench_demo.demo_command("/tmp/x", quick=False)


def test_json_is_never_overwritten_without_flag(tmp_path, capsys):
    out = tmp_path / "b.json"
    out.write_text("keep")
    assert main(["bench", "--quick", "--only", "sweep", "--json", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_text() == "keep"


def test_bad_arguments(capsys):
    assert main(["bench", "--only", "maps,nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["bench", "--repeats", "0"]) == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_requested_but_missing(capsys):
    assert main(["bench", "--device", "cuda", "--only", "sweep"]) == 2
    assert "CUDA requested but not available" in capsys.readouterr().err


def test_sweep_disagreement_exits_non_zero(tmp_path, monkeypatch, capsys):
    import infocam.sweep

    real = infocam.sweep.fast_sweep
    monkeypatch.setattr(infocam.sweep, "fast_sweep", lambda *a, **k: ~real(*a, **k))
    out = tmp_path / "b.json"
    assert main(["bench", "--quick", "--only", "sweep", "--quiet", "--json", str(out)]) == 1
    assert "identical" in capsys.readouterr().err
    r = json.loads(out.read_text())
    assert r["identical"] is False and r["results"]["sweep"]["identical"] is False


def test_a_failing_measurement_is_recorded_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(bench.MEASUREMENTS["boxes"], "measure", broken)
    out = tmp_path / "b.json"
    assert main(["bench", "--quick", "--only", "boxes", "--quiet", "--json", str(out)]) == 1
    assert "ERROR RuntimeError: boom" in capsys.readouterr().out
    entry = json.loads(out.read_text())["results"]["boxes"]
    assert entry["met"] is False and "boom" in entry["error"]


def test_default_selection_and_only_order():
    assert "pipeline" not in bench.default_names("cpu") and "demo" in bench.default_names("cpu")
    assert bench.parse_only("demo, maps") == ["maps", "demo"]  # run order, not typed order


def test_interleaved_runs_abba_and_make_entry_judges_the_goal():
    calls = []
    times = common.interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3,
                               torch.device("cpu"), warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert [len(v) for v in times.values()] == [3, 3]
    ctx = _ctx()
    g = common.goal("ratio", "<=", 1.03, "x")
    assert common.make_entry("x", "t", measured={}, ratio=1.02, ratio_meaning="", goal_=g, ctx=ctx,
                             seconds=0)["met"] is True
    assert common.make_entry("x", "t", measured={}, ratio=1.04, ratio_meaning="", goal_=g, ctx=ctx,
                             seconds=0)["met"] is False
    e = common.make_entry("x", "t", measured={"v": float("nan")}, ratio=1.0, ratio_meaning="", goal_=None,
                          ctx=ctx, seconds=0)
    assert e["met"] is None and e["measured"]["v"] is None  # no NaN in the JSON
    json.dumps(e, allow_nan=False)


def test_baseline_boxes_match_the_library_on_cam_like_maps():
    from infocam.bench.boxes_vs_opencv import cam_like_maps, opencv_loop_boxes
    from infocam.boxes import boxes_from_maps

    maps = cam_like_maps(8)
    assert np.array_equal(opencv_loop_boxes(maps), boxes_from_maps(maps).numpy().astype(np.int64))
    assert np.array_equal(opencv_loop_boxes(torch.zeros(2, 8, 8)), np.zeros((2, 4), np.int64))


@pytest.mark.slow
def test_maps_without_torchcam_says_not_installed(monkeypatch):
    from infocam.bench import map_overhead as bench_maps

    monkeypatch.setitem(sys.modules, "torchcam", None)  # import torchcam -> ImportError
    assert bench_maps.torchcam_version() is None
    ctx = _ctx()
    ctx.repeats = 1
    entry = bench_maps.measure(ctx)
    _check_entry(entry, "maps")
    assert entry["measured"]["torchcam"] == {"installed": False, "status": "not installed (pip install torchcam)"}
    assert "torch-cam not installed" in bench_maps.summary(entry["measured"])
