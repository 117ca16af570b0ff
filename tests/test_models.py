"""Models: VGG16-GAP, ResNet50 (stride-16), SmallCNN, ADL, the registry, weights, param groups.

Random weights only: nothing here touches the network (``pretrained=True`` is
exercised with torchvision's download replaced by a local state dict).
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torchvision
from torch import Tensor, nn

from infocam.errors import InputError
from infocam.models import (
    ADL,
    VGG16GAP,
    ResNet50GAP,
    SmallCNN,
    WeightsWarning,
    build_model,
    list_models,
    load_weights,
    param_groups,
)


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to fetch weights fails loudly instead of touching the network."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def _adl_names(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, ADL)]


def _leaf_trace(model: nn.Module, x: Tensor) -> list[str]:
    """Names of the leaf modules in the order their forward() finished (repeats kept)."""
    trace: list[str] = []
    handles = [
        m.register_forward_hook(lambda mod, args, out, name=name: trace.append(name))
        for name, m in model.named_modules()
        if name and not list(m.children())
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return trace


def _same_params(a: nn.Module, b_state: dict[str, Tensor], prefix: str = "") -> bool:
    return all(torch.equal(v, b_state[prefix + k]) for k, v in a.state_dict().items())


@pytest.fixture(scope="module")
def tv_vgg16_file(tmp_path_factory: pytest.TempPathFactory):
    torch.manual_seed(0)
    state = torchvision.models.vgg16().state_dict()  # random weights, real keys and shapes
    path = tmp_path_factory.mktemp("tv") / "vgg16.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture(scope="module")
def tv_resnet50_file(tmp_path_factory: pytest.TempPathFactory):
    torch.manual_seed(0)
    tv = torchvision.models.resnet50().eval()
    # Non-trivial BatchNorm statistics, so comparisons below mean something.
    for m in tv.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("tv") / "resnet50.pth"
    torch.save(tv.state_dict(), path)
    return path, tv


# ---------------------------------------------------------------------------
# Backbones: feature maps


def test_vgg16_gap_feature_map_is_14x14x1024_at_224() -> None:
    torch.manual_seed(0)
    model = VGG16GAP(num_classes=5).eval()
    with torch.no_grad():
        features = model.forward_features(torch.randn(1, 3, 224, 224))
        logits = model.forward_head(features)
    assert features.shape == (1, 1024, 14, 14)
    assert logits.shape == (1, 5)
    assert features.min() >= 0  # after conv6's ReLU
    # GAP + linear: the logits are fc(spatial mean of the feature map).
    expected = features.mean(dim=(2, 3)) @ model.fc.weight.T + model.fc.bias
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)


def test_vgg16_gap_layout_matches_torchvision_without_pool5() -> None:
    from torchvision.models.vgg import cfgs, make_layers

    model = VGG16GAP(num_classes=3)
    tv_features = make_layers(cfgs["D"])  # torchvision's vgg16().features
    assert len(model.features) == 30 and len(tv_features) == 31
    for mine, theirs in zip(model.features, tv_features):
        assert type(mine) is type(theirs)
        if isinstance(mine, nn.Conv2d):
            assert mine.weight.shape == theirs.weight.shape
            assert (mine.padding, mine.stride) == (theirs.padding, theirs.stride)
    assert (model.conv6.in_channels, model.conv6.out_channels) == (512, 1024)
    assert (model.conv6.kernel_size, model.conv6.padding) == ((3, 3), (1, 1))
    assert isinstance(model.pool, nn.AdaptiveAvgPool2d)
    assert (model.fc.in_features, model.fc.out_features) == (1024, 3)


def test_resnet50_feature_map_is_14x14x2048_at_224() -> None:
    torch.manual_seed(0)
    model = ResNet50GAP(num_classes=4).eval()
    with torch.no_grad():
        features = model.forward_features(torch.randn(1, 3, 224, 224))
        logits = model.forward_head(features)
    assert features.shape == (1, 2048, 14, 14)
    assert logits.shape == (1, 4)
    expected = features.mean(dim=(2, 3)) @ model.fc.weight.T + model.fc.bias
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)


def test_resnet50_layer4_is_stride_1_not_dilation() -> None:
    first = ResNet50GAP(num_classes=2).layer4[0]
    assert first.conv2.stride == (1, 1) and first.conv2.dilation == (1, 1)
    assert first.downsample[0].stride == (1, 1)
    for block in ResNet50GAP(num_classes=2).layer4:
        assert block.conv2.dilation == (1, 1)


def test_resnet50_layer4_block0_is_torchvision_block_without_subsampling(tv_resnet50_file) -> None:
    """Same weights: torchvision's stride-2 layer4[0] output is ours at the even positions,
    and everything up to layer3 is identical."""
    _, tv = tv_resnet50_file
    model = ResNet50GAP(num_classes=1000).eval()
    model.load_state_dict(tv.state_dict(), strict=True)
    torch.manual_seed(1)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        stem = nn.Sequential(tv.conv1, tv.bn1, tv.relu, tv.maxpool, tv.layer1, tv.layer2, tv.layer3)
        x3 = stem(x)
        ours3 = nn.Sequential(
            model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2, model.layer3
        )(x)
        # float64 copies, so different conv algorithms agree to ~1e-12.
        theirs4 = copy.deepcopy(tv.layer4[0]).double()(x3.double())
        ours4 = copy.deepcopy(model.layer4[0]).double()(x3.double())
    assert torch.equal(ours3, x3)
    assert ours4.shape == (1, 2048, 4, 4) and theirs4.shape == (1, 2048, 2, 2)
    torch.testing.assert_close(ours4[..., ::2, ::2], theirs4, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------
# ADL positions


def test_vgg16_gap_adl_positions() -> None:
    model = VGG16GAP(num_classes=3, adl=True)
    assert _adl_names(model) == ["features.16.1", "features.23.1", "features.29.1"]
    assert isinstance(model.features[16][0], nn.MaxPool2d)  # pool3
    assert isinstance(model.features[23][0], nn.MaxPool2d)  # pool4
    assert isinstance(model.features[29][0], nn.ReLU)  # after conv5_3
    assert isinstance(model.features[28], nn.Conv2d) and model.features[28].out_channels == 512
    assert all((m.drop_rate, m.gamma) == (0.75, 0.8) for m in model.modules() if isinstance(m, ADL))
    assert _adl_names(VGG16GAP(num_classes=3)) == []

    # Execution order: pool3 -> ADL, pool4 -> ADL, conv5_3 -> ReLU -> ADL -> conv6.
    trace = _leaf_trace(model.train(), torch.randn(1, 3, 32, 32))
    i = trace.index
    assert i("features.16.1") == i("features.16.0") + 1 and i("features.17") == i("features.16.1") + 1
    assert i("features.23.1") == i("features.23.0") + 1 and i("features.24") == i("features.23.1") + 1
    assert trace[i("features.28") :][:4] == ["features.28", "features.29.0", "features.29.1", "conv6"]
    assert [n for n in trace if isinstance(model.get_submodule(n), nn.MaxPool2d)] == [
        "features.4", "features.9", "features.16.0", "features.23.0",
    ]


def test_resnet50_adl_positions() -> None:
    model = ResNet50GAP(num_classes=3, adl=True)
    assert _adl_names(model) == ["layer3.0.adl", "layer4.0.adl", "layer4.2.adl"]
    assert all((m.drop_rate, m.gamma) == (0.75, 0.9) for m in model.modules() if isinstance(m, ADL))
    assert _adl_names(ResNet50GAP(num_classes=3)) == []

    trace = _leaf_trace(model.train(), torch.randn(1, 3, 32, 32))
    # ADL runs after the block's last ReLU (the residual sum) and before the next block.
    for block, nxt in (("layer3.0", "layer3.1"), ("layer4.0", "layer4.1"), ("layer4.2", "fc")):
        pos = trace.index(f"{block}.adl")
        assert trace[pos - 1] == f"{block}.relu"
        assert trace[pos + 1] in (f"{nxt}.conv1", "avgpool")
        assert f"{block}.bn3" in trace[:pos]


def test_build_model_adl_settings_reach_every_adl() -> None:
    model = build_model("resnet50", 3, adl=True, adl_drop_rate=0.5, adl_gamma=0.7)
    assert [(m.drop_rate, m.gamma) for m in model.modules() if isinstance(m, ADL)] == [(0.5, 0.7)] * 3
    model = build_model("vgg16_gap", 3, adl=True, adl_gamma=0.6)
    assert [(m.drop_rate, m.gamma) for m in model.modules() if isinstance(m, ADL)] == [(0.75, 0.6)] * 3


@pytest.mark.parametrize("cls", [VGG16GAP, ResNet50GAP])
def test_adl_models_equal_plain_models_in_eval(cls) -> None:
    torch.manual_seed(0)
    plain = cls(num_classes=3).eval()
    with_adl = cls(num_classes=3, adl=True).eval()
    with_adl.load_state_dict(plain.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(with_adl(x), plain(x))
        with_adl.train()
        torch.manual_seed(3)
        changed = with_adl.forward_features(x)
    assert not torch.equal(changed, plain.forward_features(x))


# ---------------------------------------------------------------------------
# ADL itself

# Two samples, two channels; channel means (the attention) are
#   sample 0: [[2, 2], [2, 6]]    sample 1: [[0, 2], [10, 0]]
X = torch.tensor(
    [
        [[[1.0, 2.0], [3.0, 4.0]], [[3.0, 2.0], [1.0, 8.0]]],
        [[[0.0, 0.0], [10.0, 0.0]], [[0.0, 4.0], [10.0, 0.0]]],
    ]
)
ATTENTION = torch.tensor([[[[2.0, 2.0], [2.0, 6.0]]], [[[0.0, 2.0], [10.0, 0.0]]]])


def test_adl_is_identity_in_eval_mode() -> None:
    adl = ADL(drop_rate=1.0, gamma=0.5).eval()
    out = adl(X)
    assert out is X and torch.equal(out, X)


@pytest.mark.parametrize(
    ("gamma", "mask"),
    [
        # thresholds 0.5 * max: 3 and 5
        (0.5, [[[1.0, 1.0], [1.0, 0.0]], [[1.0, 1.0], [0.0, 1.0]]]),
        # thresholds 0.2 * max: 1.2 and 2; attention == threshold is dropped (strict <)
        (0.2, [[[0.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]]),
    ],
)
def test_adl_drop_mask_is_attention_below_gamma_times_max_per_sample(gamma, mask) -> None:
    adl = ADL(drop_rate=1.0, gamma=gamma).train()
    expected_mask = torch.tensor(mask).unsqueeze(1)  # (2, 1, 2, 2)
    assert torch.equal(adl(X), X * expected_mask)


def test_adl_importance_map_is_sigmoid_of_channel_mean() -> None:
    adl = ADL(drop_rate=0.0, gamma=0.5).train()
    assert torch.equal(adl(X), X * torch.sigmoid(ATTENTION))


@pytest.mark.parametrize("drop_rate", [0.75, 0.3])
def test_adl_picks_the_drop_mask_with_probability_drop_rate(drop_rate: float) -> None:
    adl = ADL(drop_rate=drop_rate, gamma=0.9).train()
    # Constant attention 1: the drop mask (1 < 0.9) is all zero, the importance map is not.
    x = torch.ones(1, 1, 2, 2)
    torch.manual_seed(0)
    dropped = [bool(adl(x).sum() == 0) for _ in range(2000)]
    assert abs(sum(dropped) / 2000 - drop_rate) <= 0.03
    torch.manual_seed(0)
    assert [bool(adl(x).sum() == 0) for _ in range(50)] == dropped[:50]  # seeding repeats it


def test_adl_one_coin_per_forward_for_the_whole_batch() -> None:
    adl = ADL(drop_rate=0.5, gamma=0.9).train()
    x = torch.ones(8, 4, 3, 3)
    torch.manual_seed(0)
    for _ in range(20):
        zero = (adl(x).flatten(1).sum(1) == 0).tolist()
        assert zero in ([True] * 8, [False] * 8)


@pytest.mark.parametrize(
    "kwargs",
    [{"drop_rate": 1.5}, {"drop_rate": -0.1}, {"gamma": 1.01}, {"gamma": float("nan")},
     {"gamma": True}, {"drop_rate": "0.5"}],
)
def test_adl_rejects_bad_settings(kwargs) -> None:
    name = next(iter(kwargs))
    with pytest.raises(InputError, match=name):
        ADL(**kwargs)


# ---------------------------------------------------------------------------
# SmallCNN


@pytest.mark.parametrize(("in_channels", "size", "map_size"), [(1, 64, 16), (3, 96, 24)])
def test_small_cnn_is_gap_plus_linear(in_channels: int, size: int, map_size: int) -> None:
    torch.manual_seed(0)
    model = SmallCNN(num_classes=10, in_channels=in_channels).eval()
    fc_inputs: list[Tensor] = []
    handle = model.fc.register_forward_hook(lambda m, args, out: fc_inputs.append(args[0]))
    x = torch.randn(2, in_channels, size, size)
    with torch.no_grad():
        features = model.forward_features(x)
        logits = model(x)
    handle.remove()
    assert features.shape == (2, 128, map_size, map_size)
    assert logits.shape == (2, 10)
    torch.testing.assert_close(fc_inputs[0], features.mean(dim=(2, 3)), rtol=0, atol=1e-6)
    torch.testing.assert_close(logits, model.fc(features.mean(dim=(2, 3))), rtol=0, atol=1e-6)


def test_small_cnn_is_small_and_trains() -> None:
    model = SmallCNN(num_classes=10, in_channels=1)
    assert sum(p.numel() for p in model.parameters()) < 300_000
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 4
    torch.manual_seed(0)
    x, y = torch.randn(8, 1, 64, 64), torch.randint(0, 10, (8,))
    opt = torch.optim.SGD(param_groups(model, 0.1), lr=0.1)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model.train()(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert model.eval()(x).shape == (8, 10)


# ---------------------------------------------------------------------------
# Weights: torchvision state dicts


def test_torchvision_vgg16_features_load_strictly(tv_vgg16_file) -> None:
    path, state = tv_vgg16_file
    features_state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    assert len(features_state) == 26  # 13 convs x (weight, bias)
    for adl in (False, True):
        # The torchvision keys fit ``features`` exactly, ADL or not.
        result = VGG16GAP(num_classes=7, adl=adl).features.load_state_dict(features_state, strict=True)
        assert not result.missing_keys and not result.unexpected_keys
    # Through a file: conv6 / fc are reported missing, torchvision's classifier ignored.
    with pytest.warns(WeightsWarning, match=r"conv6\.weight.*classifier\.0\.weight"):
        built = build_model("vgg16_gap", 7, adl=True, weights=path)
    assert _same_params(built.features, state, prefix="features.")
    assert built.fc.out_features == 7


def test_load_weights_reports_what_was_loaded(tv_vgg16_file) -> None:
    _, state = tv_vgg16_file
    report = load_weights(VGG16GAP(num_classes=2), state, source="vgg16 state")
    assert len(report.loaded) == 26
    assert report.head_missing == ["conv6.weight", "conv6.bias", "fc.weight", "fc.bias"]
    assert report.ignored == [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
    assert not report.complete
    assert report.summary().startswith("loaded 26 tensors from vgg16 state; not in the file")


def test_torchvision_resnet50_state_dict_loads(tv_resnet50_file) -> None:
    path, tv = tv_resnet50_file
    state = tv.state_dict()
    for adl in (False, True):
        # 1000 classes: every key, strictly, with or without ADL.
        result = ResNet50GAP(num_classes=1000, adl=adl).load_state_dict(state, strict=True)
        assert not result.missing_keys and not result.unexpected_keys
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete load says nothing
        full = build_model("resnet50", 1000, weights=path)
    assert _same_params(full, state)
    # 200 classes: all but fc load; fc is reported and keeps its initialisation.
    with pytest.warns(WeightsWarning, match=r"other shape.*fc\.weight \[file \(1000, 2048\), model \(200, 2048\)\], fc\.bias"):
        cub = build_model("resnet50", 200, adl=True, weights=path)
    assert all(torch.equal(v, state[k]) for k, v in cub.state_dict().items() if not k.startswith("fc."))
    assert cub.fc.weight.shape == (200, 2048)


def test_weights_that_do_not_fit_raise_input_error(tv_resnet50_file) -> None:
    resnet_path, tv = tv_resnet50_file
    with pytest.raises(InputError, match=r"resnet50\.pth.*features\.0\.weight is missing.*file has keys"):
        build_model("vgg16_gap", 10, weights=resnet_path)
    with pytest.raises(InputError, match=r"conv1\.weight has shape \(64, 3, 7, 7\) in the file, \(64, 1, 7, 7\)"):
        build_model("resnet50", 1000, in_channels=1, weights=resnet_path)
    with pytest.raises(InputError, match=r"'layer4' state.*conv1\.weight is missing"):
        load_weights(ResNet50GAP(num_classes=10), tv.layer4.state_dict(), source="'layer4' state")


def test_weights_file_forms(tmp_path) -> None:
    torch.manual_seed(0)
    source = SmallCNN(num_classes=4, in_channels=1)
    state = source.state_dict()
    checkpoint = tmp_path / "ckpt.pt"
    torch.save({"model": state, "epoch": 3, "best_acc": 0.5}, checkpoint)
    ddp = tmp_path / "ddp.pt"
    torch.save({f"module.{k}": v for k, v in state.items()}, ddp)
    for path in (checkpoint, ddp):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = build_model("small_cnn", 4, in_channels=1, weights=path)
        assert _same_params(model, state)
    # A trained checkpoint with another class count: the head must be there when required.
    with pytest.raises(InputError, match=r"fc\.weight has shape \(4, 128\) in the file, \(5, 128\)"):
        load_weights(SmallCNN(num_classes=5, in_channels=1), checkpoint, require_head=True)


def test_bad_weights_files_raise_input_error(tmp_path) -> None:
    missing = tmp_path / "nope.pt"
    with pytest.raises(InputError, match=r"nope\.pt: no such weights file"):
        build_model("small_cnn", 4, weights=missing)
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(InputError, match=r"notes\.txt: not a readable weights"):
        build_model("small_cnn", 4, weights=text)
    other = tmp_path / "other.pt"
    torch.save({"epoch": 3, "lr": 0.1}, other)
    with pytest.raises(InputError, match=r"other\.pt holds no state dict.*epoch"):
        build_model("small_cnn", 4, weights=other)


def test_pretrained_uses_torchvision_imagenet1k_v1_weights(monkeypatch, tv_resnet50_file) -> None:
    """The weight API is called with IMAGENET1K_V1; its download is replaced by a local state dict."""
    _, tv = tv_resnet50_file
    asked: list[str] = []

    def fake_get_state_dict(self, *args, **kwargs):
        asked.append(str(self))
        return tv.state_dict()

    monkeypatch.setattr(torchvision.models.ResNet50_Weights, "get_state_dict", fake_get_state_dict)
    model = build_model("resnet50", 1000, pretrained=True)
    assert asked == ["ResNet50_Weights.IMAGENET1K_V1"]
    assert _same_params(model, tv.state_dict())


def test_pretrained_vgg16_gap_loads_the_conv_part(monkeypatch, tv_vgg16_file) -> None:
    _, state = tv_vgg16_file
    asked: list[str] = []

    def fake_get_state_dict(self, *args, **kwargs):
        asked.append(str(self))
        return state

    monkeypatch.setattr(torchvision.models.VGG16_Weights, "get_state_dict", fake_get_state_dict)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new conv6 / fc are expected: no warning
        model = build_model("vgg16_gap", 200, adl=True, pretrained=True)
    assert asked == ["VGG16_Weights.IMAGENET1K_V1"]
    assert _same_params(model.features, state, prefix="features.")


def test_pretrained_torchvision_model_gets_a_new_head(monkeypatch) -> None:
    torch.manual_seed(0)
    state = torchvision.models.resnet18().state_dict()
    monkeypatch.setattr(
        torchvision.models.ResNet18_Weights, "get_state_dict", lambda self, *a, **k: state
    )
    model = build_model("tv:resnet18", 5, pretrained=True)
    assert model.fc.out_features == 5 and model.new_layer_names == ("fc",)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items() if not k.startswith("fc."))


# ---------------------------------------------------------------------------
# Parameter groups


@pytest.mark.parametrize(
    ("name", "new_prefixes"),
    [
        ("vgg16_gap", ("conv6.", "fc.")),
        ("resnet50", ("layer4.", "fc.")),
        ("small_cnn", ()),
        ("tv:resnet18", ("fc.",)),
        ("tv:mobilenet_v2", ("classifier.1.",)),
    ],
)
def test_param_groups_give_new_layers_10x_lr(name: str, new_prefixes: tuple[str, ...]) -> None:
    model = build_model(name, 6)
    groups = param_groups(model, 0.01)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))  # no parameter twice
    assert set(ids) == {id(p) for p in model.parameters()}  # and none left out
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    for pname, p in model.named_parameters():
        expected = 0.1 if pname.startswith(new_prefixes) else 0.01
        assert lr_of[id(p)] == pytest.approx(expected, rel=1e-12), pname
    assert [g["name"] for g in groups] == (["backbone", "new"] if new_prefixes else ["backbone"])
    opt = torch.optim.SGD(groups, lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in groups]


def test_param_groups_vgg_new_layers_are_everything_but_features() -> None:
    model = VGG16GAP(num_classes=3, adl=True)
    groups = {g["name"]: g for g in param_groups(model, 1e-3)}
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in groups["new"]["params"]) == [
        "conv6.bias", "conv6.weight", "fc.bias", "fc.weight",
    ]
    assert groups["new"]["lr"] == pytest.approx(1e-2)
    assert all(names[id(p)].startswith("features.") for p in groups["backbone"]["params"])


def test_param_groups_rejects_bad_lr() -> None:
    with pytest.raises(InputError, match="base_lr"):
        param_groups(SmallCNN(), 0.0)


# ---------------------------------------------------------------------------
# Registry


def test_list_models_names_every_family() -> None:
    names = list_models()
    assert names[:3] == ["vgg16_gap", "resnet50", "small_cnn"]
    assert any(n.startswith("tv:") for n in names)


def test_unknown_model_name_lists_known_names() -> None:
    with pytest.raises(InputError, match=r"unknown name 'vgg16'.*vgg16_gap.*resnet50.*small_cnn.*tv:"):
        build_model("vgg16", 10)
    with pytest.raises(InputError, match=r"tv:resnet5000.*did you mean tv:resnet50"):
        build_model("tv:resnet5000", 10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "small_cnn", "adl": True}, "adl"),
        ({"name": "tv:resnet18", "adl": True}, "adl"),
        ({"name": "resnet50", "adl_gamma": 0.5}, "adl_gamma"),
        ({"name": "resnet50", "pretrained": True, "weights": "x.pt"}, "pretrained and weights"),
        ({"name": "small_cnn", "pretrained": True}, "pretrained"),
        ({"name": "resnet50", "pretrained": True, "in_channels": 1}, "in_channels"),
        ({"name": "tv:resnet18", "in_channels": 1}, "in_channels"),
        ({"name": "small_cnn", "num_classes": 0}, "num_classes"),
        ({"name": "resnet50", "adl": True, "adl_drop_rate": 2.0}, "drop_rate"),
    ],
)
def test_build_model_rejects_settings_that_do_not_apply(kwargs, match: str) -> None:
    kwargs = {"num_classes": 3, **kwargs}
    with pytest.raises(InputError, match=match):
        build_model(kwargs.pop("name"), kwargs.pop("num_classes"), **kwargs)


@pytest.mark.parametrize(
    ("name", "head"),
    [("tv:resnet18", "fc"), ("tv:efficientnet_b0", "classifier.1"), ("tv:regnet_y_400mf", "fc")],
)
def test_torchvision_models_get_a_head_for_num_classes(name: str, head: str) -> None:
    model = build_model(name, 7).eval()
    assert model.new_layer_names == (head,)
    assert model.get_submodule(head).out_features == 7
    if name == "tv:resnet18":
        with torch.no_grad():
            assert model(torch.randn(1, 3, 64, 64)).shape == (1, 7)


def test_torchvision_weights_file_loads_into_tv_model(tmp_path) -> None:
    torch.manual_seed(0)
    state = torchvision.models.resnet18().state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)
    with pytest.warns(WeightsWarning, match=r"fc\.weight \[file \(1000, 512\), model \(5, 512\)\], fc\.bias"):
        model = build_model("tv:resnet18", 5, weights=path)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items() if not k.startswith("fc."))


def test_timm_models_build_with_their_classifier_as_new_layer() -> None:
    pytest.importorskip("timm")
    model = build_model("timm:resnet18", 5, in_channels=1).eval()
    assert model.new_layer_names == ("fc",)
    with torch.no_grad():
        assert model(torch.randn(1, 1, 64, 64)).shape == (1, 5)
    with pytest.raises(InputError, match="timm:not_a_model"):
        build_model("timm:not_a_model", 5)
