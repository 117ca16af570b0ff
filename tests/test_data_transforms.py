"""A box drawn into the pixels lands where the loader says, through every transform."""

from __future__ import annotations

import pytest
import torch

from data_factory import draw, make_wsol
from infocam.data import IMAGENET_MEAN, IMAGENET_STD, build_dataset, build_transforms
from infocam.data.dataset import BoxDataset
from infocam.data.records import Record
from infocam.errors import InputError

# (w, h), half-open box: inside, touching the left/top edge, crossing the centre-crop border
CASES = [
    ((300, 200), (40, 30, 170, 150)),
    ((180, 260), (0, 0, 90, 120)),
    ((64, 48), (3, 5, 61, 40)),
    ((257, 129), (120, 2, 257, 129)),
]


def _dataset(tmp_path, transform) -> BoxDataset:
    records = []
    for i, (size, box) in enumerate(CASES):
        path = tmp_path / f"img{i}.png"
        draw(size, [box]).save(path)
        rec = Record(id=path.name, path=path, label=i, source=f"test:{i}")
        rec.add_box(tuple(float(v) for v in box), f"test:{i}")
        records.append(rec)
    return BoxDataset(records, [str(i) for i in range(len(CASES))], transform)


def _pixel_box(image: torch.Tensor, normalized: bool) -> torch.Tensor | None:
    """Tight half-open box of the bright pixels (above mid-grey), or None."""
    if normalized:
        mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
        image = image * std + mean
    bright = image.mean(0) > (20 + 235) / 2 / 255
    if not bright.any():
        return None
    rows = torch.nonzero(bright.any(1)).flatten()
    cols = torch.nonzero(bright.any(0)).flatten()
    return torch.tensor([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=torch.float32)


def _assert_lands(item: dict, normalized: bool) -> None:
    box = item["boxes"][0]
    pixels = _pixel_box(item["image"], normalized)
    if pixels is None:  # cropped away entirely: the loader's box must be empty too
        assert (box[2] - box[0]) * (box[3] - box[1]) == 0
        return
    assert torch.all((pixels - box).abs() <= 1.0), (item["id"], pixels.tolist(), box.tolist())


@pytest.mark.parametrize("normalize", [False, True])
def test_test_transform_resize_and_centre_crop(tmp_path, normalize):
    ds = _dataset(tmp_path, build_transforms(False, normalize=normalize))
    for i, (size, (x0, y0, x1, y1)) in enumerate(CASES):
        item = ds[i]
        assert item["image"].shape == (3, 224, 224)
        sx, sy = 256 / size[0], 256 / size[1]
        exact = torch.tensor([x0 * sx - 16, y0 * sy - 16, x1 * sx - 16, y1 * sy - 16]).clamp(0, 224)
        torch.testing.assert_close(item["boxes"][0], exact)
        _assert_lands(item, normalize)


def test_resize_only(tmp_path):
    ds = _dataset(tmp_path, build_transforms(False, crop=False, normalize=False))
    for i, (size, (x0, y0, x1, y1)) in enumerate(CASES):
        item = ds[i]
        sx, sy = 224 / size[0], 224 / size[1]
        torch.testing.assert_close(item["boxes"][0], torch.tensor([x0 * sx, y0 * sy, x1 * sx, y1 * sy]))
        _assert_lands(item, False)


def test_tiny_imagenet_setting_64px(tmp_path):
    ds = _dataset(tmp_path, build_transforms(False, size=64, crop=False, normalize=False))
    for i in range(len(CASES)):
        item = ds[i]
        assert item["image"].shape == (3, 64, 64)
        _assert_lands(item, False)


def test_train_transform_random_crop_and_flip(tmp_path):
    ds = _dataset(tmp_path, build_transforms(True))
    flipped = unflipped = 0
    seen = set()
    for seed in range(10):
        for i, (size, (x0, _y0, x1, _y1)) in enumerate(CASES):
            torch.manual_seed(seed)
            item = ds[i]
            assert item["image"].shape == (3, 224, 224)
            _assert_lands(item, True)
            box = item["boxes"][0]
            seen.add(tuple(box.tolist()))
            if i == 0:  # inside every crop: x0 = x0*s - ox, or mirrored 224 - (x1*s - ox), ox in 0..32
                sx = 256 / size[0]
                torch.testing.assert_close(box[2] - box[0], torch.tensor((x1 - x0) * sx))
                if box[0] > 60:  # unflipped x0 is at most 34.1, flipped at least 78.9
                    offset = box[0] - 224 + x1 * sx
                    flipped += 1
                else:
                    offset = x0 * sx - box[0]
                    unflipped += 1
                assert 0 <= offset <= 32 and abs(offset - round(float(offset))) < 1e-4
    assert flipped > 0 and unflipped > 0
    assert len(seen) > 10  # the crop really is random


def test_train_transform_is_reproducible_with_a_seed(tmp_path):
    ds = _dataset(tmp_path, build_transforms(True))
    torch.manual_seed(123)
    a = ds[1]
    torch.manual_seed(123)
    b = ds[1]
    assert torch.equal(a["boxes"], b["boxes"]) and torch.equal(a["image"], b["image"])


def test_masks_follow_the_train_transform(tmp_path):
    made = make_wsol(tmp_path, masks=True, size=(90, 60))
    cfg = {"format": "wsol", "root": str(made.root), "metadata_root": str(made.metadata_root)}
    ds = build_dataset(cfg, "train", train=True)
    checked = 0
    for seed in range(3):
        for i in range(len(ds)):
            if len(ds.records[i].mask_paths) != 1:
                continue
            torch.manual_seed(seed)
            item = ds[i]
            fg = item["mask"] == 1
            pixels = _pixel_box(item["image"], True)
            if pixels is None:
                assert not fg.any()
                continue
            rows = torch.nonzero(fg.any(1)).flatten()
            cols = torch.nonzero(fg.any(0)).flatten()
            mask_box = torch.tensor([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=torch.float32)
            assert torch.all((mask_box - pixels).abs() <= 1.0)
            assert (item["mask"] == 255).any() or (mask_box[0] == 0 or mask_box[2] == 224)
            checked += 1
    assert checked >= 6


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"size": 0}, "size"), ({"resize": -3}, "resize"), ({"size": 300}, "resize"), ({"size": 2.5}, "size")],
)
def test_bad_transform_arguments(kwargs, name):
    with pytest.raises(InputError, match=name):
        build_transforms(False, **kwargs)
