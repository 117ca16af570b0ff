"""build_dataset's config: defaults per format, and an InputError naming every bad key."""

from __future__ import annotations

import pytest

from data_factory import make_csv, make_cub, make_tiny_imagenet, make_wsol
from infocam.data import build_dataset, validate_config
from infocam.errors import InputError


@pytest.mark.parametrize(
    ("cfg", "fragment"),
    [
        ({"root": "x"}, "missing key 'format'"),
        ({"format": "coco", "root": "x"}, "key 'format' must be one of"),
        ({"format": "cub"}, "missing key 'root'"),
        ({"format": "cub", "root": "x", "batch_size": 3}, "unknown key 'batch_size'"),
        ({"format": "cub", "root": "x", "csv": "a.csv"}, "unknown key 'csv' (only for format csv)"),
        ({"format": "cub", "root": "x", "metadata_root": "m"}, "unknown key 'metadata_root' (only for format wsol)"),
        ({"format": "cub", "root": 3}, "key 'root' must be str or path"),
        ({"format": "cub", "root": "x", "image_size": "224"}, "key 'image_size' must be int"),
        ({"format": "cub", "root": "x", "image_size": True}, "key 'image_size' must be int"),
        ({"format": "cub", "root": "x", "image_size": 0}, "key 'image_size' must be a positive integer"),
        ({"format": "cub", "root": "x", "crop": "yes"}, "key 'crop' must be bool"),
        ({"format": "cub", "root": "x", "normalize": 1}, "key 'normalize' must be bool"),
        ({"format": "cub", "root": "x", "image_size": 300}, "key 'resize_size'"),
        ({"format": "wsol", "root": "x"}, "missing key 'metadata_root'"),
        ({"format": "wsol", "root": "x", "metadata_root": "m", "num_classes": 2.0}, "key 'num_classes' must be int"),
        (["format", "cub"], "must be a mapping"),
    ],
)
def test_bad_config_names_the_key(cfg, fragment):
    with pytest.raises(InputError) as info:
        validate_config(cfg)
    assert fragment in str(info.value)


def test_defaults_per_format():
    assert validate_config({"format": "cub", "root": "r"}) == {
        "format": "cub", "root": "r", "image_size": 224, "resize_size": 256, "crop": True, "normalize": True,
    }
    tiny = validate_config({"format": "Tiny-ImageNet", "root": "r"})
    assert (tiny["format"], tiny["image_size"], tiny["resize_size"], tiny["crop"]) == ("tiny-imagenet", 64, 64, False)


def test_missing_root(tmp_path):
    with pytest.raises(InputError, match=r"key 'root'.*does not exist"):
        build_dataset({"format": "cub", "root": str(tmp_path / "none")}, "train", train=True)


def test_every_dataset_has_num_classes_and_class_names(tmp_path):
    cub = make_cub(tmp_path / "c")
    tiny = make_tiny_imagenet(tmp_path / "t")
    wsol = make_wsol(tmp_path / "w", n_classes=4)
    csv = make_csv(tmp_path / "s", n_classes=2)
    cfgs = [
        ({"format": "cub", "root": str(cub)}, cub.class_names),
        ({"format": "tiny-imagenet", "root": str(tiny)}, tiny.class_names),
        ({"format": "wsol", "root": str(wsol), "metadata_root": str(wsol.metadata_root)}, ["0", "1", "2", "3"]),
        ({"format": "csv", "root": str(csv), "csv": str(csv.csv)}, ["kind0", "kind1"]),
    ]
    for cfg, names in cfgs:
        ds = build_dataset(cfg, "test", train=False)
        assert ds.class_names == names and ds.num_classes == len(names)


def test_wsol_split_must_exist(tmp_path):
    made = make_wsol(tmp_path, per_class={"train": 1, "test": 1})
    cfg = {"format": "wsol", "root": str(made.root), "metadata_root": str(made.metadata_root)}
    with pytest.raises(InputError, match=r"'val' is not a folder.*available: test, train"):
        build_dataset(cfg, "val", train=False)
    with pytest.raises(InputError, match="key 'metadata_root'") as info:
        build_dataset({**cfg, "metadata_root": str(tmp_path / "metadata")}, "test", train=False)
    assert "add dataset_name TOY" in str(info.value)


def test_wsol_num_classes_override(tmp_path):
    made = make_wsol(tmp_path, n_classes=2)
    cfg = {"format": "wsol", "root": str(made.root), "metadata_root": str(made.metadata_root), "num_classes": 5}
    assert build_dataset(cfg, "train", train=True).num_classes == 5
    with pytest.raises(InputError, match="label out of range"):
        build_dataset({**cfg, "num_classes": 1}, "train", train=True)


def test_empty_split_is_an_error(tmp_path):
    made = make_csv(tmp_path, n_test_per_class=0)
    with pytest.raises(InputError, match=r"'val' .* has no images"):
        build_dataset({"format": "csv", "root": str(made.root)}, "val", train=False)


def test_null_values_mean_default():
    cfg = validate_config({"format": "cub", "root": "r", "image_size": None, "crop": None, "normalize": None})
    assert (cfg["image_size"], cfg["crop"], cfg["normalize"]) == (224, True, True)


def test_root_that_is_not_the_layout(tmp_path):
    with pytest.raises(InputError, match=r"not a cub folder \(no images.txt, nor CUB_200_2011/images.txt\)"):
        build_dataset({"format": "cub", "root": str(tmp_path)}, "train", train=True)
