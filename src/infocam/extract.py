"""CAMExtractor: class activation maps from any classifier ending in GAP + linear.

The extractor finds, by itself, the ``nn.Linear`` that produces the logits and
the layer whose (B, K, h, w) output is globally average pooled into it. It
learns both from the first call's forward pass (hooks on every module for
that pass only) and checks numerically that the linear layer's input *is*
the spatial mean of that feature map, so a head that is not GAP + linear is
refused with an error that says what was found instead. That same pass gives
the first call's logits and features: every call is one forward pass.

Hooks: used as a context manager (``with CAMExtractor(model) as cam:``) the
extractor holds one forward hook on the feature layer for the block, from
the first call (or from the start of the block when the layers are already
known) until the block ends, also when it ends by an exception. Called
outside a block, it places the hook for the call only. No hook outlives
either, also when the model raises; the model's train/eval mode (of every
sub-module) is restored after each call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from infocam.checks import shape_or_type
from infocam.maps import METHODS, cam_maps

__all__ = ["CAMExtractor", "CAMResult", "find_gap_linear"]


@dataclass
class CAMResult:
    """What one forward pass through :class:`CAMExtractor` gives.

    ``maps[method]`` is (B, h, w) (or larger with ``padding="full"``) for the
    classes in ``targets``.
    """

    logits: Tensor
    features: Tensor
    targets: Tensor
    maps: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class _Record:
    name: str
    module: nn.Module
    output: object


def _module_label(name: str, module: nn.Module) -> str:
    return f"'{name or '<model>'}' ({type(module).__name__})"


@contextmanager
def _preserved_mode(model: nn.Module, train: bool) -> Iterator[None]:
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.train(train)
        yield
    finally:
        for m, mode in modes:
            m.training = mode


@contextmanager
def _hooks(handles: list[RemovableHandle]) -> Iterator[list[RemovableHandle]]:
    try:
        yield handles
    finally:
        for h in handles:
            h.remove()
        handles.clear()


def _resolve(model: nn.Module, layer: nn.Module | str | None, what: str) -> tuple[str, nn.Module] | None:
    if layer is None:
        return None
    names = dict(model.named_modules())
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"{what} {layer!r} is not a sub-module of the model")
        return layer, names[layer]
    for name, mod in names.items():
        if mod is layer:
            return name, mod
    raise ValueError(f"{what} must be a sub-module of the model (or its dotted name)")


def _close(a: Tensor, b: Tensor, rtol: float, atol: float) -> bool:
    """``allclose`` on the finite entries, which must sit at the same places in both.

    A NaN or inf in one image (a bad input, a diverged weight) then does not
    make a GAP + linear model look like something else.
    """
    fa, fb = torch.isfinite(a), torch.isfinite(b)
    if not torch.equal(fa, fb) or not bool(fa.any()):
        return False
    return torch.allclose(a[fa], b[fb], rtol=rtol, atol=atol)


def _is_pool(module: nn.Module) -> bool:
    return isinstance(module, (nn.AdaptiveAvgPool2d, nn.AvgPool2d)) or "pool" in type(module).__name__.lower()


@dataclass
class _Layers:
    """What :func:`_observe` finds: the two layers, and the pass it watched."""

    feature_layer: str
    fc_layer: str
    post: str  # "identity", or "relu" when a functional ReLU follows the feature layer
    output: Tensor  # the model's output of that pass
    features: object  # the feature layer's output of that pass


def find_gap_linear(
    model: nn.Module,
    inputs: Tensor,
    *,
    feature_layer: nn.Module | str | None = None,
    fc_layer: nn.Module | str | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-4,
) -> tuple[str, str, str]:
    """Find the feature layer and the linear head from one forward pass on ``inputs``.

    Returns ``(feature layer name, linear layer name, post)`` where ``post`` is
    ``"identity"``, or ``"relu"`` when the model applies a functional ReLU to
    the layer's output before pooling (torchvision's DenseNet does).
    Raises ``ValueError`` that says what was found when the model does not
    end in global average pooling + one linear layer, or when the probe batch
    gives NaN/inf everywhere (the layers cannot be told apart then). A NaN or
    inf in some entries only is fine: the finite entries decide. Runs the
    model in eval mode, without gradients.
    """
    with torch.no_grad(), _preserved_mode(model, False):
        found = _observe(model, inputs, feature_layer, fc_layer, rtol, atol)
    return found.feature_layer, found.fc_layer, found.post


def _observe(
    model: nn.Module,
    inputs: Tensor,
    feature_layer: nn.Module | str | None,
    fc_layer: nn.Module | str | None,
    rtol: float,
    atol: float,
) -> _Layers:
    """One forward pass with a hook on every module, then the layers it shows (see :func:`find_gap_linear`)."""
    fixed_feat = _resolve(model, feature_layer, "feature_layer")
    fixed_fc = _resolve(model, fc_layer, "fc_layer")
    records: list[_Record] = []
    linear_inputs: dict[str, Tensor] = {}

    def fwd_hook(name: str) -> Callable[[nn.Module, tuple[object, ...], object], None]:
        def hook(mod: nn.Module, args: tuple[object, ...], out: object) -> None:
            records.append(_Record(name, mod, out))
            if isinstance(mod, nn.Linear) and args and isinstance(args[0], Tensor):
                linear_inputs[name] = args[0]

        return hook

    with _hooks([]) as handles:
        for name, mod in model.named_modules():
            if name:
                handles.append(mod.register_forward_hook(fwd_hook(name)))
        output = model(inputs)
    with torch.no_grad():
        return _identify(records, linear_inputs, output, fixed_feat, fixed_fc, rtol, atol)


def _identify(
    records: list[_Record],
    linear_inputs: dict[str, Tensor],
    output: object,
    fixed_feat: tuple[str, nn.Module] | None,
    fixed_fc: tuple[str, nn.Module] | None,
    rtol: float,
    atol: float,
) -> _Layers:
    """The feature layer and the linear head among the recorded module outputs of one pass."""

    if not isinstance(output, Tensor) or output.dim() != 2:
        raise ValueError(
            f"the model must return a (B, M) tensor of logits; it returned {shape_or_type(output)}"
        )
    # The linear layer that produced the logits.
    if fixed_fc is not None:
        fc_name, fc = fixed_fc
        if not isinstance(fc, nn.Linear):
            raise ValueError(f"fc_layer {fc_name!r} is a {type(fc).__name__}, not an nn.Linear")
    else:
        linears = [r for r in records if isinstance(r.module, nn.Linear)]
        if not linears:
            raise ValueError(
                "the model has no nn.Linear layer that runs in forward(): not a GAP + linear "
                "classifier (pass fc_layer= if the head is a 1x1 convolution wrapped otherwise)"
            )
        fc_name, fc = linears[-1].name, linears[-1].module
    fc_positions = [i for i, r in enumerate(records) if r.name == fc_name]
    if not fc_positions:
        raise ValueError(f"fc_layer {fc_name!r} did not run in forward()")
    fc_pos = fc_positions[-1]
    fc_out = records[fc_pos].output
    same = fc_out is output or (
        isinstance(fc_out, Tensor)
        and fc_out.shape == output.shape
        and _close(fc_out, output, rtol, atol)
    )
    if not same:
        # modules that finished after the linear layer and do not contain it
        after = [
            _module_label(r.name, r.module)
            for r in records[fc_pos + 1:]
            if not fc_name.startswith(r.name + ".")
        ]
        raise ValueError(
            f"the model's output is not the output of its last linear layer {_module_label(fc_name, fc)}; "
            f"it is followed by {', '.join(after[:4]) or 'other computation'}: not a GAP + linear head"
        )
    fc_in = linear_inputs.get(fc_name)
    if fc_in is None or fc_in.dim() != 2:
        raise ValueError(
            f"the last linear layer {_module_label(fc_name, fc)} takes {shape_or_type(fc_in)}, "
            "not a (B, K) pooled vector: not a GAP + linear head"
        )
    k = fc_in.shape[1]

    def pools_to_fc(out: object) -> str | None:
        """"identity" if mean(out) is the linear input, "relu" if mean(relu(out)) is, else None."""
        if not (isinstance(out, Tensor) and out.dim() == 4 and out.shape[:2] == (fc_in.shape[0], k)):
            return None
        for post, x in (("identity", out), ("relu", torch.relu(out))):
            if _close(x.float().mean(dim=(2, 3)), fc_in.float(), rtol, atol):
                return post
        return None

    if not bool(torch.isfinite(fc_in).any()):
        raise ValueError(
            f"the input of the last linear layer {_module_label(fc_name, fc)} is NaN or infinite for "
            "every image of this batch, so the feature layer cannot be located: the model's weights "
            "(a diverged training run?) or the images hold NaN/inf"
        )
    if fixed_feat is not None:
        feat_name, feat = fixed_feat
        out = next((r.output for r in reversed(records) if r.name == feat_name), None)
        post = pools_to_fc(out)
        if post is None:
            raise ValueError(
                f"feature_layer {_module_label(feat_name, feat)} outputs {shape_or_type(out)}, whose spatial "
                f"mean is not the input {tuple(fc_in.shape)} of {_module_label(fc_name, fc)}"
            )
        return _Layers(feat_name, fc_name, post, output, out)

    candidates = [
        (i, r, post)
        for i, r in enumerate(records[:fc_pos])
        if not _is_pool(r.module) and (post := pools_to_fc(r.output)) is not None
    ]
    if not candidates:
        four_d = [r for r in records[:fc_pos] if isinstance(r.output, Tensor) and r.output.dim() == 4]
        last = four_d[-1] if four_d else None
        found = (
            f"the last 4-D output before it is {_module_label(last.name, last.module)} {shape_or_type(last.output)}"
            if last is not None
            else "no layer before it outputs a 4-D feature map"
        )
        raise ValueError(
            f"no feature map (B, {k}, h, w) averages to the input {tuple(fc_in.shape)} of the last linear "
            f"layer {_module_label(fc_name, fc)}; {found}: not a GAP + linear head "
            "(pass feature_layer= and fc_layer= explicitly if the head is unusual)"
        )
    # Largest spatial map wins; then no ReLU over a functional ReLU; then the
    # last to finish (the outermost block).
    def rank(c: tuple[int, _Record, str]) -> tuple[int, bool, int]:
        i, r, post = c
        shape = r.output.shape if isinstance(r.output, Tensor) else (0, 0, 0, 0)
        return (shape[2] * shape[3], post == "identity", i)

    _, best, post = max(candidates, key=rank)
    last_output = next(r.output for r in reversed(records) if r.name == best.name)  # as a hook would see it
    return _Layers(best.name, fc_name, post, output, last_output)


class CAMExtractor:
    """Class activation maps from a classifier that ends in GAP + linear.

    Example::

        with CAMExtractor(model) as cam:
            out = cam(images, methods=("cam", "infocam"), region=4)
        out.logits, out.maps["infocam"]  # (B, M), (B, h, w)

    Args:
        model: any ``nn.Module`` whose forward ends in global average pooling
            of a (B, K, h, w) feature map followed by one ``nn.Linear``
            (torchvision ResNets, VGG-GAP, EfficientNet, RegNet, timm models...).
        feature_layer: the layer whose output is pooled (module or dotted
            name); found automatically when omitted.
        fc_layer: the final ``nn.Linear`` (module or dotted name); found
            automatically when omitted.

    Every call is one forward pass. The layers are found, and checked
    numerically, from the first call's pass. Inside a ``with`` block the
    hook on the feature layer stays from the first call (or from the start
    of the block when the layers are known) to the end of the block, also
    when the block raises; outside a block each call places and removes its
    own. The model runs in eval mode during each call and gets its previous
    modes back afterwards.
    """

    def __init__(
        self,
        model: nn.Module,
        feature_layer: nn.Module | str | None = None,
        fc_layer: nn.Module | str | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module; got {shape_or_type(model)}")
        self.model = model
        self._feature_arg = feature_layer
        self._fc_arg = fc_layer
        self.feature_layer_name: str | None = None
        self.fc_layer_name: str | None = None
        self.feature_post: str = "identity"
        self._in_block = False
        self._hook: RemovableHandle | None = None
        self._captured: dict[str, Tensor] = {}

    def __enter__(self) -> CAMExtractor:
        self._in_block = True
        if self.feature_layer_name is not None:
            self._place_hook()
        return self

    def __exit__(self, *exc: object) -> None:
        self._in_block = False
        self._remove_hook()

    @property
    def hooked(self) -> bool:
        """Whether the feature-layer hook is on the model now (only inside a ``with`` block)."""
        return self._hook is not None

    @property
    def fc(self) -> nn.Linear:
        if self.fc_layer_name is None:
            raise RuntimeError("the layers are found on the first call")
        fc = dict(self.model.named_modules())[self.fc_layer_name]
        assert isinstance(fc, nn.Linear)  # found (and checked) as one
        return fc

    def _place_hook(self) -> None:
        if self._hook is None:
            module = dict(self.model.named_modules())[self.feature_layer_name]
            self._hook = module.register_forward_hook(self._capture)

    def _remove_hook(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self._captured.clear()

    def _capture(self, mod: nn.Module, args: tuple[object, ...], out: Tensor) -> None:
        self._captured["features"] = out

    def _forward(self, inputs: Tensor) -> tuple[Tensor, object]:
        """One forward pass: the logits and the feature layer's output (layers found on the first)."""
        if self.feature_layer_name is None:
            found = _observe(self.model, inputs, self._feature_arg, self._fc_arg, rtol=1e-3, atol=1e-4)
            self.feature_layer_name, self.fc_layer_name, self.feature_post = (
                found.feature_layer, found.fc_layer, found.post
            )
            if self._in_block:
                self._place_hook()
            return found.output, found.features
        self._captured.clear()
        try:
            if self._hook is not None:  # held by the with block
                logits = self.model(inputs)
            else:
                with _hooks([]) as handles:
                    handles.append(dict(self.model.named_modules())[self.feature_layer_name]
                                   .register_forward_hook(self._capture))
                    logits = self.model(inputs)
            if "features" not in self._captured:
                raise RuntimeError(f"feature layer {self.feature_layer_name!r} did not run in forward()")
            return logits, self._captured["features"]
        finally:
            self._captured.clear()

    def __call__(
        self,
        inputs: Tensor,
        *,
        methods: Iterable[str] | str = ("cam",),
        targets: Tensor | int | None = None,
        region: int = 1,
        padding: str = "same",
        enable_grad: bool = False,
    ) -> CAMResult:
        """Run the model once and return logits, features and the requested maps.

        ``targets`` defaults to each image's top-1 predicted class.
        """
        if isinstance(methods, str):
            methods = (methods,)
        methods = tuple(m.lower() for m in methods)
        for m in methods:
            if m not in METHODS:
                raise ValueError(f"methods must be drawn from {METHODS}; got {m!r}")
        if not isinstance(inputs, Tensor):
            raise ValueError(f"inputs must be a tensor; got {shape_or_type(inputs)}")
        grad_ctx = torch.enable_grad() if enable_grad else torch.no_grad()
        with grad_ctx, _preserved_mode(self.model, False):
            logits, features = self._forward(inputs)
        if not isinstance(features, Tensor):
            raise RuntimeError(f"feature layer {self.feature_layer_name!r} returned {shape_or_type(features)}")
        if self.feature_post == "relu":
            features = torch.relu(features)
        if targets is None:
            targets = logits.argmax(dim=1)
        weight = self.fc.weight
        maps = {
            m: cam_maps(features, weight, targets, method=m, region=region, logits=logits, padding=padding)
            for m in methods
        }
        if isinstance(targets, int):
            targets = torch.full((logits.shape[0],), targets, dtype=torch.long, device=logits.device)
        return CAMResult(logits=logits, features=features, targets=targets, maps=maps)
