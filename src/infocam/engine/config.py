"""Training configuration: a nested dict with a typed schema and defaults.

A config is a plain ``dict`` of sections (``model``, ``data``, ``train``,
``evaluate``) plus a few top-level keys (``seed``, ``device``,
``description``). :func:`load_config` reads a YAML file with
``yaml.safe_load``, applies ``--set a.b=value`` overrides (values parsed as
YAML scalars or flow lists), checks every key and type against
:data:`SCHEMA`, fills in the defaults and returns the resolved dict. Errors
are :class:`~infocam.errors.InputError` naming the key and the file (with
the line when known) or the ``--set`` item.

``model`` and ``train`` are closed: an unknown key is an error (a typo must
not silently train with a default). ``data`` and ``evaluate`` are open: the
keys listed here are type-checked, other keys are passed on unchanged to the
dataset builder and the evaluator, which check them.

Float settings accept ``1e-3``: YAML 1.1 (PyYAML) reads an exponent without
a dot as a string, so numeric strings are converted for float keys.

This module imports no torch, so ``infocam train --help`` stays fast.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infocam.errors import InputError, where

__all__ = [
    "OPEN_SECTIONS",
    "SCHEMA",
    "Field",
    "apply_overrides",
    "config_diff",
    "default_config",
    "dump_config",
    "find_config",
    "load_config",
    "resolve_config",
    "save_config",
]


@dataclass(frozen=True)
class Field:
    """One setting: its kind, default, whether ``null`` is allowed, and choices.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``str``, ``list[int]``,
    ``list[str]`` or ``bool|auto`` (a bool or the string ``"auto"``).
    """

    kind: str
    default: Any
    optional: bool = False
    choices: tuple[str, ...] | None = None
    doc: str = ""


LOSSES = ("ce", "pc_softmax", "bce", "pc_sigmoid")
MULTI_LABEL_LOSSES = ("bce", "pc_sigmoid")
SELECT_METRICS = ("auto", "top1", "top5", "label_acc")

SCHEMA: dict[str, Any] = {
    "description": Field("str", None, optional=True, doc="free text, for the reader"),
    "seed": Field("int", 0, optional=True, doc="null: draw one at start and record it"),
    "device": Field("str", "auto", choices=("auto", "cpu", "cuda")),
    "model": {
        "name": Field("str", "small_cnn", doc="vgg16_gap, resnet50, small_cnn, tv:<name>"),
        "num_classes": Field("int", None, optional=True, doc="null: from the dataset"),
        "adl": Field("bool", False),
        "adl_drop_rate": Field("float", None, optional=True),
        "adl_gamma": Field("float", None, optional=True),
        "pretrained": Field("bool", False, doc="ImageNet weights for the backbone"),
        "weights": Field("str", None, optional=True, doc="local weight file for the backbone"),
        "in_channels": Field("int", 3),
    },
    "data": {
        "format": Field(
            "str", None, optional=True, doc="cub, tiny-imagenet, wsol, csv or synthetic"
        ),
        "root": Field("str", None, optional=True),
        "image_size": Field("int", None, optional=True),
        "resize_size": Field("int", None, optional=True),
        "crop": Field("bool", None, optional=True),
        "normalize": Field("bool", None, optional=True),
    },
    "train": {
        "epochs": Field("int", 200),
        "batch_size": Field("int", 32, doc="global: split over the processes"),
        "val_batch_size": Field("int", None, optional=True, doc="global; null: batch_size"),
        "lr": Field("float", 0.01, doc="base lr; new layers get new_layer_lr_mult x"),
        "momentum": Field("float", 0.9),
        "nesterov": Field("bool", True),
        "weight_decay": Field("float", 1e-4),
        "milestones": Field("list[int]", [60, 120, 180], doc="epochs where lr *= gamma"),
        "gamma": Field("float", 0.1),
        "new_layer_lr_mult": Field("float", 10.0),
        "loss": Field("str", "ce", choices=LOSSES),
        "num_workers": Field("int", 4),
        "amp": Field("str", "none", choices=("none", "bf16", "fp16"), doc="GPU only"),
        "channels_last": Field("bool|auto", "auto", doc="auto: on GPU yes, on CPU no"),
        "select_metric": Field("str", "auto", choices=SELECT_METRICS),
        "val_every": Field("int", 1, doc="validate every N epochs and after the last; best.pt among those"),
        "grad_clip": Field("float", None, optional=True, doc="max grad L2 norm"),
        "deterministic": Field("bool|auto", "auto", doc="auto: on CPU yes, on GPU no"),
        "sync_bn": Field("bool", False, doc="SyncBatchNorm across processes"),
        "log_every": Field("int", 50, doc="progress-bar loss refresh, in steps"),
        "max_steps_per_epoch": Field("int", None, optional=True, doc="for trials"),
    },
    "evaluate": {
        "region": Field("int", 1, doc="R: the region window, 1 = none"),
        "methods": Field("list[str]", ["cam", "infocam", "infocam+"]),
        "threshold": Field("float", 0.2),
        "padding": Field("str", "same", choices=("same", "full")),
        "split": Field("str", "test"),
        "batch_size": Field("int", None, optional=True),
    },
}

OPEN_SECTIONS = frozenset({"data", "evaluate"})

_FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def default_config() -> dict[str, Any]:
    """The config with every default filled in (a fresh, deep copy)."""
    out: dict[str, Any] = {}
    for key, spec in SCHEMA.items():
        if isinstance(spec, dict):
            out[key] = {k: copy.deepcopy(f.default) for k, f in spec.items()}
        else:
            out[key] = copy.deepcopy(spec.default)
    return out


def _expected(field: Field) -> str:
    kinds = {
        "int": "an integer",
        "float": "a number",
        "bool": "true or false",
        "str": "a string",
        "list[int]": "a list of integers",
        "list[str]": "a list of strings",
        "bool|auto": "true, false or auto",
    }
    text = kinds[field.kind]
    if field.choices:
        text = "one of " + ", ".join(field.choices)
    return text + (" (or null)" if field.optional else "")


def _coerce(field: Field, value: Any) -> tuple[bool, Any]:
    """Check ``value`` against ``field``; returns (ok, normalised value)."""
    if value is None:
        return field.optional, None
    kind = field.kind
    is_bool = isinstance(value, bool)
    if kind == "int":
        return (isinstance(value, int) and not is_bool), value
    if kind == "float":
        if isinstance(value, (int, float)) and not is_bool:
            return True, float(value)
        if isinstance(value, str) and _FLOAT_RE.match(value.strip()):
            return True, float(value)
        return False, value
    if kind == "bool":
        return is_bool, value
    if kind == "bool|auto":
        return (is_bool or value == "auto"), value
    if kind == "str":
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        ok = isinstance(value, str) and (not field.choices or value in field.choices)
        return ok, value
    if kind == "list[int]":
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
        return ok, list(value) if ok else value
    if kind == "list[str]":
        if isinstance(value, str):
            value = [value]
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        return ok, list(value) if ok else value
    raise AssertionError(f"unknown field kind {kind!r}")  # pragma: no cover


def _plain(value: Any) -> Any:
    """Paths -> str, tuples -> lists: a config stays YAML- and ``weights_only``-safe."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _unknown(key: str, known: Iterable[str], loc: str) -> InputError:
    known = sorted(known)
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return InputError(f"{loc}: unknown key '{key}'{hint} (known: {', '.join(known)})")


def _check_data_key(key: str, loc: str) -> None:
    """A ``data:`` key no dataset format takes is a typo: name it where it was written."""
    from infocam.data.factory import data_key_problem  # torch: only when a config is read
    from infocam.data.synthetic import SYNTHETIC_KEYS

    why = data_key_problem(key, extra=SYNTHETIC_KEYS)
    if why:
        raise InputError(f"{loc}: data: {why}")


def _set(cfg: dict, path: tuple[str, ...], value: Any, loc: str) -> None:
    """Validate and store one setting ``path`` (1 or 2 parts) into ``cfg``."""
    dotted = ".".join(path)
    spec = SCHEMA.get(path[0])
    if spec is None:
        raise _unknown(dotted, SCHEMA, loc)
    if isinstance(spec, dict):
        if len(path) == 1:
            if not isinstance(value, Mapping):
                raise InputError(f"{loc}: '{dotted}' must be a section (a mapping of keys)")
            for k, v in value.items():
                _set(cfg, (path[0], str(k)), v, loc)
            return
        if len(path) != 2:
            raise InputError(f"{loc}: '{dotted}' is nested too deep (use section.key)")
        field = spec.get(path[1])
        if field is None:
            if path[0] not in OPEN_SECTIONS:
                raise _unknown(dotted, spec, loc)
            if path[0] == "data":
                _check_data_key(path[1], loc)
            cfg[path[0]][path[1]] = _plain(value)
            return
    else:
        if len(path) != 1:
            raise InputError(f"{loc}: '{path[0]}' is a value, not a section")
        field = spec
    ok, value = _coerce(field, value)
    if not ok:
        raise InputError(f"{loc}: '{dotted}' must be {_expected(field)}, got {value!r}")
    if len(path) == 1:
        cfg[path[0]] = value
    else:
        cfg[path[0]][path[1]] = value


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each top-level and section key of a YAML text to its 1-based line."""
    lines: dict[tuple[str, ...], int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # pragma: no cover - safe_load already succeeded
        return lines
    if not isinstance(root, yaml.MappingNode):
        return lines
    for knode, vnode in root.value:
        lines[(str(knode.value),)] = knode.start_mark.line + 1
        if isinstance(vnode, yaml.MappingNode):
            for k2, _ in vnode.value:
                lines[(str(knode.value), str(k2.value))] = k2.start_mark.line + 1
    return lines


def _merge_mapping(cfg: dict, raw: Mapping, source: str, lines: Mapping | None = None) -> None:
    lines = lines or {}
    for key, value in raw.items():
        key = str(key)
        spec = SCHEMA.get(key)
        if isinstance(spec, dict) and isinstance(value, Mapping):
            for k2, v2 in value.items():
                loc = where(source, lines.get((key, str(k2)), lines.get((key,))))
                _set(cfg, (key, str(k2)), v2, loc)
        elif isinstance(spec, dict) and value is None:
            continue  # an empty section, e.g. "evaluate:" with nothing under it
        else:
            _set(cfg, (key,), value, where(source, lines.get((key,))))


def resolve_config(raw: Mapping[str, Any] | None = None, source: str = "config") -> dict:
    """Validate a (possibly partial) config dict and fill in the defaults.

    Idempotent: a resolved config resolves to itself. ``source`` names the
    origin in error messages.
    """
    cfg = default_config()
    if raw is None:
        return cfg
    if not isinstance(raw, Mapping):
        raise InputError(f"{source}: a config must be a mapping, got {type(raw).__name__}")
    _merge_mapping(cfg, raw, source)
    return cfg


def apply_overrides(cfg: dict, overrides: Iterable[str]) -> dict:
    """Apply ``section.key=value`` strings (values parsed as YAML) to ``cfg`` in place."""
    for item in overrides:
        loc = f"--set {item}"
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"{loc}: expected KEY=VALUE, e.g. train.lr=0.001")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise InputError(f"{loc}: cannot parse the value as YAML ({exc})") from None
        _set(cfg, tuple(key.split(".")), value, loc)
    return cfg


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> dict:
    """Read a YAML config, apply overrides, validate, and return the resolved dict."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such config file")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = where(path, mark.line + 1 if mark is not None else None)
        raise InputError(f"{loc}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InputError(f"{path}: a config must be a mapping of sections, got {type(raw).__name__}")
    cfg = default_config()
    lines = _key_lines(text)
    _merge_mapping(cfg, raw, str(path), lines)
    overrides = list(overrides)
    apply_overrides(cfg, overrides)
    _check_data_keys_of_format(cfg["data"], path, lines, overrides)
    return cfg


def _check_data_keys_of_format(data: Mapping, path: Path, lines: Mapping, overrides: list[str]) -> None:
    """A key of another format (``metadata_root`` with ``format: cub``), named where it was written."""
    from infocam.data.factory import FORMATS, data_key_problem

    fmt = data.get("format")
    if fmt not in FORMATS:
        return  # synthetic, or no format yet: the dataset builder checks
    for key, value in data.items():
        why = None if value is None else data_key_problem(key, fmt)
        if why:
            given = [o for o in overrides if o.partition("=")[0].strip() == f"data.{key}"]
            loc = f"--set {given[-1]}" if given else where(path, lines.get(("data", key)))
            raise InputError(f"{loc}: data: {why}")


class _Dumper(yaml.SafeDumper):
    """Sections as blocks, lists inline (``milestones: [60, 120, 180]``)."""


_Dumper.add_representer(
    list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)


def dump_config(cfg: Mapping[str, Any]) -> str:
    """The config as YAML text, in schema order."""
    return yaml.dump(dict(cfg), Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def save_config(cfg: Mapping[str, Any], path: str | Path) -> None:
    """Write the resolved config as YAML, atomically (temporary file, fsync, rename)."""
    from infocam.engine.checkpoint import atomic_write

    data = dump_config(cfg).encode("utf-8")
    atomic_write(Path(path), lambda f: f.write(data))


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``section.key: old -> new`` for every setting that differs."""
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += [f"{key}.{line}" for line in config_diff(a, b)]
        elif a != b:
            out.append(f"{key}: {a!r} -> {b!r}")
    return out


def find_config(name: str | Path) -> Path:
    """A config path: ``name`` itself, or a bundled config such as ``cub_vgg16_gap``."""
    path = Path(name)
    if path.is_file():
        return path
    dirs = [Path(__file__).resolve().parents[3] / "configs", Path(__file__).parents[1] / "configs"]
    for d in dirs:
        for cand in (d / path.name, d / f"{path.name}.yaml"):
            if cand.is_file():
                return cand
    bundled = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")})
    hint = f" (bundled configs: {', '.join(bundled)})" if bundled else ""
    raise InputError(f"--config {name}: no such file{hint}")
