"""CAMExtractor on models nobody here wrote, and its hygiene."""

import pytest
import torch
import torchvision
from torch import nn

from infocam import cam_maps
from infocam.extract import CAMExtractor


def _hook_count(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()
    )


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10)


def test_resnet18_maps_equal_cam_maps_on_hooked_features(resnet18):
    x = torch.randn(2, 3, 64, 64)
    feats = {}
    h = resnet18.layer4.register_forward_hook(lambda m, a, o: feats.setdefault("f", o))
    resnet18.eval()
    with torch.no_grad():
        logits = resnet18(x)
    h.remove()
    resnet18.train()
    y = torch.tensor([3, 7])
    with CAMExtractor(resnet18) as ex:
        out = ex(x, methods=("cam", "infocam", "infocam+"), targets=y, region=2)
    assert ex.feature_layer_name == "layer4" and ex.fc_layer_name == "fc"
    assert torch.allclose(out.logits, logits, atol=1e-5)
    for m in ("cam", "infocam", "infocam+"):
        ref = cam_maps(feats["f"], resnet18.fc.weight, y, method=m, region=2, logits=logits)
        assert torch.allclose(out.maps[m], ref, atol=1e-5), m
    assert out.maps["cam"].shape == (2, 2, 2)
    # the mode is restored and no hook remains
    assert resnet18.training
    assert _hook_count(resnet18) == 0


def test_default_target_is_top1(resnet18):
    x = torch.randn(3, 3, 32, 32)
    with CAMExtractor(resnet18) as ex:
        out = ex(x)
    assert torch.equal(out.targets, out.logits.argmax(1))


def test_hooks_removed_and_mode_restored_after_exception():
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.fc = nn.Linear(4, 2)
            self.explode = False

        def forward(self, x):
            f = torch.relu(self.conv(x))
            if self.explode:
                raise RuntimeError("boom")
            return self.fc(f.mean((2, 3)))

    model = Boom()
    model.conv.eval()  # mixed modes must come back exactly
    ex = CAMExtractor(model)
    ex(torch.randn(1, 3, 8, 8))  # locate layers
    model.explode = True
    with pytest.raises(RuntimeError, match="boom"):
        ex(torch.randn(1, 3, 8, 8))
    assert model.training and not model.conv.training
    assert _hook_count(model) == 0
    model.explode = False
    with pytest.raises(RuntimeError, match="boom"), CAMExtractor(model) as ex2:
        model.explode = True
        ex2(torch.randn(1, 3, 8, 8))
    assert _hook_count(model) == 0 and model.training


def test_vgg16_head_is_refused_with_what_was_found():
    model = torchvision.models.vgg11(num_classes=5)
    with pytest.raises(ValueError, match=r"classifier\.6.*not a GAP \+ linear head"):
        CAMExtractor(model)(torch.randn(1, 3, 32, 32))
    assert _hook_count(model) == 0


def test_flatten_head_is_refused():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
    with pytest.raises(ValueError, match="not a GAP"):
        CAMExtractor(model)(torch.randn(2, 3, 8, 8))


def test_output_after_linear_is_refused():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3), nn.Softmax(1)
    )
    with pytest.raises(ValueError, match="followed by"):
        CAMExtractor(model)(torch.randn(2, 3, 8, 8))


@pytest.mark.parametrize("name", ["efficientnet_b0", "mobilenet_v2", "regnet_y_400mf", "densenet121"])
def test_torchvision_models_found(name):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(num_classes=7)
    with CAMExtractor(model) as ex:
        out = ex(torch.randn(1, 3, 64, 64), methods=("cam", "infocam"))
    # the map of the predicted class sums to its logit minus the bias (eq. 2 of the paper)
    fc = ex.fc
    y = out.targets
    h, w = out.maps["cam"].shape[1:]
    total = out.maps["cam"].sum((1, 2)) / (h * w) + fc.bias[y]
    assert torch.allclose(total, out.logits.gather(1, y[:, None])[:, 0], atol=1e-4)
    assert _hook_count(model) == 0


def test_functional_relu_before_pooling_is_followed():
    # torchvision's DenseNet applies F.relu in forward(): no module outputs the pooled map.
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3)

    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = conv, nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).mean((2, 3)))

    model = Functional()
    x = torch.randn(2, 3, 9, 9)
    with CAMExtractor(model) as ex:
        out = ex(x, targets=torch.tensor([0, 2]))
    assert ex.feature_layer_name == "conv" and ex.feature_post == "relu"
    ref = cam_maps(torch.relu(conv(x)), model.fc.weight, torch.tensor([0, 2]))
    assert torch.allclose(out.maps["cam"], ref, atol=1e-6)


def test_mobilenet_v3_two_linear_head_refused():
    model = torchvision.models.mobilenet_v3_small(num_classes=4)
    with pytest.raises(ValueError, match="not a GAP"):
        CAMExtractor(model)(torch.randn(1, 3, 32, 32))


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_b0", "regnetx_002"])
def test_timm_models(name):
    timm = pytest.importorskip("timm")
    model = timm.create_model(name, pretrained=False, num_classes=6)
    with CAMExtractor(model) as ex:
        out = ex(torch.randn(2, 3, 64, 64), methods=("cam", "infocam+"))
    y = out.targets
    hw = out.maps["cam"].shape[1] * out.maps["cam"].shape[2]
    total = out.maps["cam"].sum((1, 2)) / hw + ex.fc.bias[y]
    assert torch.allclose(total, out.logits.gather(1, y[:, None])[:, 0], atol=1e-4)
    assert _hook_count(model) == 0


def test_explicit_layers_by_name_are_checked(resnet18):
    x = torch.randn(1, 3, 32, 32)
    with CAMExtractor(resnet18, feature_layer="layer4", fc_layer="fc") as ex:
        ex(x)
    with pytest.raises(ValueError, match="feature_layer 'layer3'"):
        CAMExtractor(resnet18, feature_layer="layer3")(x)
    with pytest.raises(ValueError, match="not a sub-module"):
        CAMExtractor(resnet18, feature_layer="nope")(x)


def test_thousand_uses_leave_no_hooks(resnet18):
    small = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    x = torch.randn(1, 1, 6, 6)
    for _ in range(1000):
        with CAMExtractor(small) as ex:
            ex(x, methods="infocam")
    assert _hook_count(small) == 0


class _Tiny(nn.Module):
    """features = ReLU(1x1 conv of one channel into two: x and -x); GAP; linear 2 -> 3, no bias."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1, bias=False)
        self.fc = nn.Linear(2, 3, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
            self.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        f = torch.relu(self.conv(x))
        return self.fc(f.mean((2, 3)))


def test_tiny_fixed_model_gives_the_maps_worked_by_hand():
    # x = [[1, -2], [0, 3]]: features f0 = relu(x) = [[1, 0], [0, 3]], f1 = relu(-x) = [[0, 2], [0, 0]];
    # pooled (1, 0.5); logits W (1, 0.5) = (1, 0.5, 1.5): top-1 class 2, least likely class 1.
    model = _Tiny()
    x = torch.tensor([[[[1.0, -2.0], [0.0, 3.0]]]])
    with CAMExtractor(model) as ex:
        out = ex(x, methods=("cam", "infocam", "infocam+"))
        assert out.logits.tolist() == [[1.0, 0.5, 1.5]]
        assert out.targets.tolist() == [2]
        assert out.maps["cam"].tolist() == [[[1.0, 2.0], [0.0, 3.0]]]  # W[2] = (1, 1): f0 + f1
        assert out.maps["infocam"].tolist() == [[[0.5, 1.0], [0.0, 1.5]]]  # W[2] - mean(W[0], W[1]) = (0.5, 0.5)
        assert out.maps["infocam+"].tolist() == [[[1.0, 0.0], [0.0, 3.0]]]  # W[2] - W[1] = (1, 0): f0
        # R = 2, "same": the window at (i, j) covers rows i-1..i and columns j-1..j
        assert ex(x, region=2).maps["cam"].tolist() == [[[1.0, 3.0], [1.0, 6.0]]]
        assert ex(x, targets=1).maps["cam"].tolist() == [[[0.0, 2.0], [0.0, 0.0]]]  # W[1]: f1
    assert (ex.feature_layer_name, ex.fc_layer_name) == ("conv", "fc")


def test_every_call_is_one_forward_pass_the_first_one_too():
    model = _Tiny()
    x = torch.rand(2, 1, 4, 4)
    ex = CAMExtractor(model)
    first = ex(x, methods=("cam", "infocam"))
    assert model.calls == 1  # the layers were found from the very pass that gave the maps
    again = ex(x, methods=("cam", "infocam"))
    assert model.calls == 2
    assert torch.equal(first.logits, again.logits) and torch.equal(first.maps["infocam"], again.maps["infocam"])
    grad = CAMExtractor(_Tiny())(x, enable_grad=True)  # the first pass with gradients, too
    assert grad.features.requires_grad


def test_with_block_holds_the_hook_until_it_ends_even_on_error():
    model = _Tiny()
    x = torch.rand(1, 1, 4, 4)
    with CAMExtractor(model) as ex:
        assert not ex.hooked and _hook_count(model) == 0  # the layers are not known yet
        ex(x)
        assert ex.hooked and _hook_count(model) == 1  # held for the rest of the block
        ex(x)
        assert _hook_count(model) == 1  # the same hook, not one per call
    assert not ex.hooked and _hook_count(model) == 0
    with pytest.raises(KeyError), ex:  # layers known: the hook is on from the start
        assert ex.hooked and _hook_count(model) == 1
        raise KeyError("the block fails")
    assert not ex.hooked and _hook_count(model) == 0
    ex(x)  # outside a block: a hook for the call only
    assert not ex.hooked and _hook_count(model) == 0
