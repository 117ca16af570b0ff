"""The ``evaluate`` bench entry: its sizes, its overrides and the shape of its entry (never its speed)."""

import pytest
import torch

from infocam import bench
from infocam.bench import common
from infocam.bench import evaluate as be
from infocam.engine.pool import usable_cores
from infocam.errors import InputError


def test_sizes_defaults_and_overrides():
    cores = usable_cores()
    assert be.sizes(False, False, "") == {"images": 128, "batch": 16, "cpu_workers": cores}
    assert be.sizes(False, True, "") == {"images": 4096, "batch": 128, "cpu_workers": cores}
    assert be.sizes(True, False, "") == {"images": 8, "batch": 4, "cpu_workers": cores}
    assert be.sizes(False, False, "images=6, cpu_workers=3") == {"images": 6, "batch": 16, "cpu_workers": 3}
    for bad in ("images=0", "steps=3", "batch=x", "batch"):
        with pytest.raises(InputError, match="INFOCAM_BENCH_EVALUATE"):
            be.sizes(False, False, bad)


def test_make_batches_covers_every_image_once():
    batches = be.make_batches(5, 2)
    assert [len(b["id"]) for b in batches] == [2, 2, 1]
    assert [i for b in batches for i in b["id"]] == [f"img_{i:05d}" for i in range(5)]
    box = batches[0]["boxes"][0]
    assert box.shape == (1, 4) and bool((box[:, 2:] > box[:, :2]).all())


def test_entry_shape_on_a_tiny_run(monkeypatch):
    monkeypatch.setenv(be.ENV, "images=3,batch=2,cpu_workers=2")
    ctx = common.BenchContext(torch.device("cpu"), quick=True, repeats=1, machine=common.machine_info("cpu"))
    e = be.measure(ctx)
    m = e["measured"]
    assert e["name"] == "evaluate" and e["goal"]["metric"] == "workers_cpu_share" and isinstance(e["met"], bool)
    assert e["identical"] is True
    assert (m["images"], m["batch"], m["cpu_workers"], m["image_size"]) == (3, 2, 2, 224)
    for side in ("serial", "workers"):
        assert m[f"{side}_images_per_s"] == pytest.approx(3 / m[f"{side}_wall_s"], rel=1e-4)
        shares = [m[f"{side}_{p}_share"] for p in ("forward", "cpu", "data")]
        assert all(0 <= x <= 1 for x in shares) and sum(shares) <= 1 + 1e-6
    assert e["ratio"] == pytest.approx(m["workers_images_per_s"] / m["serial_images_per_s"], rel=1e-3)
    assert "evaluate" in bench.MEASUREMENTS and "evaluate" in bench.default_names("cpu")
    assert "workers" in be.summary(m)
