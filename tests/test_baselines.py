"""Model-free baselines: exact maps, and exact scores on hand-made boxes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from infocam.baselines import BASELINES, center_gaussian, full_image, image_intensity
from infocam.engine.evaluate import Variant, baseline_variants, evaluate


class Pixels(nn.Module):
    """A fixed GAP + linear model on 1-channel images (the baselines ignore it)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(1, 1, 1, bias=False)
        self.fc = nn.Linear(1, 2, bias=False)
        with torch.no_grad():
            self.features.weight.fill_(1.0)
            self.fc.weight.copy_(torch.tensor([[1.0], [-1.0]]))

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def _batch(images, boxes):
    return {"image": images, "label": torch.zeros(len(images), dtype=torch.long),
            "boxes": [torch.tensor([b], dtype=torch.float32) for b in boxes], "id": [str(i) for i in range(len(boxes))]}


def test_center_gaussian_values_by_hand():
    g = center_gaussian(torch.zeros(2, 3, 4, 4), width=0.25)
    assert g.shape == (2, 4, 4)
    # pixel (0, 0): centre (0.5, 0.5), image centre (2, 2), sigma = 0.25 * 4 = 1 -> dx = dy = -1.5
    assert g[0, 0, 0].item() == pytest.approx(math.exp(-0.5 * (1.5**2 + 1.5**2)), rel=1e-6)
    assert g[1, 1, 2].item() == pytest.approx(math.exp(-0.5 * (0.5**2 + 0.5**2)), rel=1e-6)
    assert torch.equal(g, g.flip(-1)) and torch.equal(g, g.flip(-2))
    # a 4 x 8 image: sigma is a fraction of each side
    g = center_gaussian(torch.zeros(1, 1, 4, 8), width=0.5)
    assert g[0, 0, 0].item() == pytest.approx(math.exp(-0.5 * ((3.5 / 4) ** 2 + (1.5 / 2) ** 2)), rel=1e-6)


def test_full_image_and_intensity_maps():
    f = full_image(torch.zeros(1, 3, 3, 5))
    assert f[0, 0, 0] == 0 and f.sum() == 14
    x = torch.arange(24, dtype=torch.float32).view(1, 2, 3, 4)
    assert torch.equal(image_intensity(x), (x[:, 0] + x[:, 1]) / 2)


@pytest.mark.parametrize("bad", [0, -0.1, float("nan"), True])
def test_center_gaussian_refuses_a_bad_width(bad):
    with pytest.raises(ValueError, match="width must be a positive number"):
        center_gaussian(torch.zeros(1, 1, 4, 4), width=bad)


def test_baseline_names_are_checked():
    with pytest.raises(ValueError, match=r"^baselines: unknown baseline 'centre'"):
        baseline_variants(["centre"])
    assert [v.name for v in baseline_variants(BASELINES)] == list(BASELINES)


def test_full_image_scores_the_share_of_boxes_covering_enough_of_the_image():
    # 32 x 32 images; the full-image box's IoU with a GT box is the box's share of the image
    boxes = [(8, 8, 24, 24),   # 256 / 1024 = 0.25
             (4, 4, 28, 28),   # 576 / 1024 = 0.5625
             (0, 8, 32, 32),   # 768 / 1024 = 0.75
             (2, 0, 30, 32)]   # 896 / 1024 = 0.875
    images = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    out = evaluate(Pixels(), [_batch(images, boxes)], variants=baseline_variants(["full_image"]),
                   thresholds=0.2, max_box_acc=True, progress=False)
    r = out["methods"]["full_image"]
    shares = [0.25, 0.5625, 0.75, 0.875]
    expect = {d: 100.0 * sum(s >= d / 100 for s in shares) / 4 for d in (30, 50, 70)}
    assert r["gt_known_loc"] == 75.0  # IoU >= 0.5: three of four
    assert r["max_box_acc"] == pytest.approx(expect)
    assert r["max_box_acc_v2"] == pytest.approx((75 + 75 + 50) / 3)


def test_center_gaussian_and_intensity_boxes_by_construction():
    # a bright 8 x 8 square at the centre of a dark 32 x 32 image
    images = torch.zeros(2, 1, 32, 32)
    images[:, :, 12:20, 12:20] = 1.0
    boxes = [(12, 12, 20, 20)] * 2
    variants = [*baseline_variants(["image_intensity"]), Variant("g", "center_gaussian", 1, width=0.1)]
    out = evaluate(Pixels(), [_batch(images, boxes)], variants=variants, thresholds=0.5, progress=False)
    assert out["methods"]["image_intensity"]["gt_known_loc"] == 100.0
    # the Gaussian of sigma 3.2 px above half its peak: |d| <= 3.2 * sqrt(2 ln 2) = 3.77 px around 16:
    # pixel centres 12.5 .. 19.5, the box (12, 12, 20, 20)
    assert out["methods"]["g"]["gt_known_loc"] == 100.0
