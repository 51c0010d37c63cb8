"""``tools/train.py`` / ``tools/test.py`` for classification configs (no MMEngine needed)."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import CheckpointError, load_checkpoint_file, unwrap_state_dict
from ..cli import default_work_dir
from .config import ConfigError, load_config, parse_overrides
from .data import build_datasets, build_val_loader
from .engine import DistEnv, build_classifier, count_classes, evaluate, init_distributed, resolve_data_dirs, train
from .state import load_train_state

__all__ = ["train_main", "test_main"]


def _config(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    try:
        return load_config(args.config, parse_overrides(args.cfg_options or []))
    except ConfigError as e:
        raise SystemExit(str(e)) from e


def _amp_for_flag(device: torch.device) -> str:
    if device.type != "cuda":
        raise SystemExit("--amp needs a CUDA GPU; on a CPU use --cfg-options train.amp=bfloat16")
    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def train_main(args: argparse.Namespace) -> dict[str, Any]:
    """Train, evaluate, and leave ``training_curve.png`` and ``predictions.png`` in the work dir."""
    cfg = _config(args)
    if args.launcher not in ("none", "pytorch"):
        raise SystemExit(f"--launcher {args.launcher}: classification runs support 'none' and 'pytorch' (torchrun)")
    if args.amp:
        cfg["train"]["amp"] = _amp_for_flag(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    work_dir = Path(args.work_dir or default_work_dir(args.config))
    if args.resume not in (None, "auto") and not Path(args.resume).is_file():
        raise SystemExit(f"--resume {args.resume}: no such training state file")
    metrics = train(cfg, work_dir, resume=args.resume, launcher=args.launcher)
    if init_distributed(args.launcher).is_main:
        print(f"final evaluation: {json.dumps(metrics)}")
        written = ", ".join(str(work_dir / name) for name in ("metrics.json", "training_curve.png", "predictions.png"))
        print(f"wrote {written}")
    return metrics


def _weights_to_evaluate(path: Path) -> tuple[list[tuple[str, dict]], list[str] | None]:
    """(metric prefix, state dict) pairs of a checkpoint, and the class names a training state records.

    A training state gives its model's weights and, when it has them, the EMA's ("ema_" metrics); any other
    file is read as a model checkpoint in vitzoo's / timm's layout.
    """
    try:
        state = load_train_state(path)
    except ValueError:
        state = None
    if state is None:
        try:
            return [("", dict(unwrap_state_dict(load_checkpoint_file(path))))], None
        except CheckpointError as e:
            raise SystemExit(f"{path}: {e}") from e
    weights = [("", state["model"])]
    if state.get("ema") is not None:
        weights.append(("ema_", {k.removeprefix("module."): v for k, v in state["ema"].items()}))
    return weights, state.get("classes")


def _load(model: torch.nn.Module, weights: dict, path: Path) -> None:
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise SystemExit(
            f"{path} does not fit {model.default_cfg.get('architecture')} with this config's classes ({e}).\n"
            "For the authors' checkpoints use --cfg-options model.pretrained=True "
            "model.kwargs.pretrained_cfg_overlay=\"dict(file='PATH')\""
        ) from e


def _classifier_and_val_set(cfg, env: DistEnv):
    data_cfg = resolve_data_dirs(cfg, env)
    model = build_classifier({**cfg["model"], "pretrained": False}, count_classes(data_cfg["train_dir"]))
    _, val_set = build_datasets(data_cfg, model)
    return model.to(env.device), val_set, data_cfg


def test_main(args: argparse.Namespace) -> dict[str, Any]:
    """Top-1 / top-5 of a checkpoint (the model's and, for a training state with EMA, the EMA's)."""
    cfg = _config(args)
    checkpoint = Path(args.checkpoint)
    if not checkpoint.is_file():
        raise SystemExit(f"checkpoint {args.checkpoint!r} does not exist")
    env = init_distributed(args.launcher)
    model, val_set, data_cfg = _classifier_and_val_set(cfg, env)
    weights, classes = _weights_to_evaluate(checkpoint)
    if classes is not None and classes != val_set.classes:
        raise SystemExit(f"{checkpoint} was trained on classes {classes}, the config's data has {val_set.classes}")
    loader = build_val_loader(val_set, data_cfg, env.world_size, env.rank)
    metrics: dict[str, Any] = {}
    for prefix, state_dict in weights:
        _load(model, state_dict, checkpoint)
        result = evaluate(model, loader, env, cfg["train"]["amp"], desc=f"eval {prefix or 'model'}")
        metrics.update({prefix + k: v for k, v in result.items()})
    if env.is_main:
        print(json.dumps(metrics, indent=2))
        if args.out:
            Path(args.out).write_text(json.dumps(metrics, indent=2))
    return metrics
