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
