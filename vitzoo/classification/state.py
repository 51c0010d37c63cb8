"""Training-state files: written to a temporary file and renamed, read without unpickling code."""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

__all__ = ["TRAIN_STATE_KEY", "save_atomic", "load_train_state", "capture_rng", "restore_rng"]

# marks a file as a tools/train.py training state (model, EMA, optimizer, progress), not a model checkpoint
TRAIN_STATE_KEY = "vitzoo_train_state"


def save_atomic(obj: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path``, flushed to disk, then renamed over ``path``.

    A run killed while saving leaves the previous file intact (and at worst a stray temporary file, never a
    truncated checkpoint under the real name).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(dict(obj), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_train_state(path: str | os.PathLike) -> dict[str, Any]:
    """A training state written by :func:`save_atomic` (``weights_only=True``: no code runs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no training state at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- torch raises several types for files that are not its format
        raise ValueError(f"{path} is not a readable training state ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or not state.get(TRAIN_STATE_KEY):
        raise ValueError(
            f"{path} is not a tools/train.py training state; to start from a model checkpoint set "
            "model.pretrained=True and model.kwargs.pretrained_cfg_overlay=dict(file=PATH) instead"
        )
    return state


def capture_rng() -> dict[str, Any]:
    """Python, NumPy (timm's mixup draws from it) and torch generator states, as tensors and plain values."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: Mapping[str, Any]) -> None:
    random.setstate(state["python"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
