"""``infocam score`` / :func:`infocam.score_maps`: wsolevaluation's semantics by hand, bad input, workers."""

import csv
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import infocam
from infocam.cli import main
from infocam.errors import InputError


def make_meta(root: Path, images, name="CUB", split="test", masks=False):
    """wsolevaluation metadata: images = [(id, (w, h), label, rows)], rows = boxes (x0,y0,x1,y1 inclusive) or (mask, ignore)."""
    d = root / "metadata" / name / split
    d.mkdir(parents=True)
    (d / "image_ids.txt").write_text("".join(f"{i}\n" for i, *_ in images))
    (d / "class_labels.txt").write_text("".join(f"{i},{lab}\n" for i, _s, lab, _r in images))
    (d / "image_sizes.txt").write_text("".join(f"{i},{w},{h}\n" for i, (w, h), _l, _r in images))
    lines = []
    for i, _s, _l, rows in images:
        for r in rows:
            lines.append(",".join([i, *map(str, r)]) + "\n")
    (d / "localization.txt").write_text("".join(lines))
    return root / "metadata"


def save_maps(root: Path, maps: dict) -> Path:
    out = root / "maps"
    for image_id, m in maps.items():
        p = out / f"{image_id}.npy"
        p.parent.mkdir(parents=True, exist_ok=True)
        np.save(p, m)
    return out


def blob(h, w, *rects, value=1.0, dtype=np.float64):
    """A map of zeros with ``value`` on half-open rects (y0, y1, x0, x1)."""
    m = np.zeros((h, w), dtype=dtype)
    for y0, y1, x0, x1 in rects:
        m[y0:y1, x0:x1] = value
    return m


def score(tmp_path, maps, images, **kw):
    meta = make_meta(tmp_path, images)
    folder = save_maps(tmp_path, maps)
    kw.setdefault("size", "original")
    kw.setdefault("workers", 1)
    return infocam.score_maps(folder, metadata=meta, dataset="CUB", **kw)


# ----------------------------------------------------------------------------
# wsolevaluation's semantics, by hand
# ----------------------------------------------------------------------------


def test_largest_contour_versus_all_contours(tmp_path):
    # a big blob far from the GT box, a small one on it: only MaxBoxAccV2 sees the small one
    m = blob(20, 20, (0, 10, 0, 10), (14, 17, 14, 17))
    r = score(tmp_path, {"a.jpg": m}, [("a.jpg", (20, 20), 0, [(14, 14, 16, 16)])])["metrics"]
    assert r["max_box_acc_v1"] == 0.0
    assert r["max_box_acc"] == {"30": 100.0, "50": 100.0, "70": 0.0}  # box (14,14,17,17): IoU 9/16
    assert r["max_box_acc_v2"] == pytest.approx(200 / 3)


def test_largest_by_contour_area_not_by_pixels(tmp_path):
    # a 1-pixel-wide line of 12 pixels has contour area 0; a 3x3 square (9 pixels) has area 4
    m = blob(20, 20, (2, 3, 2, 14), (10, 13, 10, 13))
    r = score(tmp_path, {"a.jpg": m}, [("a.jpg", (20, 20), 0, [(10, 10, 12, 12)])])["metrics"]
    # the square's box, (10,10,13,13) after the x + w quirk: IoU 9/16 >= 0.5
    assert r["max_box_acc_v1"] == 100.0


def test_the_x_plus_w_clipping_quirk(tmp_path):
    # interior 4x4 blob: the box is one pixel too wide and tall (IoU 16/25);
    # at the bottom-right border it is clipped to the image, exact (IoU 1)
    maps = {"a.jpg": blob(10, 10, (2, 6, 2, 6)), "b.jpg": blob(10, 10, (6, 10, 6, 10))}
    images = [("a.jpg", (10, 10), 0, [(2, 2, 5, 5)]), ("b.jpg", (10, 10), 0, [(6, 6, 9, 9)])]
    r = score(tmp_path, maps, images, per_image=tmp_path / "rows.csv")
    assert r["metrics"]["max_box_acc"] == {"30": 100.0, "50": 100.0, "70": 50.0}
    assert r["metrics"]["max_box_acc_v1"] == 100.0
    rows = list(csv.DictReader((tmp_path / "rows.csv").read_text().splitlines()))
    assert [row["iou_v2_at_best_iou70"] for row in rows] == ["0.640000", "1.000000"]
    assert [row["hit_v2_iou70"] for row in rows] == ["0", "1"]


def test_constant_maps_all_zero_and_non_zero(tmp_path):
    # all-zero: the box (0, 0, 0, 0) at every threshold; constant non-zero: the whole image
    maps = {"z.jpg": np.zeros((8, 8)), "c.jpg": np.full((8, 8), 0.5)}
    images = [("z.jpg", (8, 8), 0, [(0, 0, 0, 0)]), ("c.jpg", (8, 8), 0, [(0, 0, 7, 7)])]
    r = score(tmp_path, maps, images)
    assert r["metrics"]["max_box_acc"] == {"30": 100.0, "50": 100.0, "70": 100.0}
    assert r["metrics"]["max_box_acc_v1"] == 100.0
    assert (r["maps"]["constant_zero"], r["maps"]["constant_nonzero"]) == (1, 1)
    # --normalize turns a constant map into zeros (wsolevaluation's normalisation): now (0,0,0,0) misses the whole image
    (tmp_path / "metadata").rename(tmp_path / "m1")
    (tmp_path / "maps").rename(tmp_path / "x1")
    r = score(tmp_path, maps, images, normalize=True)
    assert r["metrics"]["max_box_acc"] == {"30": 50.0, "50": 50.0, "70": 50.0}
    assert (r["maps"]["constant_zero"], r["maps"]["constant_nonzero"]) == (2, 0)


def test_several_gt_boxes_any_one_is_a_hit(tmp_path):
    m = blob(16, 16, (9, 13, 9, 13))
    r = score(tmp_path, {"a.jpg": m}, [("a.jpg", (16, 16), 0, [(0, 0, 3, 3), (9, 9, 13, 13)])])["metrics"]
    assert r["max_box_acc"] == {"30": 100.0, "50": 100.0, "70": 100.0}  # (9,9,13,13) exactly
    assert r["gt_known_loc"] == 100.0


def test_boxes_scaled_to_224_by_truncation(tmp_path):
    # a 448 x 448 image: box 100..299 becomes int(x * 224 / 448) = 50..149
    m = blob(224, 224, (50, 149, 50, 149))  # columns 50..148: wsolevaluation's box reaches 149
    r = score(tmp_path, {"a.jpg": m}, [("a.jpg", (448, 448), 0, [(100, 100, 299, 299)])], size=224)["metrics"]
    assert r["max_box_acc"]["70"] == 100.0
    assert r["best_threshold"]["70"] == 0.0


def test_masks_with_ignore_regions_pxap_by_hand(tmp_path):
    # 2 foreground pixels at 0.9, 2 ignored pixels at 0.95, 12 background at 0.1:
    # the ignored pixels would be false positives; PxAP is 100 without them, 50 with them
    m = np.full((4, 4), 0.1)
    m[0, 0] = m[0, 1] = 0.9
    m[3, 2] = m[3, 3] = 0.95
    fg = np.zeros((4, 4), np.uint8)
    fg[0, :2] = 255
    ig = np.zeros((4, 4), np.uint8)
    ig[3, 2:] = 255
    ig[0, 0] = 255  # ignore under the foreground stays foreground
    mask_root = tmp_path / "masks"
    (mask_root / "OpenImages").mkdir(parents=True)
    Image.fromarray(fg).save(mask_root / "OpenImages" / "a_fg.png")
    Image.fromarray(ig).save(mask_root / "OpenImages" / "a_ig.png")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(mask_root / "OpenImages" / "none.png")
    meta = make_meta(tmp_path, [("a.jpg", (4, 4), 0, [("a_fg.png", "a_ig.png")])], name="OpenImages")
    folder = save_maps(tmp_path, {"a.jpg": m})
    kw = dict(metadata=meta, dataset="OpenImages", mask_root=mask_root, size="original", workers=1, cam_curve_step=0.1)
    r = infocam.score_maps(folder, **kw)
    assert r["metrics"] == {"pxap": 100.0}
    loc = meta / "OpenImages" / "test" / "localization.txt"
    loc.write_text("a.jpg,a_fg.png,none.png\n")
    assert infocam.score_maps(folder, **kw)["metrics"]["pxap"] == 50.0
    # masks need no image_sizes.txt: the size is the first mask's (read from its header)
    (meta / "OpenImages" / "test" / "image_sizes.txt").unlink()
    assert infocam.score_maps(folder, **kw)["metrics"]["pxap"] == 50.0
    # without --mask-root: a clear error
    with pytest.raises(InputError, match="--mask-root"):
        infocam.score_maps(folder, metadata=meta, dataset="OpenImages", workers=1)


def test_predictions_top1_top5_loc_and_cls(tmp_path):
    maps = {"a.jpg": blob(8, 8, (0, 4, 0, 4)), "b.jpg": blob(8, 8, (0, 4, 0, 4))}
    images = [("a.jpg", (8, 8), 2, [(0, 0, 3, 3)]), ("b.jpg", (8, 8), 1, [(4, 4, 7, 7)])]
    (tmp_path / "p.csv").write_text("image_id,top1,top2\na.jpg,0,2\nb.jpg,1,0\n")
    (tmp_path / "n.txt").write_text("")
    r = score(tmp_path, maps, images, predictions=tmp_path / "p.csv")["metrics"]
    # a: top-1 wrong, top-5 right, box hit; b: top-1 right, box miss
    assert (r["top1_cls"], r["top5_cls"], r["top1_loc"], r["top5_loc"]) == (50.0, 100.0, 0.0, 50.0)
    # the same as JSON logits (3 classes) and as JSON class lists
    (tmp_path / "p.json").write_text(json.dumps({"a.jpg": {"logits": [3.0, 1.0, 2.0]}, "b.jpg": [1]}))
    r2 = infocam.score_maps(tmp_path / "maps", metadata=tmp_path / "metadata", dataset="CUB", size="original",
                            workers=1, predictions=tmp_path / "p.json")["metrics"]
    assert r2 == r


def test_npz_equals_folder_and_float32_is_scored_in_float32(tmp_path):
    rng = np.random.default_rng(0)
    maps = {f"{k}.jpg": rng.random((12, 12)) for k in range(4)}
    images = [(f"{k}.jpg", (12, 12), 0, [(2, 2, 8, 8)]) for k in range(4)]
    r = score(tmp_path, maps, images)
    np.savez(tmp_path / "maps.npz", **maps)
    r2 = infocam.score_maps(tmp_path / "maps.npz", metadata=tmp_path / "metadata", dataset="CUB",
                            size="original", workers=1)
    assert r2["metrics"] == r["metrics"]
    assert r2["maps"]["dtypes"] == {"float64": 4}
    np.savez(tmp_path / "maps32.npz", **{k: v.astype(np.float32) for k, v in maps.items()})
    r3 = infocam.score_maps(tmp_path / "maps32.npz", metadata=tmp_path / "metadata", dataset="CUB",
                            size="original", workers=1)
    assert r3["maps"]["dtypes"] == {"float32": 4}


def test_maps_of_another_size_are_resized_and_said(tmp_path):
    m = blob(7, 7, (2, 5, 2, 5))
    r = score(tmp_path, {"a.jpg": m}, [("a.jpg", (28, 28), 0, [(8, 8, 19, 19)])], size=28)
    assert r["maps"]["resized"] == 1
    assert r["metrics"]["max_box_acc"]["50"] == 100.0


# ----------------------------------------------------------------------------
# Workers
# ----------------------------------------------------------------------------


def test_two_workers_give_exactly_the_counts_of_one(tmp_path):
    rng = np.random.default_rng(1)
    import cv2

    maps, images = {}, []
    for k in range(10):
        x = cv2.GaussianBlur(rng.standard_normal((24, 24)), (0, 0), 2.0)
        maps[f"d/{k}.jpg"] = (x - x.min()) / (x.max() - x.min())
        xy = rng.integers(0, 10, 2)
        images.append((f"d/{k}.jpg", (24, 24), k % 3, [(xy[0], xy[1], xy[0] + 10, xy[1] + 8)]))
    r1 = score(tmp_path, maps, images, per_image=tmp_path / "one.csv", cam_curve_step=0.01)
    r2 = infocam.score_maps(tmp_path / "maps", metadata=tmp_path / "metadata", dataset="CUB", size="original",
                            workers=2, per_image=tmp_path / "two.csv", cam_curve_step=0.01)
    assert r2["metrics"] == r1["metrics"]
    assert 0 < r1["metrics"]["max_box_acc"]["50"] < 100  # a test that can tell
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "two.csv").read_text()
    rows = list(csv.DictReader((tmp_path / "one.csv").read_text().splitlines()))
    # the per-image hits at the best thresholds add up to the accuracies
    for d in ("30", "50", "70"):
        assert 100 * sum(int(r[f"hit_v2_iou{d}"]) for r in rows) / 10 == r1["metrics"]["max_box_acc"][d]
    assert 100 * sum(int(r["hit_v1_iou50"]) for r in rows) / 10 == r1["metrics"]["max_box_acc_v1"]
    assert 100 * sum(int(r["hit_gt_known"]) for r in rows) / 10 == r1["metrics"]["gt_known_loc"]


# ----------------------------------------------------------------------------
# Bad input: a clear error naming the file, nothing written
# ----------------------------------------------------------------------------


@pytest.fixture
def two(tmp_path):
    maps = {"a/1.jpg": blob(8, 8, (0, 4, 0, 4)), "a/2.jpg": blob(8, 8, (4, 8, 4, 8))}
    images = [("a/1.jpg", (8, 8), 0, [(0, 0, 3, 3)]), ("a/2.jpg", (8, 8), 1, [(4, 4, 7, 7)])]
    meta = make_meta(tmp_path, images)
    folder = save_maps(tmp_path, maps)
    return tmp_path, meta, folder


def run_cli(tmp_path, meta, folder, *extra):
    out = tmp_path / "out.json"
    rows = tmp_path / "rows.csv"
    rc = main(["score", str(folder), "--metadata-root", str(meta), "--dataset-name", "CUB", "--size", "original",
               "--workers", "1", "--json", str(out), "--per-image", str(rows), *extra])
    return rc, out, rows


def assert_fails(tmp_path, meta, folder, capsys, pattern, *extra):
    rc, out, rows = run_cli(tmp_path, meta, folder, *extra)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert pattern in err, err
    assert not out.exists() and not rows.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
    return err


def test_cli_writes_table_json_and_per_image(two, capsys):
    tmp_path, meta, folder = two
    rc, out, rows = run_cli(tmp_path, meta, folder)
    text = capsys.readouterr().out
    assert rc == 0
    assert "MaxBoxAccV2" in text and "MaxBoxAcc (largest contour, IoU 50)" in text
    saved = json.loads(out.read_text())
    assert saved["settings"]["cam_curve_step"] == 0.001 and saved["count"] == 2
    assert len(rows.read_text().splitlines()) == 3
    # refuses to overwrite, then does with --overwrite
    rc, *_ = run_cli(tmp_path, meta, folder)
    assert rc == 2 and "--overwrite" in capsys.readouterr().err
    rc, *_ = run_cli(tmp_path, meta, folder, "--overwrite")
    assert rc == 0


def test_no_progress_bar_when_stderr_is_not_a_terminal(two, capsys):
    tmp_path, meta, folder = two
    rc, *_ = run_cli(tmp_path, meta, folder)
    err = capsys.readouterr().err
    assert rc == 0 and "\r" not in err and "score" not in err


def test_missing_maps_say_how_many_and_which(two, capsys):
    tmp_path, meta, folder = two
    (folder / "a" / "2.jpg.npy").unlink()
    err = assert_fails(tmp_path, meta, folder, capsys, "1 of 2 images have no map")
    assert "a/2.jpg" in err


def test_maps_of_unknown_images_are_ignored_with_a_warning(two, capsys):
    tmp_path, meta, folder = two
    np.save(folder / "stray.jpg.npy", np.zeros((8, 8)))
    rc, out, _ = run_cli(tmp_path, meta, folder)
    assert rc == 0
    assert "ignored 1 maps" in capsys.readouterr().err and "stray.jpg" in json.loads(out.read_text())["notes"][0]


@pytest.mark.parametrize(
    "bad, pattern",
    [
        (np.zeros((2, 8, 8)), "2-D"),
        (np.full((8, 8), np.nan), "NaN"),
        (np.full((8, 8), np.inf), "inf"),
        (np.full((8, 8), 1.5), "outside [0, 1]"),
        (np.zeros((8, 8), dtype=np.int64), "floating point"),
    ],
)
def test_bad_maps_name_the_file(two, capsys, bad, pattern):
    tmp_path, meta, folder = two
    np.save(folder / "a" / "2.jpg.npy", bad)
    err = assert_fails(tmp_path, meta, folder, capsys, pattern)
    assert "2.jpg.npy" in err


def test_raw_maps_pass_with_normalize(two, capsys):
    tmp_path, meta, folder = two
    np.save(folder / "a" / "2.jpg.npy", blob(8, 8, (4, 8, 4, 8), value=7.0) - 3)
    rc, out, _ = run_cli(tmp_path, meta, folder, "--normalize")
    assert rc == 0
    assert json.loads(out.read_text())["metrics"]["max_box_acc"]["30"] == 100.0


class Boom:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_pickled_npy_is_refused_and_never_run(two, capsys):
    tmp_path, meta, folder = two
    np.save(folder / "a" / "2.jpg.npy", np.array([Boom()], dtype=object), allow_pickle=True)
    err = assert_fails(tmp_path, meta, folder, capsys, "pickled Python objects")
    assert "pickled code ran" not in capsys.readouterr().out
    # a plain pickle under an .npy name, too
    (folder / "a" / "2.jpg.npy").write_bytes(pickle.dumps(Boom()))
    assert_fails(tmp_path, meta, folder, capsys, "pickled Python objects")
    assert "2.jpg.npy" in err


def test_truncated_npy_and_npz(two, capsys):
    tmp_path, meta, folder = two
    p = folder / "a" / "2.jpg.npy"
    p.write_bytes(p.read_bytes()[:200])
    assert_fails(tmp_path, meta, folder, capsys, "2.jpg.npy")
    archive = tmp_path / "maps.npz"
    np.savez(archive, **{"a/1.jpg": blob(8, 8), "a/2.jpg": blob(8, 8)})
    archive.write_bytes(archive.read_bytes()[:-300])
    err = assert_fails(tmp_path, meta, archive, capsys, "maps.npz")
    assert "truncated" in err


def test_mask_size_must_match_the_metadata(tmp_path, capsys):
    mask_root = tmp_path / "masks"
    mask_root.mkdir()
    Image.fromarray(np.zeros((5, 4), np.uint8)).save(mask_root / "m.png")
    meta = make_meta(tmp_path, [("a.jpg", (4, 4), 0, [("m.png", "")])], name="OpenImages")
    folder = save_maps(tmp_path, {"a.jpg": np.zeros((4, 4))})
    with pytest.raises(InputError, match=r"m.png: mask is 4x5 but the metadata says image a.jpg is 4x4"):
        infocam.score_maps(folder, metadata=meta, dataset="OpenImages", mask_root=mask_root, workers=1)


def test_predictions_missing_images_or_unknown_classes(two, capsys):
    tmp_path, meta, folder = two
    p = tmp_path / "p.csv"
    p.write_text("a/1.jpg,0,1\n")
    assert_fails(tmp_path, meta, folder, capsys, "1 images have no prediction: a/2.jpg", "--predictions", str(p))
    p.write_text("a/1.jpg,0,1\na/2.jpg,7\n")
    assert_fails(tmp_path, meta, folder, capsys, f"{p}:2: unknown class 7", "--predictions", str(p))
    p.write_text("a/1.jpg,0,1\na/2.jpg,sparrow\n")
    assert_fails(tmp_path, meta, folder, capsys, "unknown class 'sparrow'", "--predictions", str(p))


def test_metadata_of_the_wrong_shape(two, capsys):
    tmp_path, meta, folder = two
    assert_fails(tmp_path, meta / "nope", folder, capsys, "no such folder")
    (meta / "CUB" / "test" / "image_sizes.txt").unlink()
    assert_fails(tmp_path, meta, folder, capsys, "no image_sizes.txt")
    rc = main(["score", str(folder), "--metadata-root", str(meta), "--dataset-name", "ImageNet"])
    assert rc == 2 and "ILSVRC" in capsys.readouterr().err
    rc = main(["score", str(folder), "--metadata-root", str(meta)])  # no dataset name: say which exist
    assert rc == 2 and "CUB" in capsys.readouterr().err


def test_bad_arguments(two, capsys):
    tmp_path, meta, folder = two
    for extra, pattern in [
        (["--size", "big"], "--size"),
        (["--size", "0"], "--size"),
        (["--cam-curve-step", "0"], "--cam-curve-step"),
        (["--iou-thresholds", "30,x"], "--iou-thresholds"),
        (["--iou-thresholds", "150"], "--iou-thresholds"),
        (["--threshold", "2"], "--threshold"),
        (["--workers", "0"], "--workers"),
    ]:
        assert_fails(tmp_path, meta, folder, capsys, pattern, *extra)
    with pytest.raises(InputError, match=r"maps .*no such folder or file"):
        infocam.score_maps(tmp_path / "none", metadata=meta, dataset="CUB")
    with pytest.raises(InputError, match="--metadata-root DIR or as --data"):
        infocam.score_maps(folder)


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    assert "examples:" in capsys.readouterr().out


def test_float16_maps_and_original_size_resizing(tmp_path):
    # a 5x5 float16 map for a 10x10 image, scored at the image's own size: resized, and counted as float16
    m = np.zeros((5, 5), np.float16)
    m[1:4, 1:4] = 1
    r = score(tmp_path, {"a.jpg": m}, [("a.jpg", (10, 10), 0, [(2, 2, 7, 7)])])
    assert r["maps"]["dtypes"] == {"float16": 1} and r["maps"]["resized"] == 1
    assert r["settings"]["size"] == "original" and r["count"] == 1
    assert r["metrics"]["max_box_acc"]["30"] == 100.0


def test_full_image_baseline_by_hand_and_baseline_errors(tmp_path):
    # the full-image baseline's box is the whole image at every threshold: a hit for the image-sized GT only
    maps = {"a.jpg": blob(10, 10, (0, 5, 0, 5)), "b.jpg": blob(10, 10, (0, 5, 0, 5))}
    images = [("a.jpg", (10, 10), 0, [(0, 0, 9, 9)]), ("b.jpg", (10, 10), 0, [(3, 3, 4, 4)])]
    r = score(tmp_path, maps, images, baselines=["full_image"])
    b = r["baselines"]["full_image"]
    assert b["max_box_acc"] == {"30": 50.0, "50": 50.0, "70": 50.0}
    assert b["max_box_acc_v1"] == 50.0 and b["gt_known_loc"] == 50.0
    assert r["settings"]["baselines"] == ["full_image"]
    for bad, pattern in [(["image_intensity"], "needs the images"), (["moon"], "not one of"),
                         (["full_image", "full_image"], "distinct")]:
        with pytest.raises(ValueError, match=pattern):
            infocam.score_maps(tmp_path / "maps", metadata=tmp_path / "metadata", dataset="CUB", baselines=bad)


def test_a_bad_map_met_by_a_worker_process_is_the_same_one_line(two, capsys):
    tmp_path, meta, folder = two
    np.save(folder / "a" / "2.jpg.npy", np.full((8, 8), np.nan))
    out, rows = tmp_path / "out.json", tmp_path / "rows.csv"
    rc = main(["score", str(folder), "--metadata-root", str(meta), "--dataset-name", "CUB", "--size", "original",
               "--workers", "2", "--json", str(out), "--per-image", str(rows)])
    err = capsys.readouterr().err
    assert rc == 2 and "2.jpg.npy: the map holds NaN" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not rows.exists()


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_score_equals_independent_wsolevaluation_evaluators_end_to_end(tmp_path, dtype):
    """Files in, numbers out: the maps as saved, boxes of 300-500 px images scaled by int(x * 224 / W)."""
    import cv2

    from test_metrics import IndependentBoxEvaluator

    rng = np.random.default_rng(5)
    maps, images, scaled = {}, [], []
    for k in range(5):
        x = cv2.resize(rng.standard_normal((14, 14)), (224, 224), interpolation=cv2.INTER_CUBIC)
        maps[f"c/{k}.jpg"] = ((x - x.min()) / (x.max() - x.min())).astype(dtype)
        w, h = (int(v) for v in rng.integers(300, 501, 2))
        x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
        x1, y1 = x0 + int(rng.integers(w // 4, w // 2)), y0 + int(rng.integers(h // 4, h // 2))
        images.append((f"c/{k}.jpg", (w, h), 0, [(x0, y0, x1, y1)]))
        inc = [int(x0 * 224 / w), int(y0 * 224 / h), int(x1 * 224 / w), int(y1 * 224 / h)]
        scaled.append(np.array([[inc[0], inc[1], inc[2] + 1, inc[3] + 1]]))  # half-open, as the evaluator takes them
    r = score(tmp_path, maps, images, size=224)["metrics"]
    v1, v2 = IndependentBoxEvaluator(0.001, (50,), multi_contour=False), IndependentBoxEvaluator(0.001)
    for (image_id, *_), gt in zip(images, scaled):
        v1.accumulate(maps[image_id], gt)
        v2.accumulate(maps[image_id], gt)
    assert r["max_box_acc"] == {str(d): v for d, v in v2.max_box_acc().items()}
    assert r["max_box_acc_v1"] == v1.max_box_acc()[50]
    assert any(0 < v < 100 for v in r["max_box_acc"].values())


@pytest.mark.slow
def test_memory_does_not_grow_with_the_number_of_maps(tmp_path):
    """Maps are streamed: ten times the maps (13 MB of them) leave the peak of traced allocations where it was."""
    import tracemalloc

    def peak(n: int, where: Path) -> int:
        rng = np.random.default_rng(n)
        at = rng.integers(0, 100, (n, 2))
        maps = {f"m/{k}.jpg": blob(128, 128, (y, y + 28, x, x + 28)) for k, (y, x) in enumerate(at)}
        images = [(f"m/{k}.jpg", (128, 128), 0, [(10, 10, 60, 60)]) for k in range(n)]
        meta = make_meta(where, images)
        folder = save_maps(where, maps)
        del maps
        kw = dict(metadata=meta, dataset="CUB", size="original", workers=1, cam_curve_step=0.01)
        infocam.score_maps(folder, **kw)  # compiled kernels loaded before tracing (tracing slows compiling)
        tracemalloc.start()
        infocam.score_maps(folder, **kw)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    small, large = peak(10, tmp_path / "small"), peak(100, tmp_path / "large")
    assert large < small + 2 * 2**20, (small, large)  # all 100 maps at once would add 13 MB


@pytest.mark.parametrize("fmt", ["cub", "tiny-imagenet"])
def test_ground_truth_from_other_formats_sizes_from_image_headers(tmp_path, fmt):
    from data_factory import make_cub, make_tiny_imagenet

    made = (make_cub if fmt == "cub" else make_tiny_imagenet)(tmp_path / "data", n_classes=2)
    test = [im for im in made.images if im.subset == "test"]
    maps = {}
    for im in test:  # a map lit exactly on the first GT box, at the image's size
        x0, y0, x1, y1 = (int(v) for v in im.boxes[0])
        maps[im.id] = blob(im.size[1], im.size[0], (y0, y1, x0, x1))
    folder = save_maps(tmp_path, maps)
    r = infocam.score_maps(folder, data=made.root, data_format=fmt, split="all_test", size="original", workers=1,
                           cam_curve_step=0.01)
    assert r["count"] == len(test) > 0
    assert r["metrics"]["max_box_acc"]["30"] == 100.0 and r["metrics"]["gt_known_loc"] == 100.0
