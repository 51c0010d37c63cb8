"""The parity fixtures' user path, shared by every family's tests.

A fixture is one eval forward pass of the authors' code with deterministic weights in the authors'
checkpoint layout (see ../shared/parity/README.md).  The user path: save that state dict to a file,
``timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=path))``, eval forward.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
PARITY_DIR = Path(os.environ.get("VITZOO_PARITY_DIR", REPO_ROOT.parent / "shared" / "parity"))


def parity_available() -> bool:
    return (PARITY_DIR / "parity.py").is_file()


def parity_module():
    """The fixtures' own loader (``parity.py``); skips when the fixtures are not beside this clone."""
    if not parity_available():
        pytest.skip(f"parity fixtures not found at {PARITY_DIR} (a user's clone has none; set VITZOO_PARITY_DIR)")
    name = "vitzoo_parity_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PARITY_DIR / "parity.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses resolve annotations through sys.modules
        spec.loader.exec_module(module)
    return sys.modules[name]


def fixture_names(family: str) -> list[str]:
    """Names of the fixtures of ``family`` (read from their metadata); empty without fixtures."""
    if not parity_available():
        return []
    from safetensors import safe_open

    names = []
    for path in sorted(PARITY_DIR.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("family") == family:
                names.append(path.stem)
    return names


def fixture_families() -> dict[str, list[str]]:
    from safetensors import safe_open

    families: dict[str, list[str]] = {}
    for path in sorted(PARITY_DIR.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            families.setdefault((f.metadata() or {}).get("family", "?"), []).append(path.stem)
    return families


def save_authors_checkpoint(state_dict: dict, path: Path, container: str | None = "model") -> Path:
    """Save a state dict as the authors' training scripts do (``torch.save({'model': sd})``)."""
    torch.save({container: state_dict} if container else state_dict, path)
    return path


def training_checkpoint(state_dict: dict, layout: str | None) -> dict:
    """``state_dict`` as a training script saves it: bare (``None``), DDP's (``'ddp'``: ``module.``-prefixed
    under ``model``) or under one key (``'model'``, ``'model_ema'``, ``'state_dict'``, ...).  An EMA copy
    comes with zeroed raw weights under ``model``: loading must pick the EMA weights."""
    if layout is None:
        return state_dict
    if layout == "ddp":
        return {"model": {f"module.{k}": v for k, v in state_dict.items()}}
    checkpoint = {layout: state_dict, "epoch": 300}
    if layout.endswith("_ema"):
        checkpoint["model"] = {k: torch.zeros_like(v) for k, v in state_dict.items()}
    return checkpoint


def create_from_file(checkpoint, model_name: str, tmp_path: Path, **kwargs):
    """``timm.create_model(model_name, pretrained=True, **kwargs)`` with ``checkpoint`` saved to a file."""
    import timm

    path = tmp_path / "ckpt.pth"
    torch.save(checkpoint, path)
    return timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs)


def assert_loaded_exactly(model, expected: dict) -> None:
    """``model``'s state dict is ``expected``, key for key and bit for bit."""
    loaded = model.state_dict()
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0, msg=lambda m: f"{key}: {m}")


def load_via_user_path(fixture: str, model_name: str, tmp_path: Path, container: str | None = "model", **kwargs):
    """(model in eval mode, fixture) with the fixture's weights loaded through timm.create_model."""
    import timm

    import vitzoo  # noqa: F401  (registers the models)

    parity = parity_module()
    state_dict, fx = parity.original_state_dict(PARITY_DIR / f"{fixture}.safetensors")
    path = save_authors_checkpoint(state_dict, tmp_path / f"{fixture}.pth", container)
    model = timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs)
    return model.eval(), fx


def assert_fixture_close(actual: torch.Tensor, expected: torch.Tensor, fx, what: str = "output") -> None:
    torch.testing.assert_close(
        actual, expected, rtol=fx.rtol, atol=fx.atol, msg=lambda m: f"{fx.name} {what}: {m}"
    )


def assert_features_close(feats: list, fx) -> None:
    """The model's maps ``feats`` are the fixture's ``features.0``, ``features.1``, ..., one for one."""
    assert len(feats) == len(fx.features)
    for i, feat in enumerate(feats):
        assert_fixture_close(feat, fx.features[str(i)], fx, f"features.{i}")


def manifest(fixture: str) -> list:
    from safetensors import safe_open

    with safe_open(str(PARITY_DIR / f"{fixture}.safetensors"), framework="pt") as f:
        return json.loads(f.metadata()["manifest"])
