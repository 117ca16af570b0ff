"""Hooks and memory: using the extractor (and the evaluator) many times leaks nothing.

Each test warms up first (allocator pools, caches, lazy imports), then
measures before and after a long loop: the hooks on the model, the number of
live tensors the garbage collector can see, Python allocations
(tracemalloc) and the process's resident memory (Linux ``/proc``). The
bounds are generous - far below what a leak of one tensor per call would
cost over 1,000 calls, far above the noise.
"""

from __future__ import annotations

import gc
import os
import tracemalloc

import pytest
import torch
from torch import nn

from infocam.engine.evaluate import evaluate, main_variants
from infocam.extract import CAMExtractor

MB = 1 << 20
CALLS = 1000


def hook_count(model: nn.Module) -> int:
    """Every hook a module can hold, plus torch's global module hooks."""
    from torch.nn.modules import module as module_mod

    names = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    own = sum(len(getattr(m, n, {})) for m in model.modules() for n in names)
    glob = sum(len(getattr(module_mod, f"_global{n}", {})) for n in names)
    return own + glob


def live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if issubclass(type(o), torch.Tensor))  # no __class__ lookups


def rss() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return None


class Meter:
    """Tensors, Python allocations and RSS before / after a loop."""

    def __enter__(self) -> Meter:
        gc.collect()
        self.tensors = live_tensors()
        self.rss = rss()
        tracemalloc.start()
        self.traced = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc: object) -> None:
        gc.collect()
        self.traced_growth = tracemalloc.get_traced_memory()[0] - self.traced
        tracemalloc.stop()
        self.tensor_growth = live_tensors() - self.tensors
        after = rss()
        self.rss_growth = None if after is None or self.rss is None else after - self.rss

    def check(self, *, rss_mb: float = 20.0, traced_mb: float = 2.0, tensors: int = 0) -> None:
        print(f"growth: {self.tensor_growth} tensors, {self.traced_growth / MB:.3f} MB traced, "
              f"{(self.rss_growth or 0) / MB:.1f} MB RSS")
        assert self.tensor_growth <= tensors, f"{self.tensor_growth} more live tensors"
        assert self.traced_growth < traced_mb * MB, f"Python allocations grew {self.traced_growth / MB:.2f} MB"
        if self.rss_growth is not None:
            assert self.rss_growth < rss_mb * MB, f"RSS grew {self.rss_growth / MB:.1f} MB"


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5),
    )


@pytest.fixture(autouse=True)
def _one_thread():
    """Less noise, and fair to the other tests sharing the machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_a_thousand_fresh_extractors_leave_no_hook_and_no_memory() -> None:
    model = small_model()
    model.train()
    x = torch.randn(2, 3, 16, 16)

    def use() -> None:
        with CAMExtractor(model) as ex:  # finds the layers again: hooks on every module, each time
            out = ex(x, methods=("cam", "infocam", "infocam+"), region=2)
        assert out.maps["infocam"].shape == (2, 16, 16)
        assert hook_count(model) == 0 and model.training and model[1].training

    for _ in range(20):
        use()
    with Meter() as m:
        for _ in range(CALLS):
            use()
    m.check()
    assert hook_count(model) == 0


def test_a_thousand_calls_of_one_extractor_with_gradients_leak_nothing() -> None:
    model = small_model().eval()
    x = torch.randn(2, 3, 16, 16)
    ex = CAMExtractor(model)

    def use() -> None:
        out = ex(x, methods=("cam", "infocam+"), targets=torch.tensor([1, 3]), region=3, enable_grad=True)
        loss = out.maps["cam"].sum() + out.maps["infocam+"].abs().sum()
        loss.backward()  # the graph goes with the result; nothing keeps it alive
        model.zero_grad(set_to_none=True)

    for _ in range(20):
        use()
    with Meter() as m:
        for _ in range(CALLS):
            use()
    m.check()
    assert hook_count(model) == 0 and all(p.grad is None for p in model.parameters())


def test_failing_forward_passes_leave_no_hook_and_no_memory() -> None:
    class Flaky(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = small_model()
            self.fail = False

        def forward(self, x):
            if self.fail:
                self.body[0](x)  # some hooks have fired by now
                raise RuntimeError("out of memory (simulated)")
            return self.body(x)

    model = Flaky()
    x = torch.randn(1, 3, 12, 12)
    ex = CAMExtractor(model)
    ex(x)
    model.fail = True

    def use() -> None:
        with pytest.raises(RuntimeError, match="simulated"):
            ex(x, methods="cam")
        with pytest.raises(RuntimeError, match="simulated"), CAMExtractor(model) as fresh:
            fresh(x)  # fails while finding the layers, with hooks on every module
        assert hook_count(model) == 0

    for _ in range(10):
        use()
    with Meter() as m:
        for _ in range(300):
            use()
    # a raised exception's traceback may keep the last frame's tensors until the next one replaces it
    m.check(tensors=8)
    assert hook_count(model) == 0 and model.training


def test_repeated_evaluations_leak_nothing() -> None:
    model = small_model().eval()
    torch.manual_seed(1)
    batches = [
        {"image": torch.randn(4, 3, 16, 16), "label": torch.randint(0, 5, (4,)),
         "boxes": [torch.tensor([[2.0, 2.0, 12.0, 12.0]])] * 4, "id": [f"im{i}_{j}" for j in range(4)]}
        for i in range(3)
    ]
    variants = main_variants(["cam", "infocam", "infocam+"], 2)

    def use() -> dict:
        return evaluate(model, batches, variants=variants, thresholds=(0.2, 0.5), max_box_acc=True,
                        cam_curve_step=0.1, progress=False)

    first = use()
    for _ in range(3):
        use()
    with Meter() as m:
        for _ in range(15):
            assert use() == first  # and the numbers do not drift either
    m.check()
    assert hook_count(model) == 0
