"""Exact values of CAM / infoCAM / infoCAM+ on hand-checkable inputs."""

import pytest
import torch

from infocam import cam_maps, normalize_maps, region_sum

# B=1, K=2, 2x2 maps; M=3 classes.
F0 = [[1.0, 2.0], [3.0, 4.0]]
F1 = [[0.0, 1.0], [1.0, 0.0]]
FEATS = torch.tensor([[F0, F1]])
W = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


def t(x):
    return torch.tensor(x)


def test_cam_is_weighted_sum_of_features():
    out = cam_maps(FEATS, W, t([0]), method="cam")
    assert torch.equal(out, t([[[1.0, 2.0], [3.0, 4.0]]]))
    out2 = cam_maps(FEATS, W, t([2]), method="cam")  # F0 + F1
    assert torch.equal(out2, t([[[1.0, 3.0], [4.0, 4.0]]]))


def test_infocam_subtracts_mean_of_other_classes():
    # v = W0 - (W1 + W2) / 2 = [0.5, -1] -> 0.5*F0 - F1
    out = cam_maps(FEATS, W, t([0]), method="infocam")
    assert torch.allclose(out, t([[[0.5, 0.0], [0.5, 2.0]]]))


def test_infocam_plus_uses_least_likely_pooled_logit():
    # pooled: F0 mean 2.5, F1 mean 0.5 -> logits [2.5, 0.5, 3.0], argmin 1 -> F0 - F1
    out = cam_maps(FEATS, W, t([0]), method="infocam+")
    assert torch.equal(out, t([[[1.0, 1.0], [2.0, 4.0]]]))


def test_infocam_plus_uses_given_logits():
    # argmin of the given logits is class 2 -> W0 - W2 = [0, -1] -> -F1
    out = cam_maps(FEATS, W, t([0]), method="infocam+", logits=t([[0.0, 0.0, -1.0]]))
    assert torch.equal(out, t([[[0.0, -1.0], [-1.0, 0.0]]]))


def test_region_same_even_window_extra_cell_above_left():
    out = cam_maps(FEATS, W, t([0]), region=2)
    assert torch.equal(out, t([[[1.0, 3.0], [4.0, 10.0]]]))


def test_region_full_matches_reference_alignment():
    out = cam_maps(FEATS, W, t([0]), region=2, padding="full")
    assert torch.equal(out, t([[[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]]))


def test_region_same_odd_window_centred():
    m = t([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
    out = region_sum(m, 3)
    assert torch.equal(out, t([[[12.0, 21.0, 16.0], [27.0, 45.0, 33.0], [24.0, 39.0, 28.0]]]))
    assert torch.equal(region_sum(m, 1), m)


def test_region_full_equals_all_ones_convolution():
    g = torch.Generator().manual_seed(0)
    m = torch.randn(3, 5, 6, generator=g, dtype=torch.float64)
    for r in (2, 3, 4, 5):
        ref = torch.nn.functional.conv2d(m[:, None], torch.ones(1, 1, r, r, dtype=torch.float64), padding=r - 1)[:, 0]
        assert torch.allclose(region_sum(m, r, "full"), ref)
        # "same" is the centred crop of "full": rows (R-1) - R//2 onward
        off = (r - 1) - r // 2
        assert torch.allclose(region_sum(m, r, "same"), ref[:, off:off + 5, off:off + 6])


def test_infocam_infocam_plus_equal_slow_definitions_on_random_inputs():
    g = torch.Generator().manual_seed(1)
    b, k, m = 4, 7, 6
    feats = torch.randn(b, k, 5, 5, generator=g, dtype=torch.float64)
    w = torch.randn(m, k, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 3, 5, 3])
    logits = torch.randn(b, m, generator=g, dtype=torch.float64)
    per_class = torch.stack([cam_maps(feats, w, c) for c in range(m)], dim=1)  # (B, M, h, w)
    for i in range(b):
        others = [per_class[i, c] for c in range(m) if c != int(y[i])]
        slow_info = per_class[i, y[i]] - torch.stack(others).mean(0)
        slow_plus = per_class[i, y[i]] - per_class[i, logits[i].argmin()]
        assert torch.allclose(cam_maps(feats, w, y, method="infocam")[i], slow_info)
        assert torch.allclose(cam_maps(feats, w, y, method="infocam+", logits=logits)[i], slow_plus)
    # the region sum commutes with the subtraction
    for r in (3, 4):
        slow = region_sum(cam_maps(feats, w, y, method="infocam"), r)
        assert torch.allclose(cam_maps(feats, w, y, method="infocam", region=r), slow)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_low_precision_inputs_keep_dtype_and_values(dtype):
    out = cam_maps(FEATS.to(dtype), W.to(dtype), t([0]), method="infocam", region=2)
    assert out.dtype == dtype and out.shape == (1, 2, 2)
    ref = cam_maps(FEATS, W, t([0]), method="infocam", region=2)
    assert torch.allclose(out.float(), ref, atol=0.05)


def test_differentiable_with_respect_to_features():
    feats = FEATS.clone().requires_grad_(True)
    cam_maps(feats, W, t([0]), method="infocam").sum().backward()
    # d(sum map)/dF_k = v_k everywhere: v = [0.5, -1]
    assert torch.allclose(feats.grad[0, 0], torch.full((2, 2), 0.5))
    assert torch.allclose(feats.grad[0, 1], torch.full((2, 2), -1.0))


def test_int_target_broadcasts():
    feats = FEATS.repeat(2, 1, 1, 1)
    assert torch.equal(cam_maps(feats, W, 1), feats[:, 1])


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"features": torch.zeros(2, 3, 4)}, "features"),
        ({"fc_weight": torch.zeros(3, 5)}, "fc_weight"),
        ({"targets": t([3])}, "targets"),
        ({"targets": t([-1])}, "targets"),
        ({"targets": t([0, 1])}, "targets"),
        ({"targets": t([0.0])}, "targets"),
        ({"method": "gradcam"}, "method"),
        ({"region": 0}, "region"),
        ({"region": 2.0}, "region"),
        ({"padding": "valid"}, "padding"),
        ({"logits": torch.zeros(1, 4)}, "logits"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, word):
    args = {"features": FEATS, "fc_weight": W, "targets": t([0])}
    args.update({k: v for k, v in kwargs.items() if k in args})
    opts = {k: v for k, v in kwargs.items() if k not in args}
    with pytest.raises(ValueError, match=word):
        cam_maps(args["features"], args["fc_weight"], args["targets"], **opts)


def test_infocam_needs_two_classes():
    with pytest.raises(ValueError, match="at least 2 classes"):
        cam_maps(FEATS, W[:1], t([0]), method="infocam")


def test_normalize_maps_min_max_constant_and_nan():
    m = t([[[1.0, 3.0], [5.0, 9.0]], [[2.0, 2.0], [2.0, 2.0]], [[1.0, float("nan")], [0.0, 2.0]]])
    out = normalize_maps(m)
    assert torch.allclose(out[0], t([[0.0, 0.25], [0.5, 1.0]]))
    assert torch.equal(out[1], torch.zeros(2, 2))
    assert torch.equal(out[2], torch.zeros(2, 2))
