"""Safe checkpoint reading shared by every vitzoo family.

Checkpoints come from many training codebases: a bare state dict, or one nested under ``model``,
``model_ema``, ``state_dict``, ``state_dict_ema``, ``module`` or ``denoiser``, with ``module.`` (DDP) or
``_orig_mod.`` (torch.compile) prefixes.  Files are read with safetensors or ``torch.load(...,
weights_only=True)``: vitzoo never unpickles code.
"""
from __future__ import annotations

import argparse
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

__all__ = [
    "CheckpointError",
    "load_checkpoint_file",
    "unwrap_state_dict",
    "strip_prefixes",
    "check_state_dict_matches",
]

# Containers that training scripts nest the weights under, EMA weights first: the authors of
# RMT, ViT-ResNAS and others evaluate their EMA weights.
EMA_CONTAINER_KEYS = ("state_dict_ema", "model_ema")
# "denoiser": DVT's main_denoiser.py saves its weights there
CONTAINER_KEYS = ("state_dict", "model", "module", "denoiser")
WRAPPER_PREFIXES = ("module.", "_orig_mod.")

_SAFE_TENSORS_MAX_HEADER = 100_000_000


class CheckpointError(ValueError):
    """A file or state dict that cannot be used as the requested model's weights."""


def _file_kind(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:4] == b"PK\x03\x04":
        return "torch-zip"
    if len(head) >= 9 and head[8:9] == b"{":
        header_len = int.from_bytes(head[:8], "little")
        if 0 < header_len < _SAFE_TENSORS_MAX_HEADER:
            return "safetensors"
    if head[:1] == b"\x80":  # pickle protocol 2+: torch.save with _use_new_zipfile_serialization=False
        return "torch-legacy"
    return "unknown"


def _unsafe_globals_hint(path: Path) -> str:
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:
        return ""
    return f" (it pickles {', '.join(names[:5])})" if names else ""


def load_checkpoint_file(path: str | os.PathLike) -> Mapping:
    """Read a checkpoint file without running pickled code.

    Returns whatever the file holds (a state dict or a training checkpoint dict); pass it to
    :func:`unwrap_state_dict` for the flat state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty: download it again")
    kind = _file_kind(path)
    if kind == "safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(
                f"{path} looks like a safetensors file but cannot be read ({e}); it is probably "
                "truncated: download it again"
            ) from e
    if kind in ("torch-zip", "torch-legacy"):
        try:
            # argparse.Namespace is plain data that many training scripts save next to the weights.
            with torch.serialization.safe_globals([argparse.Namespace]):
                return torch.load(str(path), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            raise CheckpointError(
                f"{path} holds pickled Python objects besides tensors{_unsafe_globals_hint(path)}, and vitzoo "
                "loads with weights_only=True so that no code in a checkpoint runs. If you trust the file, "
                "extract the weights once: python -c \"import torch; c = torch.load('IN', weights_only=False); "
                "torch.save(c.get('model_ema') or c.get('model') or c, 'OUT.pth')\" and load OUT.pth"
            ) from e
        except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
            raise CheckpointError(
                f"{path} is a torch checkpoint that cannot be read ({type(e).__name__}: {e}); it is "
                "probably truncated or corrupt: download it again"
            ) from e
    raise CheckpointError(
        f"{path} is not a checkpoint: expected a safetensors file or a torch.save file "
        "(.pth/.pt/.bin). Check the path, and that the download did not save an HTML page"
    )


def strip_prefixes(state_dict: Mapping[str, torch.Tensor], prefixes=WRAPPER_PREFIXES) -> dict:
    """Remove wrapper prefixes (DDP ``module.``, torch.compile ``_orig_mod.``) from every key."""
    out = {}
    for key, value in state_dict.items():
        stripped = True
        while stripped:
            stripped = False
            for prefix in prefixes:
                if key.startswith(prefix):
                    key = key[len(prefix):]
                    stripped = True
        out[key] = value
    return out


def unwrap_state_dict(checkpoint: Mapping, prefer_ema: bool = True) -> dict[str, torch.Tensor]:
    """The flat state dict inside any of the layouts that training scripts save."""
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(
            f"expected a state dict (a mapping of names to tensors), got {type(checkpoint).__name__}"
        )
    keys = (EMA_CONTAINER_KEYS + CONTAINER_KEYS) if prefer_ema else (CONTAINER_KEYS + EMA_CONTAINER_KEYS)
    while True:
        inner = next(
            (checkpoint[k] for k in keys if isinstance(checkpoint.get(k), Mapping) and checkpoint[k]), None
        )
        if inner is None:
            break
        checkpoint = inner
    state_dict = {k: v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}
    if not state_dict:
        raise CheckpointError(
            "the checkpoint holds no tensors; its top-level keys are "
            f"{sorted(map(str, checkpoint))[:10]}: pass a state dict or a training checkpoint"
        )
    return strip_prefixes(state_dict)


def check_state_dict_matches(
    state_dict: Mapping[str, torch.Tensor],
    model: torch.nn.Module,
    model_name: str,
    ignore_prefixes: tuple[str, ...] = (),
) -> None:
    """Fail with a readable message when a (filtered) state dict does not fit the model.

    Keys under ``ignore_prefixes`` (the classifier, which timm drops when ``num_classes`` differs)
    are not compared.
    """
    expected = {k: v.shape for k, v in model.state_dict().items() if not k.startswith(ignore_prefixes)}
    given = {k: v.shape for k, v in state_dict.items() if not k.startswith(ignore_prefixes)}
    common = expected.keys() & given.keys()
    if len(common) < 0.5 * len(expected):
        raise CheckpointError(
            f"this checkpoint does not belong to {model_name}: only {len(common)} of its {len(expected)} "
            f"weights are present (the checkpoint has keys such as {sorted(given)[:4]}). Pass a checkpoint "
            f"of this architecture, or create the model whose name matches the checkpoint"
        )
    missing = sorted(expected.keys() - given.keys())
    unexpected = sorted(given.keys() - expected.keys())
    wrong_shape = sorted(
        f"{k}: checkpoint {tuple(given[k])} vs model {tuple(expected[k])}" for k in common if given[k] != expected[k]
    )
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} weights, e.g. {missing[:4]}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected weights, e.g. {unexpected[:4]}")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} shape mismatches, e.g. {wrong_shape[:3]}")
    if problems:
        raise CheckpointError(
            f"checkpoint does not fit {model_name}: " + "; ".join(problems) + ". It is probably another "
            "variant of the family (check depth/width in the model name) or was trained with other settings "
            "(e.g. img_size, window_size): create the model with the checkpoint's settings"
        )
