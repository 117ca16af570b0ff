"""Model names -> builders, weight loading and optimizer parameter groups.

Names:

* ``vgg16_gap``  - :class:`~infocam.models.vgg_gap.VGG16GAP` (ADL: gamma 0.8)
* ``resnet50``   - :class:`~infocam.models.resnet.ResNet50GAP` (ADL: gamma 0.9)
* ``small_cnn``  - :class:`~infocam.models.small_cnn.SmallCNN`
* ``tv:<name>``  - any torchvision classification model (``tv:resnet18``,
  ``tv:efficientnet_b0``, ...)
* ``timm:<name>`` - any timm model, when timm is installed

**New layers.** Every model built here has a ``new_layer_names`` attribute:
the dotted names of the sub-modules that are new on top of a pretrained
backbone and get ``10x`` the base learning rate in :func:`param_groups`
(VGG16-GAP: ``conv6``, ``fc``; ResNet50: ``layer4``, ``fc``; torchvision and
timm models: the classifier head; SmallCNN: none, it is trained from scratch).

**Loading weights** (:func:`load_weights`). A file holds a raw state dict or a
checkpoint dict with a ``"model"`` (or ``"state_dict"``) entry; a ``module.``
prefix (DataParallel / DDP) is removed. Every tensor of the backbone must be in
the file with the model's shape. The head (``head_layer_names``: VGG16-GAP's
``conv6`` and ``fc``, the final classifier elsewhere) may be missing or have
another shape (a torchvision ImageNet file has 1000 classes): it then keeps its
initialisation, and a :class:`WeightsWarning` says so. Keys the model does
not have (VGG16's ``classifier.*``) are ignored and listed in the same warning.
Anything else that does not fit raises :class:`~infocam.errors.InputError`
naming the file and the first mismatching keys.

``pretrained=True`` uses torchvision's weight API (ImageNet ``IMAGENET1K_V1``
for ``vgg16_gap`` and ``resnet50``, ``DEFAULT`` for ``tv:``), which downloads
on first use; timm downloads its own.
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torchvision
from torch import Tensor, nn

from infocam.errors import InputError
from infocam.fileio import load_untrusted_torch_file
from infocam.models.resnet import ResNet50GAP
from infocam.models.small_cnn import SmallCNN
from infocam.models.vgg_gap import VGG16GAP

__all__ = [
    "LoadReport",
    "WeightsWarning",
    "build_model",
    "list_models",
    "load_weights",
    "new_parameters",
    "param_groups",
    "read_state_dict",
]

logger = logging.getLogger(__name__)

ADL_MODELS = ("vgg16_gap", "resnet50")
BUILTIN_MODELS = ("vgg16_gap", "resnet50", "small_cnn")
NEW_LR_MULT = 10.0
_SHOWN = 5  # mismatching keys named in an error message


class WeightsWarning(UserWarning):
    """Some tensors of a weights file were not loaded (the head) or not used."""


def _timm_available() -> bool:
    return importlib.util.find_spec("timm") is not None


def list_models() -> list[str]:
    """The accepted model names; ``tv:<name>`` / ``timm:<name>`` stand for families."""
    names = [*BUILTIN_MODELS, "tv:<torchvision model>"]
    if _timm_available():
        names.append("timm:<timm model>")
    return names


# ---------------------------------------------------------------------------
# Weights files


@dataclass
class LoadReport:
    """What :func:`load_weights` did with a state dict."""

    source: str
    loaded: list[str] = field(default_factory=list)
    head_missing: list[str] = field(default_factory=list)
    head_mismatched: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    #: key -> (shape in the file, shape in the model) for ``head_mismatched``.
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every tensor of the model came from the file."""
        return not (self.head_missing or self.head_mismatched)

    def summary(self) -> str:
        parts = [f"loaded {len(self.loaded)} tensors from {self.source}"]
        if self.head_missing:
            parts.append(
                f"not in the file, kept at initialisation: {', '.join(self.head_missing)}"
            )
        if self.head_mismatched:
            shapes = [
                f"{k} [file {self.shapes[k][0]}, model {self.shapes[k][1]}]"
                if k in self.shapes
                else k
                for k in self.head_mismatched
            ]
            parts.append(f"other shape in the file, kept at initialisation: {', '.join(shapes)}")
        if self.ignored:
            parts.append(
                f"ignored {len(self.ignored)} keys the model does not have: "
                f"{_first(self.ignored)}"
            )
        return "; ".join(parts)


def _first(keys: list[str], n: int = _SHOWN) -> str:
    more = f" (and {len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def _strip_prefix(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Read a state dict from ``path`` (weights-only ``torch.load``, on the CPU).

    Accepts a raw state dict or a checkpoint dict whose ``"model"`` or
    ``"state_dict"`` entry is one; removes a ``module.`` / ``_orig_mod.``
    prefix shared by every key. Raises ``InputError`` naming the file otherwise.
    """
    path = Path(path)
    try:
        obj = load_untrusted_torch_file(path, "weights")
    except InputError as exc:
        raise InputError(f"weights: {exc}") from None
    if isinstance(obj, Mapping):
        for key in ("model", "state_dict"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if (
        not isinstance(obj, Mapping)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())
    ):
        found = (
            f"a dict with keys {_first([str(k) for k in obj])}"
            if isinstance(obj, Mapping)
            else f"a {type(obj).__name__}"
        )
        raise InputError(
            f"weights: {path} holds no state dict (names -> tensors, or a checkpoint with a "
            f"'model' entry); found {found}"
        )
    state = dict(obj)
    for prefix in ("module.", "_orig_mod."):
        state = _strip_prefix(state, prefix)
    return state


def _is_under(key: str, names: tuple[str, ...]) -> bool:
    return any(key == n or key.startswith(n + ".") for n in names)


def load_weights(
    model: nn.Module,
    weights: str | Path | Mapping[str, Tensor],
    *,
    require_head: bool = False,
    source: str | None = None,
) -> LoadReport:
    """Load a weights file (or a state dict) into ``model``; see the module docstring.

    Args:
        model: the model; its ``head_layer_names`` (if any) name the layers
            that may be missing from the file or shaped differently.
        weights: a path (read with :func:`read_state_dict`) or a state dict.
        require_head: also require the head to be in the file with the
            model's shapes (evaluating a trained checkpoint).
        source: how to name ``weights`` in messages (default: the path).

    Returns a :class:`LoadReport`. Raises ``InputError`` naming the file and
    the first mismatching keys when the backbone does not fit.
    """
    if isinstance(weights, Mapping):
        state = dict(weights)
        source = source or "the given state dict"
    else:
        state = read_state_dict(weights)
        source = source or str(weights)
    heads = () if require_head else tuple(getattr(model, "head_layer_names", ()))
    model_state = model.state_dict()
    report = LoadReport(source=source)
    problems: list[str] = []
    to_load: dict[str, Tensor] = {}
    for key, mine in model_state.items():
        theirs = state.get(key)
        if theirs is not None and theirs.shape == mine.shape:
            to_load[key] = theirs
            report.loaded.append(key)
        elif _is_under(key, heads) and theirs is None:
            report.head_missing.append(key)
        elif _is_under(key, heads):
            report.head_mismatched.append(key)
            report.shapes[key] = (tuple(theirs.shape), tuple(mine.shape))
        elif theirs is not None:
            problems.append(
                f"{key} has shape {tuple(theirs.shape)} in the file, {tuple(mine.shape)} in the model"
            )
        elif not key.endswith("num_batches_tracked"):  # old BatchNorm files lack it
            problems.append(f"{key} is missing from the file")
    report.ignored = [k for k in state if k not in model_state]
    if problems:
        hint = f"; the file has keys the model lacks: {_first(report.ignored)}" if report.ignored else ""
        raise InputError(
            f"weights: {source} does not fit {type(model).__name__} "
            f"({len(problems)} mismatching keys): {_first(problems)}{hint}"
        )
    model.load_state_dict(to_load, strict=False)
    logger.info("%s", report.summary())
    return report


# ---------------------------------------------------------------------------
# Parameter groups


def new_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters of the layers in ``model.new_layer_names`` (none if it has no such attribute)."""
    params: list[nn.Parameter] = []
    seen: set[int] = set()
    for name in getattr(model, "new_layer_names", ()):
        for p in model.get_submodule(name).parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


def param_groups(
    model: nn.Module, base_lr: float, new_lr_mult: float = NEW_LR_MULT
) -> list[dict[str, Any]]:
    """Optimizer parameter groups: the backbone at ``base_lr``, new layers at ``new_lr_mult x``.

    Every parameter of ``model`` is in exactly one group; empty groups are
    left out. Each group has ``"params"``, ``"lr"`` and a ``"name"``
    (``"backbone"`` or ``"new"``). Call it before wrapping the model in
    DistributedDataParallel.
    """
    for arg, value in (("base_lr", base_lr), ("new_lr_mult", new_lr_mult)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0
        ):
            raise InputError(f"{arg} must be a positive number; got {value!r}")
    new = new_parameters(model)
    new_ids = {id(p) for p in new}
    backbone = [p for p in model.parameters() if id(p) not in new_ids]
    groups: list[dict[str, Any]] = []
    if backbone:
        groups.append({"params": backbone, "lr": float(base_lr), "name": "backbone"})
    if new:
        groups.append({"params": new, "lr": float(base_lr) * new_lr_mult, "name": "new"})
    return groups


# ---------------------------------------------------------------------------
# Builders


def _find_head(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The last ``nn.Linear`` of ``model`` (or, if it has none, its last ``nn.Conv2d``)."""
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if linears:
        return linears[-1]
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    return convs[-1] if convs else None


def _replace_head(model: nn.Module, name: str, head: nn.Module, num_classes: int) -> None:
    if isinstance(head, nn.Linear):
        new: nn.Module = nn.Linear(head.in_features, num_classes, bias=head.bias is not None)
    else:
        assert isinstance(head, nn.Conv2d)
        new = nn.Conv2d(
            head.in_channels,
            num_classes,
            head.kernel_size,
            stride=head.stride,
            padding=head.padding,
            bias=head.bias is not None,
        )
    model.set_submodule(name, new)


def _head_out(head: nn.Module) -> int:
    return head.out_features if isinstance(head, nn.Linear) else head.out_channels


def _build_torchvision(arch: str, num_classes: int, pretrained: bool, in_channels: int) -> nn.Module:
    from torchvision import models

    available = models.list_models(module=models)
    if arch not in available:
        close = difflib.get_close_matches(arch, available, n=5)
        hint = f"; did you mean {', '.join('tv:' + c for c in close)}?" if close else ""
        raise InputError(
            f"model: 'tv:{arch}' is not a torchvision classification model{hint} "
            f"(torchvision.models.list_models() lists {len(available)})"
        )
    if in_channels != 3:
        raise InputError(
            f"in_channels: torchvision models take 3-channel images; got {in_channels} "
            "(convert grey images to 3 channels, or use small_cnn / a timm model)"
        )
    if pretrained:
        model = models.get_model(arch, weights=models.get_model_weights(arch).DEFAULT)
    else:
        model = models.get_model(arch, num_classes=num_classes)
    found = _find_head(model)
    if found is None:
        raise InputError(f"model: 'tv:{arch}' has no linear or conv classifier head to replace")
    name, head = found
    if _head_out(head) != num_classes:
        _replace_head(model, name, head, num_classes)
    model.new_layer_names = (name,)
    model.head_layer_names = (name,)
    return model


def _build_timm(arch: str, num_classes: int, pretrained: bool, in_channels: int) -> nn.Module:
    if not _timm_available():
        raise InputError(f"model: 'timm:{arch}' needs timm (pip install timm)")
    import timm

    if not timm.is_model(arch):
        close = timm.list_models(f"*{arch}*")[:5]
        hint = f"; similar: {', '.join('timm:' + c for c in close)}" if close else ""
        raise InputError(f"model: 'timm:{arch}' is not a timm model{hint}")
    model = timm.create_model(
        arch, pretrained=pretrained, num_classes=num_classes, in_chans=in_channels
    )
    head = model.get_classifier()
    names = [n for n, m in model.named_modules() if m is head and n]
    model.new_layer_names = tuple(names[:1])
    model.head_layer_names = tuple(names[:1])
    return model


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return value


def build_model(
    name: str,
    num_classes: int,
    *,
    adl: bool = False,
    adl_drop_rate: float | None = None,
    adl_gamma: float | None = None,
    pretrained: bool = False,
    weights: str | Path | None = None,
    in_channels: int = 3,
) -> nn.Module:
    """Build a model by name (see :func:`list_models`).

    Args:
        name: ``vgg16_gap``, ``resnet50``, ``small_cnn``, ``tv:<name>`` or ``timm:<name>``.
        num_classes: outputs of the final linear layer.
        adl: insert ADL (``vgg16_gap`` and ``resnet50`` only).
        adl_drop_rate: ADL drop rate (default 0.75).
        adl_gamma: ADL threshold (default 0.8 for VGG, 0.9 for ResNet).
        pretrained: ImageNet weights through torchvision's (or timm's) weight
            API; downloads on first use. Not for ``small_cnn``.
        weights: a local weights file to load (see :func:`load_weights`).
        in_channels: input image channels (3 whenever ImageNet weights are used).

    Raises ``InputError`` for an unknown name or a setting that does not apply.
    """
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"model: expected a name, one of {', '.join(list_models())}; got {name!r}")
    name = name.strip()
    num_classes = _check_int("num_classes", num_classes, 1)
    in_channels = _check_int("in_channels", in_channels, 1)
    if pretrained and weights is not None:
        raise InputError("pretrained and weights: give one of them, not both")
    if not adl and (adl_drop_rate is not None or adl_gamma is not None):
        raise InputError("adl_drop_rate / adl_gamma: set only with adl=True")
    if adl and name not in ADL_MODELS:
        raise InputError(f"adl: supported for {', '.join(ADL_MODELS)} only, not {name!r}")
    if pretrained and in_channels != 3:
        raise InputError(f"in_channels: ImageNet weights take 3 channels; got {in_channels}")

    adl_kwargs: dict[str, float] = {}
    if adl_drop_rate is not None:
        adl_kwargs["adl_drop_rate"] = adl_drop_rate
    if adl_gamma is not None:
        adl_kwargs["adl_gamma"] = adl_gamma

    builders: dict[str, Callable[[], nn.Module]] = {
        "vgg16_gap": lambda: VGG16GAP(num_classes, adl=adl, in_channels=in_channels, **adl_kwargs),
        "resnet50": lambda: ResNet50GAP(
            num_classes, adl=adl, in_channels=in_channels, **adl_kwargs
        ),
        "small_cnn": lambda: SmallCNN(num_classes, in_channels=in_channels),
    }
    if name in builders:
        model = builders[name]()
        if pretrained:
            if name == "small_cnn":
                raise InputError("pretrained: small_cnn has no pretrained weights")
            tv_weights = (
                torchvision.models.VGG16_Weights.IMAGENET1K_V1
                if name == "vgg16_gap"
                else torchvision.models.ResNet50_Weights.IMAGENET1K_V1
            )
            load_weights(model, tv_weights.get_state_dict(progress=True), source=f"torchvision {tv_weights}")
    elif name.startswith("tv:"):
        model = _build_torchvision(name[3:], num_classes, pretrained, in_channels)
    elif name.startswith("timm:"):
        model = _build_timm(name[5:], num_classes, pretrained, in_channels)
    else:
        close = difflib.get_close_matches(name, BUILTIN_MODELS, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InputError(
            f"model: unknown name {name!r}{hint}; known: {', '.join(list_models())}, "
            "e.g. tv:resnet18, tv:efficientnet_b0"
        )

    if weights is not None:
        report = load_weights(model, weights)
        if not report.complete or report.ignored:
            warnings.warn(report.summary(), WeightsWarning, stacklevel=2)
    return model
