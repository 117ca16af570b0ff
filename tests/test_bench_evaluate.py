"""The ``evaluate`` bench entry: its sizes, its overrides, its JPEG tree and the values of its entry (never its speed)."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from infocam import bench
from infocam.bench import common
from infocam.bench import evaluate as be
from infocam.bench.cub_jpegs import render, write_cub_jpegs
from infocam.data import build_dataset, collate, read_cub
from infocam.engine.pool import usable_cores
from infocam.errors import InputError


def test_sizes_defaults_and_overrides():
    cores = usable_cores()
    # the decoded line's worker counts default to 0: chosen from the measured costs (split_cores)
    workers = {"cpu_workers": cores, "loader_workers": 0, "decoded_cpu_workers": 0}
    assert be.sizes(False, False, "") == {"images": 128, "batch": 16, "decoded": 32, **workers}
    assert be.sizes(False, True, "") == {"images": 4096, "batch": 128, "decoded": 4096, **workers}
    assert be.sizes(True, False, "") == {"images": 8, "batch": 4, "decoded": 8, **workers}
    assert be.sizes(False, False, "images=6, cpu_workers=3") == {
        "images": 6, "batch": 16, "decoded": 32, **workers, "cpu_workers": 3}
    assert be.sizes(True, True, "decoded=5,loader_workers=3,decoded_cpu_workers=7") == {
        "images": 8, "batch": 4, "cpu_workers": cores, "decoded": 5, "loader_workers": 3, "decoded_cpu_workers": 7}
    for bad in ("images=0", "steps=3", "batch=x", "batch", "decoded=0", "loader_workers=-1"):
        with pytest.raises(InputError, match="INFOCAM_BENCH_EVALUATE"):
            be.sizes(False, False, bad)


def test_split_cores_in_proportion_to_the_costs():
    # one core for the main process, the rest by cost: 15 * 4.3 / 8.1 = 7.96
    assert be.split_cores(16, 4.3, 3.8) == (8, 7)
    assert be.split_cores(16, 1.0, 2.0) == (5, 10)  # scoring twice as dear: twice the workers
    assert be.split_cores(16, 3.0, 0.0) == (14, 1)  # at least one each
    assert be.split_cores(16, 0.0, 0.0) == (7, 8)
    assert be.split_cores(2, 4.3, 3.8) == (1, 1)  # too few cores to leave one: one each
    assert be.split_cores(1, 9.0, 1.0) == (1, 1)


def test_make_batches_covers_every_image_once():
    batches = be.make_batches(5, 2)
    assert [len(b["id"]) for b in batches] == [2, 2, 1]
    assert [i for b in batches for i in b["id"]] == [f"img_{i:05d}" for i in range(5)]
    box = batches[0]["boxes"][0]
    assert box.shape == (1, 4) and bool((box[:, 2:] > box[:, :2]).all())


def test_cub_jpegs_are_a_cub_tree_of_photo_like_jpegs(tmp_path):
    root = write_cub_jpegs(tmp_path, 5, classes=3, threads=2)
    assert root == tmp_path / "CUB_200_2011"
    ann = read_cub(root)
    assert ann.problems == [] and len(ann.class_names) == 3
    assert [r.label for r in ann.records] == [0, 1, 2, 0, 1]
    assert {r.subset for r in ann.records} == {"test"}
    sizes = []
    for i, rec in enumerate(ann.records):
        picture, box = render(i, (500, 375))
        assert rec.boxes == [tuple(float(v) for v in box)]  # the file's box is the one drawn
        x0, y0, x1, y1 = box
        assert 0 <= x0 < x1 <= 500 and 0 <= y0 < y1 <= 375 and (x1 - x0) * (y1 - y0) >= 0.2 * 500 * 0.2 * 375
        decoded = np.asarray(Image.open(rec.path).convert("RGB"), dtype=np.float64)
        assert decoded.shape == (375, 500, 3)
        assert np.abs(decoded - picture[..., ::-1]).mean() < 6  # the JPEG holds the picture (BGR -> RGB; another image: 60-75)
        steps = np.abs(np.diff(decoded, axis=1)).mean()
        assert 2 < steps < 20  # textured but smooth: white noise in 0..255 steps by about 85 on average
        sizes.append(rec.path.stat().st_size)
    assert 40 * 1024 < np.mean(sizes) < 120 * 1024  # compresses like a photo
    again, box = render(3, (500, 375))
    assert box == render(3, (500, 375))[1] and np.array_equal(again, render(3, (500, 375))[0])
    assert not np.array_equal(again, render(3, (500, 375), seed=1)[0])


@pytest.mark.parametrize("kwargs, name", [
    ({"images": 0}, "images"), ({"images": 2, "classes": True}, "classes"), ({"images": 2, "quality": 101}, "quality"),
    ({"images": 2, "threads": 0}, "threads"), ({"images": 2, "size": (8, 8)}, "size"),
])
def test_cub_jpegs_bad_arguments_name_the_argument(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} must"):
        write_cub_jpegs(tmp_path, **kwargs)


def test_entry_values_on_a_tiny_run(monkeypatch, tmp_path):
    monkeypatch.setenv(be.ENV, "images=3,batch=2,cpu_workers=2,decoded=5,loader_workers=2,decoded_cpu_workers=1")
    ctx = common.BenchContext(torch.device("cpu"), quick=True, repeats=1, machine=common.machine_info("cpu"))
    e = be.measure(ctx)
    m = e["measured"]
    assert e["name"] == "evaluate" and e["goal"]["metric"] == "workers_cpu_share" and isinstance(e["met"], bool)
    assert e["identical"] is True
    assert (m["images"], m["batch"], m["cpu_workers"], m["image_size"]) == (3, 2, 2, 224)
    assert (m["decoded_images"], m["decoded_count"], m["loader_workers"], m["decoded_cpu_workers"]) == (5, 5, 2, 1)
    assert m["decoded_jpeg_size"] == [500, 375] and 40 < m["decoded_jpeg_mean_kib"] < 120
    assert m["decode_ms_per_image"] > 0 and m["scoring_ms_per_image"] > 0
    for side, n in (("serial", 3), ("workers", 3), ("decoded", 5)):
        assert m[f"{side}_images_per_s"] == pytest.approx(n / m[f"{side}_wall_s"], rel=1e-4)
        shares = [m[f"{side}_{p}_share"] for p in ("forward", "cpu", "data")]
        assert all(0 <= x <= 1 for x in shares) and sum(shares) <= 1 + 1e-6
        assert m[f"{side}_other_share"] == pytest.approx(1 - sum(shares), abs=1e-5)
    assert e["ratio"] == pytest.approx(m["workers_images_per_s"] / m["serial_images_per_s"], rel=1e-3)
    assert "evaluate" in bench.MEASUREMENTS and "evaluate" in bench.default_names("cpu")
    assert "workers" in be.summary(m) and "5 JPEGs, 2 decoding + 1 scoring workers" in be.summary(m)

    # the decoded line scores the files as a plain serial evaluation of the same tree does
    from infocam.bench.map_overhead import build_resnet
    from infocam.engine.evaluate import evaluate, main_variants
    from infocam.maps import METHODS

    write_cub_jpegs(tmp_path, 5)
    ds = build_dataset({"format": "cub", "root": str(tmp_path)}, "all_test", train=False)
    loader = DataLoader(ds, batch_size=2, collate_fn=collate)  # in this process, scored serially
    plain = evaluate(build_resnet(torch.device("cpu")), loader, variants=main_variants(METHODS, be.REGION),
                     thresholds=0.2, cam_curve_step=be.STEP, progress=False)
    assert plain["count"] == 5
    assert m["decoded_max_box_acc_v2"] == {k: pytest.approx(plain["methods"][k]["max_box_acc_v2"], abs=1e-5)
                                           for k in METHODS}


def test_goal_on_a_gpu_is_the_decoded_line():
    assert be.GOAL_GPU["metric"] == "decoded_images_per_s" and be.GOAL_GPU["value"] == 2000
    assert be.GOAL_CPU["metric"] == "workers_cpu_share"
