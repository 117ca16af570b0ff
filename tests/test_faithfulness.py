"""Deletion / insertion, Average Drop / Increase and ROAD: hand values, other tools, properties, errors."""

from contextlib import nullcontext
from functools import partial

import numpy as np
import pytest
import torch
from torch import nn

from infocam.faithfulness import (
    baseline_images,
    confidence_change,
    deletion_insertion,
    noisy_linear_impute,
    pixel_ranks,
    reference_curve,
    road,
    step_counts,
)
from infocam.maps import normalize_maps

# A fixed linear model on a 4 x 4 one-channel image: logit 0 = sum_ij A_ij x_ij,
# logit 1 = 0, so the class-0 softmax probability is sigmoid(logit 0). On the
# all-ones image the true per-pixel contribution of pixel (i, j) is A_ij.
A = torch.arange(1.0, 17.0).view(4, 4)
ONES = torch.ones(1, 1, 4, 4)


class Linear4x4(nn.Module):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("a", A * scale)

    def forward(self, x):
        z = (x * self.a).flatten(1).sum(1, keepdim=True)
        return torch.cat([z, torch.zeros_like(z)], dim=1)


def test_step_counts_are_equal_chunks():
    assert step_counts(16, 4).tolist() == [0, 4, 8, 12, 16]
    assert step_counts(16, 16).tolist() == list(range(17))
    assert step_counts(16, 3).tolist() == [0, 5, 10, 16]  # floor(i * 16 / 3)


def test_deletion_and_insertion_of_the_linear_model_by_hand():
    # Ranked by A: the top 4 pixels hold 16+15+14+13 = 58, the top 8 100, the top 12 126, all 136.
    c = deletion_insertion(Linear4x4(), ONES, A[None], 0, steps=4, score="logit", insertion_baseline="zeros")
    assert c.fractions.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert c.deletion.tolist() == [[136.0, 78.0, 36.0, 10.0, 0.0]]
    assert c.insertion.tolist() == [[0.0, 58.0, 100.0, 126.0, 136.0]]
    # trapezoid: 0.25 * (136/2 + 78 + 36 + 10 + 0/2) = 48; 0.25 * (0 + 58 + 100 + 126 + 136/2) = 88
    assert c.deletion_auc.tolist() == [48.0]
    assert c.insertion_auc.tolist() == [88.0]


def test_deletion_probabilities_of_the_linear_model_by_hand():
    # logits 13.6, 7.8, 3.6, 1.0, 0 -> sigmoid
    c = deletion_insertion(Linear4x4(0.1), ONES, A[None], 0, steps=4)
    expected = [0.9999987595064589, 0.9995904328350139, 0.973403006423134, 0.7310585786300049, 0.5]
    assert torch.allclose(c.deletion[0].double(), torch.tensor(expected, dtype=torch.float64), atol=1e-6)
    assert c.deletion_auc.item() == pytest.approx(0.8635128494103456, abs=1e-6)


def test_uneven_steps_by_hand():
    # steps=3 on 16 pixels: 0, 5, 10, 16 removed -> 136, 136-70, 136-115, 0
    c = deletion_insertion(Linear4x4(), ONES, A[None], 0, steps=3, score="logit")
    assert c.deletion.tolist() == [[136.0, 66.0, 21.0, 0.0]]
    # (5/16)(136+66)/2 + (5/16)(66+21)/2 + (6/16)(21+0)/2
    assert c.deletion_auc.item() == pytest.approx(49.09375)


def test_map_resolution_is_resized_to_the_input():
    # a 2 x 2 map whose bottom-right cell is highest ranks the bottom-right pixels first
    small = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])
    ranks = pixel_ranks(small, (4, 4))[0].view(4, 4)
    assert ranks[3, 3] < ranks[0, 0]
    assert sorted(ranks.flatten().tolist()) == list(range(16))


def test_ties_go_to_the_lower_pixel_index():
    assert pixel_ranks(torch.zeros(1, 2, 2), (2, 2)).tolist() == [[0, 1, 2, 3]]


def test_blur_baseline_matches_an_independent_convolution():
    from scipy.ndimage import correlate

    g = torch.Generator().manual_seed(3)
    img = torch.randn(2, 3, 9, 7, generator=g, dtype=torch.float64)
    x = np.arange(11) - 5.0
    k1 = np.exp(-(x**2) / 50.0)  # sigma 5
    k = np.outer(k1, k1) / np.outer(k1, k1).sum()
    ours = baseline_images(img, "blur").numpy()
    for b in range(2):
        for c in range(3):
            ref = correlate(img[b, c].numpy(), k, mode="constant", cval=0.0)
            assert np.allclose(ours[b, c], ref, atol=1e-6)


def test_mean_and_zero_baselines():
    img = torch.tensor([[[[1.0, 3.0], [5.0, 7.0]], [[0.0, 0.0], [0.0, 8.0]]]])
    assert baseline_images(img, "mean").tolist() == [[[[4.0, 4.0], [4.0, 4.0]], [[2.0, 2.0], [2.0, 2.0]]]]
    assert baseline_images(img, "zeros").abs().sum().item() == 0.0


def test_confidence_change_of_the_linear_model_by_hand():
    # normalised map (A - 1) / 15; masked logit 0.1 * sum A (A - 1) / 15 = 0.1 * 1360 / 15
    out = confidence_change(Linear4x4(0.1), ONES, A[None], 0)
    assert out["score"].item() == pytest.approx(0.9999987595064589, abs=1e-6)
    assert out["masked_score"].item() == pytest.approx(0.9998845625935888, abs=1e-6)
    assert out["drop"].item() == pytest.approx(0.00011419705453077672, abs=1e-6)
    assert out["increase"].item() == 0.0
    # a map that keeps the negative-weight pixels only raises the score
    neg = Linear4x4(-0.1)
    out = confidence_change(neg, ONES, -A[None], 0)
    assert out["drop"].item() == 0.0 and out["increase"].item() == 1.0


# ---------------------------------------------------------------------------
# A small CNN for the batched-vs-plain and cross-tool checks


def small_cnn(seed: int = 0, classes: int = 5) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Dropout(0.5),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, classes),
    )


def batch(seed: int = 1, b: int = 3, side: int = 8):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(b, 3, side, side, generator=g)
    maps = torch.rand(b, side, side, generator=g)
    targets = torch.tensor([0, 3, 4, 1, 2][:b])
    return images, maps, targets


@pytest.mark.parametrize("baselines", [("zeros", "blur"), ("mean", "mean"), ("blur", "zeros")])
def test_batched_curves_equal_the_one_pass_per_step_reference(baselines):
    model = small_cnn().eval()
    images, maps, targets = batch()
    c = deletion_insertion(model, images, maps, targets, steps=8, deletion_baseline=baselines[0],
                           insertion_baseline=baselines[1], batch_size=7)
    ref_d = reference_curve(model, images, maps, targets, kind="deletion", steps=8, baseline=baselines[0])
    ref_i = reference_curve(model, images, maps, targets, kind="insertion", steps=8, baseline=baselines[1])
    assert torch.allclose(c.deletion, ref_d, atol=1e-6)
    assert torch.allclose(c.insertion, ref_i, atol=1e-6)


def test_model_modes_are_restored_and_eval_mode_is_used():
    model = small_cnn()
    model.train()
    model[1].eval()  # a mixed state must come back as it was
    images, maps, targets = batch()
    c = deletion_insertion(model, images, maps, targets, steps=4)
    cc = confidence_change(model, images, maps, targets)
    r = road(model, images, maps, targets, fractions=[0.5])
    assert model.training and not model[1].training and model[3].training
    ev = small_cnn().eval()
    assert torch.allclose(c.deletion, deletion_insertion(ev, images, maps, targets, steps=4).deletion)
    assert torch.allclose(cc["drop"], confidence_change(ev, images, maps, targets)["drop"])
    assert torch.allclose(r, road(ev, images, maps, targets, fractions=[0.5]))


def test_any_callable_model():
    model = small_cnn().eval()
    images, maps, targets = batch()
    c = deletion_insertion(lambda x: model(x), images, maps, targets, steps=4)
    assert torch.allclose(c.deletion, deletion_insertion(model, images, maps, targets, steps=4).deletion)


# ---------------------------------------------------------------------------
# Properties


def test_true_contribution_beats_random_maps_on_deletion():
    # For a linear model and the zero baseline, removing the largest
    # contributions first is optimal at every step: no map can do better.
    g = torch.Generator().manual_seed(5)
    w = torch.randn(1, 3, 6, 6, generator=g)

    def model(x):
        z = (x * w).flatten(1).sum(1, keepdim=True)
        return torch.cat([z, -z], dim=1)

    images = torch.randn(4, 3, 6, 6, generator=g)
    true_map = (images * w).sum(1)
    ours = deletion_insertion(model, images, true_map, 0, steps=12)
    for _ in range(10):
        rnd = deletion_insertion(model, images, torch.rand(4, 6, 6, generator=g), 0, steps=12)
        assert bool((ours.deletion_auc <= rnd.deletion_auc + 1e-7).all())
        assert bool((ours.deletion <= rnd.deletion + 1e-7).all())
    assert float(ours.deletion_auc.mean()) < float(rnd.deletion_auc.mean()) - 0.05


@pytest.mark.parametrize("scale", [0.25, 3.0, 1e4])
def test_invariant_to_a_positive_scaling_of_the_map(scale):
    model = small_cnn().eval()
    images, maps, targets = batch()
    small = maps[:, ::2, ::2].contiguous()  # the resize path too
    for m in (maps, small):
        a = deletion_insertion(model, images, m, targets, steps=6)
        b = deletion_insertion(model, images, m * scale, targets, steps=6)
        assert torch.equal(a.deletion, b.deletion) and torch.equal(a.insertion, b.insertion)
        ca, cb = confidence_change(model, images, m, targets), confidence_change(model, images, m * scale, targets)
        assert torch.allclose(ca["drop"], cb["drop"], atol=1e-6)
        assert torch.equal(road(model, images, m, targets, fractions=[0.3]),
                           road(model, images, m * scale, targets, fractions=[0.3]))


def test_road_is_deterministic_under_its_seed():
    model = small_cnn().eval()
    images, maps, targets = batch()
    a = road(model, images, maps, targets, fractions=[0.2, 0.6], seed=3)
    assert torch.equal(a, road(model, images, maps, targets, fractions=[0.2, 0.6], seed=3))
    assert not torch.equal(a, road(model, images, maps, targets, fractions=[0.2, 0.6], seed=4))
    assert a.shape == (3, 2)


def test_imputation_keeps_the_known_pixels_and_solves_the_mean_rule():
    g = torch.Generator().manual_seed(2)
    img = torch.randn(1, 1, 5, 5, generator=g, dtype=torch.float64)
    removed = torch.zeros(1, 5, 5, dtype=torch.bool)
    removed[0, 2, 2] = True
    out = noisy_linear_impute(img, removed, noise=0.0)
    k = torch.tensor([[1, 2, 1], [2, 0, 2], [1, 2, 1]], dtype=torch.float64) / 12
    assert out[0, 0, 2, 2].item() == pytest.approx(float((img[0, 0, 1:4, 1:4] * k).sum()), abs=1e-9)
    keep = ~removed[0]
    assert torch.equal(out[0, 0][keep], img[0, 0][keep])


# ---------------------------------------------------------------------------
# Agreement with torch-cam and pytorch-grad-cam


class FixedMaps:
    """A torch-cam CAM extractor stand-in that returns given maps (so both tools rank the same map)."""

    def __init__(self, model, maps):
        self.model, self.maps = model, maps

    def __call__(self, class_idx=None, scores=None, normalized=True, **kw):
        return [self.maps]

    def fuse_cams(self, cams):
        return cams[0]

    def _hooks_off(self):
        return nullcontext()


def test_agrees_with_torchcam_deletion_insertion_on_equal_steps():
    metrics = pytest.importorskip("torchcam.metrics")
    if not hasattr(metrics, "DeletionInsertionMetric"):
        pytest.skip("this torch-cam has no DeletionInsertionMetric")
    model = small_cnn().eval()
    images, maps, targets = batch(side=8)
    for base in ("zeros", "blur"):
        tc = metrics.DeletionInsertionMetric(
            FixedMaps(model, maps), partial(torch.softmax, dim=-1), steps=16,
            baseline=None if base == "zeros" else (lambda x: baseline_images(x, "blur")),
        )
        tc.update(images, targets.tolist())
        ours = deletion_insertion(model, images, maps, targets, steps=16, deletion_baseline=base,
                                  insertion_baseline=base)
        s = tc.summary()
        assert s["deletion_auc"] == pytest.approx(float(ours.deletion_auc.mean()), abs=1e-5)
        assert s["insertion_auc"] == pytest.approx(float(ours.insertion_auc.mean()), abs=1e-5)


def test_torchcam_chunks_differ_when_steps_do_not_divide_the_pixels():
    # torch-cam perturbs ceil(n / steps) pixels per step (0, 6, 12, 16 of 16 for
    # steps=3); we perturb floor(i n / steps) (0, 5, 10, 16): docs/conventions.md.
    metrics = pytest.importorskip("torchcam.metrics")
    if not hasattr(metrics, "DeletionInsertionMetric"):
        pytest.skip("this torch-cam has no DeletionInsertionMetric")
    model = Linear4x4().eval()
    tc = metrics.DeletionInsertionMetric(FixedMaps(model, A[None]), None, steps=3)
    tc.update(ONES, [0])
    # 136, 136-81, 136-126, 0 at fractions 0, 3/8, 3/4, 1
    assert tc.summary()["deletion_auc"] == pytest.approx(49.25)
    ours = deletion_insertion(model, ONES, A[None], 0, steps=3, score="logit")
    assert ours.deletion_auc.item() == pytest.approx(49.09375)


def test_agrees_with_torchcam_average_drop_and_increase():
    metrics = pytest.importorskip("torchcam.metrics")
    model = small_cnn().eval()
    images, maps, targets = batch(b=5)
    tc = metrics.ClassificationMetric(FixedMaps(model, normalize_maps(maps)), partial(torch.softmax, dim=-1))
    tc.update(images, targets.tolist())
    ours = confidence_change(model, images, maps, targets)
    s = tc.summary()
    assert s["avg_drop"] == pytest.approx(float(ours["drop"].mean()), abs=1e-5)
    assert s["conf_increase"] * 5 == int(ours["increase"].sum())


def test_gradcam_drop_in_confidence_is_absolute_not_relative():
    # pytorch-grad-cam's DropInConfidence is max(0, Y - O); Grad-CAM++'s Average
    # Drop (ours, torch-cam's) divides by Y: docs/conventions.md.
    pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.metrics.cam_mult_image import DropInConfidence, IncreaseInConfidence
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    model = small_cnn().eval()
    images, maps, targets = batch(b=5)
    cams = normalize_maps(maps).numpy()
    tg = [ClassifierOutputSoftmaxTarget(int(t)) for t in targets]
    theirs = DropInConfidence()(images, cams, tg, model)
    up = IncreaseInConfidence()(images, cams, tg, model)
    ours = confidence_change(model, images, maps, targets)
    assert np.allclose(theirs, (ours["drop"] * ours["score"]).numpy(), atol=1e-6)
    assert np.array_equal(up, ours["increase"].numpy())


def test_imputation_agrees_with_gradcam_sparse_solve():
    pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer

    g = torch.Generator().manual_seed(4)
    img = torch.randn(2, 3, 12, 10, generator=g)
    removed = torch.rand(2, 12, 10, generator=g) < 0.7
    ours = noisy_linear_impute(img, removed, noise=0.0)
    for b in range(2):
        ref = NoisyLinearImputer(noise=0.0)(img[b], (~removed[b]).float())
        assert torch.allclose(ours[b], ref, atol=1e-5)


@pytest.mark.parametrize(("order", "percentile", "fraction"), [("morf", 75, 0.25), ("lerf", 25, 0.75)])
def test_road_agrees_with_gradcam_without_noise(order, percentile, fraction):
    # grad-cam keeps the pixels below the map's p-th percentile (MoRF) and
    # removes the rest: on 64 distinct values p=75 removes the top 16 = 25%.
    pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.metrics.perturbation_confidence import (
        PerturbationConfidenceMetric,
        RemoveLeastRelevantFirst,
        RemoveMostRelevantFirst,
    )
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    model = small_cnn().eval()
    images, maps, targets = batch(b=3, side=8)
    remove = RemoveMostRelevantFirst if order == "morf" else RemoveLeastRelevantFirst
    metric = PerturbationConfidenceMetric(remove(percentile, NoisyLinearImputer(noise=0.0)))
    tg = [ClassifierOutputSoftmaxTarget(int(t)) for t in targets]
    theirs = metric(images, maps.numpy(), tg, model, return_diff=False)
    ours = road(model, images, maps, targets, fractions=[fraction], order=order, noise=0.0)
    assert np.allclose(theirs, ours[:, 0].numpy(), atol=1e-5)


# ---------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"maps": torch.rand(4, 4)}, "maps must be a 3-D tensor"),
        ({"maps": torch.rand(2, 4, 4)}, "maps must be a 3-D tensor .* B=1"),
        ({"maps": torch.full((1, 4, 4), float("nan"))}, "maps hold NaN"),
        ({"maps": torch.tensor([[[float("inf")] * 4] * 4])}, "maps hold NaN or infinite"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"steps": 2.5}, "steps must be an integer >= 1"),
        ({"deletion_baseline": "noise"}, "deletion_baseline must be one of"),
        ({"insertion_baseline": "black"}, "insertion_baseline must be one of"),
        ({"score": "prob"}, "score must be one of"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"targets": 2}, r"targets must lie in \[0, 1\]"),
        ({"targets": torch.tensor([0.0])}, "targets must be a .* tensor of class indices"),
        ({"images": torch.ones(4, 4)}, "images must be a 4-D"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    args = {"images": ONES, "maps": A[None], "targets": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        deletion_insertion(Linear4x4(), args.pop("images"), args.pop("maps"), args.pop("targets"), **args)


def test_bad_input_of_the_other_metrics():
    with pytest.raises(ValueError, match="maps hold NaN"):
        confidence_change(Linear4x4(), ONES, torch.full((1, 4, 4), float("nan")), 0)
    with pytest.raises(ValueError, match="baseline must be one of"):
        baseline_images(ONES, "gray")
    with pytest.raises(ValueError, match="fractions must be"):
        road(Linear4x4(), ONES, A[None], 0, fractions=[1.0])
    with pytest.raises(ValueError, match="order must be one of"):
        road(Linear4x4(), ONES, A[None], 0, order="both")
    with pytest.raises(ValueError, match="removed must leave at least one pixel"):
        noisy_linear_impute(ONES, torch.ones(1, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="removed must be a"):
        noisy_linear_impute(ONES, torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="model must return"):
        deletion_insertion(lambda x: x.sum(), ONES, A[None], 0, steps=2)
    with pytest.raises(ValueError, match="kind must be one of"):
        reference_curve(Linear4x4(), ONES, A[None], 0, kind="both")


def test_meter_means_over_batches_and_its_counts_round_trip():
    from infocam.faithfulness import FaithfulnessMeter

    model = small_cnn().eval()
    images, maps, targets = batch(b=5)
    meter = FaithfulnessMeter(steps=4)
    meter.update(model, images[:2], maps[:2], targets[:2])
    meter.update(model, images[2:], maps[2:], targets[2:])
    whole = deletion_insertion(model, images, maps, targets, steps=4)
    out = meter.compute()
    assert out["count"] == 5
    assert out["deletion_auc"] == pytest.approx(float(whole.deletion_auc.mean()), abs=1e-6)
    assert out["insertion_curve"] == pytest.approx(whole.insertion.mean(0).tolist(), abs=1e-6)
    twin = FaithfulnessMeter(steps=4)
    twin.load_counts(meter.to_tensor() * 2)  # e.g. two ranks with the same images
    assert twin.compute()["deletion_auc"] == pytest.approx(out["deletion_auc"]) and twin.compute()["count"] == 10
    with pytest.raises(ValueError, match="counts must hold 15 values"):
        twin.load_counts(torch.zeros(3))
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        FaithfulnessMeter(steps=0)
