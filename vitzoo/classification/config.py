"""Classification configs: Python files with MMEngine-style ``_base_`` inheritance, read without MMEngine.

A config file assigns dicts (``model = dict(...)``, ``optimizer = dict(...)``, ...). ``_base_`` (a path or a
list of paths, relative to the file) names the files it builds on: their values are merged first, in order,
then the file's own. Dicts merge key by key; a dict with ``_delete_=True`` replaces the inherited one. Every
config starts from :mod:`vitzoo.classification.defaults`, and a key that is not there is an error (a typo
would otherwise be ignored silently).
"""
from __future__ import annotations

import ast
import copy
import runpy
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import defaults

__all__ = ["ConfigError", "is_classification_config", "load_config", "parse_overrides", "FREE_FORM_KEYS"]

# groups whose contents are passed through to another API (timm.create_model kwargs, dataset and loss
# options), so their keys are not checked against the defaults
FREE_FORM_KEYS = {("model", "kwargs"), ("model", "norm_schedule"), ("data", "synthetic"), ("loss", "token_label")}


class ConfigError(ValueError):
    pass


def _default_values() -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in vars(defaults).items() if not k.startswith("_")}


def _file_values(path: Path) -> tuple[list[str], dict[str, Any]]:
    """The ``_base_`` entries and the public values a config file assigns (imports and functions are left out)."""
    values = runpy.run_path(str(path))
    bases = values.get("_base_", [])
    if isinstance(bases, str):
        bases = [bases]
    own = {
        k: v
        for k, v in values.items()
        if not k.startswith("_") and not callable(v) and type(v).__name__ != "module"
    }
    return list(bases), own


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        if isinstance(value, Mapping) and value.get("_delete_"):
            into[key] = {k: copy.deepcopy(v) for k, v in value.items() if k != "_delete_"}
        elif isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def _resolve(path: Path, seen: tuple[Path, ...] = (), skip_scoped: bool = False) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: _base_ files include each other ({' -> '.join(map(str, seen + (path,)))})")
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    bases, own = _file_values(path)
    merged: dict[str, Any] = {}
    for base in bases:
        if "::" in base:  # an MMSeg / MMDet package config: a dense-prediction config, not ours
            if skip_scoped:
                continue
            raise ConfigError(
                f"{path}: _base_ {base!r} is an OpenMMLab package config; classification configs build on "
                "configs/classification/_base_/ files only"
            )
        _merge(merged, _resolve(path.parent / base, seen + (path,), skip_scoped))
    return _merge(merged, own)


def _check_keys(cfg: Mapping[str, Any], reference: Mapping[str, Any], path: tuple[str, ...] = ()) -> None:
    for key, value in cfg.items():
        where = ".".join(path + (key,))
        if key not in reference:
            known = ", ".join(sorted(reference))
            raise ConfigError(f"unknown config key {where!r}; the keys here are: {known}")
        if path + (key,) in FREE_FORM_KEYS:
            if value is not None and not isinstance(value, Mapping):
                raise ConfigError(f"config key {where!r} must be a dict or None, not {type(value).__name__}")
            continue
        if isinstance(reference[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"config key {where!r} must be a dict, not {type(value).__name__}")
            _check_keys(value, reference[key], path + (key,))


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["optimizer.lr=5e-4", "data.img_size=160"]`` -> a nested dict; values are Python literals or strings."""
    nested: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--cfg-options {item!r}: write KEY=VALUE, e.g. optimizer.lr=5e-4")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The defaults, then the config file and its bases, then ``overrides``; every key checked."""
    file_cfg = _resolve(Path(path))
    if file_cfg.get("task", defaults.task) != "classification":
        raise ConfigError(f"{path}: task is {file_cfg['task']!r}; tools/train.py runs it with MMEngine instead")
    cfg = _merge(_default_values(), file_cfg)
    if overrides:
        _merge(cfg, overrides)
    _check_keys(cfg, _default_values())
    if not cfg["model"].get("name"):
        raise ConfigError(f"{path}: model.name is not set; name a registered model, e.g. model = dict(name='rmt_t')")
    return cfg


def is_classification_config(path: str | Path) -> bool:
    """Whether ``path`` (a file that exists) is a classification config.

    It is when it or a base sets ``task = "classification"``, or when its model is named by ``name`` (the
    timm model) rather than by ``type`` (an MMEngine registry entry, as in MMSeg / MMDet configs).
    """
    try:
        values = _resolve(Path(path), skip_scoped=True)
    except Exception:  # noqa: BLE001 -- MMEngine configs may use syntax only MMEngine reads ({{_base_.x}})
        return False
    if "task" in values:
        return values["task"] == "classification"
    model = values.get("model")
    return isinstance(model, Mapping) and "name" in model and "type" not in model
