"""The ``faithfulness`` bench entry: its sizes, its overrides and the shape of its entry (never its speed)."""

import pytest
import torch

from infocam import bench
from infocam.bench import common
from infocam.bench import faithfulness as bf
from infocam.errors import InputError


def test_sizes_defaults_and_overrides():
    assert bf.sizes(False, "") == {"batch": 32, "size": 224, "steps": 50}
    assert bf.sizes(True, "") == {"batch": 2, "size": 112, "steps": 10}
    assert bf.sizes(False, "batch=4, steps=10") == {"batch": 4, "size": 224, "steps": 10}
    for bad in ("batch=0", "width=3", "steps=x", "size"):
        with pytest.raises(InputError, match="INFOCAM_BENCH_FAITHFULNESS"):
            bf.sizes(False, bad)


def test_entry_shape_on_a_tiny_run(monkeypatch):
    monkeypatch.setenv(bf.ENV, "batch=1,size=32,steps=2")
    ctx = common.BenchContext(torch.device("cpu"), quick=True, repeats=1, machine=common.machine_info("cpu"))
    e = bf.measure(ctx)
    m = e["measured"]
    assert e["name"] == "faithfulness" and e["goal"]["value"] == 1.15 and isinstance(e["met"], bool)
    assert (m["batch"], m["image_size"], m["steps"]) == (1, 32, 2) and m["forward_passes_of_the_curves"] == 5
    assert e["ratio"] > 0 and m["images_per_s"] > 0 and m["overrides"] == "batch=1,size=32,steps=2"
    assert m["ratio_per_pass"] == pytest.approx(e["ratio"] * 4 / 5, rel=1e-5)
    assert "faithfulness" in bench.MEASUREMENTS and "faithfulness" in bench.default_names("cpu")
    assert "steps" in bf.summary(m)
