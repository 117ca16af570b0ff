"""Facts about infoCAM that the README states, checked."""

import torch
import torch.nn.functional as F

from infocam import cam_maps


def test_softmax_ce_keeps_the_sum_of_class_weights_constant():
    # dL/dW_c = (p_c - y_c) f, and sum_c (p_c - y_c) = 0: the gradient of the
    # summed class weights vanishes, so plain SGD never changes sum_c W_c.
    g = torch.Generator().manual_seed(0)
    w = torch.randn(5, 8, generator=g, requires_grad=True)
    b = torch.zeros(5, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=0.5, momentum=0.9)
    start = w.detach().sum(0).clone()
    for _ in range(50):
        x = torch.randn(16, 8, generator=g)
        y = torch.randint(0, 5, (16,), generator=g)
        loss = F.cross_entropy(x @ w.t() + b, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert not torch.allclose(w.detach(), torch.zeros_like(w))
    assert torch.allclose(w.detach().sum(0), start, atol=1e-5)


def test_infocam_is_rescaled_cam_minus_the_mean_weight_map():
    # infoCAM = M/(M-1) * CAM(y) - 1/(M-1) * (sum_c W_c) . F
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(3, 6, 4, 4, generator=g, dtype=torch.float64)
    w = torch.randn(7, 6, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 4, 6])
    m = w.shape[0]
    total = torch.einsum("k,bkhw->bhw", w.sum(0), feats)
    expected = m / (m - 1) * cam_maps(feats, w, y) - total / (m - 1)
    assert torch.allclose(cam_maps(feats, w, y, method="infocam"), expected)


def _summed_class_weights(tmp_path, name: str, *overrides: str) -> tuple[torch.Tensor, ...]:
    """(W before, W after) of the head in infocam's own training run on generated squares."""
    from pathlib import Path

    from infocam.engine.config import load_config
    from infocam.engine.trainer import fit
    from infocam.models import build_model

    config = Path(__file__).resolve().parents[1] / "configs" / "tiny_synthetic.yaml"
    cfg = load_config(config, ["device=cpu", "train.num_workers=0", "train.epochs=1", *overrides])
    torch.manual_seed(0)  # the same initial weights in every run
    model = build_model(cfg["model"]["name"], cfg["data"]["num_classes"], in_channels=3)
    before = model.fc.weight.detach().double().clone()
    fit(cfg, tmp_path / name, model=model, progress=False)
    return before, model.fc.weight.detach().double()


def test_infocams_trainer_never_moves_the_summed_class_weights_by_the_data(tmp_path):
    # The README: with softmax cross-entropy the data never move sum_c W_c;
    # weight decay only shrinks it, by a factor set by the optimizer
    # settings alone (lr, its schedule, momentum, weight decay), the same for
    # every feature and for any data. Checked through infocam's own trainer
    # and optimizer settings (SGD, Nesterov momentum, weight decay 1e-4, the
    # head at 10x lr), so a change there that breaks the statement fails here.
    before, w = _summed_class_weights(tmp_path, "a", "data.seed=0")
    _, w_other = _summed_class_weights(tmp_path, "b", "data.seed=1")
    assert not torch.allclose(w, w_other, atol=1e-3)  # the data did move the weights ...
    assert torch.allclose(w.sum(0), w_other.sum(0), rtol=0, atol=1e-6)  # ... but not their sum
    factor = w.sum(0) / before.sum(0)  # one factor for every feature: a data-free shrink
    assert torch.allclose(factor, factor.mean().expand_as(factor), rtol=0, atol=1e-5)
    assert 0.99 < float(factor.mean()) < 1.0
    # without weight decay the sum does not move at all
    before0, w0 = _summed_class_weights(tmp_path, "c", "train.weight_decay=0")
    assert (w0 - before0).abs().max() > 1e-2  # trained
    assert torch.allclose(w0.sum(0), before0.sum(0), rtol=0, atol=1e-5)
